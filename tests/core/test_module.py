"""The root starts the modules' workers in order, singletons only where asked, and stops
every worker in reverse."""

from __future__ import annotations

from unico.core.module import ContextModule, start_all, stop_all


class Recorded:
    def __init__(self, name: str, calls: list[str]) -> None:
        self.name, self.calls = name, calls

    def start(self) -> None:
        self.calls.append(f"start {self.name}")

    def stop(self) -> None:
        self.calls.append(f"stop {self.name}")


def _modules(calls: list[str]) -> list[ContextModule]:
    return [
        ContextModule("a", workers=[Recorded("a1", calls), Recorded("a2", calls)]),
        ContextModule(
            "b", workers=[Recorded("b1", calls)], singleton_workers=[Recorded("b*", calls)]
        ),
    ]


def test_workers_start_in_module_order_and_stop_in_reverse() -> None:
    calls: list[str] = []
    modules = _modules(calls)
    start_all(modules, singletons=True)
    stop_all(modules)
    assert calls == [
        *("start a1", "start a2", "start b1", "start b*"),
        *("stop b*", "stop b1", "stop a2", "stop a1"),
    ]


def test_singleton_workers_start_only_in_the_lead_process_but_always_stop() -> None:
    calls: list[str] = []
    modules = _modules(calls)
    start_all(modules, singletons=False)
    assert calls == ["start a1", "start a2", "start b1"]
    stop_all(modules)
    assert "stop b*" in calls
