"""The Today page, its actions and the follow-up API, in-process (ASGI)."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from web_support import TestClient, flash_of, post_form

from dmledger.app.ledger import Ledger

OLD = datetime(2026, 1, 1, 10, 0)


def test_today_is_empty_when_nothing_is_due(client: TestClient) -> None:
    page = client.get("/today")
    assert page.status_code == 200
    assert 'id="today-empty"' in page.text and "Nothing due today" in page.text
    assert 'href="/today" aria-current="page"' in page.text


def test_today_lists_a_due_lead_and_logging_the_follow_up_clears_it(
    client: TestClient, ledger: Ledger
) -> None:
    ledger.log_dm("late.lead", "first hello", at=OLD)
    page = client.get("/today")
    assert 'data-handle="late.lead"' in page.text and "first hello" in page.text
    done = post_form(
        client,
        "/lead/late.lead/followup",
        {"message": "just checking in", "next": "/today"},
        page="/today",
    )
    assert "Follow-up to late.lead" in flash_of(client, done)
    assert 'data-handle="late.lead"' not in client.get("/today").text
    p = ledger.card("late.lead")
    assert p.recent_logs[0].message == "just checking in"


def test_logging_from_a_template_snoozing_and_replying(client: TestClient, ledger: Ledger) -> None:
    ledger.templates.add("nudge", "hey {handle}!")
    for handle in ("a.lead", "b.lead", "c.lead"):
        ledger.log_dm(handle, "hi", at=OLD)
    page = client.get("/today")
    assert '<option value="nudge">' in page.text
    post_form(client, "/lead/a.lead/followup", {"template": "nudge"}, page="/today")
    assert ledger.card("a.lead").recent_logs[0].message == "hey a.lead!"
    snoozed = post_form(client, "/lead/b.lead/snooze", {"days": "1d"}, page="/today")
    assert "snoozed" in flash_of(client, snoozed)
    replied = post_form(client, "/lead/c.lead/reply", {"next": "/today"}, page="/today")
    assert "status warm" in flash_of(client, replied)
    text = client.get("/today").text
    assert all(f'data-handle="{h}"' not in text for h in ("a.lead", "b.lead", "c.lead"))
    bad = post_form(client, "/lead/b.lead/snooze", {"days": "forever"}, page="/today")
    assert bad.status_code in (303, 422)


def test_the_card_records_a_reply(client: TestClient, ledger: Ledger) -> None:
    assert 'id="record-reply"' in client.get("/?q=fit.coach").text
    done = post_form(client, "/lead/fit.coach/reply", {"next": "/?q=fit.coach"})
    assert "Reply from fit.coach recorded" in flash_of(client, done)
    assert ledger.card("fit.coach").status == "warm"


def test_a_reply_form_sent_twice_records_one_reply(client: TestClient, ledger: Ledger) -> None:
    ledger.log_dm("twice.lead", "hi", at=OLD)
    first, second = (
        re.search(r'name="reply_id" value="([0-9a-f-]{36})"', client.get("/today").text)
        for _ in range(2)
    )
    assert first and second and first[1] != second[1]  # each page shown has its own
    for _ in range(2):  # a double click, or the form sent again
        post_form(client, "/lead/twice.lead/reply", {"reply_id": first[1]}, page="/today")
    with ledger.local.reading() as conn:
        replies = [e.ref for e in ledger.local.pending_edits(conn, 100) if e.op == "reply"]
    assert replies == [first[1]]


def test_the_api_records_replies_and_lists_today(
    client: TestClient, ledger: Ledger, auth: dict[str, str]
) -> None:
    ledger.log_dm("late.lead", "hi", at=OLD)
    today = client.get("/api/v1/today", headers=auth).json()
    assert [i["handle"] for i in today["items"]] == ["late.lead"]
    assert today["items"][0]["owner_actor"] == "sarah.sells"
    made = client.post(
        "/api/v1/replies",
        json={"handle": "@Late.Lead", "replied_at": "2026-01-02T09:00:00Z"},
        headers=auth,
    )
    assert made.status_code == 201, made.text
    assert made.json()["was_contacted"] is True and made.json()["prospect"]["status"] == "warm"
    assert client.get("/api/v1/today", headers=auth).json()["items"] == []
    bad = client.post("/api/v1/replies", json={"handle": "no way!"}, headers=auth)
    assert bad.status_code == 422 and "no way!" in bad.text
    assert client.post("/api/v1/replies", json={"handle": "x.y"}).status_code == 401
    # The same reply_id again (a retry) records nothing new; a bad one is refused.
    body = {"handle": "late.lead", "reply_id": "api-reply-1"}
    for _ in range(2):
        assert client.post("/api/v1/replies", json=body, headers=auth).status_code == 201
    with ledger.local.reading() as conn:
        refs = [e.ref for e in ledger.local.pending_edits(conn, 100) if e.op == "reply"]
    assert refs.count("api-reply-1") == 1
    odd = client.post("/api/v1/replies", json={**body, "reply_id": "a b"}, headers=auth)
    assert odd.status_code == 422 and "reply_id 'a b'" in odd.text


def test_the_due_count_is_capped_and_says_so(
    client: TestClient, ledger: Ledger, auth: dict[str, str], monkeypatch: Any
) -> None:
    from dmledger.local import reader

    monkeypatch.setattr(reader, "COUNT_CAP", 3)
    for i in range(5):
        ledger.log_dm(f"due.{i}", "hi", at=OLD)
    today = client.get("/api/v1/today?limit=2", headers=auth).json()
    assert (today["total"], today["total_capped"], len(today["items"])) == (3, True, 2)
    assert "3+ follow-ups due" in client.get("/today").text
    monkeypatch.setattr(reader, "COUNT_CAP", 10)
    exact = client.get("/api/v1/today", headers=auth).json()
    assert (exact["total"], exact["total_capped"]) == (5, False)
