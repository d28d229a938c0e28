"""Bad input on the tracking API: always a clear 4xx with the field at fault, never a 500,
the same answer on every store, and nothing accepted before it lost."""

from __future__ import annotations

import gzip
from collections.abc import Iterator
from typing import Any

import orjson
import pytest

from tests.conftest import Workspace
from tests.web.helpers import dead_letters, error_of, events_of, ok

KINDS = ["track", "identify", "page", "screen", "group", "alias", "batch"]


def post_raw(ws: Workspace, kind: str, content: bytes, **headers: str) -> Any:
    return ws.client.post(
        f"/v1/{kind}",
        content=content,
        headers={"Content-Type": "application/json", **headers},
        auth=(ws.created.write_key, ""),
    )


def nest(levels: int) -> Any:
    value: Any = "leaf"
    for _ in range(levels):
        value = {"x": value}
    return value


@pytest.fixture
def accepted_before(ws: Workspace) -> Iterator[Workspace]:
    """A workspace where one event is already stored; after the test, it must still be."""
    ok(ws.send("track", {"userId": "keeper", "event": "Kept", "messageId": "kept-1"}))
    yield ws
    assert [e["message_id"] for e in events_of(ws, "user_id:keeper")] == ["kept-1"]


MALFORMED = {
    "truncated": b'{"userId": "u1", "event": ',
    "single quotes": b"{'userId': 'u1'}",
    "trailing comma": b'{"userId": "u1",}',
    "empty": b"",
    "blank": b"   \n",
    "NaN": b'{"userId": NaN}',
    "infinite number": b'{"a": 1e999}',
    "not UTF-8": b'\xff\xfe{"userId": 1}',
}


def test_malformed_json_is_400_invalid_json(
    accepted_before: Workspace, subtests: pytest.Subtests
) -> None:
    for what, content in MALFORMED.items():
        for kind in KINDS:
            with subtests.test(what=what, kind=kind):
                error = error_of(post_raw(accepted_before, kind, content), 400)
                assert (error["code"], error["field"]) == ("invalid_json", "body")


def test_a_message_that_is_not_an_object_is_400(
    accepted_before: Workspace, subtests: pytest.Subtests
) -> None:
    for kind in KINDS[:-1]:
        for body in ([], [{"userId": "u1"}], "text", 42, None):
            with subtests.test(kind=kind, body=body):
                error = error_of(post_raw(accepted_before, kind, orjson.dumps(body)), 400)
                assert error["field"] == "body"


BAD_BATCHES: list[tuple[Any, str]] = [
    ([], "body"),
    ({"batch": {"type": "track"}}, "batch"),
    ({"messages": []}, "batch"),
    ({"batch": [], "sentAt": 5}, "sentAt"),
    ({"batch": [], "sentAt": "not a time"}, "sentAt"),
    ({"batch": [], "context": ["web"]}, "context"),
    ({"batch": [], "integrations": "all"}, "integrations"),
]


def test_a_batch_of_the_wrong_shape_is_400(
    accepted_before: Workspace, subtests: pytest.Subtests
) -> None:
    for body, field in BAD_BATCHES:
        with subtests.test(body=body):
            error = error_of(post_raw(accepted_before, "batch", orjson.dumps(body)), 400)
            assert error["field"] == field


WRONG_TYPES: list[tuple[str, dict[str, Any], str]] = [
    ("track", {"userId": {"id": 1}, "event": "E"}, "userId"),
    ("track", {"userId": "u1", "event": ["E"]}, "event"),
    ("track", {"userId": "u1", "event": "E", "properties": "x"}, "properties"),
    ("track", {"userId": "u1", "event": "E", "context": [1]}, "context"),
    ("track", {"userId": "u1", "event": "E", "timestamp": 1768471200}, "timestamp"),
    ("track", {"userId": "u1", "event": "E", "messageId": {"m": 1}}, "messageId"),
    ("identify", {"userId": "u1", "traits": [1, 2]}, "traits"),
    ("page", {"userId": "u1", "name": 3.5}, "name"),
    ("group", {"userId": "u1", "groupId": {"g": 1}}, "groupId"),
    ("alias", {"userId": "u1", "previousId": ["p"]}, "previousId"),
    ("track", {"userId": "u1", "event": "E", "type": "identify"}, "type"),
]


