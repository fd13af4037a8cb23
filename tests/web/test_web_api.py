"""The JSON API, route by route, through the ASGI app in-process."""

from __future__ import annotations

import socket
import threading
from pathlib import Path
from urllib.parse import quote

from web_support import BASE_URL, TestClient, make_ledger

from dmledger import settings as config
from dmledger.app.ledger import Ledger
from dmledger.web.app import create_app


def test_status_card_has_the_cli_fields(client: TestClient, auth: dict[str, str]) -> None:
    body = client.get("/api/v1/prospects/glow.skin", headers=auth).json()
    assert {
        "handle",
        "status",
        "contacted",
        "owner_actor",
        "owner_operator",
        "first_contacted",
        "last_updated",
        "notes",
        "recent_logs",
    } <= set(body)
    assert body["handle"] == "glow.skin"
    assert body["contacted"] is True
    assert body["owner_actor"] == "marcus.closes"
    assert body["owner_operator"] == "Marcus"
    assert body["recent_logs"][0]["message"] == "Hey! Loved your last post"


def test_status_card_accepts_an_encoded_profile_url(
    client: TestClient, auth: dict[str, str]
) -> None:
    url = quote("https://www.instagram.com/Glow.Skin/?igsh=xyz", safe="")
    response = client.get(f"/api/v1/prospects/{url}", headers=auth)
    assert response.status_code == 200
    assert response.json()["handle"] == "glow.skin"


def test_status_card_of_an_unknown_lead_is_404(client: TestClient, auth: dict[str, str]) -> None:
    response = client.get("/api/v1/prospects/nobody.here", headers=auth)
    assert response.status_code == 404
    assert response.json()["error"]["type"] == "NotFound"
    assert "nobody.here" in response.json()["error"]["message"]


def test_the_check_always_answers_with_the_verdict(
    client: TestClient, auth: dict[str, str]
) -> None:
    unknown = client.get("/api/v1/check/@Nobody.Here", headers=auth)
    assert unknown.status_code == 200
    body = unknown.json()
    assert (body["handle"], body["known"], body["contacted"]) == ("nobody.here", False, False)
    known = client.get("/api/v1/check/glow.skin", headers=auth).json()
    assert (known["known"], known["contacted"], known["owner_actor"]) == (
        True,
        True,
        "marcus.closes",
    )
    assert client.get("/api/v1/check/bad..name", headers=auth).status_code == 422


def test_the_card_has_the_teams_dms_when_asked(
    client: TestClient, auth: dict[str, str], ledger: Ledger, tmp_path: Path
) -> None:
    # A teammate's DM that only the cloud has: this machine never recorded it.
    mate, _ = Ledger.init_home(
        tmp_path / "mate", "Marcus", actor="marcus.closes", cloud_url=ledger.settings.cloud_url
    )
    mate.log_dm("glow.skin", "Following up on my last message")
    mate.sync()
    mate.close()
    local = client.get("/api/v1/prospects/glow.skin", headers=auth).json()
    assert local["team_dms"] == "not asked"
    team = client.get("/api/v1/prospects/glow.skin?team=true", headers=auth).json()
    assert team["team_dms"] == "included"
    assert [(log["message"], log["local"]) for log in team["recent_logs"]] == [
        ("Following up on my last message", False),
        ("Hey! Loved your last post", True),
    ]
    checked = client.get("/api/v1/check/glow.skin?team=true", headers=auth).json()
    assert checked["recent_logs"] == team["recent_logs"]


def test_an_invalid_handle_is_422_naming_the_value_and_the_rule(
    client: TestClient, auth: dict[str, str]
) -> None:
    response = client.get("/api/v1/prospects/bad..name", headers=auth)
    assert response.status_code == 422
    message = response.json()["error"]["message"]
    assert "bad..name" in message and "'..'" in message
    assert "Traceback" not in response.text


def test_list_pages_through_every_lead_with_the_cursor(
    client: TestClient, auth: dict[str, str]
) -> None:
    seen: list[str] = []
    cursor = None
    while True:
        params = {"limit": "2", **({"cursor": cursor} if cursor else {})}
        body = client.get("/api/v1/prospects", params=params, headers=auth).json()
        seen += [item["handle"] for item in body["items"]]
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert seen == sorted(seen)
    assert set(seen) == {"fit.coach", "glow.skin", "no.thanks", "quiet.lead"}


def test_list_filters_by_status_owner_and_search(client: TestClient, auth: dict[str, str]) -> None:
    def handles(**params: str) -> list[str]:
        body = client.get("/api/v1/prospects", params=params, headers=auth).json()
        return [item["handle"] for item in body["items"]]

    assert handles(status="excluded") == ["no.thanks"]
    assert handles(owner="marcus.closes") == ["glow.skin"]
    assert handles(search="expo") == ["quiet.lead"]
    assert handles(status="Cold_NoReply") == []


