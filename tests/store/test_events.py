"""`SqlEventStore.erase`: a person's events and dead letters, and nobody else's."""

from __future__ import annotations

from sqlalchemy import select

from tests.conftest import T0
from unico.collect.store import DeadLetter
from unico.container import Container
from unico.core.event import Event
from unico.db.schema import dead_letter, event


def _event(n: int, anonymous_id: str | None, user_id: str | None) -> Event:
    return Event(
        type="track",
        message_id=f"m{n}",
        timestamp=T0,
        received_at=T0,
        anonymous_id=anonymous_id,
        user_id=user_id,
        name="X",
    )


def _letter(anonymous_id: str | None, user_id: str | None) -> DeadLetter:
    return DeadLetter("invalid_input", "bad", None, "{}", anonymous_id, user_id)


def test_erase_takes_the_person_and_spares_namesakes(container: Container) -> None:
    ws = container.workspaces.create("events").workspace_id
    other_ws = container.workspaces.create("elsewhere").workspace_id
    events = container.events
    with container.store.write() as conn:
        events.insert_events(
            conn,
            ws,
            [
                (_event(1, "dev", "abc"), "p_person"),
                (_event(2, "dev", None), "p_person"),
                (_event(3, "dev", "bob"), "p_bob"),  # the same device, another person
                (_event(4, "abc", None), "p_stranger"),  # an anonymous id equal to a user id
            ],
        )
        events.insert_events(conn, other_ws, [(_event(1, "dev", "abc"), "p_person")])
        letters = [
            _letter(None, "abc"),
            _letter("dev", None),
            _letter("dev", "bob"),
            _letter("abc", None),
            _letter(None, "abcd"),
        ]
        events.insert_dead_letters(conn, ws, letters, T0)
        events.insert_dead_letters(conn, other_ws, [_letter("dev", "abc")], T0)

    with container.store.write() as conn:
        counts = events.erase(conn, ws, ["p_person"], ["dev"], ["abc"])
    assert counts == {"events": 2, "dead_letters": 2}

    with container.store.read() as conn:
        left = conn.execute(
            select(event.c.message_id).where(event.c.workspace_id == ws).order_by(event.c.id)
        ).all()
        kept = conn.execute(
            select(dead_letter.c.anonymous_id, dead_letter.c.user_id)
            .where(dead_letter.c.workspace_id == ws)
            .order_by(dead_letter.c.id)
        ).all()
        elsewhere = conn.execute(select(event).where(event.c.workspace_id == other_ws)).all()
        elsewhere_letters = conn.execute(
            select(dead_letter).where(dead_letter.c.workspace_id == other_ws)
        ).all()
    assert [r.message_id for r in left] == ["m3", "m4"]
    assert [tuple(r) for r in kept] == [("dev", "bob"), ("abc", None), (None, "abcd")]
    assert len(elsewhere) == 1 and len(elsewhere_letters) == 1
