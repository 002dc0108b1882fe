"""A Trogdor coordinator's REST API, as eosbench uses it (Kafka's `trogdor` module:
CoordinatorRestResource and AgentRestResource, JSON over HTTP).

Tasks are created on the coordinator, which starts a worker on the agent the task names
(`commandNode` of an ExternalCommandSpec, `nodeNames` of a ProcessStopFaultSpec); their state
(PENDING, RUNNING, STOPPING, DONE, with `error` once DONE) is read back by id.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any

from bench.errors import EnvironmentProblem

EXTERNAL_COMMAND = "org.apache.kafka.trogdor.workload.ExternalCommandSpec"
PROCESS_STOP = "org.apache.kafka.trogdor.fault.ProcessStopFaultSpec"
TIMEOUT_S = 10.0


class Unreachable(EnvironmentProblem):
    """The coordinator (or an agent) did not answer."""


@dataclass(frozen=True)
class TaskState:
    state: str             # PENDING | RUNNING | STOPPING | DONE
    error: str             # set once DONE when the task failed
    status: Any            # the worker's last status (an ExternalCommand's {"status": ...} lines)


class Coordinator:
    def __init__(self, url: str) -> None:
        self.url = url.rstrip("/")

    def _call(self, method: str, path: str, body: Any = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(f"{self.url}{path}", data=data, method=method,
                                         headers={"Content-Type": "application/json", "Accept": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT_S) as answer:
                return json.loads(answer.read() or b"null")
        except urllib.error.HTTPError as exc:
            detail = exc.read().decode(errors="replace")
            try:
                detail = json.loads(detail).get("message", detail)
            except (ValueError, AttributeError):
                pass
            raise EnvironmentProblem(f"the Trogdor coordinator at {self.url} refused {method} {path}: HTTP {exc.code} {detail}"[:400]) from None
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise Unreachable(f"cannot reach a Trogdor coordinator at {self.url}: {reason}") from None

    def check(self) -> int:
        """The coordinator's start time (ms since the epoch); Unreachable when it does not answer."""
        answer = self._call("GET", "/coordinator/status")
        if not isinstance(answer, dict) or "serverStartMs" not in answer:
            raise EnvironmentProblem(f"{self.url} answered, but not as a Trogdor coordinator (GET /coordinator/status: {str(answer)[:100]})")
        return answer["serverStartMs"]

    def create(self, task_id: str, spec: dict) -> None:
        self._call("POST", "/coordinator/task/create", {"id": task_id, "spec": spec})

    def stop(self, task_id: str) -> None:
        """The agent stops the task's worker (an ExternalCommand: SIGTERM, SIGKILL after the grace period)."""
        self._call("PUT", "/coordinator/task/stop", {"id": task_id})

    def destroy(self, task_id: str) -> None:
        """Forget a task (stopping it first if it runs)."""
        self._call("DELETE", f"/coordinator/tasks?taskId={urllib.request.quote(task_id)}")

    def task(self, task_id: str) -> TaskState | None:
        try:
            answer = self._call("GET", f"/coordinator/tasks/{urllib.request.quote(task_id)}")
        except Unreachable:
            raise
        except EnvironmentProblem as exc:
            if "HTTP 404" in str(exc):
                return None
            raise
        return TaskState(answer.get("state", "?"), answer.get("error") or "", answer.get("status"))


def external_command(agent: str, command: list[str], workload: dict, duration_ms: int, grace_ms: int = 1000) -> dict:
    """An ExternalCommandSpec: `command` runs on `agent` with {"id", "workload"} as its first stdin line."""
    return {"class": EXTERNAL_COMMAND, "startMs": 0, "durationMs": duration_ms, "commandNode": agent,
            "command": command, "workload": workload, "shutdownGracePeriodMs": grace_ms}


def process_stop(agents: list[str], process_name: str, start_ms: int, duration_ms: int) -> dict:
    """A ProcessStopFaultSpec: every Java process whose `jcmd` line holds `process_name` on the
    agents' hosts is SIGSTOPped at `start_ms` and SIGCONTed `duration_ms` later."""
    return {"class": PROCESS_STOP, "startMs": start_ms, "durationMs": duration_ms, "nodeNames": agents,
            "javaProcessName": process_name}


def agent_answers(host: str, port: int) -> str | None:
    """None when the agent at host:port answers its REST API, else why not."""
    try:
        with urllib.request.urlopen(f"http://{host}:{port}/agent/status", timeout=3) as answer:
            json.loads(answer.read())
            return None
    except (urllib.error.URLError, OSError, ValueError) as exc:
        return str(getattr(exc, "reason", exc))
