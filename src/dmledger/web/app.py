"""``create_app``: the local web app and JSON API around one Ledger.

    app = create_app(ledger, token=settings.api_token(home))
    uvicorn.run(app, host="127.0.0.1", port=8765)

Pages are server-rendered (Jinja2) with a little JavaScript from ``static/``; the API
lives under ``/api/v1`` with its OpenAPI document at ``/api/v1/openapi.json``. The
background sync loop runs inside the app (started and stopped by its lifespan).
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import RedirectResponse
from fastapi.staticfiles import StaticFiles

from dmledger import __version__
from dmledger import settings as config
from dmledger.app.ledger import Ledger
from dmledger.errors import DmLedgerError
from dmledger.sync.loop import SyncLoop

from . import admin, api, errors, leads, login, pages, team_page, today
from .limits import FORM_LIMITS, BodyLimit
from .render import make_templates
from .security import (
    HostAllowList,
    PageLogin,
    Redactor,
    SecurityHeaders,
    SessionCookie,
    csrf_key_from,
    login_key_from,
)
from .state import WebState

log = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).parent / "static"
DEFAULT_ALLOWED_HOSTS = ("127.0.0.1", "localhost")


def create_app(
    ledger: Ledger,
    *,
    token: str,
    allowed_hosts: Sequence[str] = DEFAULT_ALLOWED_HOSTS,
    run_sync_loop: bool = True,
    page_secret: str | None = None,
) -> FastAPI:
    """The web app for one Ledger.

    ``token`` is the API's bearer token (``settings.api_token(home)``). Requests whose
    Host header is not in ``allowed_hosts`` are refused. With ``run_sync_loop`` the
    background sync loop runs while the app does (it needs the app's lifespan, which
    uvicorn and ``with TestClient(app)`` run). With ``page_secret``
    (``settings.page_secret(home)``) the page login is on: pages need a login with
    that secret (the API keeps its token). The caller keeps ownership of the Ledger
    and closes it.
    """
    if not token:
        raise ValueError("create_app needs the API token")
    state = WebState(
        ledger=ledger,
        token=token,
        csrf_key=csrf_key_from(token),
        login_key=login_key_from(page_secret) if page_secret else None,
        page_secret=page_secret or None,
        redact=Redactor(
            [
                token,
                page_secret,
                config.cloud_password(ledger.settings, ledger.home),
                config.wallet_password(ledger.settings, ledger.home),
            ]
        ),
        templates=make_templates(),
        asset_version=_asset_version(),
    )

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        # Open the cloud store once, before requests race to open it from two threads
        # (it does not connect yet). A broken cloud setting shows up on the pages.
        with contextlib.suppress(DmLedgerError):
            ledger.prepare_cloud()
        if run_sync_loop:
            state.loop = SyncLoop(ledger.sync, interval=ledger.settings.sync_interval)
            state.loop.start()
            log.info("background sync every %gs", ledger.settings.sync_interval)
        try:
            yield
        finally:
            if state.loop is not None:
                state.loop.stop()
                state.loop = None

    app = FastAPI(
        title="DM Ledger local API",
        version=__version__,
        description="The local agent's JSON API. Every call needs the bearer token that "
        "`dmledger api-token` prints. Times are UTC, ISO 8601.",
        openapi_url="/api/v1/openapi.json",
        docs_url=None,
        redoc_url=None,
        lifespan=lifespan,
        form_limits=FORM_LIMITS,
    )
    app.state.dmledger = state
    errors.install(app)
    app.include_router(api.router)
    for module in (login, today, pages, leads, team_page, admin):
        app.include_router(module.router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")

    @app.get("/favicon.ico", include_in_schema=False)
    def favicon() -> RedirectResponse:
        return RedirectResponse("/static/favicon.svg", status_code=301)

    # Starlette wraps the last-added middleware outermost: the Host check runs first.
    app.add_middleware(BodyLimit)
    app.add_middleware(PageLogin, key=state.login_key)
    app.add_middleware(SessionCookie)
    app.add_middleware(SecurityHeaders)
    app.add_middleware(HostAllowList, allowed=list(allowed_hosts))
    return app


def _asset_version() -> str:
    """A short hash of the static files, so browsers never use a stale stylesheet."""
    digest = hashlib.sha256()
    for path in sorted(STATIC_DIR.glob("*")):
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:10]
