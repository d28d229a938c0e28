"""Reading catalog files: CSV, a JSON list (or ``{"items": [...]}``) and JSON lines.

CSV columns are the JSON keys; ``attributes.colour``-style columns go into attributes,
``tags`` are separated by ``|``, empty cells are missing values. Every row comes out with
its line number (CSV, JSON lines) or position (JSON list), or as a rejection naming the
line and the field.

>>> rows = list(parse_rows('id,price,tags,attributes.colour\\na,9.5,x|y,red\\n', "csv"))
>>> rows[0].data
{'id': 'a', 'price': '9.5', 'tags': ['x', 'y'], 'attributes': {'colour': 'red'}}
>>> rows[0].line
2
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import orjson

from unico.core.errors import InvalidInput, InvalidJSON

Format = Literal["csv", "json", "jsonl"]
FORMATS: dict[str, Format] = {
    ".csv": "csv",
    ".json": "json",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
}
TAG_SEPARATOR = "|"
ATTRIBUTE_PREFIX = "attributes."


@dataclass(frozen=True, slots=True)
class Rejected:
    """A row that was not imported: where it is, which field, why."""

    line: int | None
    field: str | None
    message: str
    #: Position in a JSON list (0-based), when the file is one.
    index: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "line": self.line,
            "index": self.index,
            "field": self.field,
            "message": self.message,
        }


@dataclass(frozen=True, slots=True)
class Row:
    """One row to validate: its data, or why it could not even be read."""

    line: int | None
    data: dict[str, Any] | None
    index: int | None = None
    problem: Rejected | None = None


@dataclass(slots=True)
class ImportReport:
    """What an import did: rows read, items imported, rows rejected (with line and field)."""

    rows: int = 0
    imported: int = 0
    rejected: list[Rejected] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "rows": self.rows,
            "imported": self.imported,
            "rejected": [r.as_dict() for r in self.rejected],
        }


def format_of(path: Path) -> Format:
    """The format a file's extension names (``.csv``, ``.json``, ``.jsonl``/``.ndjson``)."""
    found = FORMATS.get(path.suffix.lower())
    if found is None:
        raise ValueError(f"{path.name}: use a .csv, .json, .jsonl or .ndjson file")
    return found


def parse_rows(text: str, fmt: Format) -> Iterator[Row]:
    if fmt == "csv":
        return _csv_rows(text)
    if fmt == "jsonl":
        return _jsonl_rows(text)
    return _json_rows(text)


def _csv_rows(text: str) -> Iterator[Row]:
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader)
    except StopIteration:
        return
    except csv.Error as exc:
        yield Row(1, None, problem=Rejected(1, None, f"unreadable CSV: {exc}"))
        return
    header = [h.strip().lstrip("\ufeff") for h in header]
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            line = reader.line_num
            yield Row(line, None, problem=Rejected(line, None, f"unreadable CSV: {exc}"))
            return
        line = reader.line_num
        if not any(c.strip() for c in cells):
            continue
        if len(cells) > len(header):
            problem = Rejected(line, None, f"{len(cells)} cells for {len(header)} columns")
            yield Row(line, None, problem=problem)
            continue
        yield Row(line, _csv_item(header, cells))


def _csv_item(header: list[str], cells: list[str]) -> dict[str, Any]:
    data: dict[str, Any] = {}
    attributes: dict[str, Any] = {}
    for name, cell in zip(header, cells, strict=False):
        value = cell.strip()
        if not value or not name:
            continue
        if name.startswith(ATTRIBUTE_PREFIX):
            attributes[name.removeprefix(ATTRIBUTE_PREFIX)] = value
        elif name == "tags":
            data["tags"] = [t.strip() for t in value.split(TAG_SEPARATOR) if t.strip()]
        else:
            data[name] = value
    if attributes:
        data["attributes"] = attributes
    return data


def _json_rows(text: str) -> Iterator[Row]:
    items = json_items(text)
    for index, data in enumerate(items):
        if isinstance(data, dict):
            yield Row(None, data, index=index)
        else:
            problem = Rejected(None, f"items[{index}]", "an item is a JSON object", index)
            yield Row(None, None, index=index, problem=problem)


def json_items(text: str | bytes) -> list[Any]:
    """The items of a JSON catalog: a list, or ``{"items": [...]}``. A document that is
    not one of these is refused whole (`InvalidJSON`, `InvalidInput`)."""
    try:
        document = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise InvalidJSON(f"not valid JSON: {exc}", field="body") from None
    if isinstance(document, dict) and isinstance(document.get("items"), list):
        document = document["items"]
    if not isinstance(document, list):
        message = 'a JSON catalog is a list of items or {"items": [...]}'
        raise InvalidInput(message, field="items")
    return document


def _jsonl_rows(text: str) -> Iterator[Row]:
    for number, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip():
            continue
        try:
            data = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            yield Row(number, None, problem=Rejected(number, None, f"not valid JSON: {exc}"))
            continue
        if isinstance(data, dict):
            yield Row(number, data)
        else:
            yield Row(number, None, problem=Rejected(number, None, "an item is a JSON object"))
