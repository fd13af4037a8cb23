"""The Admin page: operators, actors and their status, the cloud check, the sync queue
with rows set aside (retry or drop), and the factory reset behind a typed confirmation.

Operators and actors live in the cloud; when it cannot be reached the page shows this
machine's copy and says so.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, Response

from dmledger.errors import InvalidInput

from .render import flash_redirect, page
from .security import csrf_protect
from .state import WebState, web_state

router = APIRouter(include_in_schema=False, dependencies=[Depends(csrf_protect)])
State = Annotated[WebState, Depends(web_state)]

RESET_WORD = "RESET"


@router.get("/admin", response_class=HTMLResponse)
def admin(request: Request, state: State, check: bool = False) -> HTMLResponse:
    """Everything a team lead administers, on one page."""
    people = state.ledger.people.team() if not state.cloud_known_down else None
    if people is None:
        people = state.ledger.people.local()
        people.cloud_error = "the cloud is unreachable right now"
    people.cloud_error = state.redact(people.cloud_error)
    cloud = state.ledger.cloud_check() if check else None
    if cloud is not None:
        cloud.message = state.redact(cloud.message) or ""
    status = state.sync_status()
    set_aside = [
        {"ref": f"{item.kind}:{item.id}", "item": item, "error": state.redact(item.error)}
        for item in status.set_aside
    ]
    return page(
        request,
        "admin.html",
        {
            "people": people,
            "cloud": cloud,
            "status": status,
            "last_error": state.redact(status.last_error),
            "set_aside": set_aside,
            "reset_word": RESET_WORD,
        },
        section="admin",
    )


@router.post("/admin/operators")
def add_operator(
    request: Request, state: State, name: Annotated[str, Form(max_length=200)]
) -> Response:
    created = state.ledger.add_operator(name)
    text = f"Operator {name.strip()} added." if created else f"{name.strip()} is already there."
    return flash_redirect("/admin#people", "ok", text)


@router.post("/admin/actors")
def add_actor(
    request: Request,
    state: State,
    username: Annotated[str, Form(max_length=200)],
    operator: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    created = state.ledger.add_actor(username, operator or None)
    text = f"Actor {username.strip()} added." if created else f"{username.strip()} is known."
    return flash_redirect("/admin#people", "ok", text)


@router.post("/admin/actors/{username}/status")
def actor_status(
    request: Request, username: str, state: State, status: Annotated[str, Form(max_length=50)]
) -> Response:
    state.ledger.set_actor_status(username, status)
    return flash_redirect("/admin#people", "ok", f"{username} is now {status.strip().lower()}.")


@router.post("/admin/sync/retry")
def retry(request: Request, state: State) -> Response:
    count = state.ledger.retry_set_aside()
    state.request_sync()
    return flash_redirect("/admin#queue", "ok", f"{count} set-aside rows queued again.")


@router.post("/admin/sync/drop")
def drop(request: Request, state: State, ref: Annotated[str, Form(max_length=40)]) -> Response:
    text = state.ledger.drop_set_aside(ref)
    return flash_redirect("/admin#queue", "ok", text[:1].upper() + text[1:] + ".")


@router.post("/admin/reset")
def reset(
    request: Request, state: State, confirm: Annotated[str, Form(max_length=100)] = ""
) -> Response:
    """Factory reset of the cloud: only when the word RESET was typed exactly."""
    if confirm.strip() != RESET_WORD:
        raise InvalidInput(
            f"type {RESET_WORD} (capitals) to confirm the factory reset; "
            f"{confirm[:40]!r} does not match"
        )
    state.ledger.cloud_reset()
    return flash_redirect(
        "/admin", "ok", "Factory reset done: the cloud is empty and this machine's cache too."
    )
