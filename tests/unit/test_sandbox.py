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