def test_a_forged_cursor_is_refused(client: TestClient, auth: dict[str, str]) -> None:
    response = client.get("/api/v1/prospects", params={"cursor": "!!!"}, headers=auth)
    assert response.status_code == 422
    assert "cursor" in response.json()["error"]["message"]


def test_patch_changes_status_and_notes(client: TestClient, auth: dict[str, str]) -> None:
    response = client.patch(
        "/api/v1/prospects/glow.skin",
        json={"status": "Warm", "notes": "Replied on Monday"},
        headers=auth,
    )
    assert response.status_code == 200
    assert response.json()["status"] == "warm"
    assert response.json()["notes"] == "Replied on Monday"
    assert response.json()["pending_sync"] is True


def test_patch_with_nothing_to_change_is_422(client: TestClient, auth: dict[str, str]) -> None:
    response = client.patch("/api/v1/prospects/glow.skin", json={}, headers=auth)
    assert response.status_code == 422
    assert "nothing to change" in response.json()["error"]["message"]


def test_patch_of_an_unknown_lead_is_404(client: TestClient, auth: dict[str, str]) -> None:
    response = client.patch("/api/v1/prospects/ghost", json={"status": "hot"}, headers=auth)
    assert response.status_code == 404


def test_patch_with_an_unknown_status_names_the_statuses(
    client: TestClient, auth: dict[str, str]
) -> None:
    response = client.patch("/api/v1/prospects/glow.skin", json={"status": "keen"}, headers=auth)
    assert response.status_code == 422
    assert "'keen'" in response.json()["error"]["message"]
    assert "booked" in response.json()["error"]["message"]


def test_outreach_is_201_then_200_for_the_same_client_log_id(
    client: TestClient, auth: dict[str, str]
) -> None:
    body = {"to": "@New.Person", "message": "Hi!", "client_log_id": "ext-123"}
    first = client.post("/api/v1/outreach", json=body, headers=auth)
    again = client.post("/api/v1/outreach", json=body, headers=auth)
    assert first.status_code == 201
    assert first.json()["created"] is True
    assert first.json()["prospect"]["status"] == "contacted"
    assert first.json()["prospect"]["owner_actor"] == "sarah.sells"
    assert again.status_code == 200
    assert again.json()["created"] is False
    card = client.get("/api/v1/prospects/new.person", headers=auth).json()
    assert len(card["recent_logs"]) == 1


def test_outreach_takes_actor_and_sent_at_with_an_offset(
    client: TestClient, auth: dict[str, str]
) -> None:
    body = {
        "to": "timed.lead",
        "message": "Hello",
        "actor": "priya.studio",
        "sent_at": "2026-03-01T10:00:00+02:00",
    }
    response = client.post("/api/v1/outreach", json=body, headers=auth)
    assert response.status_code == 201
    card = response.json()["prospect"]
    assert card["owner_actor"] == "priya.studio"
    assert card["first_contacted"] == "2026-03-01T08:00:00.000000Z"


def test_outreach_to_an_excluded_lead_is_409_unless_forced(
    client: TestClient, auth: dict[str, str]
) -> None:
    body = {"to": "no.thanks", "message": "Hi again"}
    refused = client.post("/api/v1/outreach", json=body, headers=auth)
    assert refused.status_code == 409
    assert refused.json()["error"]["type"] == "ExcludedProspect"
    forced = client.post("/api/v1/outreach", json={**body, "force": True}, headers=auth)
    assert forced.status_code == 201
    assert forced.json()["prospect"]["status"] == "excluded"


def test_outreach_with_missing_fields_is_422_naming_them(
    client: TestClient, auth: dict[str, str]
) -> None:
    response = client.post("/api/v1/outreach", json={"to": "x.y"}, headers=auth)
    assert response.status_code == 422
    assert "message" in response.json()["error"]["message"]


def test_sync_status_reports_the_queue(client: TestClient, auth: dict[str, str]) -> None:
    client.post("/api/v1/outreach", json={"to": "queued.one", "message": "Hi"}, headers=auth)
    body = client.get("/api/v1/sync", headers=auth).json()
    assert body["pending_logs"] == 1
    assert body["last_sync_at"] is not None
    assert body["cloud_reachable"] is None
    assert body["loop_running"] is False


def test_asking_for_a_sync_is_202_and_the_queue_drains(
    client: TestClient, auth: dict[str, str]
) -> None:
    client.post("/api/v1/outreach", json={"to": "queued.two", "message": "Hi"}, headers=auth)
    response = client.post("/api/v1/sync", headers=auth)
    assert response.status_code == 202
    # Without the loop, the sync runs as the request's background task (before the
    # test client returns).
    assert client.get("/api/v1/sync", headers=auth).json()["pending_logs"] == 0