def test_wrong_types_name_their_field(
    accepted_before: Workspace, subtests: pytest.Subtests
) -> None:
    for kind, body, field in WRONG_TYPES:
        with subtests.test(kind=kind, field=field):
            error = error_of(accepted_before.send(kind, body), 400)
            assert (error["code"], error["field"]) == ("invalid_input", field)
            assert dead_letters(accepted_before)[-1]["field"] == field


def test_a_message_without_any_id_is_400(
    accepted_before: Workspace, subtests: pytest.Subtests
) -> None:
    body = {"event": "E", "groupId": "g", "anonymousId": "  ", "userId": None}
    for kind in ["track", "identify", "page", "screen", "group"]:
        with subtests.test(kind=kind):
            error = error_of(accepted_before.send(kind, body), 400)
            assert error["field"] == "userId"
            assert "anonymousId or userId" in error["message"]


def test_an_alias_needs_a_user_id_and_a_previous_id(accepted_before: Workspace) -> None:
    assert error_of(accepted_before.send("alias", {"previousId": "p"}), 400)["field"] == "userId"
    missing = accepted_before.send("alias", {"userId": "u1"})
    assert error_of(missing, 400)["field"] == "previousId"


ABSURD_TIMESTAMPS = [
    "1970-01-01T00:00:00Z",
    "1066-10-14T09:00:00Z",
    "2999-01-01T00:00:00Z",
    "9999-12-31T23:59:59.999999+00:00",
    "2026-02-30T00:00:00Z",
    "15/01/2026",
    "",
]


def test_absurd_timestamps_are_400(accepted_before: Workspace, subtests: pytest.Subtests) -> None:
    for timestamp in ABSURD_TIMESTAMPS:
        with subtests.test(timestamp=timestamp):
            body = {"userId": "u1", "event": "E", "timestamp": timestamp}
            assert error_of(accepted_before.send("track", body), 400)["field"] == "timestamp"


def test_an_absurd_sent_at_cannot_push_the_event_out_of_range(
    accepted_before: Workspace,
) -> None:
    body = {"userId": "u1", "event": "E", "timestamp": "2026-01-15T10:00:00Z"}
    body["sentAt"] = "2999-01-01T00:00:00Z"
    assert error_of(accepted_before.send("track", body), 400)["field"] == "timestamp"


def test_deep_nesting_is_400(accepted_before: Workspace, subtests: pytest.Subtests) -> None:
    # 16 objects inside properties put the leaf at depth 17; 300 used to crash the encoder (500).
    for levels in (16, 17, 300, 1000):
        with subtests.test(levels=levels):
            nested = b'{"x":' * levels + b'"leaf"' + b"}" * levels
            content = b'{"userId":"u1","event":"E","properties":' + nested + b"}"
            error = error_of(post_raw(accepted_before, "track", content), 400)
            assert (error["code"], error["field"]) == ("invalid_input", "properties" + ".x" * 16)


def test_nesting_past_the_json_parser_limit_is_400_invalid_json(
    accepted_before: Workspace,
) -> None:
    content = b'{"userId":"u1","event":"E","properties":' + b"[" * 1100 + b"]" * 1100 + b"}"
    assert error_of(post_raw(accepted_before, "track", content), 400)["code"] == "invalid_json"


def test_deep_nesting_in_a_batch_dead_letters_only_that_message(
    accepted_before: Workspace,
) -> None:
    body = {
        "batch": [
            {"type": "track", "userId": "u1", "event": "Deep", "properties": nest(400)},
            {"type": "track", "userId": "u1", "event": "Fine"},
        ]
    }
    answer = ok(accepted_before.send("batch", body))
    assert (answer["accepted"], answer["rejected"]) == (1, 1)
    letter = dead_letters(accepted_before)[-1]
    assert letter["field"].startswith("batch[0].properties.x")
    assert letter["payload"].startswith('{"type":"track"')
    assert [e["name"] for e in events_of(accepted_before, "user_id:u1")] == ["Fine"]


TOO_LONG: list[tuple[dict[str, Any], str]] = [
    ({"userId": "u" * 256, "event": "E"}, "userId"),
    ({"anonymousId": "a" * 300, "event": "E"}, "anonymousId"),
    ({"userId": "u1", "event": "E" * 256}, "event"),
    ({"userId": "u1", "event": "E", "messageId": "m" * 256}, "messageId"),
    ({"userId": "u1", "event": "E", "properties": {"bio": "x" * 8193}}, "properties.bio"),
    ({"userId": "u1", "event": "E", "properties": {"k" * 256: 1}}, "properties"),
    ({"userId": "u1", "event": "E", "context": {"tags": ["t" * 9000]}}, "context.tags[0]"),
]


