"""A site starts services in order and stops every one it started, newest first, however it ends."""

from pathlib import Path

import pytest

from bench.site import Site, check


class Recorded:
    """A service that writes what is done to it into a shared log."""

    def __init__(self, name: str, log: list[str], fails_at: str | None = None):
        self.name, self.log, self.fails_at = name, log, fails_at

    def _step(self, step: str) -> None:
        self.log.append(f"{step} {self.name}")
        if step == self.fails_at:
            raise RuntimeError(f"{self.name} fails at {step}")

    def check(self) -> None:
        self._step("check")

    def start(self, home: Path, note) -> None:
        self._step("start")

    def describe(self) -> dict:
        return {"name": self.name}

    def stop(self) -> None:
        self.log.append(f"stop {self.name}")


def test_services_stop_in_reverse_order_of_their_start(tmp_path):
    log: list[str] = []
    with Site(tmp_path) as site:
        for name in ("broker", "probe", "registry"):
            site.start(Recorded(name, log))
    assert log == ["start broker", "start probe", "start registry", "stop registry", "stop probe", "stop broker"]


def test_a_failure_in_the_run_stops_everything_started(tmp_path):
    log: list[str] = []
    with pytest.raises(KeyboardInterrupt):
        with Site(tmp_path) as site:
            site.start(Recorded("broker", log))
            raise KeyboardInterrupt
    assert log == ["start broker", "stop broker"]


def test_a_start_that_fails_halfway_is_stopped_too_and_so_is_what_came_before(tmp_path):
    """A start that raised may have left processes up (a coordinator whose agents failed their probe)."""
    log: list[str] = []
    with pytest.raises(RuntimeError, match="trogdor fails at start"):
        with Site(tmp_path) as site:
            site.start(Recorded("registry", log))
            site.start(Recorded("trogdor", log, fails_at="start"))
            site.start(Recorded("never", log))
    assert log == ["start registry", "start trogdor", "stop trogdor", "stop registry"]


def test_a_part_stops_when_it_closes_and_the_site_goes_on(tmp_path):
    """One broker block of a multi-version run: its brokers stop before the next version's start."""
    log: list[str] = []
    with Site(tmp_path) as site:
        site.start(Recorded("registry", log))
        for version in ("4.0", "4.1"):
            with site.part() as block:
                block.start(Recorded(f"broker-{version}", log))
    assert log == ["start registry", "start broker-4.0", "stop broker-4.0", "start broker-4.1", "stop broker-4.1", "stop registry"]


def test_a_part_left_open_by_a_failure_stops_with_its_site(tmp_path):
    log: list[str] = []
    with pytest.raises(RuntimeError):
        with Site(tmp_path) as site:
            site.start(Recorded("registry", log))
            block = site.part()
            block.start(Recorded("broker", log))
            raise RuntimeError("a cell failed")
    assert log == ["start registry", "start broker", "stop broker", "stop registry"]


def test_checks_run_in_order_and_the_first_problem_is_the_one_reported():
    log: list[str] = []
    with pytest.raises(RuntimeError, match="registry fails at check"):
        check([Recorded("broker", log), Recorded("registry", log, fails_at="check"), Recorded("trogdor", log)])
    assert log == ["check broker", "check registry"]
