"""The Check page, the lead page and the actions on one lead, in-process."""

from __future__ import annotations

import re
from pathlib import Path

from web_support import BASE_URL, TestClient, csrf_of, flash_of, make_ledger, post_form

from dmledger import settings as config
from dmledger.app.ledger import Ledger
from dmledger.web.app import create_app


def test_check_page_has_one_autofocused_box(client: TestClient) -> None:
    page = client.get("/")
    assert page.status_code == 200
    boxes = re.findall(r"<input\b[^>]*>", page.text)
    focused = [box for box in boxes if re.search(r"\sautofocus(?:[\s=>/]|$)", box)]
    assert len(focused) == 1, focused
    assert 'id="q"' in focused[0]
    assert 'id="card"' not in page.text


def test_checking_a_pasted_profile_url_shows_who_contacted_them(client: TestClient) -> None:
    page = client.get("/", params={"q": "https://www.instagram.com/Glow.Skin/?igsh=abc"})
    assert page.status_code == 200
    assert "Already contacted" in page.text
    assert "marcus.closes" in page.text and "Marcus" in page.text
    assert "Hey! Loved your last post" in page.text
    assert 'data-handle="glow.skin"' in page.text


def test_checking_an_unknown_handle_says_not_contacted_and_offers_to_add(
    client: TestClient,
) -> None:
    page = client.get("/", params={"q": "@Fresh.Face"})
    assert "Not contacted" in page.text
    assert 'action="/lead/fresh.face/add"' in page.text
    assert 'action="/lead/fresh.face/log"' in page.text


def test_a_reply_from_someone_nobody_messaged_reads_true_on_the_card_and_the_lead_page(
    client: TestClient, ledger: Ledger
) -> None:
    ledger.followups.reply("wrote.first")
    for page in (client.get("/", params={"q": "wrote.first"}), client.get("/lead/wrote.first")):
        assert page.status_code == 200
        text = " ".join(page.text.split())
        assert "Already in touch" in text and "unknown account" not in text
        assert "@wrote.first replied, but nobody on the team has recorded a DM to them" in text
    assert "<dt>Replied</dt>" in client.get("/", params={"q": "wrote.first"}).text


def test_checking_an_excluded_lead_says_do_not_contact_and_needs_force(
    client: TestClient,
) -> None:
    page = client.get("/", params={"q": "no.thanks"})
    assert "DO NOT CONTACT" in page.text
    assert 'name="force"' in page.text


def test_checking_something_that_is_not_a_handle_explains_the_rule(client: TestClient) -> None:
    page = client.get("/", params={"q": "https://example.com/someone"})
    assert page.status_code == 422
    assert "not an Instagram profile URL" in page.text


def test_logging_a_dm_marks_the_lead_contacted_by_my_actor(client: TestClient) -> None:
    response = post_form(client, "/lead/new.person/log", {"message": "Hi there!"})
    assert response.headers["location"] == "/?q=new.person"
    assert "recorded" in flash_of(client, response)
    page = client.get("/", params={"q": "new.person"})
    assert "Already contacted" in page.text
    assert "sarah.sells" in page.text
    assert "not synced yet" in page.text


def test_logging_a_dm_from_another_actor_goes_back_where_asked(client: TestClient) -> None:
    response = post_form(
        client,
        "/lead/other.person/log",
        {"message": "Hello", "actor": "priya.studio", "next": "/lead/other.person"},
    )
    assert response.headers["location"] == "/lead/other.person"
    assert "priya.studio" in client.get("/lead/other.person").text


def test_a_dm_to_an_excluded_lead_without_force_is_refused_with_the_reason(
    client: TestClient,
) -> None:
    response = post_form(client, "/lead/no.thanks/log", {"message": "Hi", "next": "/?q=no.thanks"})
    message = flash_of(client, response)
    assert "excluded" in message
    forced = post_form(client, "/lead/no.thanks/log", {"message": "Hi", "force": "true"})
    assert "recorded" in flash_of(client, forced)


