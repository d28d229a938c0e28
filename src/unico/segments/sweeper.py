"""The sweeper: people leave (or enter) segments on time when no event comes — a window
expiring, ``did not`` becoming true, a relative date passing.

Every evaluation stores the profile's next check (``segment_schedule``); the sweeper
sleeps until the earliest one, re-evaluates the profiles that are due and lets the engine
record the changes. It runs as a thread in the API process. Another process (the SQLite
writer process) may schedule earlier checks it does not hear about, so it also looks
again every ``poll_seconds``. Tests drive it with `Sweeper.run_due` after moving the clock.
"""

from __future__ import annotations

import logging

from unico.core.clock import Clock
from unico.core.types import EpochMs
from unico.core.worker import Worker
from unico.db.engine import Store
from unico.profiles.store import ProfileStore
from unico.segments.realtime import SegmentEngine, Trigger
from unico.segments.store import SegmentStore

log = logging.getLogger("unico.segments")
BATCH = 500


class Sweeper:
    """Re-evaluates profiles whose next check is due.

    >>> # clock.advance(7 * 86400); sweeper.run_due()   # -> profiles re-evaluated
    """

    def __init__(
        self,
        store: Store,
        segments: SegmentStore,
        engine: SegmentEngine,
        profiles: ProfileStore,
        clock: Clock,
        *,
        poll_seconds: float = 5.0,
    ) -> None:
        self.store = store
        self.segments = segments
        self.engine = engine
        self.profiles = profiles
        self.clock = clock
        self.poll_seconds = poll_seconds
        self._worker = Worker(
            "unico-sweeper",
            self._step,
            interval=poll_seconds,
            run_first=True,
            logger=log,
            failure="segment sweep failed",
            level=logging.WARNING,
        )

    def run_due(self, now: EpochMs | None = None) -> int:
        """Re-evaluate every profile due at ``now`` (default: the clock); returns how many."""
        now = self.clock.now_ms() if now is None else now
        with self.store.read() as conn:
            workspaces = self.segments.workspaces_with_segments(conn)
        total = 0
        for workspace_id in workspaces:
            while True:
                done = self._sweep(workspace_id, now)
                total += done
                if done < BATCH:
                    break
        return total

    def _sweep(self, workspace_id: str, now: EpochMs) -> int:
        with self.store.write() as conn:
            due = self.segments.due(conn, workspace_id, now, BATCH)
            if not due:
                return 0
            # Locks the rows on PostgreSQL, so an ingest group for the same people waits.
            states = self.profiles.load_profiles(conn, workspace_id, due, lock=True)
            # The evaluation schedules the next check of those who still need one.
            self.segments.write_schedule(conn, workspace_id, [(p, None) for p in due])
            live = {p: s for p, s in states.items() if not s.merged_into}
            self.engine.process(conn, workspace_id, live, now, Trigger("expiry"))
        return len(due)

    def earliest(self) -> EpochMs | None:
        with self.store.read() as conn:
            found = [
                self.segments.earliest_due(conn, ws)
                for ws in self.segments.workspaces_with_segments(conn)
            ]
        return min((f for f in found if f is not None), default=None)

    # -- the background thread --------------------------------------------------------------

    def start(self) -> None:
        self._worker.start()

    def stop(self) -> None:
        self._worker.stop()

    def poke(self) -> None:
        """Something was scheduled: look again now."""
        self._worker.wake()

    def _step(self) -> float:
        """One round of the thread; how long to sleep before the next (a failing store
        waits ``poll_seconds``)."""
        wait = self.poll_seconds
        earliest = self.earliest()
        now = self.clock.now_ms()
        if earliest is not None and earliest <= now and self.run_due(now):
            return 0  # there may be more due: look again at once
        if earliest is not None:
            wait = min(wait, (earliest - now) / 1000)
        return max(wait, 0.01)
