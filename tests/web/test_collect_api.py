"""The tracking API (Segment's HTTP Tracking API): every endpoint, field, and batch rule."""

from __future__ import annotations

import gzip
from typing import Any

import orjson
import pytest
from sqlalchemy import select

from tests.conftest import Workspace
from tests.web.helpers import dead_letters, error_of, events_of, export, ok
from unico.container import Container
from unico.db.schema import event as event_table

SINGLE = {
    "track": {"userId": "u1", "event": "Product Viewed", "properties": {"sku": "A-1"}},
    "identify": {"userId": "u1", "traits": {"plan": "gold"}},
    "page": {"userId": "u1", "name": "Home", "properties": {"path": "/"}},
    "screen": {"userId": "u1", "name": "Cart", "properties": {"items": 2}},
    "group": {"userId": "u1", "groupId": "acme", "traits": {"size": 50}},
    "alias": {"userId": "u1", "previousId": "anon-1"},
}


def receipt(accepted: int = 1, rejected: int = 0, duplicates: int = 0) -> dict[str, Any]:
    return {
        "success": True,
        "accepted": accepted,
        "rejected": rejected,
        "duplicates": duplicates,
        "errors": [],
    }


@pytest.mark.parametrize("kind", list(SINGLE))
def test_each_endpoint_stores_its_message(ws: Workspace, kind: str) -> None:
    assert ok(ws.send(kind, SINGLE[kind])) == receipt()
    [stored] = events_of(ws, "user_id:u1")
    assert stored["type"] == kind
    assert stored["user_id"] == "u1"


def test_every_field_of_a_message_is_stored(ws: Workspace, container: Container) -> None:
    message = {
        "messageId": "msg-1",
        "anonymousId": "anon-9",
        "userId": "u9",
        "event": "Order Completed",
        "properties": {"revenue": 42.5, "products": [{"sku": "A", "price": 42.5}]},
        "context": {"ip": "192.0.2.1", "locale": "it-IT", "page": {"path": "/checkout"}},
        "integrations": {"All": False, "Mailchimp": True},
        "timestamp": "2026-01-15T09:00:00.250Z",
    }
    assert ok(ws.send("track", message)) == receipt()
    [stored] = events_of(ws, "user_id:u9")
    assert stored["message_id"] == "msg-1"
    assert (stored["type"], stored["name"]) == ("track", "Order Completed")
    assert (stored["anonymous_id"], stored["user_id"]) == ("anon-9", "u9")
    assert stored["properties"] == message["properties"]
    assert stored["context"] == message["context"]
    assert stored["timestamp"] == "2026-01-15T09:00:00.250Z"
    assert stored["received_at"] == "2026-01-15T10:00:00.000Z"
    # The export does not show integrations; the event row keeps them.
    with container.store.read() as conn:
        integrations = conn.execute(
            select(event_table.c.integrations).where(
                event_table.c.workspace_id == ws.id, event_table.c.message_id == "msg-1"
            )
        ).scalar_one()
    assert integrations == message["integrations"]
    assert export(ws, "anonymous_id:anon-9")["profile_id"] == export(ws, "user_id:u9")["profile_id"]


def test_identify_page_screen_and_group_fill_the_profile(ws: Workspace) -> None:
    for kind, body in SINGLE.items():
        if kind != "alias":
            ok(ws.send(kind, body))
    profile = export(ws, "user_id:u1")
    assert profile["traits"]["plan"] == "gold"
    assert profile["traits"]["groups"] == ["acme"]
    names = {(e["type"], e["name"]) for e in profile["events"]}
    assert names == {
        ("track", "Product Viewed"),
        ("identify", None),
        ("page", "Home"),
        ("screen", "Cart"),
        ("group", None),
    }
    assert profile["computed"]["page_views"] == 1
    assert profile["computed"]["screen_views"] == 1
    by_type = {e["type"]: e for e in profile["events"]}
    assert by_type["identify"]["traits"] == {"plan": "gold"}
    assert by_type["group"]["traits"] == {"size": 50}
    assert by_type["page"]["properties"] == {"path": "/"}
    assert by_type["screen"]["properties"] == {"items": 2}


def test_anonymous_id_alone_is_enough_and_identify_merges_it_later(ws: Workspace) -> None:
    ok(ws.send("page", {"anonymousId": "a-1", "name": "Landing"}))
    ok(ws.send("identify", {"anonymousId": "a-1", "userId": "ada", "traits": {"x": 1}}))
    profile = export(ws, "user_id:ada")
    assert profile["profile_id"] == export(ws, "anonymous_id:a-1")["profile_id"]
    assert [e["type"] for e in reversed(profile["events"])] == ["page", "identify"]


