"""The Today page: the follow-ups due now (from the local store, works offline), and the
actions on one of them — log the follow-up, snooze it, record a reply."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, Response

from .render import flash_redirect, page
from .security import csrf_protect, safe_next
from .state import WebState, web_state

router = APIRouter(include_in_schema=False, dependencies=[Depends(csrf_protect)])
State = Annotated[WebState, Depends(web_state)]
Next = Annotated[str, Form(max_length=2000)]
Short = Annotated[str, Form(max_length=100)]
ReplyId = Annotated[str | None, Form(max_length=36)]
PAGE_ITEMS = 50  # the most overdue first; the rest follow as these are done


@router.get("/today", response_class=HTMLResponse)
def today(request: Request, state: State, actor: str = "", operator: str = "") -> HTMLResponse:
    """Who to follow up with today, from which account, with what."""
    result = state.ledger.followups.today(
        actor=actor[:100] or None, operator=operator[:100] or None, limit=PAGE_ITEMS
    )
    return page(
        request,
        "today.html",
        {
            "today": result,
            "templates": state.ledger.templates.list(),
            "actors": state.ledger.people.local().actors,
            "back": "/today",
        },
        section="today",
    )


@router.post("/lead/{handle}/followup")
def log_follow_up(
    request: Request,
    handle: str,
    state: State,
    next: Next = "",
    message: Annotated[str, Form(max_length=20_000)] = "",
    template: Short = "",
    actor: Short = "",
) -> Response:
    """Record the follow-up DM: the text typed, or a team template rendered for the lead."""
    if template and not message.strip():
        item, card, _ = state.ledger.templates.log(handle, template, actor=actor or None)
    else:
        item, card, _ = state.ledger.log_dm(handle, message, actor=actor or None)
    state.request_sync()
    return flash_redirect(
        safe_next(next, "/today"), "ok", f"Follow-up to {card.handle} from {item.actor} recorded."
    )


@router.post("/lead/{handle}/snooze")
def snooze(
    handle: str, state: State, next: Next = "", days: Annotated[str, Form(max_length=10)] = "1d"
) -> Response:
    """Not today: due again after ``days`` from now."""
    prospect = state.ledger.followups.snooze(handle, days)
    state.request_sync()
    return flash_redirect(
        safe_next(next, "/today"), "ok", f"{prospect.handle} snoozed for {days.strip()}."
    )


@router.post("/lead/{handle}/reply")
def reply(handle: str, state: State, next: Next = "", reply_id: ReplyId = None) -> Response:
    """They answered: contacted becomes warm and the follow-ups stop. The form carries
    an id made when it was shown, so sending it twice records one reply."""
    result = state.ledger.followups.reply(handle, reply_id=reply_id)
    state.request_sync()
    said = "" if result.was_contacted else " (nobody had recorded a DM to them: added)"
    return flash_redirect(
        safe_next(next, f"/?q={result.prospect.handle}"),
        "ok",
        f"Reply from {result.prospect.handle} recorded — status {result.prospect.status}{said}.",
    )
