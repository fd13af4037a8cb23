"""How much the local web app reads from one request: the one place these limits live.

Set far above anything the app's own pages and a well-behaved tool send, so nobody
meets them by accident, and low enough that a hostile or broken client cannot make the
agent read hundreds of megabytes before it answers. ``BodyLimit`` enforces them while
the body streams in; a ``Content-Length`` over the limit is refused before a byte of
the body is read. The answer is HTTP 413 naming the limit, shaped like every other
error (``errors.py``: JSON for the API, the page's message for a form).
"""

from __future__ import annotations

from typing import Any

from starlette.exceptions import HTTPException
from starlette.types import Message, Receive, Scope, Send

from .asgi import HttpMiddleware

MIB = 1 << 20

# The largest valid API body (a 20,000-character DM in 4-byte characters) is about 80 KB.
API_BODY_MAX = 1 * MIB
# Page forms (a note is at most 20,000 characters; a bulk status change sends 200
# handles at most): the whole urlencoded body.
FORM_BODY_MAX = 1 * MIB
# Multipart forms (the CSV upload): how many text fields and files, and the size of
# one text field (FastAPI's form parser enforces these).
FORM_LIMITS: Any = {"max_fields": 100, "max_files": 1, "max_part_size": 256 * 1024}
# One CSV upload on the Leads page, streamed to a temporary file as it arrives.
# Bigger files: `dmledger import FILE.csv`, which reads from disk with no such limit.
UPLOAD_MAX = 50 * MIB
UPLOAD_PATH = "/leads/import"


def body_limit_for(path: str) -> int:
    """The most bytes of body a request to ``path`` may send."""
    if path.startswith("/api/"):
        return API_BODY_MAX
    if path == UPLOAD_PATH:
        return UPLOAD_MAX
    return FORM_BODY_MAX


def too_large(limit: int, path: str) -> HTTPException:
    """The 413 for a body over ``limit`` bytes at ``path``, naming the limit."""
    size = f"{limit / MIB:g} MiB" if limit >= MIB else f"{limit:,} bytes"
    text = f"the request body is larger than the {size} this app accepts at {path[:100]}"
    if path == UPLOAD_PATH:
        text += "; import a bigger CSV file with `dmledger import FILE.csv`"
    return HTTPException(413, text)


class BodyLimit(HttpMiddleware):
    """ASGI middleware: stop reading a request body past its limit (HTTP 413).

    The limit is checked against ``Content-Length`` at the first read and against the
    bytes actually received on every read after it (a chunked or lying client). The
    413 is raised from the read, so the app's one error handler answers it.
    """

    async def http(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope["path"]
        limit = body_limit_for(path)
        declared = _content_length(scope)
        received = 0

        async def limited() -> Message:
            nonlocal received
            if declared is not None and declared > limit:
                raise too_large(limit, path)
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise too_large(limit, path)
            return message

        await self.app(scope, limited, send)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None
