"""The shared connection counts by which a worker over its share closes a connection."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest

from unico.web.balance import WORDS, ConnectionShares, create_slots


@pytest.fixture
def slots(tmp_path: Path) -> Path:
    path = tmp_path / "connections"
    create_slots(path, 2)
    return path


def test_each_worker_claims_a_slot_of_its_own_and_a_dead_ones_slot_is_taken_over(
    slots: Path,
) -> None:
    first, second = ConnectionShares(slots), ConnectionShares(slots)
    assert {first.slot, second.slot} == {0, 1}
    with pytest.raises(RuntimeError, match="no free slot"):
        ConnectionShares(slots)
    for _ in range(3):
        first.opened()
    first.close()  # its process died: the lock went with it, its count stays behind
    assert second.counts()[first.slot] == 3
    restarted = ConnectionShares(slots)
    assert restarted.slot == first.slot
    assert second.counts()[restarted.slot] == 0  # its predecessor's connections died with it
    restarted.close()
    second.close()


def test_a_worker_over_its_share_sheds_the_difference(slots: Path) -> None:
    busy, idle = ConnectionShares(slots), ConnectionShares(slots)
    for _ in range(19):
        busy.opened()
    for _ in range(13):
        idle.opened()
    assert not idle.should_shed()
    shed = 0
    while busy.should_shed():  # each answer with Connection: close counts as gone at once
        busy.shedding += 1
        shed += 1
    assert shed == 5  # 14 left against 13
    for _ in range(shed):  # the five close; their clients reconnect, two hashed back here
        busy.closed(shed=True)
    assert busy.shedding == 0
    for _ in range(2):
        busy.opened()
    for _ in range(3):
        idle.opened()
    assert busy.counts() == [16, 16]
    assert not busy.should_shed() and not idle.should_shed()
    idle.opened()  # one more: 17 against 16 is no reason to close one
    assert not idle.should_shed()
    idle.opened()
    assert idle.should_shed()
    busy.close()
    idle.close()


def test_a_worker_alone_sheds_nothing(slots: Path) -> None:
    alone = ConnectionShares(slots)
    for _ in range(10):
        alone.opened()
    assert not alone.should_shed()  # the other slot was never claimed
    other = ConnectionShares(slots)
    assert alone.should_shed()  # a worker started: it gets its share
    alone.shedding = 8
    assert alone.should_shed()
    alone.shedding = 9
    assert not alone.should_shed()  # 1 against 0
    # The other's heartbeat stops (its process hangs or died without a successor).
    stale = int((time.time() - 60) * 1000)
    with slots.open("r+b") as f:
        f.seek(8 * (WORDS * other.slot + 1))
        f.write(stale.to_bytes(8, sys.byteorder, signed=True))
    assert alone.counts()[alone.slot] == 10
    assert alone.counts()[other.slot] is None
    assert not alone.should_shed()
    alone.close()
    other.close()
