"""The one place errors become HTTP statuses, for the API and the pages alike.

API requests (``/api/…``) and page requests that ask for JSON get
``{"error": {"type": …, "message": …}}``. A page form that fails goes back to where it
came from with the message shown at the top; a page that cannot be shown renders an
error page. Never a stack trace in an answer: unexpected errors are logged with their
traceback (redacted) and answered with a generic message.
"""

from __future__ import annotations

import logging
import traceback
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from dmledger.errors import (
    CloudError,
    CloudPermissionDenied,
    CloudSchemaError,
    CloudUnavailable,
    ConfigError,
    DiskFull,
    DmLedgerError,
    InvalidInput,
    NotFound,
    PackError,
    Refused,
    StoreDamaged,
    SyncBusy,
)

from .security import AuthRequired, CsrfRefused, safe_next

log = logging.getLogger(__name__)

# Most specific first: the first matching class decides.
STATUS_BY_ERROR: tuple[tuple[type[Exception], int], ...] = (
    (AuthRequired, 401),
    (CsrfRefused, 403),
    (InvalidInput, 422),
    (PackError, 400),
    (NotFound, 404),
    (Refused, 409),  # ExcludedProspect included
    (SyncBusy, 409),
    (StoreDamaged, 503),  # this machine's store needs `dmledger repair` first
    (DiskFull, 507),
    (CloudUnavailable, 503),
    (CloudSchemaError, 503),
    (CloudPermissionDenied, 403),
    (CloudError, 502),
    (ConfigError, 500),
    (DmLedgerError, 400),
)

_HTTP_TITLES = {
    400: "Bad request",
    401: "Not signed in",
    403: "Refused",
    404: "Not found",
    405: "Method not allowed",
    409: "Not possible right now",
    413: "Too large",
    422: "Check the input",
    500: "Something is misconfigured",
    502: "The cloud refused",
    503: "The cloud is unreachable",
    507: "The disk is full",
}
# Where a status's usual title would mislead (503 is mostly the cloud).
_TITLE_BY_ERROR: tuple[tuple[type[Exception], str], ...] = (
    (StoreDamaged, "The local store is damaged"),
)


def status_for(error: Exception) -> int:
    """The HTTP status for an error DM Ledger raises on purpose (500 for anything else)."""
    for kind, status in STATUS_BY_ERROR:
        if isinstance(error, kind):
            return status
    return 500


def title_for(status: int) -> str:
    return _HTTP_TITLES.get(status, "Error")


def wants_json(request: Request) -> bool:
    if request.url.path.startswith("/api/"):
        return True
    accept = request.headers.get("accept", "")
    return "application/json" in accept and "text/html" not in accept


def error_json(status: int, kind: str, message: str, **headers: str) -> JSONResponse:
    return JSONResponse(
        {"error": {"type": kind, "message": message}}, status_code=status, headers=headers or None
    )


def _message(request: Request, error: Exception) -> str:
    redact = request.app.state.dmledger.redact
    return str(redact(str(error)) or type(error).__name__)


async def _respond(
    request: Request, status: int, kind: str, message: str, title: str | None = None
) -> Response:
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else {}
    if wants_json(request):
        return error_json(status, kind, message, **headers)
    from .render import flash_redirect, render_error

    if request.method == "POST" and status != 403:
        back = await _back_path(request)
        if back is not None:
            return flash_redirect(back, "error", message)
    return render_error(request, status, title or title_for(status), message)


async def _back_path(request: Request) -> str | None:
    """Where the failed form came from: its ``next`` field, else a same-origin Referer."""
    try:
        form = await request.form()
        candidate: Any = form.get("next")
    except Exception:  # the body is gone or is not a form: fall back to the Referer
        candidate = None
    if isinstance(candidate, str) and safe_next(candidate, "") == candidate:
        return candidate
    referer = request.headers.get("referer", "")
    origin = f"{request.url.scheme}://{request.headers.get('host', '')}"
    if referer.startswith(origin + "/"):
        return safe_next(referer[len(origin) :], "/")
    return None


async def _domain_error(request: Request, error: Exception) -> Response:
    status = status_for(error)
    if status >= 500:
        log.warning("%s %s: %s", request.method, request.url.path, _message(request, error))
    title = next((t for kind, t in _TITLE_BY_ERROR if isinstance(error, kind)), None)
    return await _respond(request, status, type(error).__name__, _message(request, error), title)


async def _validation_error(request: Request, error: Exception) -> Response:
    assert isinstance(error, RequestValidationError)
    parts = []
    for item in error.errors()[:5]:
        where = ".".join(str(p) for p in item.get("loc", ()) if p not in ("body", "query", "path"))
        parts.append(f"{where or 'request'}: {item.get('msg', 'is not valid')}")
    message = "; ".join(parts) or "the request is not valid"
    return await _respond(request, 422, "InvalidInput", message)


async def _http_error(request: Request, error: Exception) -> Response:
    assert isinstance(error, StarletteHTTPException)
    message = str(error.detail) if error.detail else title_for(error.status_code)
    if error.status_code == 404:
        message = f"there is nothing at {request.url.path[:200]}"
    return await _respond(request, error.status_code, "HTTPError", message)


async def _unexpected(request: Request, error: Exception) -> Response:
    # The traceback goes to the log, through the same redaction as every message (a
    # driver's text may hold a password); the answer only points at the log.
    redact = request.app.state.dmledger.redact
    trace = "".join(traceback.format_exception(error)).rstrip()
    log.error(
        "unexpected error in %s %s: %s\n%s",
        request.method,
        request.url.path,
        _message(request, error),
        redact(trace),
    )
    return await _respond(
        request,
        500,
        "InternalError",
        "something went wrong inside DM Ledger; the details are in the server's log",
    )


def install(app: FastAPI) -> None:
    """Register the handlers on the app."""
    for kind in (DmLedgerError, AuthRequired, CsrfRefused):
        app.add_exception_handler(kind, _domain_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)
