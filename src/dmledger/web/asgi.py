"""What the app's own ASGI middleware shares: HTTP requests are theirs to look at,
anything else (the lifespan protocol) passes straight through."""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send


class HttpMiddleware:
    """Calls :meth:`http` for each HTTP request :meth:`applies` to; passes the rest on."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self.applies(scope):
            await self.app(scope, receive, send)
            return
        await self.http(scope, receive, send)

    def applies(self, scope: Scope) -> bool:
        """Whether this HTTP request is one the middleware acts on (default: all)."""
        return True

    async def http(self, scope: Scope, receive: Receive, send: Send) -> None:
        raise NotImplementedError
