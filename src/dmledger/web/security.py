"""What keeps the local web app local and its forms unforgeable.

- ``HostAllowList``: every request must name an allowed host in its ``Host`` header,
  which defeats DNS rebinding (a page on evil.example whose name now points at
  127.0.0.1 still sends ``Host: evil.example``).
- ``SecurityHeaders``: a strict Content-Security-Policy (no inline script, no other
  origin, no framing) and the usual hardening headers on every response.
- ``SessionCookie``: gives each browser a random session id (HttpOnly, SameSite=Strict).
  The CSRF token of a page is an HMAC of that id, so no server-side session store is
  needed and tokens stay valid across restarts of ``serve``.
- ``csrf_protect``: unsafe requests to pages need the token (hidden form field or
  ``X-CSRF-Token``) and must not come from another site (Origin, Sec-Fetch-Site).
- ``PageLogin``: when the page login is on (``serve --login``, the default off
  loopback), every page needs a login cookie: an HMAC of the session id under a key
  derived from the home's page secret, set by ``/login`` once the secret is given.
- ``require_token``: the JSON API's bearer token, compared in constant time.
- ``Redactor``: removes known secrets from any text before it is shown or logged.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
from collections.abc import Iterable, Sequence
from typing import Annotated
from urllib.parse import urlencode

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .asgi import HttpMiddleware

SESSION_COOKIE = "dml_session"
LOGIN_COOKIE = "dml_login"
LOGIN_PATH = "/login"
# Reachable without the page login: the API (its own token), static files (no data)
# and the login form itself.
_PUBLIC_PREFIXES = ("/api/", "/static/")
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
_SESSION_SHAPE = re.compile(r"[A-Za-z0-9_-]{32,64}")
_UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})

CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        # The Team charts are pygal SVG with their own <style> element inside; styles
        # cannot run code, scripts stay 'self' only.
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)
SECURITY_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"x-frame-options", b"DENY"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"cross-origin-resource-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
)


class AuthRequired(Exception):
    """The API was called without the right bearer token (HTTP 401)."""


class CsrfRefused(Exception):
    """An unsafe page request without a valid CSRF token, or from another site (403)."""


# -- Host allow-list -------------------------------------------------------------------


_HOST_HEADER = re.compile(
    r"(?:\[(?P<ipv6>[0-9a-f:.]+)\]|(?P<name>[a-z0-9_](?:[a-z0-9_.-]*[a-z0-9_])?))(?::(?P<port>[0-9]{1,5}))?"
)


def host_name(header: str) -> str | None:
    """The host of a Host header, lower-case, without port or IPv6 brackets; None unless
    the header is exactly a host name, an IPv4 address or a bracketed IPv6 address,
    optionally followed by ``:`` and a port number (``localhost:evil`` and
    ``127.0.0.1:8765@evil.com`` are not Host headers)."""
    found = _HOST_HEADER.fullmatch(header.strip().lower())
    if found is None:
        return None
    port = found.group("port")
    if port is not None and not 0 < int(port) <= 65535:
        return None
    return found.group("ipv6") or found.group("name")


class HostAllowList:
    """ASGI middleware: refuse (HTTP 400) a request whose Host is not allowed."""

    def __init__(self, app: ASGIApp, allowed: Sequence[str]) -> None:
        self.app = app
        self.allowed = frozenset(name for h in allowed if (name := host_name(h)) is not None)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        raw = dict(scope["headers"]).get(b"host", b"").decode("latin-1")
        name = host_name(raw)
        if name is not None and name in self.allowed:
            await self.app(scope, receive, send)
            return
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008})
            return
        shown = raw[:100] or "(none)"
        body = json.dumps(
            {
                "error": {
                    "type": "HostRefused",
                    "message": f"Host header {shown!r} is not allowed: this app answers only "
                    f"to {', '.join(sorted(self.allowed))}",
                }
            }
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 400,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    *SECURITY_HEADERS,
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


# -- headers and the session cookie ------------------------------------------------------


class SecurityHeaders(HttpMiddleware):
    """ASGI middleware: add the hardening headers to every HTTP response."""

    async def http(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {name for name, _ in message.get("headers", [])}
                extra = [(n, v) for n, v in SECURITY_HEADERS if n not in present]
                message["headers"] = [*message.get("headers", []), *extra]
            await send(message)

        await self.app(scope, receive, with_headers)


def _cookie_value(scope: Scope, name: str) -> str | None:
    headers: list[tuple[bytes, bytes]] = scope["headers"]
    for key, value in headers:
        if key == b"cookie":
            for part in value.decode("latin-1").split(";"):
                found, _, text = part.strip().partition("=")
                if found == name:
                    return text
    return None


class SessionCookie(HttpMiddleware):
    """ASGI middleware: make sure every page visitor has a session id.

    The id is put in ``scope["state"]["session"]`` for this request; a new one is also
    sent back as a cookie. API calls (under ``/api/``) get none: they use the token.
    """

    def applies(self, scope: Scope) -> bool:
        path: str = scope["path"]
        return not path.startswith(_PUBLIC_PREFIXES)

    async def http(self, scope: Scope, receive: Receive, send: Send) -> None:
        current = _cookie_value(scope, SESSION_COOKIE)
        fresh = current is None or not _SESSION_SHAPE.fullmatch(current)
        session = secrets.token_urlsafe(32) if fresh else current
        scope.setdefault("state", {})["session"] = session

        async def with_cookie(message: Message) -> None:
            if fresh and message["type"] == "http.response.start":
                cookie = f"{SESSION_COOKIE}={session}; Path=/; HttpOnly; SameSite=Strict"
                message["headers"] = [
                    *message.get("headers", []),
                    (b"set-cookie", cookie.encode("latin-1")),
                ]
            await send(message)

        await self.app(scope, receive, with_cookie)


# -- the page login --------------------------------------------------------------------------


def login_key_from(page_secret: str) -> bytes:
    """A key for login cookies, derived one-way from the page secret: a new secret
    signs everyone out."""
    return hmac.new(page_secret.encode(), b"dmledger web login v1", hashlib.sha256).digest()


def login_cookie_value(key: bytes, session: str) -> str:
    return hmac.new(key, b"login:" + session.encode(), hashlib.sha256).hexdigest()


def logged_in(scope: Scope, key: bytes) -> bool:
    """True when this request's login cookie belongs to its session."""
    session = scope.get("state", {}).get("session")
    given = _cookie_value(scope, LOGIN_COOKIE)
    if not isinstance(session, str) or not given:
        return False
    return hmac.compare_digest(given.encode(), login_cookie_value(key, session).encode())


