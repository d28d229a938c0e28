"""Several writers on one PostgreSQL database, as several worker processes would be.

Each `Container` has its own engine and ingest writer thread, so two containers on one
database behave like two worker processes: their transactions interleave for real.
"""

from __future__ import annotations

import itertools
import random
import threading
import time
from collections.abc import Callable, Iterator

import pytest
from sqlalchemy import select, text

from tests.conftest import T0
from unico.collect.pipeline import Receipt, Submission
from unico.container import Container
from unico.core.clock import ManualClock
from unico.core.event import Event
from unico.core.settings import load_settings
from unico.db.schema import dead_letter, event, identity, profile
from unico.profiles.consent import DEFAULT_CONSENT
from unico.profiles.service import ProfileFilter

PEOPLE = 24
_ids = itertools.count()


@pytest.fixture
def containers(fresh_postgres_url: str) -> Iterator[list[Container]]:
    settings = load_settings(
        database_url=fresh_postgres_url, auto_migrate=False, key_cache_seconds=0
    )
    built = [Container.build(settings, ManualClock(T0)) for _ in range(2)]
    built[0].store.upgrade()
    for c in built:
        c.ingestor.start()
    yield built
    for c in built:
        c.stop()


def _event(kind: str, at: int, **fields: object) -> Event:
    return Event(type=kind, message_id=f"m{next(_ids)}", timestamp=at, received_at=T0, **fields)  # type: ignore[arg-type]


def _person_events(i: int) -> list[Event]:
    """One person's events: two devices, logins joining them, views and orders."""
    user, phone, laptop = f"u{i}", f"phone{i}", f"laptop{i}"
    at = T0 - 3_600_000
    events = [
        _event("identify", at, user_id=user, anonymous_id=phone, traits={"email": f"p{i}@x.it"}),
        _event("identify", at + 1, user_id=user, anonymous_id=laptop),
    ]
    for n in range(4):
        events.append(_event("track", at + 10 + n, anonymous_id=phone, name="Product Viewed"))
        events.append(_event("page", at + 20 + n, anonymous_id=laptop))
    for n in range(3):
        events.append(
            _event(
                "track",
                at + 30 + n,
                user_id=user,
                name="Order Completed",
                properties={"order_id": f"o{i}-{n}", "revenue": 10 + n},
            )
        )
    events.append(_event("identify", at + 40, traits={"email": f"P{i}@X.it"}, anonymous_id=laptop))
    return events


def _run(workers: list[Callable[[], None]]) -> None:
    errors: list[BaseException] = []

    def guard(work: Callable[[], None]) -> None:
        try:
            work()
        except BaseException as exc:  # reported below, in the test's thread
            errors.append(exc)

    threads = [threading.Thread(target=guard, args=(w,)) for w in workers]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors
    assert not any(t.is_alive() for t in threads)


