"""Keep-alive connections spread over the serving processes by load, not by chance.

The kernel hands each new connection to a worker by a hash of its addresses
(``SO_REUSEPORT``, web/workers.py) and keep-alive keeps it there. A few long-lived
connections (a reverse proxy's pool, a load generator's 32) split unevenly: 19 to 13 is
common, and the worker with 19 answers 46% more requests while the other idles. Under
load that difference, not the average, decides the latency tail.

So the workers count their open connections in a small shared file, one slot each, and a
worker holding two or more connections more than the least busy live worker answers its
next request with ``Connection: close``. The client reconnects and the kernel
hashes the new connection afresh, so shares even out within a few requests; connections
already told to close count as gone, so a worker does not shed more than its excess. Each
worker writes only its own slot (an aligned 8-byte store), so no lock is taken on the
request path, and a heartbeat in the slot tells the live workers from a dead one's stale
count: a worker alone sheds nothing, and a restarted worker (counted as it starts) gets
its share back from the others.

Measured at 1,000 decisions/s over 32 connections (BENCHMARKS.md): by the hash alone the
busier worker took 76-79% of a core against 56-76% for the other, in four runs; balanced,
the two were within 2 points in every run. What is left of the tail is CPU per decision.
"""

from __future__ import annotations

import fcntl
import mmap
import os
import time
from pathlib import Path

from unico.core.worker import Worker

#: The environment variable naming the shared file (set by `serve_workers`).
ENV = "UNICO_CONNECTION_SLOTS"
#: Seconds without a heartbeat after which a slot's worker counts as gone.
STALE_S = 3.0
#: Seconds between heartbeats.
HEARTBEAT_S = 1.0
#: Words per slot: open connections, last heartbeat (ms).
WORDS = 2


def create_slots(path: Path, workers: int) -> None:
    """The shared file for ``workers`` slots, zeroed."""
    path.write_bytes(b"\0" * (8 * WORDS * workers))


class ConnectionShares:
    """This worker's slot in the shared file, and the others' counts."""

    def __init__(self, path: Path) -> None:
        size = path.stat().st_size
        self.slots = size // (8 * WORDS)
        self._lock: int | None = None
        self.slot = self._claim(path)
        self._file = path.open("r+b")
        self._map = mmap.mmap(self._file.fileno(), size)
        self._words = memoryview(self._map).cast("q")
        self._words[WORDS * self.slot] = 0  # a dead predecessor's connections died with it
        self.beat()
        #: Connections told to close that have not closed yet.
        self.shedding = 0

    def _claim(self, path: Path) -> int:
        """The first slot whose lock no live process holds (a restarted worker takes the
        dead one's)."""
        for slot in range(self.slots):
            fd = os.open(f"{path}.{slot}.lock", os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                continue
            self._lock = fd
            return slot
        raise RuntimeError(f"no free slot among {self.slots} in {path}")

    def beat(self) -> None:
        self._words[WORDS * self.slot + 1] = int(time.time() * 1000)

    def opened(self) -> None:
        self._words[WORDS * self.slot] += 1

    def shed(self) -> None:
        """One of this worker's connections is told to close (it counts as gone)."""
        self.shedding += 1

    def closed(self, shed: bool) -> None:
        self._words[WORDS * self.slot] -= 1
        if shed:
            self.shedding -= 1

    def counts(self) -> list[int | None]:
        """Each slot's open connections, None for a slot without a live worker."""
        stale = int((time.time() - STALE_S) * 1000)
        words = self._words.tolist()
        return [
            words[WORDS * s] if words[WORDS * s + 1] >= stale else None for s in range(self.slots)
        ]

    def should_shed(self) -> bool:
        """Whether this worker holds at least two connections more than the least busy
        live worker, not counting its connections already told to close.

        Against the others' counts, not a fair share of the total: the total dips while
        shed clients reconnect, and a share of the dipped total would shed too many. A
        shed connection comes back to each worker alike, so with two workers shedding the
        whole difference evens them out in expectation; the next requests shed what chance
        leaves over.
        """
        counts = self.counts()
        others = [c for s, c in enumerate(counts) if c is not None and s != self.slot]
        if not others:
            return False
        mine = int(self._words[WORDS * self.slot]) - self.shedding
        return mine > min(others) + 1

    def close(self) -> None:
        self._words.release()
        self._map.close()
        self._file.close()
        if self._lock is not None:
            os.close(self._lock)
            self._lock = None


#: This worker's slot, once `join` took it.
_shares: ConnectionShares | None = None


def shares() -> ConnectionShares | None:
    """This worker's slot (None in a single serving process)."""
    return _shares


def join() -> ConnectionShares | None:
    """Take this worker's slot in the file named by ``UNICO_CONNECTION_SLOTS`` and keep its
    heartbeat (called once as the worker starts, so that a restarted worker is counted
    before its first connection and the others shed theirs to it); None when unset."""
    global _shares
    path = os.environ.get(ENV)
    if _shares is not None or not path:
        return _shares
    shares = _shares = ConnectionShares(Path(path))

    # Never stopped: the heartbeat lasts as long as the worker process.
    Worker("unico-connection-heartbeat", shares.beat, interval=HEARTBEAT_S).start()
    return shares
