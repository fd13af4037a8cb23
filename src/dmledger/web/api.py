"""The JSON API under ``/api/v1``: what other local tools (a browser extension) call.

Every route needs the bearer token. A status check reads only the local store, so it
answers at once and offline. Routes are thin: parse, call the Ledger, shape the
answer; errors are mapped in ``errors.py``.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import replace
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, BackgroundTasks, Depends, Query, Response
from starlette.concurrency import run_in_threadpool

from dmledger.app.views import LeadView, RecordedDm, ReplyResult, StatusCard
from dmledger.domain.timeutil import to_utc
from dmledger.errors import InvalidInput
from dmledger.local import ProspectFilter

from .schemas import (
    ErrorOut,
    OutreachIn,
    ProspectPage,
    ProspectPatch,
    ReplyIn,
    SyncOut,
    SyncRequested,
    TodayOut,
)
from .security import require_token
from .state import WebState, web_state

_ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorOut, "description": text}
    for code, text in (
        (400, "The request body could not be read (not JSON)."),
        (401, "Missing or wrong API token."),
        (413, "The request body is larger than the API accepts (1 MiB)."),
        (422, "A value broke a rule; the message names the value and the rule."),
        (500, "The home's settings are unusable."),
    )
}
_NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorOut, "description": "Not in the ledger."}
}
_CONFLICT: dict[int | str, dict[str, Any]] = {
    409: {"model": ErrorOut, "description": "Refused in the lead's current state."}
}

router = APIRouter(prefix="/api/v1", dependencies=[Depends(require_token)], responses=_ERRORS)
State = Annotated[WebState, Depends(web_state)]

PAGE_MAX = 500
# The status check reads the local store only, so it answers at once and offline; the
# team's DMs from the cloud are asked for explicitly (bounded by TEAM_TIMEOUT_S).
TeamQuery = Annotated[
    bool,
    Query(description="Also fetch the team's DMs from the cloud (waits up to a few seconds)."),
]


def encode_cursor(handle: str) -> str:
    return base64.urlsafe_b64encode(handle.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> str:
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        text = ""
    if not text or len(text) > 255 or not text.isprintable():
        raise InvalidInput(f"cursor {cursor[:60]!r} is not a next_cursor given by this API")
    return text


def _utc(moment: datetime | None) -> datetime | None:
    """A naive UTC datetime; InvalidInput when the offset pushes it out of range."""
    return None if moment is None else to_utc(moment)


@router.get(
    "/prospects",
    response_model=ProspectPage,
    summary="A page of leads",
    tags=["prospects"],
)
def list_prospects(
    state: State,
    status: Annotated[str | None, Query(max_length=50)] = None,
    owner: Annotated[str | None, Query(max_length=100, description="Owner actor.")] = None,
    operator: Annotated[str | None, Query(max_length=100)] = None,
    search: Annotated[str | None, Query(max_length=200, description="In handle or notes.")] = None,
    contacted_from: datetime | None = None,
    contacted_to: datetime | None = None,
    cursor: Annotated[str | None, Query(max_length=400)] = None,
    limit: Annotated[int, Query(ge=1, le=PAGE_MAX)] = 50,
) -> Response:
    """Leads in handle order (keyset pagination: fast at any depth). While the search
    index is being built (after a full resync) a search scans instead, and the answer
    carries a ``Warning`` header saying so."""
    # A page of 500 may read for tens of milliseconds: this stays in the thread pool
    # (a plain def), and the page is serialised once, not validated again on the way out.
    where = ProspectFilter(
        status=status or None,
        owner_actor=owner or None,
        owner_operator=operator or None,
        search=search or None,
        contacted_from=_utc(contacted_from),
        contacted_to=_utc(contacted_to),
    )
    after = decode_cursor(cursor) if cursor else None
    rows = state.ledger.list_prospects(where, after=after, limit=limit + 1)
    notice = state.ledger.search_notice(where)
    more = len(rows) > limit
    rows = rows[:limit]
    page = ProspectPage(
        items=[LeadView.of(p) for p in rows],
        next_cursor=encode_cursor(rows[-1].handle) if more and rows else None,
    )
    headers = None if notice is None else {"Warning": f'199 dmledger "{notice}"'}
    return Response(page.model_dump_json(), media_type="application/json", headers=headers)


@router.get(
    "/prospects/{handle:path}",
    response_model=StatusCard,
    summary="The status card of a lead",
    tags=["prospects"],
    responses=_NOT_FOUND,
)
async def get_prospect(handle: str, state: State, team: TeamQuery = False) -> Response:
    """From the local store only: instant, works offline; 404 when nobody on the team has
    recorded the lead (``GET /api/v1/check/{handle}`` answers that case too). ``handle``
    may be a handle, ``@handle`` or a profile URL (URL-encoded)."""
    # The hot path of the extension: run in the event loop (a read of one row by its
    # key through the store's pooled SQLite connections takes well under a millisecond)
    # and answer with the card serialised once; with ``team`` the cloud is asked, which
    # may wait, so that goes to the thread pool.
    if team:
        card = await run_in_threadpool(state.ledger.require_card, handle, team=True)
    else:
        card = state.ledger.require_card(handle)
    return Response(card.model_dump_json(), media_type="application/json")


@router.get(
    "/check/{handle:path}",
    response_model=StatusCard,
    summary="Has anyone on the team messaged this person?",
    tags=["prospects"],
    # Only a path the router cannot match (a line break in it) gets a 404 here.
    responses={404: {"model": ErrorOut, "description": "Not a path of this API."}},
)
def check(handle: str, state: State, team: TeamQuery = False) -> StatusCard:
    """The verdict for any handle, always 200: a lead nobody has recorded is an answer
    (``known`` and ``contacted`` false). Local store only unless ``team``."""
    return state.ledger.card(handle, team=team)


@router.patch(
    "/prospects/{handle:path}",
    response_model=StatusCard,
    summary="Change a lead's status or notes",
    tags=["prospects"],
    responses=_NOT_FOUND,
)
def patch_prospect(handle: str, change: ProspectPatch, state: State) -> StatusCard:
    """Any status may be set (a person's decision); queued for sync."""
    updated = state.ledger.update_prospect(
        handle, status=change.status, notes=change.notes, append_note=change.append_note
    )
    state.request_sync()
    return state.ledger.card(updated.handle)


@router.post(
    "/outreach",
    response_model=RecordedDm,
    status_code=201,
    summary="Record a DM that was sent",
    tags=["outreach"],
    responses={
        200: {"model": RecordedDm, "description": "Already recorded (same client_log_id)."},
        **_CONFLICT,
    },
)
def log_outreach(body: OutreachIn, response: Response, state: State) -> RecordedDm:
    """Idempotent on ``client_log_id``: 201 when recorded, 200 when it already was.
    A DM to an excluded lead is refused (409) unless ``force``."""
    item, card, created = state.ledger.log_dm(
        body.to,
        body.message,
        actor=body.actor,
        at=_utc(body.sent_at),
        force=body.force,
        client_log_id=body.client_log_id,
    )
    if created:
        state.request_sync()
    else:
        response.status_code = 200
    return RecordedDm(client_log_id=item.client_log_id, created=created, prospect=card)


@router.post(
    "/replies",
    response_model=ReplyResult,
    status_code=201,
    summary="Record that a lead answered",
    tags=["follow-ups"],
)
def post_reply(body: ReplyIn, state: State) -> ReplyResult:
    """contacted becomes warm and the follow-ups stop; a lead nobody contacted is added
    (``was_contacted`` false). Synced like a DM: exactly once."""
    result = state.ledger.followups.reply(
        body.handle, at=_utc(body.replied_at), reply_id=body.reply_id
    )
    state.request_sync()
    return result


@router.get("/today", response_model=TodayOut, summary="Follow-ups due now", tags=["follow-ups"])
def get_today(
    state: State,
    actor: Annotated[str | None, Query(max_length=100)] = None,
    operator: Annotated[str | None, Query(max_length=100)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> TodayOut:
    """The same list as ``dmledger today --json``, from the local store (works offline)."""
    result = state.ledger.followups.today(actor=actor, operator=operator, limit=limit)
    return TodayOut.model_validate(result.to_dict())


def sync_out(state: WebState) -> SyncOut:
    status = state.sync_status()
    loop = state.loop
    redacted = {
        "last_error": state.redact(status.last_error),
        "set_aside": [replace(i, error=state.redact(i.error) or "") for i in status.set_aside],
        "loop_running": loop is not None and loop.state.running,
        "next_attempt_in_s": loop.state.next_delay if loop is not None else None,
    }
    return SyncOut.model_validate(dict(status) | redacted)


@router.get("/sync", response_model=SyncOut, summary="Sync status", tags=["sync"])
def get_sync(state: State) -> SyncOut:
    """Pending DMs and edits, rows set aside, last sync and last error."""
    return sync_out(state)


@router.post(
    "/sync",
    response_model=SyncRequested,
    status_code=202,
    summary="Ask for a sync now",
    tags=["sync"],
)
def post_sync(state: State, background: BackgroundTasks) -> SyncRequested:
    """The background loop syncs within a second or two; poll ``GET /sync``."""
    if state.loop is not None:
        state.loop.request()
    else:
        background.add_task(state.sync_now_quietly)
    return SyncRequested(requested=True, message="a sync will start in a moment")
