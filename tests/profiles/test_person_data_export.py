"""A person who touched every context: the export holds every table they appear in, erasure
leaves none of their rows, and someone else's rows stay."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Table, and_, func, or_, select, tuple_

from tests.conftest import Workspace
from tests.decide.conftest import settings
from tests.decide.helpers import decide, track
from tests.experiments.helpers import running, shop
from tests.profiles.helpers import export, ref_path, send, status
from tests.segments.helpers import create
from unico.container import Container
from unico.core.types import ProfileId, WorkspaceId
from unico.db.tables import metadata

__all__ = ["settings"]  # decide's: placements and experiments seen at once


def _journey(ws: Workspace, user: str, anonymous: list[str]) -> None:
    """Anonymous visits merged by identifies, consent, a dead letter, an experiment's
    decision with an impression, a click and an order, a static list entry."""
    for anon in anonymous:
        send(ws, "track", {"anonymousId": anon, "event": "Product Viewed", "properties": {}})
        send(ws, "identify", {"userId": user, "anonymousId": anon, "traits": {"plan": "pro"}})
    send(ws, "identify", {"userId": user, "traits": {"email": f"{user}@example.com"}})
    r = ws.client.post(
        "/v1/consent",
        json={"userId": user, "purposes": {"marketing": True}},
        auth=(ws.created.write_key, ""),
    )
    assert r.status_code == 200, r.text
    assert ws.send("track", {"userId": user, "properties": {}}).status_code == 400
    one = decide(ws, "hero", userId=user)["hero"]
    assert one.get("experiment") is not None  # exposed
    did, shown = one["decision_id"], [i["id"] for i in one["items"]]
    track(ws, user, "Placement Viewed", decision_id=did, placement="hero", item_ids=shown)
    track(ws, user, "Placement Clicked", decision_id=did, item_id=shown[0], position=1)
    track(
        ws,
        user,
        "Order Completed",
        products=[{"product_id": shown[0], "decision_id": did}],
        revenue=30,
    )
    track(ws, user, "Product Viewed", product_id="s1")
    r = ws.client.put(f"/v1/segments/vip/members/{ref_path('user_id:' + user)}", headers=ws.admin)
    assert r.status_code == 200, r.text


def _named(
    table: Table, profiles: list[str], anonymous: list[str], users: list[str], keys: list[Any]
) -> Any:
    """Rows of ``table`` naming the person through any of its person columns."""
    c = table.c
    found: list[Any] = []
    for column in table.columns:
        name = column.name
        if "profile" in name or name in ("merged_into", "unit_id"):
            found.append(column.in_(profiles + (anonymous if name == "unit_id" else [])))
        elif name == "anonymous_id":
            found.append(column.in_(anonymous))
        elif name == "user_id":
            found.append(column.in_(users))
    if "kind" in c and "value" in c:
        found.append(tuple_(c.kind, c.value).in_(keys))
    return or_(*found)


def _count(container: Container, ws: Workspace, table: Table, where: Any) -> int:
    with container.store.read() as conn:
        query = select(func.count()).select_from(table)
        return int(conn.execute(query.where(and_(table.c.workspace_id == ws.id, where))).scalar())


def test_a_person_in_every_context_is_exported_whole_then_erased_whole(
    ws: Workspace, container: Container
) -> None:
    shop(container, ws)
    running(ws)
    create(ws, "browsers", 'did event "Product Viewed" within 1d')
    create(ws, "vip", None, kind="static")
    _journey(ws, "ada", ["anon-a1", "anon-a2"])
    _journey(ws, "bo", ["anon-b1"])
    out = export(ws, "user_id:ada")
    keys = [(i["kind"], i["value"]) for i in out["identities"]]
    profiles = [out["profile_id"], *out["merged_from"]]
    assert len(profiles) == 2 and len(keys) == 5  # anon-a1, anon-a2, ada, email, its hash
    anonymous = [v for k, v in keys if k == "anonymous_id"]
    # A list entry still waiting for one of ada's identities (an upload that raced her
    # identify) names her too.
    persons = container.profiles.persons
    with container.store.write() as conn:
        vip = conn.execute(
            select(metadata.tables["segment"].c.segment_id).where(
                metadata.tables["segment"].c.workspace_id == ws.id,
                metadata.tables["segment"].c.name == "vip",
            )
        ).scalar_one()
        container.segments.segments.add_entries(
            conn, ws.id, vip, [("email", "ada@example.com", None)], 0
        )
    out = export(ws, "user_id:ada")

    # Each context's rows: under its name in the answer, every claimed table non-empty.
    with container.store.read() as conn:
        ids = [ProfileId(p) for p in profiles]
        direct = {d.name: d.export(conn, WorkspaceId(ws.id), ids) for d in persons}
    for data in persons:
        assert set(direct[data.name]) == set(data.tables)
        empty = [t for t, found in direct[data.name].items() if not found]
        assert empty == [], f"{data.name}: nothing exported from {empty}"
        if data.name != "profiles":
            assert out[data.name] == direct[data.name]
    assert len(out["segments"]["segment_list_entry"]) == 2  # the resolved and the waiting
    assert {r["user_id"] for r in out["decisions"]["decision"]} == {"ada"}
    assert {o["kind"] for o in out["decisions"]["decision_outcome"]} >= {"impression", "click"}
    assert {r["kind"] for r in out["interactions"]["interaction"]} >= {"view", "purchase"}
    assert out["experiments"]["exposure"][0]["unit_id"] in profiles
    assert [d["code"] for d in out["dead_letters"]] and out["events"] and out["merge_history"]

    # Every table naming a person has rows for ada and for bo before the erasure.
    claimed = {t: metadata.tables[t] for t in persons.claims()}
    ada = {t: _named(tb, profiles, anonymous, ["ada"], keys) for t, tb in claimed.items()}
    bo_out = export(ws, "user_id:bo")
    bo_keys = [(i["kind"], i["value"]) for i in bo_out["identities"]]
    bo_anon = [v for k, v in bo_keys if k == "anonymous_id"]
    bo = {
        t: _named(tb, [bo_out["profile_id"]], bo_anon, ["bo"], bo_keys) for t, tb in claimed.items()
    }
    before = {t: _count(container, ws, tb, ada[t]) for t, tb in claimed.items()}
    assert [t for t, n in before.items() if n == 0] == []
    others = {t: _count(container, ws, tb, bo[t]) for t, tb in claimed.items()}

    r = ws.client.delete(f"/v1/profiles/{ref_path('user_id:ada')}", headers=ws.admin)
    assert r.status_code == 200, r.text
    container.decisions.log.flush()
    container.experiments.runtime.exposures.flush()
    left = {t: _count(container, ws, tb, ada[t]) for t, tb in claimed.items()}
    assert {t: n for t, n in left.items() if n} == {}
    assert {t: _count(container, ws, tb, bo[t]) for t, tb in claimed.items()} == others
    gone = ws.client.get(f"/v1/profiles/{ref_path('user_id:ada')}/export", headers=ws.admin)
    assert gone.status_code == 404, gone.text
    assert status(ws, "user_id:bo") == 200
