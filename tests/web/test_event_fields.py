"""Every field a message carries is in the export (right of access), per type."""

from __future__ import annotations

from tests.conftest import Workspace


def test_group_alias_and_integrations_are_kept(ws: Workspace) -> None:
    assert ws.send("identify", {"anonymousId": "a1", "userId": "u1"}).status_code == 200
    group = {"userId": "u1", "groupId": "acme", "integrations": {"All": False, "Mail": True}}
    assert ws.send("group", group).status_code == 200
    assert ws.send("alias", {"previousId": "old-7", "userId": "u1"}).status_code == 200
    events = ws.client.get("/v1/profiles/user_id:u1/export", headers=ws.admin).json()["events"]
    by_type = {e["type"]: e for e in events}
    assert by_type["group"]["group_id"] == "acme"
    assert by_type["group"]["integrations"] == {"All": False, "Mail": True}
    assert by_type["alias"]["previous_id"] == "old-7"
    assert by_type["identify"]["group_id"] is None


def test_consent_defaults_refuse_loose_booleans(ws: Workspace) -> None:
    for loose in ("yes", 1, "off"):
        r = ws.client.patch(
            "/v1/workspace", json={"consent_defaults": {"marketing": loose}}, headers=ws.admin
        )
        assert r.status_code == 422, (loose, r.text)
        assert r.json()["error"]["field"].startswith("consent_defaults")