def test_openapi_document_lists_every_route(client: TestClient) -> None:
    document = client.get("/api/v1/openapi.json").json()
    paths = document["paths"]
    assert set(paths) == {
        "/api/v1/prospects",
        "/api/v1/prospects/{handle}",
        "/api/v1/check/{handle}",
        "/api/v1/outreach",
        "/api/v1/sync",
        "/api/v1/replies",
        "/api/v1/today",
    }
    assert "bearer" in str(document["components"]["securitySchemes"]).lower()
    assert not any(path.startswith("/lead") for path in paths)


def test_the_background_loop_syncs_a_logged_dm(home: Path) -> None:
    ledger = make_ledger(home)
    ledger.cloud_init()
    token = config.api_token(home)
    app = create_app(ledger, token=token, run_sync_loop=True)
    auth = {"Authorization": f"Bearer {token}"}
    try:
        with TestClient(app, base_url=BASE_URL) as client:
            client.post("/api/v1/outreach", json={"to": "loop.lead", "message": "Hi"}, headers=auth)
            assert client.get("/api/v1/sync", headers=auth).json()["loop_running"] is True
            drained = threading.Event()
            for _ in range(600):
                if client.get("/api/v1/sync", headers=auth).json()["pending_logs"] == 0:
                    drained.set()
                    break
                drained.wait(0.1)
            assert drained.is_set(), "the loop never pushed the DM"
        assert ledger.cloud.logs_for("loop.lead")
    finally:
        ledger.close()


def test_a_status_check_never_touches_the_cloud(home: Path, tmp_path: Path) -> None:
    # The cloud is a socket we listen on: any connection attempt would be accepted here.
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    listener.settimeout(0.5)
    port = listener.getsockname()[1]
    try:
        ledger = make_ledger(
            home, cloud_url=f"postgresql+psycopg://postgres@127.0.0.1:{port}/nowhere"
        )
        ledger.log_dm("local.only", "Hi from this machine")
        token = config.api_token(home)
        auth = {"Authorization": f"Bearer {token}"}
        app = create_app(ledger, token=token, run_sync_loop=False)
        with TestClient(app, base_url=BASE_URL) as client:
            card = client.get("/api/v1/prospects/local.only", headers=auth)
            unknown = client.get("/api/v1/prospects/someone.else", headers=auth)
            verdict = client.get("/api/v1/check/someone.else", headers=auth)
            listed = client.get("/api/v1/prospects", headers=auth)
            status = client.get("/api/v1/sync", headers=auth)
        assert card.status_code == 200 and card.json()["contacted"] is True
        assert unknown.status_code == 404
        assert verdict.status_code == 200 and verdict.json()["team_dms"] == "not asked"
        assert listed.status_code == 200 and status.status_code == 200
        try:
            connection, _ = listener.accept()
        except TimeoutError:
            connection = None
        assert connection is None, "the status check connected to the cloud"
        ledger.close()
    finally:
        listener.close()


def test_create_app_refuses_an_empty_token(ledger: Ledger) -> None:
    import pytest

    with pytest.raises(ValueError, match="token"):
        create_app(ledger, token="")


def test_a_time_that_overflows_in_utc_is_422_not_500(
    client: TestClient, auth: dict[str, str]
) -> None:
    # Found by the fuzz run: year 1 with a positive offset is before datetime.min in UTC.
    early = "0001-01-01T00:00:00+01:00"
    listed = client.get("/api/v1/prospects", params={"contacted_from": early}, headers=auth)
    logged = client.post(
        "/api/v1/outreach", json={"to": "a.b", "message": "Hi", "sent_at": early}, headers=auth
    )
    assert listed.status_code == 422 and "out of range" in listed.json()["error"]["message"]
    assert logged.status_code == 422


def test_send_and_reply_times_before_2010_or_outside_utc_are_422_naming_the_value(
    client: TestClient, auth: dict[str, str]
) -> None:
    # pydantic reads -99999999999 as milliseconds before 1970: a day in 1966.
    for when in ("0001-01-01T00:00:00Z", -99999999999, "0001-01-01T00:00:00+14:00"):
        logged = client.post(
            "/api/v1/outreach",
            json={"to": "early.lead", "message": "Hi", "sent_at": when},
            headers=auth,
        )
        replied = client.post(
            "/api/v1/replies", json={"handle": "early.lead", "replied_at": when}, headers=auth
        )
        for answer in (logged, replied):
            assert answer.status_code == 422, (when, answer.text)
            message = answer.json()["error"]["message"]
            assert "2010-01-01" in message or "out of range" in message, message
    early = client.post(
        "/api/v1/outreach",
        json={"to": "early.lead", "message": "Hi", "sent_at": -99999999999},
        headers=auth,
    )
    assert (
        "send time 1966-10-31T14:13:20.001000Z is before 2010-01-01"
        in early.json()["error"]["message"]
    )
    assert client.get("/api/v1/check/early.lead", headers=auth).json()["known"] is False
