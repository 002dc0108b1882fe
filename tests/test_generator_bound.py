"""Who set the pace: a producer is generator-bound when one of its threads wanted a CPU the whole
window (it never waited for Kafka), not when its process passed one core across several threads.
A cell kept to a modest rate is not (tests/test_cell_semantics.py)."""

import threading
import time

from bench.cell.derive import generator_bound
from bench.roles import threads
from bench.roles.threads import ThreadDemand


def _window(work, seconds: float = 0.6) -> ThreadDemand:
    """The busiest thread while `work` runs in a thread of its own (kept alive until measured:
    an ended thread leaves /proc)."""
    measured = threading.Event()
    before, started = threads.snapshot(), time.monotonic()
    worker = threading.Thread(target=lambda: (work(started + seconds), measured.wait()))
    worker.start()
    time.sleep(seconds)
    after = threads.snapshot()
    measured.set()
    worker.join()
    return threads.busiest(before, after, time.monotonic() - started)


def _spin(until: float) -> None:
    while time.monotonic() < until:
        pass


def _sleep(until: float) -> None:
    time.sleep(max(0.0, until - time.monotonic()))


def test_a_thread_that_never_sleeps_wanted_a_cpu_all_the_window_and_one_that_sleeps_did_not():
    spinning = _window(_spin)
    assert spinning.demand >= 0.9, spinning  # on a CPU, or waiting for one when the machine is busy
    sleeping = _window(_sleep)
    assert sleeping.demand < 0.3, sleeping


def test_a_thread_that_never_waited_for_kafka_makes_the_cell_generator_bound_whatever_the_process_used():
    bound, reason = generator_bound(0.7, ThreadDemand("python", 0.62, 0.31))  # squeezed off the CPU, never asleep
    assert bound and "python" in reason and "93%" in reason
    # librdkafka's broker thread and Python's together passed a core, but each slept a fifth of the window
    assert generator_bound(1.08, ThreadDemand("python", 0.71, 0.09)) == (False, "")


def test_without_thread_figures_a_producer_process_near_a_full_core_is_generator_bound():
    assert generator_bound(0.95, None)[0] and not generator_bound(0.5, None)[0]  # a kernel without schedstat
