"""The demo workspace that ``make run`` starts with."""

from __future__ import annotations

from unico.collect.ingest import Ingestor
from unico.collect.pipeline import Submission
from unico.collect.validation import validate_event
from unico.container import Container
from unico.demo_shop import seed_demo_shop

DEMO_NAME = "Demo shop"


def _demo_events(container: Container) -> list[dict[str, object]]:
    return [
        {"type": "page", "anonymousId": "demo-visitor", "name": "Home"},
        {
            "type": "track",
            "anonymousId": "demo-visitor",
            "event": "Product Viewed",
            "properties": {"product_id": "run-01", "category": "Running > Shoes", "price": 119.0},
        },
        {
            "type": "identify",
            "anonymousId": "demo-visitor",
            "userId": "ada",
            "traits": {"email": "ada@example.com", "name": "Ada", "country": "IT"},
        },
        {
            "type": "track",
            "userId": "ada",
            "event": "Order Completed",
            "properties": {
                "order_id": "o-1",
                "revenue": 119.0,
                "currency": "EUR",
                "products": [
                    {"product_id": "run-01", "category": "Running > Shoes", "price": 119.0}
                ],
            },
        },
    ]


def ensure_demo_workspace(container: Container) -> dict[str, str]:
    """Find or create the demo workspace, give it fresh keys, and seed one sample person and
    the demo shop's catalogue and placements (``/demo``)."""
    existing = [w for w in container.workspaces.list() if w.name == DEMO_NAME]
    if existing:
        workspace_id = existing[0].workspace_id
        write_key = container.workspaces.rotate_key(workspace_id, "write")
        secret_key = container.workspaces.rotate_key(workspace_id, "secret")
    else:
        created = container.workspaces.create(DEMO_NAME)
        workspace_id, write_key, secret_key = (
            created.workspace_id,
            created.write_key,
            created.secret_key,
        )
        now = container.clock.now_ms()
        events = [
            validate_event(
                raw,
                received_at=now,
                limits=container.limits,
                message_id=f"demo-{i}",
            )
            for i, raw in enumerate(_demo_events(container))
        ]
        defaults = container.workspaces.get(workspace_id).settings.consent_defaults
        ingestor = container.ingestor
        assert isinstance(ingestor, Ingestor), "the demo seeds through a local writer"
        ingestor.start()
        ingestor.submit_sync(Submission(workspace_id, defaults, events, []))
        ingestor.stop()
    seed_demo_shop(container, workspace_id)
    return {"workspace_id": workspace_id, "write_key": write_key, "secret_key": secret_key}
