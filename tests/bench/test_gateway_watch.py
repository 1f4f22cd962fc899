"""The gateway phase fails a stalled burst with a reason instead of waiting forever."""

from __future__ import annotations

import asyncio

import pytest

from bench import ingest


@pytest.fixture
def run():
    """The collector's run task, pending: a future on a loop of its own."""
    loop = asyncio.new_event_loop()
    yield loop.create_future()
    loop.close()


def test_a_stopped_collector_ends_the_wait(run):
    watch = ingest._BurstWatch(100, run)
    watch.check(5, 0)
    run.set_result(None)  # what the collector's SIGTERM handler leads to
    with pytest.raises(RuntimeError, match="the collector stopped at 5 received, 0 committed"):
        watch.check(5, 0)


def test_no_progress_for_the_stall_time_ends_the_wait(run):
    watch = ingest._BurstWatch(100, run)
    watch.check(5, 0)
    watch.moved_at -= ingest.STALL_S + 1
    watch.check(6, 0)  # it moved: the clock starts again
    watch.moved_at -= ingest.STALL_S + 1
    with pytest.raises(RuntimeError, match="nothing moved for 30 s at 6 received"):
        watch.check(6, 0)


def test_a_burst_past_its_deadline_ends_the_wait(run):
    watch = ingest._BurstWatch(100, run)
    watch.deadline -= ingest.STALL_S + 10
    with pytest.raises(RuntimeError, match="past its deadline at 7 received, 3 committed of 100"):
        watch.check(7, 3)