def test_alias_joins_the_previous_id_to_the_user(ws: Workspace) -> None:
    ok(ws.send("track", {"anonymousId": "anon-1", "event": "Browsed"}))
    ok(ws.send("track", {"userId": "u1", "event": "Logged In"}))
    ok(ws.send("alias", {"userId": "u1", "previousId": "anon-1"}))
    profile = export(ws, "user_id:u1")
    assert export(ws, "anonymous_id:anon-1")["profile_id"] == profile["profile_id"]
    assert {e["name"] for e in profile["events"] if e["type"] == "track"} == {
        "Browsed",
        "Logged In",
    }


@pytest.mark.parametrize("kind", ["track", "batch"])
def test_the_write_key_can_travel_in_the_body(ws: Workspace, kind: str) -> None:
    message = {"userId": "u1", "event": "E", "writeKey": ws.created.write_key}
    body = {"batch": [{**message, "type": "track"}], "writeKey": ws.created.write_key}
    response = ws.client.post(f"/v1/{kind}", json=message if kind == "track" else body)
    assert ok(response)["accepted"] == 1
    assert len(events_of(ws, "user_id:u1")) == 1


def test_timestamp_is_corrected_with_sent_at(ws: Workspace) -> None:
    # The device clock runs 2 h 30 s fast: the event happened 89.877 s before it was sent.
    ok(
        ws.send(
            "track",
            {
                "userId": "u1",
                "event": "E",
                "timestamp": "2026-01-15T11:59:00.123Z",
                "sentAt": "2026-01-15T12:00:30.000Z",
            },
        )
    )
    [stored] = events_of(ws, "user_id:u1")
    assert stored["timestamp"] == "2026-01-15T09:58:30.123Z"


def test_batch_sent_at_and_context_apply_to_every_message(ws: Workspace) -> None:
    body = {
        "sentAt": "2026-01-15T10:00:10Z",  # the client is 10 s ahead
        "context": {"library": {"name": "test"}, "locale": "it-IT"},
        "batch": [
            {"type": "track", "userId": "u1", "event": "A", "timestamp": "2026-01-15T10:00:00Z"},
            {
                "type": "track",
                "userId": "u1",
                "event": "B",
                "timestamp": "2026-01-15T10:00:05Z",
                "sentAt": "2026-01-15T10:00:06Z",  # its own sentAt wins
                "context": {"locale": "en-GB"},  # its own keys win
            },
        ],
    }
    assert ok(ws.send("batch", body))["accepted"] == 2
    a, b = events_of(ws, "user_id:u1")
    assert (a["name"], a["timestamp"]) == ("A", "2026-01-15T09:59:50.000Z")
    assert (b["name"], b["timestamp"]) == ("B", "2026-01-15T09:59:59.000Z")
    assert a["context"] == {"library": {"name": "test"}, "locale": "it-IT"}
    assert b["context"] == {"library": {"name": "test"}, "locale": "en-GB"}


def test_a_repeated_message_id_is_accepted_and_stored_once(ws: Workspace) -> None:
    message = {"userId": "u1", "event": "E", "messageId": "m-1"}
    assert ok(ws.send("track", message)) == receipt()
    assert ok(ws.send("track", message)) == receipt(accepted=0, duplicates=1)
    batch = {
        "batch": [
            {**message, "type": "track"},  # seen in an earlier request
            {"type": "track", "userId": "u1", "event": "F", "messageId": "m-2"},
            {"type": "track", "userId": "u1", "event": "F", "messageId": "m-2"},  # same batch
        ]
    }
    assert ok(ws.send("batch", batch)) == receipt(accepted=1, duplicates=2)
    stored = events_of(ws, "user_id:u1")
    assert sorted(e["message_id"] for e in stored) == ["m-1", "m-2"]
    assert export(ws, "user_id:u1")["computed"]["event_counts"] == {"E": 1, "F": 1}


def test_a_batch_stores_each_valid_message_and_dead_letters_each_invalid_one(
    ws: Workspace,
) -> None:
    body = {
        "batch": [
            {"type": "track", "userId": "u1", "event": "Good 1"},
            {"type": "track", "event": "No Id"},
            {"type": "identify", "userId": "u1", "traits": {"tier": "gold"}},
            {"type": "track", "userId": "u1", "event": "Bad Time", "timestamp": "tomorrow"},
            "not an object",
            {"type": "teleport", "userId": "u1"},
            {"type": "page", "userId": "u1", "name": "Good 2"},
        ]
    }
    body_out = ok(ws.send("batch", body))
    assert (body_out["accepted"], body_out["rejected"], body_out["duplicates"]) == (3, 4, 0)
    assert [(e["index"], e["field"]) for e in body_out["errors"]] == [
        (1, "batch[1].userId"),
        (3, "batch[3].timestamp"),
        (4, "batch[4]"),
        (5, "batch[5].type"),
    ]
    assert all(e["code"] == "invalid_input" and e["message"] for e in body_out["errors"])
    stored = events_of(ws, "user_id:u1")
    assert [(e["type"], e["name"]) for e in stored] == [
        ("track", "Good 1"),
        ("identify", None),
        ("page", "Good 2"),
    ]
    letters = dead_letters(ws)
    assert [(d["code"], d["field"]) for d in letters] == [
        ("invalid_input", "batch[1].userId"),
        ("invalid_input", "batch[3].timestamp"),
        ("invalid_input", "batch[4]"),
        ("invalid_input", "batch[5].type"),
    ]
    assert orjson.loads(letters[0]["payload"]) == body["batch"][1]
    assert orjson.loads(letters[2]["payload"]) == "not an object"
    assert "either anonymousId or userId" in letters[0]["reason"]


