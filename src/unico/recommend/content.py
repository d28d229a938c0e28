"""Content-based similarity: items like the ones in view or in the person's history.

Each catalog item becomes a vector: TF-IDF of its text, plus one-hot features for its
category path ("shoes", "shoes/running") and attributes ("brand=acme"). Scores are
cosine similarities to the sum of the source items' vectors. It needs no interactions,
so it is how items nobody has touched yet get recommended (cold start).

>>> from unico.recommend.base import ItemInfo, Query, TrainingData
>>> from unico.recommend.data import build_training_data
>>> catalog = {
...     "a": ItemInfo("a", "red running shoe", ("shoes",), {"brand": "acme"}),
...     "b": ItemInfo("b", "blue running shoe", ("shoes",), {"brand": "acme"}),
...     "c": ItemInfo("c", "garden hose", ("garden",)),
... }
>>> model = ContentRecommender()
>>> model.fit(build_training_data([("u", "a", 1.0, 0)], catalog=catalog))
>>> [s.item_id for s in model.recommend(Query(history={"a": 1.0}))]
['b']
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from scipy import sparse
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.preprocessing import normalize

from unico.recommend.base import ItemInfo, Query, Scored, TrainingData
from unico.recommend.ranking import ItemSpace


class ContentRecommender:
    """Cosine similarity of item text (TF-IDF) and category/attribute one-hots."""

    name = "content"

    def __init__(
        self, text_weight: float = 1.0, attribute_weight: float = 1.0, max_features: int = 50_000
    ) -> None:
        self.text_weight = text_weight
        self.attribute_weight = attribute_weight
        self.max_features = max_features
        self._space = ItemSpace([], {})
        self._features = sparse.csr_matrix((0, 0))

    def fit(self, data: TrainingData) -> None:
        known = set(data.items)
        items = list(data.items) + [i for i in data.catalog if i not in known]
        infos = [data.catalog.get(i) or ItemInfo(i) for i in items]
        parts = []
        text = self._tfidf([info.text for info in infos])
        if text is not None:
            parts.append(self.text_weight * text)
        onehot = self._tfidf([" ".join(_tags(info)) for info in infos], tags=True)
        if onehot is not None:
            parts.append(self.attribute_weight * onehot)
        features = sparse.hstack(parts, format="csr") if parts else sparse.csr_matrix((0, 0))
        # Swap in whole objects so a model being served never sees a half-fitted state.
        self._space = ItemSpace(items, data.catalog)
        self._features = normalize(features) if parts else features

    def _tfidf(self, texts: list[str], tags: bool = False) -> sparse.csr_matrix | None:
        if not any(t.strip() for t in texts):
            return None
        vectorizer = TfidfVectorizer(
            max_features=self.max_features,
            sublinear_tf=True,
            dtype=np.float32,
            # Tags are whole tokens ("brand=acme"); free text is split into words.
            token_pattern=r"\S+" if tags else r"(?u)\b\w\w+\b",
            lowercase=not tags,
        )
        return sparse.csr_matrix(vectorizer.fit_transform(texts))

    def recommend(self, query: Query) -> list[Scored]:
        space = self._space
        sources = _sources(query)
        rows = space.indexes(sources)
        if not len(rows) or not self._features.shape[1]:
            return []
        weights = np.asarray([sources[i] for i in sources if i in space.positions])
        profile = sparse.csr_matrix(weights[None, :]) @ self._features[rows]
        scores = np.asarray((self._features @ profile.T).todense()).ravel()
        return space.answer(scores, query, positive_only=True)


def _sources(query: Query) -> Mapping[str, float]:
    if query.context_items:
        return dict.fromkeys(query.context_items, 1.0)
    return query.history


def _tags(info: ItemInfo) -> list[str]:
    paths = ["/".join(info.category[: n + 1]) for n in range(len(info.category))]
    tags = [f"category={p}" for p in paths]
    tags += [f"{name}={value}" for name, value in sorted(info.attributes.items())]
    return [t.replace(" ", "_") for t in tags]
