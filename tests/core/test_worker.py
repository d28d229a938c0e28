"""The background worker: steps on its interval or when woken, survives a failing step,
stops once and joins."""

from __future__ import annotations

import logging
import threading

import pytest

from unico.core.worker import Worker


def test_a_woken_worker_steps_at_once_and_not_again_before_its_interval():
    steps: list[int] = []
    stepped = threading.Event()

    def step() -> None:
        steps.append(1)
        stepped.set()

    worker = Worker("unico-test", step, interval=3600)
    worker.start()
    assert not stepped.wait(0.2)  # the first step waits for the interval
    worker.wake()
    assert stepped.wait(5)
    worker.stop()
    assert steps == [1]
    assert not worker.running
    worker.stop()  # a second stop does nothing


def test_a_failing_step_is_logged_and_the_loop_goes_on(caplog: pytest.LogCaptureFixture):
    calls: list[int] = []
    second = threading.Event()

    def step() -> float:
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("store down")
        second.set()
        return 3600

    worker = Worker("unico-test", step, interval=0.01, run_first=True, failure="it failed")
    with caplog.at_level(logging.ERROR, logger="unico.worker"):
        worker.start()
        assert second.wait(5)
        worker.stop()
    assert len(calls) == 2
    assert [r.getMessage() for r in caplog.records] == ["unico-test: it failed"]
    assert caplog.records[0].exc_info is not None


def test_the_thread_is_named_and_run_last_steps_once_more_on_stop():
    names: list[str] = []
    worker = Worker(
        "unico-named",
        lambda: names.append(threading.current_thread().name),
        interval=3600,
        run_last=True,
    )
    worker.start()
    worker.stop()
    assert names == ["unico-named"]


def test_a_step_chooses_its_next_wait():
    waits = iter([0, 0, 3600])
    counted = threading.Event()
    calls: list[int] = []

    def step() -> float:
        calls.append(1)
        if len(calls) == 3:
            counted.set()
        return next(waits)

    worker = Worker("unico-test", step, interval=3600, run_first=True)
    worker.start()
    assert counted.wait(5)  # three steps without waiting for the interval
    worker.stop()
    assert len(calls) == 3
