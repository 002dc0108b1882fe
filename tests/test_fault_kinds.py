"""Each fault kind is declared once (bench.fault_kinds) and injected once: by the brokers' faults
or by the cell's schedule, never by both and never by neither."""

import pytest

from bench import fault_kinds
from bench.broker.faults import BROKER_FAULTS
from bench.cell.faults import INJECTIONS


def unmatched(declared, broker, cell) -> list[str]:
    """The kinds without exactly one injection, and the injections without a declared kind."""
    return sorted({k for k in declared if (k in broker) + (k in cell) != 1} | (set(broker) | set(cell)) - set(declared))


def test_every_declared_fault_kind_has_exactly_one_injection():
    assert unmatched(fault_kinds.KINDS, BROKER_FAULTS, INJECTIONS) == []


@pytest.mark.parametrize("declared, broker, cell, caught", [
    ({**fault_kinds.KINDS, "disk_full": None}, BROKER_FAULTS, INJECTIONS, ["disk_full"]),       # declared, never injected
    (fault_kinds.KINDS, (*BROKER_FAULTS, "zombie"), INJECTIONS, ["zombie"]),                     # injected twice
    ({k: v for k, v in fault_kinds.KINDS.items() if k != "restart"}, BROKER_FAULTS, INJECTIONS, ["restart"]),  # not declared
])
def test_a_kind_declared_without_its_injection_or_injected_twice_is_caught(declared, broker, cell, caught):
    assert unmatched(declared, broker, cell) == caught


def test_a_kinds_declaration_drives_the_profile_checks():
    restart = fault_kinds.KINDS["restart"]
    assert restart.allowed == ("at_s", "duration_s", "target") and restart.embedded_cluster
    assert restart.subject({"kind": "restart", "target": 2}, 3) == ("broker", 2)
    assert restart.subject({"kind": "restart", "target": 2}, 1) == ("broker", 1)  # one broker: the only one
    with pytest.raises(ValueError, match=r"'f.target' must be 'leader' or a broker id, not 'x'"):
        restart.check({"kind": "restart", "target": "x"}, "f", ValueError)
    with pytest.raises(ValueError, match=r"'f.duration_s' must say how long the zombie lasts"):
        fault_kinds.KINDS["zombie"].check({"kind": "zombie", "at_s": 1}, "f", ValueError)
    assert fault_kinds.any_with([{"kind": "zombie"}], "announces_transactions")
    assert not fault_kinds.any_with([{"kind": "pause"}], "announces_transactions")
