from tests.conftest import Workspace


def test_track_then_read_profile(ws: Workspace) -> None:
    r = ws.send("track", {"userId": "u1", "event": "Signed Up"})
    assert r.status_code == 200, r.text
    body = ws.profile("user_id:u1").json()
    assert body["computed"]["event_counts"] == {"Signed Up": 1}
