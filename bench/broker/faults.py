"""Broker faults injected during a cell's measured window, and undone on time.

`pause` stops a broker with SIGSTOP for `duration_s`: in-flight requests time out and are
retried, which is how at-least-once writes a record twice. `kill` SIGKILLs it and restarts it
after `duration_s`; a broker that does not come back fails the cell with a status that says so.
`restart` is the rolling restart's step: SIGTERM, a controlled shutdown (its leaderships and the
transaction coordinators it hosts move to the other brokers first), then a start `duration_s`
later; a broker still shutting down then is given up to SHUTDOWN_GRACE_S more, then SIGKILLed,
and the record says whether its shutdown was clean.
`command` runs a user's shell command (and `end_command` after `duration_s`), for clusters that
eosbench did not start. Each fault is aimed at a broker id or at `leader`, the leader of the
cell's partition 0 when the fault starts.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from dataclasses import dataclass, field

from confluent_kafka import TopicCollection
from confluent_kafka.admin import AdminClient

from bench.broker import cluster as clusters
from bench.client_properties import recorded_command

BROKER_FAULTS = ("pause", "kill", "restart", "command")
REJOIN_TIMEOUT_S = 90.0
SHUTDOWN_GRACE_S = 30.0  # as `eosbench broker down` gives each broker
SIGNALS = {"pause": signal.SIGSTOP, "kill": signal.SIGKILL, "restart": signal.SIGTERM}


class FaultFailed(Exception):
    """The fault could not be applied or undone; the cell fails with this message."""


@dataclass
class ActiveFault:
    """A fault that has started; `end` undoes it."""

    kind: str
    node_id: int | None
    start_s: float
    end_at_s: float
    spec: dict
    end_s: float | None = None
    detail: dict = field(default_factory=dict)

    def record(self) -> dict:
        return {"kind": self.kind, "start_s": round(self.start_s, 3), "end_s": round(self.end_s or self.end_at_s, 3),
                **({"broker": self.node_id} if self.node_id is not None else {}), **self.detail}


def start(fault: dict, now_s: float, cluster: clusters.Cluster | None, admin: AdminClient, topic: str) -> ActiveFault:
    kind = fault["kind"]
    if kind == "command":
        _shell(fault["command"])
        return ActiveFault(kind, None, now_s, now_s + fault.get("duration_s", 0), fault)
    if cluster is None:
        raise FaultFailed(f"fault '{kind}' needs the embedded cluster; against another cluster use kind 'command'")
    node = cluster.node(_target(fault.get("target", "leader"), admin, topic))
    if not node.is_running():
        raise FaultFailed(f"broker {node.node_id} is not running, cannot {kind} it")
    os.kill(node.pid, SIGNALS[kind])
    return ActiveFault(kind, node.node_id, now_s, now_s + fault.get("duration_s", 0), fault)


def end(active: ActiveFault, now_s: float, cluster: clusters.Cluster | None) -> None:
    if active.kind == "command":
        if active.spec.get("end_command"):
            _shell(active.spec["end_command"])
    elif active.kind == "pause":
        os.kill(cluster.node(active.node_id).pid, signal.SIGCONT)
    else:
        node = cluster.node(active.node_id)
        if active.kind == "restart":
            active.detail["clean_shutdown"] = _exited(node, SHUTDOWN_GRACE_S)
            clusters.stop_node(node, grace_s=0)  # SIGKILL if the controlled shutdown outstayed its grace
        clusters.start_node(cluster, node)
        started = time.monotonic()
        try:
            clusters.wait_ready(cluster, REJOIN_TIMEOUT_S)
        except Exception as exc:
            raise FaultFailed(f"broker {node.node_id} did not come back within {REJOIN_TIMEOUT_S:.0f}s after {active.kind}: {exc}") from exc
        active.detail["rejoin_s"] = round(time.monotonic() - started, 2)
    active.end_s = now_s


def _exited(node: clusters.Node, grace_s: float) -> bool:
    deadline = time.monotonic() + grace_s
    while node.is_running() and time.monotonic() < deadline:
        time.sleep(0.2)
    return not node.is_running()


def _target(target, admin: AdminClient, topic: str) -> int:
    if isinstance(target, int):
        return target
    described = admin.describe_topics(TopicCollection([topic]))[topic].result(10)
    leader = next(p.leader for p in described.partitions if p.id == 0)
    if leader is None:
        raise FaultFailed(f"partition 0 of {topic} has no leader to aim at")
    return leader.id


def _shell(command: str) -> None:
    result = subprocess.run(command, shell=True, capture_output=True, text=True, timeout=120)
    if result.returncode != 0:
        raise FaultFailed(f"fault command failed ({result.returncode}): {recorded_command(command)}: "
                          f"{(result.stderr or result.stdout).strip()[:200]}")
