"""The optional page login: ``/login`` asks for the home's page secret and, when it
matches, sets the login cookie that ``security.PageLogin`` checks; ``/logout`` clears it.

The secret is in ``HOME/page_secret`` (0600, readable only by the home's owner;
``dmledger page-secret`` prints it), so on a machine shared by several OS users only the
home's owner can open the pages. Login forms carry the CSRF token like every form.
"""

from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from .security import (
    CSRF_FIELD,
    LOGIN_COOKIE,
    LOGIN_PATH,
    csrf_protect,
    csrf_token,
    login_cookie_value,
    safe_next,
    session_of,
)
from .state import WebState, web_state

router = APIRouter(include_in_schema=False, dependencies=[Depends(csrf_protect)])
State = Annotated[WebState, Depends(web_state)]


def _form(request: Request, state: WebState, next_path: str, error: str, status: int) -> Response:
    text = state.templates.get_template("login.html").render(
        csrf_field=CSRF_FIELD,
        csrf_token=csrf_token(state.csrf_key, session_of(request)),
        next_path=next_path,
        error=error,
        asset_version=state.asset_version,
    )
    return HTMLResponse(text, status_code=status, headers={"Cache-Control": "no-store"})


@router.get(LOGIN_PATH, response_class=HTMLResponse)
def login_form(
    request: Request, state: State, next: Annotated[str, Query(max_length=2000)] = "/"
) -> Response:
    if state.login_key is None:
        return RedirectResponse(safe_next(next), status_code=303)
    return _form(request, state, safe_next(next), "", 200)


@router.post(LOGIN_PATH)
def login(
    request: Request,
    state: State,
    secret: Annotated[str, Form(max_length=200)] = "",
    next: Annotated[str, Form(max_length=2000)] = "/",
) -> Response:
    """The page secret opens the pages for this browser session."""
    target = safe_next(next)
    if state.login_key is None or state.page_secret is None:
        return RedirectResponse(target, status_code=303)
    if not secrets.compare_digest(secret.strip().encode(), state.page_secret.encode()):
        message = "that is not this home's page secret: `dmledger page-secret` prints it"
        return _form(request, state, target, message, 401)
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(
        LOGIN_COOKIE,
        login_cookie_value(state.login_key, session_of(request)),
        httponly=True,
        samesite="strict",
        path="/",
    )
    return response


@router.post("/logout")
def logout() -> Response:
    response = RedirectResponse(LOGIN_PATH, status_code=303)
    response.delete_cookie(LOGIN_COOKIE, path="/", httponly=True, samesite="strict")
    return response