def test_two_writers_keep_one_profile_per_person_and_exact_counts(
    containers: list[Container],
) -> None:
    ws = containers[0].workspaces.create("concurrent").workspace_id
    per_person = [_person_events(i) for i in range(PEOPLE)]
    # Every person's events are dealt to all four senders (two per container), so the
    # same people are written by both processes at once, in no particular order.
    queues: list[list[Event]] = [[] for _ in range(4)]
    rng = random.Random(7)
    for events in per_person:
        for e in events:
            queues[rng.randrange(4)].append(e)
    receipts: list[Receipt] = []

    def sender(container: Container, events: list[Event]) -> Callable[[], None]:
        def work() -> None:
            for start in range(0, len(events), 2):
                chunk = events[start : start + 2]
                sub = Submission(ws, DEFAULT_CONSENT, chunk, [])
                receipts.append(container.ingestor.submit_sync(sub))

        return work

    _run([sender(containers[n % 2], q) for n, q in enumerate(queues)])

    total = sum(len(e) for e in per_person)
    assert sum(r.accepted for r in receipts) == total
    assert sum(r.rejected + r.duplicates + r.suppressed + r.anonymous for r in receipts) == 0
    service = containers[1].profiles
    listed = service.list(ws, limit=500, cursor=None, where=ProfileFilter({}))["profiles"]
    assert len(listed) == PEOPLE
    for i, events in enumerate(per_person):
        person = service.get(ws, f"user_id:u{i}")
        for ref in (f"anonymous_id:phone{i}", f"anonymous_id:laptop{i}", f"email:p{i}@x.it"):
            assert service.get(ws, ref)["profile_id"] == person["profile_id"], ref
        computed = person["computed"]
        assert computed["events"] == len(events)
        assert computed["event_counts"] == {"Product Viewed": 4, "Order Completed": 3}
        assert computed["page_views"] == 4
        assert computed["orders"] == 3 and computed["revenue"] == 33.0
        assert {(i["kind"], i["value"]) for i in person["identities"]} >= {
            ("user_id", f"u{i}"),
            ("anonymous_id", f"phone{i}"),
            ("anonymous_id", f"laptop{i}"),
        }
        assert len(service.export(ws, f"user_id:u{i}")["events"]) == len(events)
    with containers[0].store.read() as conn:
        live = {
            r.profile_id
            for r in conn.execute(
                select(profile.c.profile_id).where(
                    profile.c.workspace_id == ws, profile.c.merged_into.is_(None)
                )
            )
        }
        owners = {
            r.profile_id
            for r in conn.execute(
                select(identity.c.profile_id).where(identity.c.workspace_id == ws)
            )
        }
        stored = conn.execute(select(event.c.profile_id).where(event.c.workspace_id == ws)).all()
        letters = conn.execute(select(dead_letter).where(dead_letter.c.workspace_id == ws)).all()
    assert owners == live  # no identity points at a merged-away profile
    assert len(stored) == total
    assert letters == []


def _advisory_waiters(container: Container) -> int:
    with container.store.read() as conn:
        return int(
            conn.execute(
                text(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                    " AND wait_event_type = 'Lock' AND wait_event = 'advisory'"
                )
            ).scalar_one()
        )


def _wait_for_waiters(container: Container, n: int) -> None:
    deadline = time.monotonic() + 10
    while _advisory_waiters(container) < n:
        assert time.monotonic() < deadline, f"never saw {n} waiting transactions"
        time.sleep(0.01)


def test_an_event_racing_an_erasure_is_suppressed(containers: list[Container]) -> None:
    """An ingest group that starts while an erasure is running must wait for it and then
    drop the event; it must not see the identities gone and create the person again."""
    writer, admin = containers
    ws = writer.workspaces.create("race").workspace_id
    first = _event("identify", T0, user_id="gone", anonymous_id="dev")
    writer.ingestor.submit_sync(Submission(ws, DEFAULT_CONSENT, [first], []))
    results: dict[str, object] = {}

    with writer.store.write() as blocker:
        # Hold the device's lock, as a long ingest group would, while the erasure queues
        # for it and then a late event from the device queues behind the erasure (the
        # database grants a lock to its waiters in the order they came).
        writer.profiles.profiles.lock_keys(blocker, ws, [("anonymous_id", "dev")])

        def erase() -> None:
            results["erase"] = admin.profiles.erase(ws, "user_id:gone")

        def late() -> None:
            late_event = _event("track", T0, anonymous_id="dev", name="Late")
            sub = Submission(ws, DEFAULT_CONSENT, [late_event], [])
            results["late"] = writer.ingestor.submit_sync(sub)

        eraser = threading.Thread(target=erase)
        eraser.start()
        _wait_for_waiters(writer, 1)
        sender = threading.Thread(target=late)
        sender.start()
        _wait_for_waiters(writer, 2)
    eraser.join(timeout=30)
    sender.join(timeout=30)

    receipt = results["late"]
    assert isinstance(receipt, Receipt)
    assert (receipt.accepted, receipt.suppressed) == (1, 1)
    assert results["erase"]["erased"]["profiles"] == 1  # type: ignore[index]
    with writer.store.read() as conn:
        assert conn.execute(select(profile).where(profile.c.workspace_id == ws)).all() == []
        assert conn.execute(select(identity).where(identity.c.workspace_id == ws)).all() == []
        assert conn.execute(select(event).where(event.c.workspace_id == ws)).all() == []
