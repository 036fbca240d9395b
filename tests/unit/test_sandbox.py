"""A parser that loops, explodes or crashes ends as a SandboxFailure with a reason; a good one answers in JSON."""
import time

import pytest

from archive.extraction.sandbox import Limits, SandboxFailure, run_limited
from tests.fixtures import hostile

TIGHT = Limits(cpu_seconds=2, memory_mb=512, max_pages=10, wall_seconds=20)


def test_an_answer_comes_back_as_json_data():
    assert run_limited(hostile.answer, ("ok",), TIGHT) == {"value": "ok"}


@pytest.mark.parametrize("function,reason", [
    (hostile.spin, "CPU limit"),
    (hostile.hoard, "memory limit"),
    (hostile.segfault, "crashed (SIGSEGV)"),
])
def test_loops_explosions_and_crashes_become_reasons(function, reason):
    started = time.monotonic()
    with pytest.raises(SandboxFailure) as failure:
        run_limited(function, (), TIGHT)
    assert reason in failure.value.reason
    assert time.monotonic() - started < 15


def test_the_wall_clock_ends_a_parser_that_waits():
    started = time.monotonic()
    with pytest.raises(SandboxFailure) as failure:
        run_limited(hostile.sleep_forever, (), Limits(cpu_seconds=5, memory_mb=512, wall_seconds=1))
    assert "time limit" in failure.value.reason and time.monotonic() - started < 5


def pid_of(limits=TIGHT):
    return run_limited(hostile.whoami, (), limits)["pid"]


def test_a_healthy_worker_reads_the_next_file_too():
    assert pid_of() == pid_of()


def test_after_a_failure_the_next_file_gets_a_fresh_worker():
    first = pid_of()
    with pytest.raises(SandboxFailure, match="not what it claims"):
        run_limited(hostile.fail, (), TIGHT)
    assert pid_of() != first


def test_one_job_per_worker_means_a_fresh_process_for_every_file():
    strict = Limits(cpu_seconds=2, memory_mb=512, max_pages=10, wall_seconds=20, jobs_per_worker=1)
    assert pid_of(strict) != pid_of(strict)


def test_the_cpu_limit_is_per_file_not_per_worker():
    limits = Limits(cpu_seconds=1, memory_mb=512, max_pages=10, wall_seconds=20)
    pids = {run_limited(hostile.whoami, (), limits)["pid"]}
    for _ in range(3):  # 2.1 s in all, more than the 1 s each file is allowed
        assert run_limited(hostile.burn, (0.7,), limits) == {"burned": 0.7}
        pids.add(run_limited(hostile.whoami, (), limits)["pid"])
    assert len(pids) == 1
    with pytest.raises(SandboxFailure, match="CPU limit"):
        run_limited(hostile.spin, (), limits)
