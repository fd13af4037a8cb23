"""The Check page (home), the lead page, the actions on one lead, and "sync now".

Check is the product's hot path: paste a handle or profile URL, Enter, and the status
card comes from the local store at once. Forms post back here and redirect (303) to
the page they came from with a one-line message, so Reload never repeats a DM.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from dmledger.domain.handles import normalize_handle
from dmledger.errors import InvalidInput

from .errors import status_for, wants_json
from .render import flash_redirect, fragment, indicator, page
from .security import csrf_protect, safe_next
from .state import WebState, web_state

router = APIRouter(include_in_schema=False, dependencies=[Depends(csrf_protect)])
State = Annotated[WebState, Depends(web_state)]
Next = Annotated[str, Form(max_length=2000)]


def _check_url(handle: str) -> str:
    return f"/?q={handle}"


@router.get("/", response_class=HTMLResponse)
def check(request: Request, state: State, q: str = "") -> HTMLResponse:
    """The Check page; with ``q``, the status card of that handle."""
    card = None
    error = None
    status_code = 200
    if q.strip():
        try:
            card = state.ledger.card(q[:500])
        except InvalidInput as problem:
            error, status_code = str(problem), status_for(problem)
    return page(
        request,
        "check.html",
        {
            "q": q,
            "card": card,
            "error": error,
            "actors": state.ledger.people.local().actors if card else [],
            "back": _check_url(card.handle) if card else "/",
        },
        status_code=status_code,
        section="check",
    )


@router.get("/lead/{handle}", response_class=HTMLResponse)
def lead(request: Request, handle: str, state: State) -> Response:
    """A lead's page: facts, notes, status, and the full DM timeline."""
    stored = normalize_handle(handle)
    if stored != handle:
        return RedirectResponse(f"/lead/{stored}", status_code=307)
    card = state.ledger.card(stored, recent=200)
    if not card.known:
        # Not an error: the Check card says "not contacted" and offers to add the lead.
        return RedirectResponse(_check_url(stored), status_code=303)
    timeline = state.ledger.timelines.lead(stored, include_cloud=False)
    return page(
        request,
        "lead.html",
        {
            "card": card,
            "timeline": timeline,
            "actors": state.ledger.people.local().actors,
            "back": f"/lead/{stored}",
        },
        section="leads",
    )


@router.get("/lead/{handle}/timeline", response_class=HTMLResponse)
def lead_timeline_fragment(
    request: Request, handle: str, state: State, limit: Annotated[int, Query(ge=1, le=200)] = 200
) -> HTMLResponse:
    """The merged timeline (this machine and the team's cloud), loaded after the page."""
    online = not state.cloud_known_down
    timeline = state.ledger.timelines.lead(handle, include_cloud=online, limit=limit + 1)
    if not online:
        timeline.cloud_error = "the cloud is unreachable right now"
    timeline.cloud_error = state.redact(timeline.cloud_error)
    more = len(timeline.entries) > limit
    del timeline.entries[limit:]
    return fragment(request, "timeline.html", {"timeline": timeline, "more": more})


@router.post("/lead/{handle}/log")
def log_dm(
    request: Request,
    handle: str,
    state: State,
    message: Annotated[str, Form(max_length=20_000)],
    next: Next = "",
    actor: Annotated[str, Form(max_length=100)] = "",
    force: Annotated[bool, Form()] = False,
) -> Response:
    """Record a DM sent to this lead."""
    _item, card, _created = state.ledger.log_dm(handle, message, actor=actor or None, force=force)
    state.request_sync()
    who = f" from {_item.actor}" if _item.actor else ""
    return flash_redirect(
        safe_next(next, _check_url(card.handle)),
        "ok",
        f"DM to {card.handle}{who} recorded — status {card.status}.",
    )


@router.post("/lead/{handle}/status")
def set_status(
    request: Request,
    handle: str,
    state: State,
    status: Annotated[str, Form(max_length=50)],
    next: Next = "",
) -> Response:
    """Set the lead's status (also used by the inline status menus, which ask for JSON)."""
    updated = state.ledger.update_prospect(handle, status=status)
    state.request_sync()
    if wants_json(request):
        return JSONResponse({"handle": updated.handle, "status": updated.status})
    text = f"{updated.handle} is now {updated.status}."
    if updated.status == "excluded":
        text = f"{updated.handle} is marked excluded: do not contact."
    return flash_redirect(safe_next(next, _check_url(updated.handle)), "ok", text)


@router.post("/lead/{handle}/note")
def add_note(
    request: Request,
    handle: str,
    state: State,
    note: Annotated[str, Form(max_length=20_000)],
    next: Next = "",
) -> Response:
    """Add a dated line to the lead's notes."""
    updated = state.ledger.update_prospect(handle, append_note=note)
    state.request_sync()
    return flash_redirect(safe_next(next, _check_url(updated.handle)), "ok", "Note added.")


@router.post("/lead/{handle}/notes")
def replace_notes(
    request: Request,
    handle: str,
    state: State,
    notes: Annotated[str, Form(max_length=20_000)] = "",
    next: Next = "",
) -> Response:
    """Replace the lead's notes (the lead page's editor)."""
    updated = state.ledger.update_prospect(handle, notes=notes)
    state.request_sync()
    return flash_redirect(safe_next(next, f"/lead/{updated.handle}"), "ok", "Notes saved.")


@router.post("/lead/{handle}/add")
def add_lead(
    request: Request,
    handle: str,
    state: State,
    status: Annotated[str, Form(max_length=50)] = "",
    notes: Annotated[str, Form(max_length=20_000)] = "",
    next: Next = "",
) -> Response:
    """Add a lead that nobody has recorded yet."""
    added = state.ledger.add_prospect(handle, status=status or None, notes=notes or None)
    state.request_sync()
    return flash_redirect(
        safe_next(next, _check_url(added.handle)), "ok", f"{added.handle} added ({added.status})."
    )


@router.post("/lead/{handle}/delete")
def delete_lead(
    request: Request,
    handle: str,
    state: State,
    confirm: Annotated[bool, Form()] = False,
) -> Response:
    """Delete a lead with its notes and DMs, for the whole team at the next sync."""
    if not confirm:
        raise InvalidInput("tick the box to confirm: deleting a lead cannot be undone")
    stored = normalize_handle(handle)
    state.ledger.delete_prospect(stored)
    state.request_sync()
    return flash_redirect("/leads", "ok", f"{stored} deleted; the team's copies follow at sync.")


@router.post("/sync")
def sync_now(
    request: Request, state: State, background: BackgroundTasks, next: Next = ""
) -> Response:
    """The indicator's "Sync now" button."""
    if state.loop is not None:
        state.loop.request()
    else:
        background.add_task(state.sync_now_quietly)
    if wants_json(request):
        return JSONResponse({"requested": True}, status_code=202)
    return flash_redirect(safe_next(next), "ok", "Sync requested.")


@router.get("/ui/sync")
def sync_indicator(state: State) -> JSONResponse:
    """The indicator's facts, polled by app.js (no secrets, no network)."""
    return JSONResponse(indicator(state).to_dict(), headers={"Cache-Control": "no-store"})
