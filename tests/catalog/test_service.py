"""The catalog service on both stores: upsert, get, list, delete, snapshots, imports."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import Workspace
from unico.catalog.model import Item
from unico.container import Container
from unico.core.clock import ManualClock
from unico.core.errors import InvalidInput, NotFound
from unico.core.settings import Settings

SHOES = [
    {"id": "s1", "title": "Trail shoe", "category": "Shoes > Running", "price": 89, "tags": ["x"]},
    {"id": "s2", "title": "Road shoe", "category": ["Shoes", "Road"], "price": "79.5"},
    {"id": "b1", "title": "Novel", "kind": "content", "category": "Books", "colour": "blue"},
]


def test_upsert_then_get_list_and_delete(container: Container, ws: Workspace) -> None:
    assert container.catalog.upsert(ws.id, SHOES) == {"upserted": 3}
    shoe = container.catalog.get(ws.id, "s2")
    assert (shoe.title, shoe.price, shoe.category) == ("Road shoe", 79.5, ("Shoes", "Road"))
    assert container.catalog.get(ws.id, "b1").attributes == {"colour": "blue"}
    assert container.catalog.get(ws.id, "b1").kind == "content"

    first = container.catalog.list(ws.id, limit=2)
    assert [it.item_id for it in first.items] == ["b1", "s1"]
    second = container.catalog.list(ws.id, limit=2, cursor=first.next_cursor)
    assert [it.item_id for it in second.items] == ["s2"] and second.next_cursor is None
    shoes = container.catalog.list(ws.id, category="Shoes")
    assert [it.item_id for it in shoes.items] == ["s1", "s2"]
    assert [i.item_id for i in container.catalog.list(ws.id, category="Shoes > Road").items] == [
        "s2"
    ]
    assert container.catalog.list(ws.id, category="Shoe").items == []

    container.catalog.delete(ws.id, "s1")
    with pytest.raises(NotFound):
        container.catalog.get(ws.id, "s1")
    with pytest.raises(NotFound):
        container.catalog.delete(ws.id, "s1")
    assert [it.item_id for it in container.catalog.list(ws.id).items] == ["b1", "s2"]
    container.catalog.upsert(ws.id, [{"id": "s1", "title": "Back"}])
    assert container.catalog.get(ws.id, "s1").title == "Back"


def test_upsert_replaces_and_the_last_of_a_repeated_id_wins(
    container: Container, ws: Workspace
) -> None:
    container.catalog.upsert(ws.id, [{"id": "a", "title": "one", "price": 5}])
    container.catalog.upsert(ws.id, [{"id": "a", "title": "two"}, {"id": "a", "title": "three"}])
    item = container.catalog.get(ws.id, "a")
    assert (item.title, item.price) == ("three", None)


def test_an_invalid_item_refuses_the_whole_upsert_naming_it(
    container: Container, ws: Workspace
) -> None:
    items = [{"id": "ok"}, {"id": "bad", "price": -1}]
    with pytest.raises(InvalidInput) as caught:
        container.catalog.upsert(ws.id, items)
    assert caught.value.field == "items[1].price"
    with pytest.raises(NotFound):
        container.catalog.get(ws.id, "ok")


def test_validity_window_and_stock_decide_availability(container: Container, ws: Workspace) -> None:
    container.catalog.upsert(
        ws.id,
        [
            {
                "id": "promo",
                "kind": "promotion",
                "valid_from": "2026-01-01T00:00:00Z",
                "valid_until": 1_800_000_000_000,
            },
            {"id": "gone", "stock": 0},
            {"id": "off", "in_stock": "false", "stock": 3},
        ],
    )
    promo = container.catalog.get(ws.id, "promo")
    assert promo.valid_from == 1_767_225_600_000
    assert promo.is_available(1_767_225_600_000) and not promo.is_available(1_800_000_000_000)
    assert not promo.is_available(1_767_225_599_999)
    assert not container.catalog.get(ws.id, "gone").is_available(promo.valid_from or 0)
    assert not container.catalog.get(ws.id, "off").in_stock


def test_workspaces_do_not_see_each_other(container: Container, ws: Workspace) -> None:
    other = container.workspaces.create("other").workspace_id
    container.catalog.upsert(ws.id, [{"id": "mine"}])
    with pytest.raises(NotFound):
        container.catalog.get(other, "mine")
    assert container.catalog.list(other).items == []
    assert dict(container.catalog.snapshot(other).items) == {}
    with pytest.raises(NotFound):
        container.catalog.delete(other, "mine")
    assert container.catalog.get(ws.id, "mine").item_id == "mine"


def test_snapshot_sees_this_process_writes_at_once(container: Container, ws: Workspace) -> None:
    empty = container.catalog.snapshot(ws.id)
    assert dict(empty.items) == {}
    container.catalog.upsert(ws.id, SHOES)
    snap = container.catalog.snapshot(ws.id)
    assert set(snap.items) == {"s1", "s2", "b1"} and snap.version > empty.version
    assert snap.by_category[("Shoes",)] == ("s1", "s2")
    assert snap.by_category[("Shoes", "Running")] == ("s1",)
    assert container.catalog.snapshot(ws.id) is snap  # nothing changed: the same object
    container.catalog.delete(ws.id, "s1")
    after = container.catalog.snapshot(ws.id)
    assert set(after.items) == {"s2", "b1"} and after.by_category[("Shoes",)] == ("s2",)
    assert set(snap.items) == {"s1", "s2", "b1"}  # an old snapshot never changes


def test_snapshot_sees_another_process_changes_within_the_refresh_interval(
    container: Container, ws: Workspace, settings: Settings, clock: ManualClock
) -> None:
    container.catalog.upsert(ws.id, [{"id": "a", "title": "one"}])
    assert container.catalog.snapshot(ws.id).items["a"].title == "one"
    other = Container.build(settings, clock)  # another process: its own store and caches
    try:
        other.catalog.upsert(ws.id, [{"id": "a", "title": "two"}, {"id": "b"}])
        other.catalog.delete(ws.id, "b")
        other.catalog.upsert(ws.id, [{"id": "c", "category": "New"}])
    finally:
        other.store.dispose()
    assert container.catalog.snapshot(ws.id).items["a"].title == "one"  # cached for 200 ms
    clock.advance(0.2)
    snap = container.catalog.snapshot(ws.id)
    assert snap.items["a"].title == "two" and set(snap.items) == {"a", "c"}
    assert snap.by_category[("New",)] == ("c",)


def test_a_fresh_container_builds_the_snapshot_from_the_store(
    container: Container, ws: Workspace, settings: Settings, clock: ManualClock
) -> None:
    container.catalog.upsert(ws.id, SHOES)
    container.catalog.delete(ws.id, "b1")
    other = Container.build(settings, clock)
    try:
        snap = other.catalog.snapshot(ws.id)
    finally:
        other.store.dispose()
    assert set(snap.items) == {"s1", "s2"}
    assert snap.items["s1"] == container.catalog.get(ws.id, "s1")
    info = snap.infos()["s1"]
    assert info.category == ("Shoes", "Running") and "Trail shoe" in info.text


CSV = """id,title,price,category,tags,attributes.colour,in_stock,valid_until
a,Red shoe,10.5,Shoes > Running,sport|red,red,true,2026-12-31T00:00:00Z
b,Bad price,ten,Shoes,,,,
c,No stock,3,Shoes,,,0,
,No id,1,Shoes,,,,
d,Bad date,1,Shoes,,,,someday
"""


def test_import_csv_keeps_good_rows_and_reports_bad_ones(
    container: Container, ws: Workspace, tmp_path: Path
) -> None:
    path = tmp_path / "items.csv"
    path.write_text(CSV, encoding="utf-8")
    seen: list[tuple[int, int]] = []
    report = container.catalog.import_file(ws.id, path, progress=lambda d, t: seen.append((d, t)))
    assert (report.rows, report.imported) == (5, 2)
    assert [(r.line, r.field) for r in report.rejected] == [
        (3, "price"),
        (5, "id"),
        (6, "valid_until"),
    ]
    assert seen == [(5, 5)]
    red = container.catalog.get(ws.id, "a")
    assert red.tags == ("sport", "red") and red.attributes == {"colour": "red"}
    assert red.price == 10.5 and red.category == ("Shoes", "Running")
    assert not container.catalog.get(ws.id, "c").in_stock


def test_import_json_list_and_json_lines(
    container: Container, ws: Workspace, tmp_path: Path
) -> None:
    listed = tmp_path / "items.json"
    listed.write_text('{"items": [{"id": "j1"}, {"id": "j2", "kind": "car"}, 5]}')
    report = container.catalog.import_file(ws.id, listed)
    assert report.imported == 1
    assert [(r.index, r.field) for r in report.rejected] == [(1, "items[1].kind"), (2, "items[2]")]
    lines = tmp_path / "items.jsonl"
    lines.write_text('{"id": "l1"}\n\n{"id": "l2", "price": true}\nnot json\n{"id": "l3"}\n')
    report = container.catalog.import_file(ws.id, lines)
    assert report.imported == 2
    assert [(r.line, r.field) for r in report.rejected] == [(3, "price"), (4, None)]
    ids = {it.item_id for it in container.catalog.list(ws.id).items}
    assert ids == {"j1", "l1", "l3"}


def test_import_in_chunks_of_a_thousand(
    container: Container, ws: Workspace, tmp_path: Path
) -> None:
    path = tmp_path / "many.jsonl"
    path.write_text("".join(f'{{"id": "i{n:04}"}}\n' for n in range(2500)))
    seen: list[tuple[int, int]] = []
    report = container.catalog.import_file(ws.id, path, progress=lambda d, t: seen.append((d, t)))
    assert report.imported == 2500 and seen == [(1000, 2500), (2000, 2500), (2500, 2500)]
    assert len(container.catalog.snapshot(ws.id).items) == 2500


def test_import_refuses_an_unknown_format_or_a_broken_document(
    container: Container, ws: Workspace, tmp_path: Path
) -> None:
    odd = tmp_path / "items.xml"
    odd.write_text("<items/>")
    with pytest.raises(InvalidInput) as caught:
        container.catalog.import_file(ws.id, odd)
    assert caught.value.field == "file"
    broken = tmp_path / "items.json"
    broken.write_text('{"items": 5}')
    with pytest.raises(InvalidInput) as caught:
        container.catalog.import_file(ws.id, broken)
    assert caught.value.field == "items"


def test_item_public_view_is_what_decisions_return() -> None:
    item = Item("a", title="A", category=("X",), tags=("t",), value=3.0, stock=2)
    assert item.public() == {
        "id": "a",
        "kind": "product",
        "title": "A",
        "url": None,
        "image": None,
        "price": None,
        "currency": None,
        "category": ["X"],
        "brand": None,
        "tags": ["t"],
    }