def test_setting_a_status_from_the_card(client: TestClient) -> None:
    response = post_form(client, "/lead/glow.skin/status", {"status": "booked"})
    assert "booked" in flash_of(client, response)
    assert "badge-booked" in client.get("/", params={"q": "glow.skin"}).text


def test_the_inline_status_menu_gets_json(client: TestClient) -> None:
    token = csrf_of(client, "/leads")
    response = client.post(
        "/lead/glow.skin/status",
        data={"status": "hot"},
        headers={"Accept": "application/json", "X-CSRF-Token": token},
    )
    assert response.status_code == 200
    assert response.json() == {"handle": "glow.skin", "status": "hot"}


def test_the_inline_status_menu_gets_a_json_error(client: TestClient) -> None:
    token = csrf_of(client, "/leads")
    response = client.post(
        "/lead/glow.skin/status",
        data={"status": "sizzling"},
        headers={"Accept": "application/json", "X-CSRF-Token": token},
    )
    assert response.status_code == 422
    assert "'sizzling'" in response.json()["error"]["message"]


def test_marking_excluded_shows_do_not_contact(client: TestClient) -> None:
    response = post_form(client, "/lead/glow.skin/status", {"status": "excluded"})
    assert "do not contact" in flash_of(client, response)
    assert "DO NOT CONTACT" in client.get("/", params={"q": "glow.skin"}).text


def test_marking_an_unknown_handle_excluded_adds_it(client: TestClient) -> None:
    response = post_form(client, "/lead/never.dm/add", {"status": "excluded"})
    assert "added" in flash_of(client, response)
    assert "DO NOT CONTACT" in client.get("/", params={"q": "never.dm"}).text


def test_adding_a_note_appends_a_dated_line(client: TestClient) -> None:
    response = post_form(client, "/lead/quiet.lead/note", {"note": "Call on Friday"})
    assert flash_of(client, response) == "Note added."
    page = client.get("/", params={"q": "quiet.lead"}).text
    assert "Found at the expo" in page and "Sarah] Call on Friday" in page


def test_an_empty_note_is_refused(client: TestClient) -> None:
    response = post_form(client, "/lead/quiet.lead/note", {"note": "   ", "next": "/?q=quiet.lead"})
    assert "empty" in flash_of(client, response)


def test_adding_a_lead_that_exists_is_refused(client: TestClient) -> None:
    response = post_form(client, "/lead/glow.skin/add", {"next": "/?q=glow.skin"})
    assert "already in the ledger" in flash_of(client, response)


def test_lead_page_shows_notes_status_and_timeline(client: TestClient) -> None:
    page = client.get("/lead/quiet.lead")
    assert page.status_code == 200
    assert "Found at the expo" in page.text
    assert 'data-fragment-src="/lead/quiet.lead/timeline"' in page.text


def test_lead_page_of_a_pasted_form_redirects_to_the_stored_handle(client: TestClient) -> None:
    response = client.get("/lead/Glow.Skin")
    assert response.status_code == 307
    assert response.headers["location"] == "/lead/glow.skin"


def test_lead_page_of_an_unknown_lead_goes_to_check(client: TestClient) -> None:
    response = client.get("/lead/who.is.this")
    assert response.headers["location"] == "/?q=who.is.this"
    landed = client.get(response.headers["location"])
    assert landed.status_code == 200
    assert 'role="alert"' not in landed.text and "flash-error" not in landed.text
    assert "Not contacted" in landed.text


def test_timeline_merges_this_machine_and_the_team(client: TestClient, ledger: Ledger) -> None:
    ledger.log_dm("glow.skin", "A follow-up from this machine")
    fragment = client.get("/lead/glow.skin/timeline").text
    assert "A follow-up from this machine" in fragment
    assert "Hey! Loved your last post" in fragment
    assert fragment.count('<li class="dm') == 2
    assert "Showing this machine" not in fragment


