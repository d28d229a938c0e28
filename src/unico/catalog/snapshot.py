"""An immutable in-memory view of one workspace's catalog, as decisions read it.

>>> from unico.catalog.model import Item
>>> snap = CatalogSnapshot.build([Item("a", category=("Shoes", "Running"))], version=3)
>>> snap.by_category[("Shoes",)]
('a',)
>>> snap.apply([(Item("a", category=()), True)], version=4).items
mappingproxy({})
>>> CatalogSnapshot.build([Item("b", updated_at=5), Item("c"), Item("a")], version=1).newest()
('b', 'a', 'c')
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from unico.catalog.model import Item
from unico.recommend.base import ItemInfo

CategoryIndex = Mapping[tuple[str, ...], tuple[str, ...]]


def _index(items: Mapping[str, Item]) -> CategoryIndex:
    groups: dict[tuple[str, ...], list[str]] = {}
    for item_id in sorted(items):
        path = items[item_id].category
        for depth in range(1, len(path) + 1):
            groups.setdefault(path[:depth], []).append(item_id)
    return MappingProxyType({k: tuple(v) for k, v in groups.items()})


@dataclass(frozen=True)
class CatalogSnapshot:
    """Live (not deleted) items of a workspace at catalog ``version``.

    ``by_category`` maps every category path prefix (``("Shoes",)``, ``("Shoes",
    "Running")``) to the ids of the items under it, sorted. Availability (validity window,
    stock) depends on the time of the request: callers check ``Item.is_available(now)``.
    """

    items: Mapping[str, Item]
    by_category: CategoryIndex
    version: int
    #: What is derived lazily (``infos``), stored whole once made: readers never see it half built.
    _derived: dict[str, Mapping[str, ItemInfo]] = field(
        default_factory=dict, repr=False, compare=False
    )
    #: `newest`, once made (a list of one, for the same reason).
    _newest: list[tuple[str, ...]] = field(default_factory=list, repr=False, compare=False)

    @classmethod
    def build(cls, items: Iterable[Item], version: int) -> CatalogSnapshot:
        found = {it.item_id: it for it in items}
        return cls(MappingProxyType(found), _index(found), version)

    def apply(self, changes: Iterable[tuple[Item, bool]], version: int) -> CatalogSnapshot:
        """A new snapshot with ``(item, deleted)`` changes applied; this one is untouched."""
        found = dict(self.items)
        same_shape = True
        for item, deleted in changes:
            before = found.get(item.item_id)
            if deleted:
                same_shape = same_shape and before is None
                found.pop(item.item_id, None)
            else:
                same_shape = same_shape and before is not None and before.category == item.category
                found[item.item_id] = item
        index = self.by_category if same_shape else _index(found)
        return CatalogSnapshot(MappingProxyType(found), index, version)

    def infos(self) -> Mapping[str, ItemInfo]:
        """`ItemInfo` of every item (what recommenders learn from), built once per snapshot."""
        infos = self._derived.get("infos")
        if infos is None:
            infos = MappingProxyType({k: v.info() for k, v in self.items.items()})
            self._derived["infos"] = infos
        return infos

    def newest(self) -> tuple[str, ...]:
        """Every item id, the latest added or changed first, then in id order (what a
        default experience falls back to when nothing else can fill it), made once."""
        if not self._newest:
            items = self.items
            self._newest.append(tuple(sorted(items, key=lambda i: (-items[i].updated_at, i))))
        return self._newest[0]
