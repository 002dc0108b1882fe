"""A processor_kill's or processor_zombie's recovery time: from the fault to the first commit of the
processor that took over; and a zombie's counts joined to its successor's."""

from bench.cell import derive
from bench.roles.protocol import ClientLogResult, ProcessorResult, Timeline

TIMELINE = Timeline(start_ns=0, measure_start_ns=5_000_000_000, measure_end_ns=35_000_000_000, epoch_offset_s=0.0)


def successor(first_commit_ns: int | None, processed: int = 1, aborts: int = 0) -> ProcessorResult:
    return ProcessorResult(processed=processed, cut_off=False, window_committed=processed, transactions=1, aborts=aborts, rewinds=0,
                           cpu_total_s=1.5, histograms={}, client_log=ClientLogResult([], {}, 0), first_commit_ns=first_commit_ns)


def test_the_last_kill_is_timed_to_its_successors_first_commit():
    faults = [{"kind": "processor_kill", "start_s": 4.0}, {"kind": "pause", "start_s": 6.0}, {"kind": "processor_kill", "start_s": 10.0}]
    derive.recovery(faults, successor(17_250_000_000), TIMELINE)  # 12.25 s into the window
    assert faults[2]["recovery_s"] == 2.25
    assert "recovery_s" not in faults[0]  # its successor was killed too, and its result with it


def test_a_successor_that_never_committed_leaves_the_recovery_unknown_not_zero():
    faults = [{"kind": "processor_kill", "start_s": 10.0}]
    derive.recovery(faults, successor(None), TIMELINE)
    assert faults[0]["recovery_s"] is None


def test_a_zombie_is_timed_from_its_freeze_like_a_kill():
    faults = [{"kind": "processor_kill", "start_s": 2.0}, {"kind": "processor_zombie", "start_s": 8.0}]
    derive.recovery(faults, successor(24_500_000_000), TIMELINE)  # 19.5 s into the window
    assert faults[1]["recovery_s"] == 11.5 and "recovery_s" not in faults[0]


def test_a_zombies_records_count_with_its_successors_and_its_cpu_stays_its_own():
    joined = derive.with_zombie(successor(9, processed=700), successor(3, processed=300, aborts=1))
    assert (joined.processed, joined.window_committed, joined.transactions, joined.aborts) == (1000, 1000, 2, 1)
    assert joined.first_commit_ns == 9 and joined.cpu_total_s == 1.5
