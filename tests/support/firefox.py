"""Debian's Firefox ESR with the real extension and the real native host, driven over
WebDriver BiDi (Firefox's own remote agent: no geckodriver, no downloaded browser).

``start`` installs the host for a home with ``dmledger browser install --browser
firefox`` into a folder that Firefox takes as its ``HOME`` (Firefox reads native hosts
from ``~/.mozilla/native-messaging-hosts`` only), starts ``firefox-esr --headless`` on
a fresh profile with ``--remote-debugging-port``, installs the extension folder as a
temporary add-on (BiDi ``webExtension.install``), and answers every request to
www.instagram.com with our stand-in (support/instagram.py) through BiDi's network
interception, so nothing reaches the network.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import re
import shutil
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dmledger.native.install import extension_dir

from .instagram import FakeInstagram

FIREFOX = shutil.which("firefox-esr") or "/usr/bin/firefox-esr"
START_TIMEOUT_S = 60.0
CALL_TIMEOUT_S = 60.0


class BiDiError(RuntimeError):
    """A command that Firefox answered with an error."""


class BiDi:
    """One WebDriver BiDi session: commands answered by id, events to handlers. A
    thread reads the socket, so a handler (the interception) answers while the test
    waits for a command."""

    def __init__(self, url: str) -> None:
        from websockets.sync.client import connect

        self._open = contextlib.ExitStack()
        self._socket = self._open.enter_context(
            connect(url, max_size=None, open_timeout=START_TIMEOUT_S)
        )
        self._next = 0
        self._lock = threading.Lock()
        self._waiting: dict[int, queue.Queue[dict[str, Any]]] = {}
        self._handlers: dict[str, Callable[[dict[str, Any]], None]] = {}
        self.failures: list[str] = []  # what a handler could not do
        self._reader = threading.Thread(target=self._read, name="bidi", daemon=True)
        self._reader.start()

    def on(self, event: str, handler: Callable[[dict[str, Any]], None]) -> None:
        self._handlers[event] = handler

    def send(self, method: str, params: dict[str, Any]) -> queue.Queue[dict[str, Any]]:
        with self._lock:
            self._next += 1
            ident = self._next
            answer: queue.Queue[dict[str, Any]] = queue.Queue(maxsize=1)
            self._waiting[ident] = answer
            self._socket.send(json.dumps({"id": ident, "method": method, "params": params}))
        return answer

    def call(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        reply = self.send(method, params).get(timeout=CALL_TIMEOUT_S)
        if reply.get("type") == "error":
            raise BiDiError(f"{method}: {reply.get('error')}: {reply.get('message')}")
        result: dict[str, Any] = reply.get("result", {})
        return result

    def _read(self) -> None:
        from websockets.exceptions import ConnectionClosed

        try:
            for raw in self._socket:
                message = json.loads(raw)
                if "id" in message and message["id"] in self._waiting:
                    self._waiting.pop(message["id"]).put(message)
                elif message.get("type") == "event" and message["method"] in self._handlers:
                    try:
                        self._handlers[message["method"]](message["params"])
                    except Exception as error:  # the test reads it from failures
                        self.failures.append(f"{message['method']}: {error!r}")
        except ConnectionClosed:
            return

    def close(self) -> None:
        self._open.close()


@dataclass
class Firefox:
    """A Firefox with the extension, the stand-in site and the home behind the host."""

    process: subprocess.Popen[str]
    bidi: BiDi
    context: str
    site: FakeInstagram
    home: Path
    user_home: Path
    addon_id: str
    log: list[str] = field(default_factory=list)
    stderr_reader: threading.Thread | None = None

    def open(self, path: str) -> None:
        self.bidi.call(
            "browsingContext.navigate",
            {
                "context": self.context,
                "url": "https://www.instagram.com" + path,
                "wait": "complete",
            },
        )

    def evaluate(self, expression: str) -> Any:
        """A page-side expression's value (JSON-serialisable results only)."""
        result = self.bidi.call(
            "script.evaluate",
            {
                "expression": f"JSON.stringify({expression})",
                "target": {"context": self.context},
                "awaitPromise": True,
            },
        )
        if result.get("type") == "exception":
            raise BiDiError(str(result.get("exceptionDetails")))
        value = result["result"].get("value")
        return None if value is None else json.loads(value)

    def wait_for(self, expression: str, timeout: float = 30.0) -> Any:
        """Poll ``expression`` in the page until it is truthy; its value."""
        deadline = time.monotonic() + timeout
        while True:
            value = self.evaluate(expression)
            if value:
                return value
            if time.monotonic() > deadline:
                raise AssertionError(f"not true within {timeout} s: {expression}")
            time.sleep(0.1)

    def close(self) -> None:
        try:
            self.bidi.send("browser.close", {})
            self.process.wait(timeout=30)
        except (subprocess.TimeoutExpired, OSError, RuntimeError):
            self.process.kill()
            self.process.wait(timeout=30)
        finally:
            self.bidi.close()
            if self.stderr_reader is not None:
                self.stderr_reader.join(timeout=30)


