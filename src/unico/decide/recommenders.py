"""The built-in recommenders as the registry builds them, and which strategy needs which.

A plug-in registers its own the same way (`ModelRegistry.register`).

>>> sorted(default_factories(3.0)) == sorted(MODEL_OF.values())
True
>>> default_factories(3.0)["trending"]().name
'trending'
"""

from __future__ import annotations

from collections.abc import Callable

from unico.recommend.base import Recommender

Factory = Callable[[], Recommender]
#: Strategy -> the model it needs (recently_viewed and manual need none).
MODEL_OF = {
    "popular": "popular",
    "trending": "trending",
    "also_viewed": "also_viewed",
    "als": "als",
    "ease": "ease",
    "content": "content",
    "hybrid": "hybrid",
}
#: Models that learn from the tail from a workspace's first interaction, before any fit.
REALTIME = frozenset({"popular", "trending", "also_viewed"})


def default_factories(trending_half_life_days: float) -> dict[str, Factory]:
    """The built-in recommenders, registered as a third-party one would be. Each imports its
    module when first built: processes that never train (the ingest writer, the CLI) never
    load the numerical libraries."""

    def popular() -> Recommender:
        from unico.recommend.popular import PopularRecommender

        return PopularRecommender()

    def trending() -> Recommender:
        from unico.recommend.popular import PopularRecommender

        return PopularRecommender(half_life_days=trending_half_life_days)

    def also_viewed() -> Recommender:
        from unico.recommend.cooccurrence import ItemToItemRecommender

        return ItemToItemRecommender()

    def als() -> Recommender:
        from unico.recommend.als import ALSRecommender

        return ALSRecommender()

    def ease() -> Recommender:
        from unico.recommend.ease import EASERecommender

        return EASERecommender()

    def content() -> Recommender:
        from unico.recommend.content import ContentRecommender

        return ContentRecommender()

    def hybrid() -> Recommender:
        from unico.recommend.hybrid import HybridRecommender

        parts = {
            "als": als(),
            "also_viewed": also_viewed(),
            "content": content(),
            "popular": popular(),
        }
        return HybridRecommender(parts)

    return {
        "popular": popular,
        "trending": trending,
        "also_viewed": also_viewed,
        "als": als,
        "ease": ease,
        "content": content,
        "hybrid": hybrid,
    }
