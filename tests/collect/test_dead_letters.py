"""Dead letters are built so that storing them cannot fail, whatever arrived."""

from __future__ import annotations

from typing import Any

import orjson

from unico.collect.dead_letters import (
    MAX_PAYLOAD_CHARS,
    MAX_PAYLOAD_DEPTH,
    dead_letter_for,
    payload_text,
)
from unico.core.errors import InvalidInput


def test_the_payload_is_the_message_as_json() -> None:
    raw = {"userId": "u", "properties": {"emoji": "🎉", "nul": "a\x00b"}}
    assert orjson.loads(payload_text(raw)) == raw


def test_a_payload_too_deep_for_the_encoder_is_cut_not_lost() -> None:
    deep: Any = "leaf"
    for _ in range(900):
        deep = {"x": deep}
    decoded = orjson.loads(payload_text({"userId": "u", "properties": deep}))
    assert decoded["userId"] == "u"
    node, levels = decoded["properties"], 0
    while isinstance(node, dict):
        node, levels = node["x"], levels + 1
    assert node == "…"
    assert levels == MAX_PAYLOAD_DEPTH  # objects at depths 1..64 under the root


def test_lone_surrogates_in_a_payload_are_replaced() -> None:
    text = payload_text({"a": "x\ud800y"})
    assert orjson.loads(text) == {"a": "x?y"}


def test_long_payloads_are_truncated() -> None:
    assert len(payload_text({"p": "x" * (MAX_PAYLOAD_CHARS * 2)})) == MAX_PAYLOAD_CHARS


def test_ids_are_cleaned_to_fit_their_columns() -> None:
    letter = dead_letter_for(
        {"userId": "u\x00" * 300, "anonymousId": 12}, InvalidInput("bad\x00", field="userId")
    )
    assert letter.user_id == "u" * 255
    assert letter.anonymous_id is None
    assert letter.reason == "bad"
    assert (letter.code, letter.field) == ("invalid_input", "userId")


def test_a_message_that_is_not_an_object_is_kept_too() -> None:
    letter = dead_letter_for([1, 2], InvalidInput("an event must be a JSON object", field="body"))
    assert letter.payload == "[1,2]"
    assert letter.user_id is None and letter.anonymous_id is None
