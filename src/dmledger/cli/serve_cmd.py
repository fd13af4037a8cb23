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

from dmledger.cli.state import emit_json, err, out, state
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
        login: Annotated[
            bool | None,
            typer.Option(
                "--login/--no-login",
                help="Pages need this home's page secret (`dmledger page-secret`). "
                "Default: on unless --host is a loopback address.",
            ),
        ] = None,
    ) -> None:
        """Run the local web app and JSON API; the background sync runs inside it."""
        import uvicorn

        from dmledger.web.app import create_app

        st = state(ctx)
        ledger = st.ledger()
        from dmledger import settings as config

        token = config.api_token(st.home)
        page_login = not is_loopback(host) if login is None else login
        if not is_loopback(host):
            guard = (
                "pages need the page secret (`dmledger page-secret`), the API its token"
                if page_login
                else "[bold]pages have no login (--no-login)[/]; only the API needs the token"
            )
            err.print(
                f"[bold yellow]warning:[/] listening on {host}: other machines on the network "
                f"can reach this app; {guard}. Traffic is not encrypted (no HTTPS)."
            )
        check_port_free(host, port)
        app = create_app(
            ledger,
            token=token,
            allowed_hosts=allowed_hosts_for(host),
            page_secret=config.page_secret(st.home, create=True) if page_login else None,
        )
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
                # The day starts on Today: the follow-ups due.
                target=_open_when_started,
                args=(server, url + "today"),
                daemon=True,
                name="browser",
            ).start()
        if page_login:
            out.print("Pages need a login: `dmledger page-secret` prints the secret.")
        server.run()

    @root.command("page-secret")
    def page_secret_cmd(ctx: typer.Context) -> None:
        """Print the secret that opens the web pages when their login is on
        (`serve --login`, or --host other than loopback). Keep it like a password."""
        st = state(ctx)
        st.ledger()  # an initialised home, made private
        from dmledger import settings as config

        secret = config.page_secret(st.home, create=True)
        if st.json:
            emit_json({"page_secret": secret})
        else:
            typer.echo(secret)


def _open_when_started(server: object, url: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if getattr(server, "started", False):
            webbrowser.open(url)
            return
        time.sleep(0.1)
