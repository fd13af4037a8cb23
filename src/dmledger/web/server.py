"""Serving the app from a background thread: for browser tests and screenshots.

``dmledger serve`` runs uvicorn in the foreground instead; this is for callers that
need the server and their own code (a browser driver) in one process.
"""

from __future__ import annotations

import socket
import threading
import time
from types import TracebackType

import uvicorn
from fastapi import FastAPI


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that was free a moment ago on ``host``."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


class BackgroundServer:
    """uvicorn serving ``app`` on 127.0.0.1 in a thread; a context manager.

    ``url`` is the base URL (``http://127.0.0.1:PORT``). Leaving the block stops the
    server and waits for its thread (and the app's lifespan) to finish.
    """

    def __init__(self, app: FastAPI, *, host: str = "127.0.0.1", port: int = 0) -> None:
        self.host = host
        self.port = port or free_port(host)
        self.url = f"http://{host}:{self.port}"
        # Named protocols and loop, not "auto": no optional imports in the server thread.
        config = uvicorn.Config(
            app,
            host=host,
            port=self.port,
            log_level="warning",
            http="h11",
            loop="asyncio",
            ws="none",
            lifespan="on",
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, name="dmledger-web", daemon=True)

    def __enter__(self) -> BackgroundServer:
        self._thread.start()
        deadline = time.monotonic() + 30
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"the web server did not start on {self.url}")
            time.sleep(0.02)
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=30)
