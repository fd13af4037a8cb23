"""One shape, every interface: the CLI's ``--json``, the JSON API and the native host
give the same keys and values for the same card, lead and sync status.

Each interface is reached for real (the CLI through its Typer app, the API through the
ASGI app, the host through its request handler), all on one home.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from typer.testing import CliRunner
from web_support import TestClient

from dmledger.app.ledger import Ledger
from dmledger.cli import app as cli_app
from dmledger.native.host import Host
from dmledger.native.protocol import GetCard


def _cli_json(ledger: Ledger, *args: str) -> Any:
    result = CliRunner().invoke(cli_app, ["--home", str(ledger.home), "--json", *args])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def _host_card(ledger: Ledger, handle: str) -> dict[str, Any]:
    host = Host(ledger.home)
    try:
        reply = host.answer(GetCard(id=7, type="card", handle=handle))
    finally:
        host.close()
    assert reply["ok"] is True, reply
    card: dict[str, Any] = reply["card"]
    return card


def test_a_card_is_the_same_from_the_cli_the_api_and_the_native_host(
    client: TestClient, auth: dict[str, str], ledger: Ledger
) -> None:
    ledger.update_prospect("glow.skin", append_note="asked for prices")  # pending_sync too
    for handle in ("glow.skin", "no.thanks", "nobody.here"):
        cli = _cli_json(ledger, "prospect", "show", handle, "--local")
        api = client.get(f"/api/v1/check/{handle}", headers=auth).json()
        assert cli == api
        assert _host_card(ledger, handle) == api
    known = client.get("/api/v1/prospects/glow.skin", headers=auth).json()
    assert known == _cli_json(ledger, "prospect", "show", "glow.skin", "--local")
    # The verdict the extension leads with is part of the one card, so all three have it.
    assert [known["verdict"], known["pending_sync"], known["recent_logs"][0]["to"]] == [
        "contacted",
        True,
        "glow.skin",
    ]


def test_leads_are_the_same_from_the_cli_and_the_api(
    client: TestClient, auth: dict[str, str], ledger: Ledger
) -> None:
    ledger.followups.set_follow_up("quiet.lead", "+2d")
    ledger.followups.reply("glow.skin")
    cli = _cli_json(ledger, "prospect", "list", "--limit", "100")
    api = client.get("/api/v1/prospects", params={"limit": 100}, headers=auth).json()
    assert api["items"] == cli
    by_handle = {lead["handle"]: lead for lead in api["items"]}
    # The API's copy of a lead used to leave out the follow-up figures the CLI had.
    assert by_handle["fit.coach"]["last_dm_at"] is not None
    assert by_handle["glow.skin"]["last_reply_at"] is not None
    assert by_handle["quiet.lead"]["follow_up_at"] is not None
    added = _cli_json(ledger, "prospect", "add", "new.face")
    assert set(added) == set(api["items"][0])


def test_the_sync_status_is_the_same_from_the_cli_and_the_api(
    client: TestClient, auth: dict[str, str], ledger: Ledger
) -> None:
    ledger.log_dm("late.reply", "Hi there")
    ledger.update_prospect("fit.coach", status="warm")
    cli = _cli_json(ledger, "status", "--offline")
    api = client.get("/api/v1/sync", headers=auth).json()
    loop = {key: api.pop(key) for key in ("loop_running", "next_attempt_in_s")}
    assert loop == {"loop_running": False, "next_attempt_in_s": None}
    assert api == cli
    assert (cli["pending_logs"], cli["pending_changes"]) == (1, 1)
    assert cli["last_sync_at"].endswith("Z")


def test_today_is_the_same_from_the_cli_and_the_api(
    client: TestClient, auth: dict[str, str], ledger: Ledger
) -> None:
    # Today is built without pydantic for the CLI's start-up; the API's TodayOut must
    # still declare exactly what it gives.
    ledger.log_dm("due.lead", "Hi!", at=ledger.now() - timedelta(days=5))
    cli = _cli_json(ledger, "today")
    api = client.get("/api/v1/today", headers=auth).json()
    assert [item["handle"] for item in cli["items"]] == ["due.lead"]
    assert cli.pop("now") <= api.pop("now")  # each answered at its own moment
    assert cli == api
