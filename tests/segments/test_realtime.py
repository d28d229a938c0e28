"""Real-time membership: entering on the event, leaving when the window expires, did not,
in_segment chains, consent, merges, and the Segment Entered / Exited events."""

from __future__ import annotations

from tests.conftest import Workspace
from tests.segments.helpers import (
    DAY,
    HOUR,
    create,
    get,
    member_ids,
    pid,
    segment_events,
    segments_of,
    send,
    track,
    transitions,
)
from unico.container import Container
from unico.core.clock import ManualClock

VIEWS_2 = 'count(event "Product Viewed" within 1d) >= 2'


def segment_trigger(container: Container, ws: Workspace, profile_id: str) -> str:
    """The message id of the person's latest Product Viewed."""
    with container.store.read() as conn:
        rows = container.events.events_of(conn, ws.id, [profile_id], limit=None)
    found: str = next(r["message_id"] for r in rows if r["name"] == "Product Viewed")
    return found


def test_enters_on_the_event_that_satisfies_the_window(
    ws: Workspace, container: Container, clock: ManualClock
) -> None:
    create(ws, "browsers", VIEWS_2)
    track(ws, "ada", "Product Viewed", sku="a")
    p = pid(ws, "ada")
    assert not container.segments.is_member(ws.id, p, "browsers")
    clock.advance(60)
    track(ws, "ada", "Product Viewed", sku="b")
    assert container.segments.is_member(ws.id, p, "browsers")
    assert container.segments.memberships(ws.id, p) == {"browsers"}
    [entered] = segment_events(container, ws, p)
    assert entered["name"] == "Segment Entered"
    assert entered["type"] == "track"
    props = entered["properties"]
    assert props["segment"] == "browsers" and props["segment_id"].startswith("seg_")
    assert props["reason"]["kind"] == "rule" and props["reason"]["trigger"] == "event"
    assert props["reason"]["held"] is True and props["reason"]["condition"] == VIEWS_2
    assert props["reason"]["message_id"] == segment_trigger(container, ws, p)
    assert entered["message_id"].startswith("seg-")


def test_leaves_exactly_when_the_window_expires(
    ws: Workspace, container: Container, clock: ManualClock
) -> None:
    create(ws, "browsers", VIEWS_2)
    first = clock.now_ms()
    track(ws, "ada", "Product Viewed")
    clock.advance(3600)
    track(ws, "ada", "Product Viewed")
    p = pid(ws, "ada")
    assert member_ids(ws, "browsers") == {p}
    clock.set(first + DAY - 1)
    container.segment_sweeper.run_due()
    assert member_ids(ws, "browsers") == {p}
    clock.set(first + DAY)  # the first view leaves the window now
    container.segment_sweeper.run_due()
    assert member_ids(ws, "browsers") == set()
    assert transitions(container, ws, p) == [("in", "browsers"), ("out", "browsers")]
    exited = segment_events(container, ws, p)[-1]
    assert exited["timestamp"] == first + DAY
    assert exited["properties"]["reason"]["trigger"] == "expiry"
    assert exited["properties"]["reason"]["held"] is False


def test_did_not_enters_when_the_event_expires(
    ws: Workspace, container: Container, clock: ManualClock
) -> None:
    create(ws, "quiet", 'did not event "Support Ticket" within 2h')
    track(ws, "bo", "Page Viewed")
    p = pid(ws, "bo")
    assert segments_of(ws, p) == {"quiet"}
    clock.advance(60)
    ticket = clock.now_ms()
    track(ws, "bo", "Support Ticket")
    assert segments_of(ws, p) == set()
    clock.set(ticket + 2 * HOUR - 1)
    container.segment_sweeper.run_due()
    assert segments_of(ws, p) == set()
    clock.set(ticket + 2 * HOUR)
    container.segment_sweeper.run_due()
    assert segments_of(ws, p) == {"quiet"}
    assert transitions(container, ws, p) == [("in", "quiet"), ("out", "quiet"), ("in", "quiet")]


def test_relative_dates_are_swept_on_time(
    ws: Workspace, container: Container, clock: ManualClock
) -> None:
    create(ws, "lapsed", "profile.last_seen < now - 30d")
    seen = clock.now_ms()
    track(ws, "cy", "Page Viewed")
    p = pid(ws, "cy")
    clock.set(seen + 30 * DAY)
    container.segment_sweeper.run_due()
    assert segments_of(ws, p) == set()
    clock.set(seen + 30 * DAY + 1)
    container.segment_sweeper.run_due()
    assert segments_of(ws, p) == {"lapsed"}