def test_a_batch_with_only_invalid_messages_is_400_and_still_dead_lettered(
    ws: Workspace,
) -> None:
    response = ws.send("batch", {"batch": [{"type": "track", "event": "E"}]})
    error = error_of(response, 400)
    assert error["field"] == "batch[0].userId"
    assert (response.json()["accepted"], response.json()["rejected"]) == (0, 1)
    assert [d["field"] for d in dead_letters(ws)] == ["batch[0].userId"]


def test_an_invalid_single_message_is_400_and_dead_lettered(ws: Workspace) -> None:
    error = error_of(ws.send("identify", {"traits": {"a": 1}}), 400)
    assert (error["code"], error["field"]) == ("invalid_input", "userId")
    [letter] = dead_letters(ws)
    assert orjson.loads(letter["payload"]) == {"traits": {"a": 1}}


def test_an_empty_batch_is_fine(ws: Workspace) -> None:
    assert ok(ws.send("batch", {"batch": []})) == receipt(accepted=0)


@pytest.mark.parametrize("kind", ["track", "batch"])
def test_gzip_bodies_are_accepted(ws: Workspace, kind: str) -> None:
    message = {"userId": "u1", "event": "Zipped", "properties": {"text": "ü" * 2000}}
    body = message if kind == "track" else {"batch": [{**message, "type": "track"}]}
    response = ws.client.post(
        f"/v1/{kind}",
        content=gzip.compress(orjson.dumps(body)),
        headers={"Content-Encoding": "gzip", "Content-Type": "application/json"},
        auth=(ws.created.write_key, ""),
    )
    assert ok(response)["accepted"] == 1
    [stored] = events_of(ws, "user_id:u1")
    assert stored["properties"] == message["properties"]


def test_several_gzip_members_are_one_body(ws: Workspace) -> None:
    raw = orjson.dumps({"batch": [{"type": "track", "userId": "u1", "event": "E"}]})
    content = gzip.compress(raw[:10]) + gzip.compress(raw[10:])
    response = ws.client.post(
        "/v1/batch",
        content=content,
        headers={"Content-Encoding": "gzip"},
        auth=(ws.created.write_key, ""),
    )
    assert ok(response)["accepted"] == 1


def test_workspaces_do_not_see_each_others_events(ws: Workspace, container: Container) -> None:
    other = Workspace(container.workspaces.create("other"), ws.client)
    ok(other.send("track", {"userId": "u1", "event": "Elsewhere"}))
    error_of(ws.profile("user_id:u1"), 404)
    ok(ws.send("track", {"userId": "u1", "event": "Here", "messageId": "shared"}))
    ok(other.send("track", {"userId": "u1", "event": "There", "messageId": "shared"}))
    assert [e["name"] for e in events_of(ws, "user_id:u1")] == ["Here"]
    assert [e["name"] for e in events_of(other, "user_id:u1")] == ["Elsewhere", "There"]


def test_the_batch_context_does_not_hide_an_items_bad_context(ws: Workspace) -> None:
    body = {
        "context": {"locale": "it-IT"},
        "batch": [{"type": "track", "userId": "u1", "event": "E", "context": "web"}],
    }
    assert error_of(ws.send("batch", body), 400)["field"] == "batch[0].context"


def test_consent_is_recorded_and_answered(ws: Workspace) -> None:
    body = {"userId": "u1", "purposes": {"marketing": True, "analytics": False}}
    answer = ok(ws.send("consent", body))
    assert answer["accepted"] == 1
    assert answer["consent"]["marketing"]["granted"] is True
    assert answer["consent"]["analytics"]["granted"] is False
    assert answer["consent"]["personalization"] == {"granted": True, "default": True}
    stored = ok(ws.client.get("/v1/consent/user_id:u1", headers=ws.admin))["consent"]
    assert stored["marketing"]["granted"] is True


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"userId": "u1", "purposes": {"telepathy": True}}, "purposes.telepathy"),
        ({"userId": "u1", "purposes": {"marketing": "yes"}}, "purposes.marketing"),
        ({"userId": "u1", "purposes": {}}, "purposes"),
        ({"userId": "u1", "purposes": {"marketing": True}, "color": 1}, "color"),
        ({"purposes": {"marketing": True}}, "userId"),
    ],
)
def test_bad_consent_names_the_field_as_sent(
    ws: Workspace, body: dict[str, Any], field: str
) -> None:
    assert error_of(ws.send("consent", body), 400)["field"] == field