def test_long_strings_ids_and_keys_are_400(
    accepted_before: Workspace, subtests: pytest.Subtests
) -> None:
    # Ids over their column size used to be a 500 on PostgreSQL (the dead letter failed).
    for body, field in TOO_LONG:
        with subtests.test(field=field):
            error = error_of(accepted_before.send("track", body), 400)
            assert error["field"] == field
            assert dead_letters(accepted_before)[-1]["field"] == field


def test_an_event_over_32_kb_is_413_and_in_a_batch_dead_lettered(
    accepted_before: Workspace,
) -> None:
    properties = {f"p{i}": "x" * 4000 for i in range(9)}  # ~36 KB
    big = {"userId": "u1", "event": "Big", "properties": properties}
    error = error_of(accepted_before.send("track", big), 413)
    assert (error["code"], error["field"]) == ("event_too_large", "body")
    batch = {"batch": [{**big, "type": "track"}, {"type": "track", "userId": "u1", "event": "S"}]}
    answer = ok(accepted_before.send("batch", batch))
    assert (answer["accepted"], answer["rejected"]) == (1, 1)
    assert answer["errors"][0]["code"] == "event_too_large"
    assert answer["errors"][0]["field"] == "batch[0]"
    assert [e["name"] for e in events_of(accepted_before, "user_id:u1")] == ["S"]


def many_events(total_bytes: int) -> bytes:
    item = {"type": "track", "userId": "u1", "event": "E", "properties": {"p": "x" * 1000}}
    count = total_bytes // len(orjson.dumps(item)) + 1
    return orjson.dumps({"batch": [item] * count})


def test_a_batch_over_500_kb_is_413_by_its_content_length(accepted_before: Workspace) -> None:
    content = many_events(520 * 1024)
    response = post_raw(accepted_before, "batch", content)
    error = error_of(response, 413)
    assert (error["code"], error["field"]) == ("payload_too_large", "body")
    assert str(len(content)) in error["message"]


def test_a_batch_over_500_kb_is_413_when_streamed_without_a_content_length(
    accepted_before: Workspace,
) -> None:
    content = many_events(520 * 1024)

    def chunks() -> Any:
        for start in range(0, len(content), 64 * 1024):
            yield content[start : start + 64 * 1024]

    response = accepted_before.client.post(
        "/v1/batch", content=chunks(), auth=(accepted_before.created.write_key, "")
    )
    assert "content-length" not in response.request.headers
    error = error_of(response, 413)
    assert "over the limit" in error["message"]


def test_a_gzip_bomb_is_413_without_inflating_it(accepted_before: Workspace) -> None:
    inflated = b'{"batch": [' + b" " * (50 * 1024 * 1024) + b"]}"  # 50 MB of spaces
    bomb = gzip.compress(inflated)
    assert len(bomb) < 100 * 1024
    response = post_raw(accepted_before, "batch", bomb, **{"Content-Encoding": "gzip"})
    assert error_of(response, 413)["field"] == "body"


def test_broken_gzip_is_400(accepted_before: Workspace, subtests: pytest.Subtests) -> None:
    for content, message in [
        (b"this is not gzip", "not valid gzip"),
        (gzip.compress(b'{"batch": []}')[:-12], "truncated"),
        (gzip.compress(b"{nope"), "not valid JSON"),
    ]:
        with subtests.test(message=message):
            response = post_raw(accepted_before, "batch", content, **{"Content-Encoding": "gzip"})
            assert message in error_of(response, 400)["message"]


def test_an_unknown_content_encoding_is_415(accepted_before: Workspace) -> None:
    response = post_raw(accepted_before, "track", b"{}", **{"Content-Encoding": "br"})
    error = error_of(response, 415)
    assert error["field"] == "content-encoding"


def test_too_many_messages_in_one_batch_is_400(accepted_before: Workspace) -> None:
    body = {"batch": [{"type": "track", "userId": "u", "event": "E"}] * 2501}
    assert error_of(accepted_before.send("batch", body), 400)["field"] == "batch"


