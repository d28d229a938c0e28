"""Specs: one field-path style (brackets for indexes, dots for keys) for every parser."""

from __future__ import annotations

import pytest
from pydantic import BaseModel, ConfigDict

from unico.core.errors import InvalidInput
from unico.core.spec import field_path, validate_spec


class _Boost(BaseModel):
    model_config = ConfigDict(extra="forbid")
    factor: float


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    boosts: list[_Boost] = []
    price: float | str | None = None


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        ({"boosts": []}, "name"),
        ({"name": "a", "boosts": [{"factor": 1}, {"factor": "x"}]}, "boosts[1].factor"),
        ({"name": "a", "boosts": [{"factor": 1, "colour": 2}]}, "boosts[0].colour"),
        ({"name": "a", "price": []}, "price"),  # the union's member names are left out
    ],
)
def test_the_first_bad_field_is_named_with_brackets_and_dots(raw: dict, field: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        validate_spec(_Spec, raw, "spec")
    assert caught.value.field == field
    assert str(caught.value).startswith(f"{field}: ")
    assert "Value error" not in str(caught.value)


def test_a_spec_that_is_not_an_object_is_refused_as_a_whole() -> None:
    with pytest.raises(InvalidInput) as caught:
        validate_spec(_Spec, [1], "experiment", article="an")
    assert (caught.value.field, str(caught.value)) == ("body", "an experiment is a JSON object")
    assert validate_spec(_Spec, {"name": "a"}, "spec").name == "a"


def test_paths_under_a_prefix() -> None:
    assert field_path([2, "items", 0], "batch") == "batch[2].items[0]"
    assert field_path(["price"], "items[3]") == "items[3].price"
    assert field_path([], "body") == "body"