def _listen(process: subprocess.Popen[str], log: list[str]) -> tuple[str, threading.Thread]:
    """The BiDi address Firefox prints on stderr once its remote agent listens, and the
    thread that keeps reading stderr into ``log`` until Firefox ends (then closes it)."""
    assert process.stderr is not None
    found: queue.Queue[str] = queue.Queue()

    def read() -> None:
        assert process.stderr is not None
        with process.stderr:
            for line in process.stderr:
                log.append(line.rstrip())
                match = re.search(r"WebDriver BiDi listening on (ws://\S+)", line)
                if match:
                    found.put(match.group(1))

    reader = threading.Thread(target=read, name="firefox-stderr", daemon=True)
    reader.start()
    try:
        return found.get(timeout=START_TIMEOUT_S), reader
    except queue.Empty:
        process.kill()
        process.wait(timeout=30)
        reader.join(timeout=30)
        raise AssertionError("Firefox's remote agent did not start:\n" + "\n".join(log)) from None


def _serve(bidi: BiDi, site: FakeInstagram) -> None:
    """Answer every www.instagram.com request from the stand-in; nothing else is let
    through (a request that is not the site's page is refused as a network error)."""

    def answer(params: dict[str, Any]) -> None:
        if not params.get("isBlocked"):
            return
        request = params["request"]["request"]
        url = params["request"]["url"]
        site.requests.append(url)
        if params["request"].get("destination", "document") != "document":
            bidi.send(
                "network.provideResponse",
                {"request": request, "statusCode": 204, "reasonPhrase": "No Content"},
            )
            return
        site.documents += 1
        body = site.page()
        bidi.send(
            "network.provideResponse",
            {
                "request": request,
                "statusCode": 200,
                "reasonPhrase": "OK",
                "headers": [
                    {
                        "name": "content-type",
                        "value": {"type": "string", "value": "text/html; charset=utf-8"},
                    }
                ],
                "body": {"type": "string", "value": body},
            },
        )

    bidi.on("network.beforeRequestSent", answer)
    bidi.call("session.subscribe", {"events": ["network.beforeRequestSent"]})
    bidi.call(
        "network.addIntercept",
        {
            "phases": ["beforeRequestSent"],
            "urlPatterns": [
                {"type": "pattern", "protocol": "https", "hostname": "www.instagram.com"}
            ],
        },
    )


def install_host(home: Path, user_home: Path) -> subprocess.CompletedProcess[str]:
    """``dmledger browser install --browser firefox`` for ``home``, as the user whose
    home folder is ``user_home``."""
    import sys

    return subprocess.run(
        [sys.executable, "-m", "dmledger", "--home", str(home), "--json", "browser", "install",
         "--browser", "firefox"],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
        env={**os.environ, "HOME": str(user_home)},
    )  # fmt: skip


def start(
    folder: Path,
    home: Path,
    threads: dict[str, dict[str, Any]],
    *,
    install: bool = True,
    extension: Path | None = None,
) -> Firefox:
    """Install the host for ``home`` (unless not ``install``), start Firefox with the
    extension (the unpacked folder, or ``extension``) and the stand-in site."""
    user_home = folder / "user"
    user_home.mkdir(exist_ok=True)
    if install:
        install_host(home, user_home)
    profile = folder / "firefox-profile"
    profile.mkdir(exist_ok=True)
    log: list[str] = []
    process = subprocess.Popen(
        [FIREFOX, "--headless", "--no-remote", "--profile", str(profile),
         "--remote-debugging-port=0"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "HOME": str(user_home), "MOZ_CRASHREPORTER_DISABLE": "1"},
    )  # fmt: skip
    url, reader = _listen(process, log)
    try:
        bidi = BiDi(url + "/session")
        bidi.call("session.new", {"capabilities": {}})
        site = FakeInstagram(threads=dict(threads))
        _serve(bidi, site)
        added = bidi.call(
            "webExtension.install",
            {"extensionData": {"type": "path", "path": str(extension or extension_dir())}},
        )
        tree = bidi.call("browsingContext.getTree", {})
        context = tree["contexts"][0]["context"]
    except BaseException:
        process.kill()
        process.wait(timeout=30)
        reader.join(timeout=30)
        raise
    return Firefox(process, bidi, context, site, home, user_home, added["extension"], log, reader)