class PageLogin:
    """ASGI middleware: with a login key, pages need the login cookie.

    Runs inside ``SessionCookie`` (it needs the session id). A page request without a
    valid login goes to ``/login`` (GET: a redirect there; other methods: 401). The
    API keeps its bearer token; static files hold no data.
    """

    def __init__(self, app: ASGIApp, key: bytes | None) -> None:
        self.app = app
        self.key = key

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            self.key is None
            or scope["type"] != "http"
            or scope["path"].startswith(_PUBLIC_PREFIXES)
            or scope["path"] == LOGIN_PATH
            or logged_in(scope, self.key)
        ):
            await self.app(scope, receive, send)
            return
        query = scope.get("query_string", b"").decode("latin-1")
        target = scope["path"] + (f"?{query}" if query else "")
        location = f"{LOGIN_PATH}?{urlencode({'next': safe_next(target)})}"
        status = 303 if scope["method"] in ("GET", "HEAD") else 401
        body = b"Log in first: " + location.encode("latin-1")
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"location", location.encode("latin-1")),
                    (b"content-type", b"text/plain; charset=utf-8"),
                    (b"content-length", str(len(body)).encode()),
                    (b"cache-control", b"no-store"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


# -- CSRF ------------------------------------------------------------------------------------


def csrf_key_from(api_token: str) -> bytes:
    """A key for CSRF tokens, derived one-way from the API token (which never leaves)."""
    return hmac.new(api_token.encode(), b"dmledger web csrf v1", hashlib.sha256).digest()


def csrf_token(key: bytes, session: str) -> str:
    return hmac.new(key, session.encode(), hashlib.sha256).hexdigest()


def session_of(request: Request) -> str:
    """This request's session id (set by SessionCookie)."""
    value = getattr(request.state, "session", None)
    return value if isinstance(value, str) else ""


def check_same_site(request: Request) -> None:
    """Refuse a request that the browser says comes from another site: by its
    ``Sec-Fetch-Site``, its ``Origin`` or, when it sends neither, its ``Referer``."""
    fetch_site = request.headers.get("sec-fetch-site")
    if fetch_site is not None and fetch_site not in ("same-origin", "none"):
        raise CsrfRefused(f"a {fetch_site} request cannot change data here")
    expected = f"{request.url.scheme}://{request.headers.get('host', '')}".lower()
    origin = request.headers.get("origin")
    if origin is not None:
        if origin.lower() != expected:
            raise CsrfRefused(f"a request from origin {origin[:100]!r} cannot change data here")
        return
    referer = request.headers.get("referer")
    same_page = (
        referer is None or referer.lower() == expected or referer.lower().startswith(expected + "/")
    )
    if fetch_site is None and not same_page:
        raise CsrfRefused(
            f"a request from page {str(referer)[:100]!r} (another site) cannot change data here"
        )


async def csrf_protect(request: Request) -> None:
    """Dependency of every page route: unsafe methods need a same-site, tokened request."""
    if request.method not in _UNSAFE_METHODS:
        return
    check_same_site(request)
    supplied = request.headers.get(CSRF_HEADER)
    if supplied is None:
        content_type = request.headers.get("content-type", "")
        if content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
            form = await request.form()
            value = form.get(CSRF_FIELD)
            supplied = value if isinstance(value, str) else None
    cookie = request.cookies.get(SESSION_COOKIE)
    if not supplied or not cookie or cookie != session_of(request):
        raise CsrfRefused(
            "this form has expired or did not come from this app: reload the page and try again"
        )
    key: bytes = request.app.state.dmledger.csrf_key
    if not hmac.compare_digest(supplied.encode(), csrf_token(key, cookie).encode()):
        raise CsrfRefused(
            "this form has expired or did not come from this app: reload the page and try again"
        )


def safe_next(value: object, fallback: str = "/") -> str:
    """A local path to go back to after a form; anything else (other sites) is ignored."""
    if not isinstance(value, str) or not value.startswith("/") or value.startswith("//"):
        return fallback
    if "\\" in value or any(ord(c) < 32 for c in value):
        return fallback
    return value


# -- the API token ---------------------------------------------------------------------------

bearer_scheme = HTTPBearer(
    auto_error=False,
    scheme_name="apiToken",
    description="The local API token: `dmledger api-token` prints it.",
)


async def require_token(  # async: no thread-pool hop per API call (no I/O in it)
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)],
) -> None:
    """Dependency of every API route: the bearer token must match (constant-time)."""
    expected: str = request.app.state.dmledger.token
    given = credentials.credentials if credentials is not None else ""
    if not given or not secrets.compare_digest(given.encode(), expected.encode()):
        raise AuthRequired(
            "a valid API token is required: send 'Authorization: Bearer TOKEN' "
            "(`dmledger api-token` prints it)"
        )


# -- redaction ---------------------------------------------------------------------------------


class Redactor:
    """Replaces known secret values with ``***`` in text meant for people or logs."""

    def __init__(self, values: Iterable[str | None]) -> None:
        self._values = sorted({v for v in values if v and len(v) >= 4}, key=len, reverse=True)

    def __call__(self, text: str | None) -> str | None:
        if text is None:
            return None
        for value in self._values:
            text = text.replace(value, "***")
        return text
