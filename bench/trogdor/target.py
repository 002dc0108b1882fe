"""The Trogdor a run's `launcher: trogdor` cells run on: the user's (--trogdor URL) or the embedded one.

Everything that can be wrong with it is found before the run writes anything: a coordinator that
does not answer, a placement naming an agent that is not there, more agents asked for than exist,
an agent whose host cannot run eosbench's roles (each agent runs a one-second probe task).
"""

from __future__ import annotations

import secrets
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from bench.errors import BadInput, EnvironmentProblem
from bench.trogdor import embedded
from bench.trogdor.coordinator import Coordinator, external_command, process_stop
from bench.trogdor.embedded import Trogdor
from bench.trogdor.launcher import TrogdorLauncher
from bench.trogdor.placement import of_profile

PROBE_TIMEOUT_S = 30.0


@dataclass
class TrogdorTarget:
    """A Trogdor a run's cells are launched on: its coordinator, the agents they may use, the Python
    each agent runs eosbench's roles with."""

    coordinator: Coordinator
    agents: list[str]
    python: str
    section: dict                              # the profile's `trogdor`
    embedded: Trogdor | None = None            # an embedded Trogdor (the run's own, or `eosbench trogdor up`'s)
    owned: bool = False                        # started by this run, stopped after it
    probes: dict[str, float] = field(default_factory=dict)

    def launcher(self, producers: int, task_prefix: str) -> TrogdorLauncher:
        placement = of_profile(self.section, self.agents, producers)
        return TrogdorLauncher(self.coordinator, placement, self.python, task_prefix,
                               self.embedded.agent_problem if self.embedded else (lambda agent: None),
                               probe_clocks=self.section.get("clock") == "probe")

    def stop_processes(self, task: str, agents: list[str], process: str, duration_s: float) -> None:
        """Trogdor's ProcessStopFault: SIGSTOP the Java processes matching `process` on the agents' hosts, SIGCONT after `duration_s`."""
        self.coordinator.create(task, process_stop(agents, process, int(time.time() * 1000), int(duration_s * 1000)))

    def describe(self) -> dict:
        """What the manifest records."""
        out: dict[str, Any] = {"url": self.coordinator.url, "agents": self.agents, "python": self.python,
                               "probe_s": {a: round(s, 2) for a, s in self.probes.items()}}
        if self.embedded:
            out.update(self.embedded.describe(), started_by_run=self.owned)
        return out


def connect(url: str | None, section: dict) -> TrogdorTarget:
    """The run's Trogdor, checked. Without `url`, the embedded one is only planned here (`start`
    starts it once the run directory exists)."""
    python = section.get("python") or sys.executable
    asked = section.get("agents")
    if url is None:
        if isinstance(asked, list):
            raise BadInput("trogdor.agents names the agents of a Trogdor of yours: give its coordinator with --trogdor URL "
                           "(or give a number of agents for the embedded Trogdor)")
        names = [f"agent-{i}" for i in range(asked or embedded.DEFAULT_AGENTS)]
        _check_placement(section, names, "the embedded Trogdor")
        return TrogdorTarget(Coordinator("http://127.0.0.1:0"), names, python, section, owned=True)
    coordinator = Coordinator(url)
    coordinator.check()
    running = embedded.find(url)
    if isinstance(asked, list):
        names = asked
    elif running:
        names = running.agent_names()
        if asked and asked > len(names):
            raise BadInput(f"trogdor.agents asks for {asked} agents; the Trogdor at {url} has {len(names)} ({', '.join(names)})")
        names = names[:asked] if asked else names
    else:
        raise BadInput(f"name the agents of the Trogdor at {url} to run roles on: trogdor.agents: [name, ...] in the profile")
    where = f"the Trogdor at {url}"
    _check_placement(section, names, where)
    site = TrogdorTarget(coordinator, names, python, section, running)
    site.probes = _probe(coordinator, names, python, where)
    return site


def start(site: TrogdorTarget, home: Path, version: str) -> TrogdorTarget:
    """Start the embedded Trogdor of a run that was given no --trogdor."""
    trogdor = embedded.start(home, len(site.agents), version)
    site.coordinator, site.embedded = Coordinator(trogdor.url), trogdor
    site.probes = _probe(site.coordinator, site.agents, site.python, "the embedded Trogdor")
    return site


@dataclass
class TrogdorService:
    """The run's Trogdor as a service of its site (bench.site): the user's (`url`, checked with a
    probe task on every agent at check) or an embedded coordinator and agents (started at start)."""

    url: str | None         # --trogdor
    section: dict           # the profile's `trogdor`
    version: str            # the Kafka release whose Trogdor is embedded
    name = "trogdor"
    target: TrogdorTarget | None = None

    def check(self) -> None:
        self.target = connect(self.url, self.section)

    def start(self, home: Path, note: Callable[[str], None]) -> None:
        if not self.target.owned:
            return
        start(self.target, home, self.version)
        note(f"trogdor: a coordinator and {len(self.target.agents)} agents at {self.target.coordinator.url}, "
             f"ready in {self.target.embedded.start_s:.1f}s")

    def describe(self) -> dict:
        return self.target.describe()

    def stop(self) -> None:
        # a start that fails after its processes are up (an agent that cannot run eosbench's roles)
        # leaves them on the target: they are stopped too
        if self.target is not None and self.target.owned and self.target.embedded is not None:
            embedded.stop(self.target.embedded)


def _check_placement(section: dict, names: list[str], where: str) -> None:
    for key, value in (section.get("placement") or {}).items():
        for name in value if isinstance(value, list) else [value]:
            if name not in names:
                raise BadInput(f"trogdor.placement.{key} names agent '{name}', which is not one of the agents of {where} "
                               f"({', '.join(names)})")


def _probe(coordinator: Coordinator, agents: list[str], python: str, where: str) -> dict[str, float]:
    """Run `python -c 'import bench.roles.remote'` on every agent: the agent exists and its host can
    run eosbench's roles. Seconds from creating each probe task until the coordinator saw it done."""
    tag = secrets.token_hex(3)
    started = time.monotonic()
    tasks = {agent: f"eosbench-probe.{tag}.{agent}" for agent in agents}
    for agent, task in tasks.items():
        coordinator.create(task, external_command(agent, [python, "-c", "import bench.roles.remote"], {}, 60_000))
    took: dict[str, float] = {}
    deadline = started + PROBE_TIMEOUT_S
    while len(took) < len(tasks):
        for agent, task in tasks.items():
            state = None if agent in took else coordinator.task(task)
            if state is None or state.state != "DONE":
                continue
            took[agent] = time.monotonic() - started
            coordinator.destroy(task)
            if "Unknown node" in state.error:
                raise BadInput(f"agent '{agent}' is not an agent of {where}: the coordinator answers '{state.error}'")
            if state.error:
                raise EnvironmentProblem(f"agent '{agent}' of {where} cannot run eosbench's roles ({python} -c 'import bench.roles.remote'): "
                                         f"{state.error}; set trogdor.python to a Python with eosbench installed on its host")
        if time.monotonic() > deadline:
            missing = [a for a in tasks if a not in took]
            raise EnvironmentProblem(f"agents {', '.join(missing)} of {where} did not run a probe task within {PROBE_TIMEOUT_S:.0f}s")
        time.sleep(0.1)
    return took
