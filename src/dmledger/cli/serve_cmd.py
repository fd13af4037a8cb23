"""``serve``: the local web app and JSON API, with the background sync inside it."""

from __future__ import annotations

import errno
import ipaddress
import socket
import threading
import time
import webbrowser
from typing import Annotated

import typer

from dmledger import settings as config
from dmledger.cli.state import err, out, state
from dmledger.errors import InvalidInput, Refused

LOOPBACK_NAMES = ("127.0.0.1", "localhost", "::1")
SHUTDOWN_GRACE = 1  # seconds


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def allowed_hosts_for(host: str) -> list[str]:
    """The Host header values the app answers to when bound to ``host``."""
    allowed = ["127.0.0.1", "localhost", "[::1]"]
    if is_loopback(host):
        return allowed
    if host in ("0.0.0.0", "::"):
        return [*allowed, socket.gethostname(), socket.getfqdn()]
    return [*allowed, host]


def check_port_free(host: str, port: int) -> None:
    """Refuse early, with the fix, when the port is taken (uvicorn would only log it)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as error:
            if error.errno == errno.EADDRINUSE:
                raise Refused(
                    f"port {port} on {host} is already in use (another `dmledger serve`?): "
                    "pass --port N"
                ) from None
            raise InvalidInput(f"cannot listen on {host}:{port}: {error.strerror}") from None


def register(root: typer.Typer) -> None:
    @root.command("serve")
    def serve(
        ctx: typer.Context,
        host: Annotated[
            str, typer.Option(help="Address to listen on. Anything but 127.0.0.1 is exposed.")
        ] = "127.0.0.1",
        port: Annotated[int, typer.Option(min=1, max=65535, help="Port to listen on.")] = 8765,
        no_browser: Annotated[
            bool, typer.Option("--no-browser", help="Do not open a browser window.")
        ] = False,
    ) -> None:
        """Run the local web app and JSON API; the background sync runs inside it."""
        import uvicorn

        from dmledger.web.app import create_app

        st = state(ctx)
        ledger = st.ledger()
        token = config.api_token(st.home)
        if not is_loopback(host):
            err.print(
                f"[bold yellow]warning:[/] listening on {host}: other machines on the network "
                "can reach this app. Pages have no login; only the API needs the token."
            )
        check_port_free(host, port)
        app = create_app(ledger, token=token, allowed_hosts=allowed_hosts_for(host))
        shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host
        url = f"http://{'[' + shown + ']' if ':' in shown else shown}:{port}/"
        server = uvicorn.Server(
            uvicorn.Config(
                app,
                host=host,
                port=port,
                log_level="warning",
                ws="none",
                # On SIGTERM or Ctrl-C, requests still running get this long; then the
                # lifespan stops the sync loop (SyncLoop.stop bounds its own wait).
                timeout_graceful_shutdown=SHUTDOWN_GRACE,
            )
        )
        out.print(f"DM Ledger is running at {url}  (Ctrl-C to stop)")
        if not no_browser:
            threading.Thread(
                target=_open_when_started, args=(server, url), daemon=True, name="browser"
            ).start()
        server.run()


def _open_when_started(server: object, url: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if getattr(server, "started", False):
            webbrowser.open(url)
            return
        time.sleep(0.1)