def test_timeline_limit_links_to_the_lead_page(client: TestClient, ledger: Ledger) -> None:
    for n in range(3):
        ledger.log_dm("glow.skin", f"Follow-up {n}")
    fragment = client.get("/lead/glow.skin/timeline", params={"limit": 2}).text
    assert fragment.count('<li class="dm') == 2
    assert "All DMs on the lead page" in fragment


def test_replacing_notes_on_the_lead_page(client: TestClient) -> None:
    response = post_form(
        client, "/lead/quiet.lead/notes", {"notes": "Only this", "next": "/lead/quiet.lead"}
    )
    assert flash_of(client, response) == "Notes saved."
    assert "Found at the expo" not in client.get("/lead/quiet.lead").text


def test_deleting_a_lead_needs_the_confirmation(client: TestClient) -> None:
    refused = post_form(client, "/lead/quiet.lead/delete", {"next": "/lead/quiet.lead"})
    assert "confirm" in flash_of(client, refused)
    deleted = post_form(client, "/lead/quiet.lead/delete", {"confirm": "true"})
    assert deleted.headers["location"] == "/leads"
    assert "Not contacted" in client.get("/", params={"q": "quiet.lead"}).text


def test_sync_now_from_a_page_drains_the_queue(client: TestClient, ledger: Ledger) -> None:
    ledger.log_dm("sync.me", "Hi")
    response = post_form(client, "/sync", {"next": "/leads"})
    assert response.headers["location"] == "/leads"
    assert ledger.status(probe_cloud=False).pending_logs == 0
    indicator = client.get("/ui/sync").json()
    assert indicator["state"] == "ok"
    assert indicator["label"].startswith("Synced")


def test_sync_now_from_script_answers_202(client: TestClient) -> None:
    token = csrf_of(client)
    response = client.post("/sync", headers={"Accept": "application/json", "X-CSRF-Token": token})
    assert response.status_code == 202


def test_every_page_shows_the_sync_indicator(client: TestClient, ledger: Ledger) -> None:
    ledger.log_dm("pending.one", "Hi")
    for path in ("/", "/leads", "/lead/glow.skin", "/team", "/admin", "/leads/import"):
        page = client.get(path)
        assert 'id="sync"' in page.text, path
        assert "1 waiting to sync" in page.text, path
        assert 'action="/sync"' in page.text, path


def test_an_unknown_page_is_a_404_page(client: TestClient) -> None:
    page = client.get("/no/such/page")
    assert page.status_code == 404
    assert "text/html" in page.headers["content-type"]
    assert "Not found" in page.text


def test_static_assets_are_served_by_the_app(client: TestClient) -> None:
    css = client.get("/static/app.css")
    js = client.get("/static/app.js")
    assert css.status_code == 200 and "text/css" in css.headers["content-type"]
    assert js.status_code == 200 and "javascript" in js.headers["content-type"]
    assert client.get("/favicon.ico").headers["location"] == "/static/favicon.svg"
    page = client.get("/").text
    assert "http://" not in page.replace(BASE_URL, "").split("<body")[0]


def test_offline_pages_still_work_from_the_local_store(home: Path) -> None:
    ledger = make_ledger(home, cloud_url="postgresql+psycopg://postgres@127.0.0.1:1/nowhere")
    ledger.log_dm("offline.lead", "Sent while offline")
    app = create_app(ledger, token=config.api_token(home), run_sync_loop=False)
    try:
        with TestClient(app, base_url=BASE_URL) as client:
            card = client.get("/", params={"q": "offline.lead"})
            timeline = client.get("/lead/offline.lead/timeline")
            admin = client.get("/admin")
            team = client.get("/team")
        assert card.status_code == 200 and "Already contacted" in card.text
        assert "Sent while offline" in timeline.text
        assert "Showing this machine" in timeline.text
        assert admin.status_code == 200 and "this machine's copy" in admin.text
        assert team.status_code == 503 and "unreachable" in team.text
    finally:
        ledger.close()
