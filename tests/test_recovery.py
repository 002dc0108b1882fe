"""A processor_kill's recovery time: from the kill to the first commit of the processor that replaced it."""

from bench.cell import derive
from bench.roles.protocol import ClientLogResult, ProcessorResult, Timeline

TIMELINE = Timeline(start_ns=0, measure_start_ns=5_000_000_000, measure_end_ns=35_000_000_000, epoch_offset_s=0.0)


def successor(first_commit_ns: int | None) -> ProcessorResult:
    return ProcessorResult(processed=1, cut_off=False, window_committed=1, transactions=1, aborts=0, rewinds=0, cpu_total_s=0.0,
                           histograms={}, client_log=ClientLogResult([], {}, 0), first_commit_ns=first_commit_ns)


def test_the_last_kill_is_timed_to_its_successors_first_commit():
    faults = [{"kind": "processor_kill", "start_s": 4.0}, {"kind": "pause", "start_s": 6.0}, {"kind": "processor_kill", "start_s": 10.0}]
    derive.recovery(faults, successor(17_250_000_000), TIMELINE)  # 12.25 s into the window
    assert faults[2]["recovery_s"] == 2.25
    assert "recovery_s" not in faults[0]  # its successor was killed too, and its result with it


def test_a_successor_that_never_committed_leaves_the_recovery_unknown_not_zero():
    faults = [{"kind": "processor_kill", "start_s": 10.0}]
    derive.recovery(faults, successor(None), TIMELINE)
    assert faults[0]["recovery_s"] is None
