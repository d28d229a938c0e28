"""Ids: unique, time-ordered, and different in forked children."""

from __future__ import annotations

import os

from unico.core.ids import new_id


def test_ids_are_unique_and_sort_by_time():
    ids = [new_id("d_", 5) for _ in range(10_000)]
    assert len(set(ids)) == len(ids)
    assert max(ids) < new_id("d_", 6)


def test_a_forked_child_does_not_repeat_its_parent_ids():
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: one id, then leave without running pytest's teardown
        os.write(write, new_id("d_", 0).encode())
        os._exit(0)
    os.close(write)
    os.waitpid(pid, 0)
    child = os.read(read, 100).decode()
    os.close(read)
    # Parent and child made the same number of ids since the fork.
    assert len(child) == len(new_id("d_", 0))
    assert child != new_id("d_", 0)