def test_lone_surrogates_are_400_invalid_json(accepted_before: Workspace) -> None:
    for escaped in (rb'"\ud800"', rb'"x\udfffy"', rb'"\ud83d"'):
        content = b'{"userId":"u1","event":"E","properties":{"s":' + escaped + b"}}"
        error = error_of(post_raw(accepted_before, "track", content), 400)
        assert (error["code"], error["field"]) == ("invalid_json", "body")
    raw_surrogate = b'{"userId":"u1","event":"\xed\xa0\x80"}'  # CESU-8 bytes, not UTF-8
    assert error_of(post_raw(accepted_before, "track", raw_surrogate), 400)["code"] == (
        "invalid_json"
    )


WITH_NUL: list[tuple[dict[str, Any], str]] = [
    ({"userId": "u\u0000x", "event": "E"}, "userId"),
    ({"anonymousId": "\u0000", "event": "E"}, "anonymousId"),
    ({"userId": "u1", "event": "Bad\u0000Name"}, "event"),
    ({"userId": "u1", "event": "E", "properties": {"note": "a\u0000b"}}, "properties.note"),
    ({"userId": "u1", "event": "E", "properties": {"k\u0000": 1}}, "properties"),
    ({"userId": "u1", "event": "E", "context": {"l": [{"m": "\u0000"}]}}, "context.l[0].m"),
]


def test_nul_characters_are_refused_on_every_store(
    accepted_before: Workspace, subtests: pytest.Subtests
) -> None:
    """PostgreSQL cannot store NUL; SQLite could, but an event must mean the same everywhere.
    NUL in an event name used to be stored on SQLite and dead-lettered on PostgreSQL, and NUL
    in an id was a 500 on PostgreSQL."""
    for body, field in WITH_NUL:
        with subtests.test(field=field):
            error = error_of(accepted_before.send("track", body), 400)
            assert (error["code"], error["field"]) == ("invalid_input", field)
            assert "NUL" in error["message"]
            letter = dead_letters(accepted_before)[-1]
            assert letter["field"] == field
            assert "\\u0000" in letter["payload"]


def test_nul_in_a_page_name_and_in_a_batch(accepted_before: Workspace) -> None:
    page = accepted_before.send("page", {"userId": "u1", "name": "Ho\u0000me"})
    assert error_of(page, 400)["field"] == "name"
    batch = {
        "batch": [
            {"type": "track", "userId": "u\u0000", "event": "E"},
            {"type": "track", "userId": "u1", "event": "Fine"},
        ]
    }
    answer = ok(accepted_before.send("batch", batch))
    assert (answer["accepted"], answer["rejected"]) == (1, 1)
    assert answer["errors"][0]["field"] == "batch[0].userId"


ODD_TEXT = {
    "emoji": "🎉👩🏽‍💻🇮🇹",
    "rtl": "שלום עולם",
    "arabic": "مرحبا\u200f!",
    "combining": "Åström e\u0301 n\u0303",  # decomposed: must not be normalized
    "precomposed": "é",
    "cjk": "東京タワー",
    "zwj_bom": "a\u200db\ufeffc",
    "astral": "\U0001d54f\U0001f600",
    "controls": "tab\tnewline\nbell\x07",
}


def test_odd_but_valid_unicode_round_trips_exactly(ws: Workspace) -> None:
    user = "ユーザー-é-\u05d0"
    message = {
        "userId": user,
        "event": "Vista 👀 e\u0301",
        "properties": ODD_TEXT,
        "context": {"page": {"title": ODD_TEXT["rtl"]}},
    }
    assert ok(ws.send("track", message))["accepted"] == 1
    ok(ws.send("identify", {"userId": user, "traits": {"name": ODD_TEXT["combining"]}}))
    profile = ws.client.get(f"/v1/profiles/user_id:{user}/export", headers=ws.admin)
    body = ok(profile)
    track = next(e for e in body["events"] if e["type"] == "track")
    assert track["name"] == "Vista 👀 e\u0301"
    assert track["properties"] == ODD_TEXT
    assert track["context"] == message["context"]
    assert track["user_id"] == user
    assert body["traits"]["name"] == ODD_TEXT["combining"]
    assert body["traits"]["name"] != "Åström é ñ"  # no Unicode normalization happened


def test_an_unknown_key_in_the_header_is_refused_before_the_body_is_read(
    ws: Workspace,
) -> None:
    for content in (many_events(600 * 1024), b"{not json"):
        response = ws.client.post("/v1/batch", content=content, auth=("wk_unknown", ""))
        assert error_of(response, 401)["code"] == "unauthorized"