def test_in_segment_chains_follow_in_one_evaluation(ws: Workspace, container: Container) -> None:
    create(ws, "buyers", "computed.orders >= 1")
    create(ws, "italian buyers", 'in_segment("buyers") and traits.country == "IT"')
    create(ws, "not buyers", 'not in_segment("buyers")')
    send(ws, "identify", {"userId": "di", "traits": {"country": "IT"}})
    p = pid(ws, "di")
    assert segments_of(ws, p) == {"not buyers"}
    track(ws, "di", "Order Completed", order_id="o1", revenue=10)
    assert segments_of(ws, p) == {"buyers", "italian buyers"}
    assert ("out", "not buyers") in transitions(container, ws, p)


def test_consent_changes_re_evaluate(ws: Workspace, container: Container) -> None:
    create(ws, "reachable", 'consented("marketing") and traits.plan == "pro"')
    create(ws, "everyone", "profile.first_seen exists")
    send(ws, "identify", {"userId": "ed", "traits": {"plan": "pro"}})
    p = pid(ws, "ed")
    assert segments_of(ws, p) == {"everyone"}
    consent = {"userId": "ed", "purposes": {"marketing": True}}
    r = ws.client.post("/v1/consent", json=consent, auth=(ws.created.write_key, ""))
    assert r.status_code == 200, r.text
    assert segments_of(ws, p) == {"everyone", "reachable"}
    # Without analytics consent a person is in no segment at all.
    consent = {"userId": "ed", "purposes": {"analytics": False}}
    r = ws.client.post("/v1/consent", json=consent, auth=(ws.created.write_key, ""))
    assert r.status_code == 200, r.text
    assert container.segments.memberships(ws.id, p) == set()
    exits = [e for e in segment_events(container, ws, p) if e["name"] == "Segment Exited"]
    assert {e["properties"]["reason"]["kind"] for e in exits} == {"consent"}


def test_merges_combine_window_states(ws: Workspace, container: Container) -> None:
    create(ws, "browsers", VIEWS_2)
    send(ws, "track", {"anonymousId": "phone", "event": "Product Viewed"})
    send(ws, "track", {"anonymousId": "laptop", "event": "Product Viewed"})
    assert (
        get(ws, "anonymous_id:phone")["profile_id"] != get(ws, "anonymous_id:laptop")["profile_id"]
    )
    assert member_ids(ws, "browsers") == set()
    send(ws, "identify", {"anonymousId": "phone", "userId": "fa"})
    send(ws, "identify", {"anonymousId": "laptop", "userId": "fa"})
    survivor = pid(ws, "fa")
    assert get(ws, "anonymous_id:laptop")["profile_id"] == survivor
    assert member_ids(ws, "browsers") == {survivor}


def test_merges_keep_the_losers_membership(ws: Workspace, container: Container) -> None:
    create(ws, "viewers", 'did event "Product Viewed" within 7d')
    send(ws, "track", {"anonymousId": "tab", "event": "Product Viewed"})
    loser = get(ws, "anonymous_id:tab")["profile_id"]
    send(ws, "identify", {"userId": "gi", "traits": {"name": "Gi"}})
    survivor = pid(ws, "gi")
    send(ws, "alias", {"previousId": "tab", "userId": "gi"})
    assert member_ids(ws, "viewers") == {pid(ws, "gi")}
    # The person was a member all along: no exit for the loser, no new entry for the survivor.
    assert transitions(container, ws, loser) == [("in", "viewers")]
    assert transitions(container, ws, survivor) == []


def test_workspaces_are_isolated(ws: Workspace, container: Container) -> None:
    other = Workspace(container.workspaces.create("other"), ws.client)
    create(ws, "browsers", 'did event "Product Viewed" within 1d')
    track(other, "ha", "Product Viewed")
    track(ws, "ha", "Product Viewed")
    assert len(member_ids(ws, "browsers")) == 1
    r = other.client.get("/v1/segments", headers=other.admin)
    assert r.json() == {"segments": []}
    assert segments_of(other, "user_id:ha") == set()
    r = other.client.get("/v1/segments/browsers", headers=other.admin)
    assert r.status_code == 404
