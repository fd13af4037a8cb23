"""Rendering pages: the Jinja2 environment, the context every page shares (the sync
indicator, the CSRF token, the flash message), and redirects that carry a message.

Autoescaping is on for every template and ``StrictUndefined`` turns a typo into an
error. Nothing here marks user data as safe; only chart SVG made by ``charts.py`` is.
"""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from dmledger.domain.statuses import ACTOR_STATUSES, STATUSES
from dmledger.errors import StoreDamaged

from .security import CSRF_FIELD, csrf_token, safe_next, session_of
from .state import WebState

FLASH_COOKIE = "dml_flash"
FlashKind = Literal["ok", "error"]

NAV = (
    ("today", "/today", "Today", "y"),
    ("check", "/", "Check", "c"),
    ("leads", "/leads", "Leads", "l"),
    ("team", "/team", "Team", "t"),
    ("admin", "/admin", "Admin", "a"),
)


def make_templates() -> Environment:
    env = Environment(
        loader=PackageLoader("dmledger.web", "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals.update(
        STATUSES=STATUSES,
        ACTOR_STATUSES=ACTOR_STATUSES,
        CSRF_FIELD=CSRF_FIELD,
        NAV=NAV,
        new_id=lambda: str(uuid.uuid4()),  # a form's own id (a reply sent twice is one)
    )
    env.filters["utc"] = utc_text
    env.filters["ago"] = ago_text
    return env


def utc_text(value: str | None) -> str:
    """``2026-11-25T14:03:00.000000Z`` as ``2026-11-25 14:03 UTC`` (JS shows local time)."""
    if not value:
        return ""
    moment = _parse(value)
    return value if moment is None else moment.strftime("%Y-%m-%d %H:%M UTC")


def ago_text(value: str | None, now: datetime | None = None) -> str:
    """``5 min ago``-style text for an ISO UTC time; empty for none."""
    moment = _parse(value) if value else None
    if moment is None:
        return ""
    seconds = ((now or datetime.now(UTC).replace(tzinfo=None)) - moment).total_seconds()
    if seconds < 0:
        return "just now" if seconds > -120 else "in the future"
    for limit, size, unit in (
        (60, 1, None),
        (3600, 60, "min"),
        (86400, 3600, "h"),
        (86400 * 60, 86400, "d"),
    ):
        if seconds < limit:
            return "just now" if unit is None else f"{int(seconds // size)} {unit} ago"
    return moment.strftime("%Y-%m-%d")


def _parse(value: str) -> datetime | None:
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment


# -- the sync indicator ------------------------------------------------------------------------


@dataclass(frozen=True)
class Indicator:
    """What the header shows about sync; ``state`` is ok, pending, error or never."""

    state: str
    label: str
    pending_logs: int
    pending_changes: int
    set_aside: int
    last_sync_at: str | None
    last_sync_ago: str
    last_error: str | None
    loop_running: bool

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def indicator(state: WebState) -> Indicator:
    """The sync indicator from the local store and the loop's memory; no network."""
    try:
        status = state.sync_status(check=False)
    except StoreDamaged as damage:  # the page around the message must still render
        return Indicator(
            state="error",
            label="Local store damaged",
            pending_logs=0,
            pending_changes=0,
            set_aside=0,
            last_sync_at=None,
            last_sync_ago="",
            last_error=state.redact(str(damage)),
            loop_running=state.loop is not None and state.loop.state.running,
        )
    pending = status.pending_logs + status.pending_changes
    error = state.redact(status.last_error)
    if state.loop is not None and state.loop.state.last_error and state.loop.state.failures:
        error = state.redact(state.loop.state.last_error)
    ago = ago_text(status.last_sync_at)
    if error:
        kind, label = "error", "Offline" if "unreachable" in error else "Sync failed"
    elif status.last_sync_at is None:
        kind, label = "never", "Never synced"
    elif pending:
        kind, label = "pending", f"{pending} waiting to sync"
    else:
        kind, label = "ok", f"Synced {ago}"
    if status.set_aside:
        label += f" · {len(status.set_aside)} set aside"
    return Indicator(
        state=kind,
        label=label,
        pending_logs=status.pending_logs,
        pending_changes=status.pending_changes,
        set_aside=len(status.set_aside),
        last_sync_at=status.last_sync_at,
        last_sync_ago=ago,
        last_error=error,
        loop_running=state.loop is not None and state.loop.state.running,
    )


# -- flash messages ------------------------------------------------------------------------------


def _encode_flash(kind: FlashKind, text: str) -> str:
    raw = json.dumps({"k": kind, "t": text[:1500]}).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def read_flash(request: Request) -> dict[str, str] | None:
    value = request.cookies.get(FLASH_COOKIE)
    if not value:
        return None
    try:
        data = json.loads(base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)))
    except (binascii.Error, ValueError):
        return None
    if not isinstance(data, dict) or data.get("k") not in ("ok", "error"):
        return None
    return {"kind": str(data["k"]), "text": str(data.get("t", ""))}


def flash_redirect(to: str, kind: FlashKind, text: str) -> RedirectResponse:
    """303 to a local path, with a one-time message for the page it lands on."""
    response = RedirectResponse(safe_next(to), status_code=303)
    response.set_cookie(
        FLASH_COOKIE, _encode_flash(kind, text), max_age=60, httponly=True, samesite="strict"
    )
    return response


# -- pages -------------------------------------------------------------------------------------


def page(
    request: Request,
    template: str,
    context: dict[str, Any],
    *,
    status_code: int = 200,
    section: str = "",
) -> HTMLResponse:
    """Render a full page with the shared context (sync indicator, CSRF, flash)."""
    state: WebState = request.app.state.dmledger
    flash = read_flash(request)
    settings = state.ledger.settings
    html = state.templates.get_template(template).render(
        request_path=request.url.path,
        request_target=_target(request),
        section=section,
        csrf_token=csrf_token(state.csrf_key, session_of(request)),
        sync=indicator(state),
        flash=flash,
        operator=settings.operator,
        default_actor=settings.actor or "",
        cloud_label=state.ledger.cloud_label,
        asset_version=state.asset_version,
        **context,
    )
    response = HTMLResponse(html, status_code=status_code, headers={"Cache-Control": "no-store"})
    if flash is not None:
        response.delete_cookie(FLASH_COOKIE, httponly=True, samesite="strict")
    return response


def fragment(request: Request, template: str, context: dict[str, Any]) -> HTMLResponse:
    """Render a piece of a page (loaded later by app.js), without the page around it."""
    state: WebState = request.app.state.dmledger
    html = state.templates.get_template(template).render(
        csrf_token=csrf_token(state.csrf_key, session_of(request)), **context
    )
    return HTMLResponse(html, headers={"Cache-Control": "no-store"})


def render_error(request: Request, status: int, title: str, message: str) -> HTMLResponse:
    return page(
        request,
        "error.html",
        {"status": status, "title": title, "message": message},
        status_code=status,
    )


def _target(request: Request) -> str:
    """This page's path and query: where a form on it comes back to."""
    query = request.url.query
    return safe_next(request.url.path + (f"?{query}" if query else ""))
