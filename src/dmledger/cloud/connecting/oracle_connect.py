"""Connecting to Oracle in thin mode: the engine's creator, its deadline, the session.

Facts about python-oracledb 2.x/3.x thin mode this module relies on, verified
against a local ``openssl s_server`` (see ``tests/cloud/test_oracle_mtls.py``):

- An unresolvable host name raises a bare ``socket.gaierror``, not an oracledb error.
- ``tcp_connect_timeout`` bounds only the TCP connect: a peer that accepts the
  connection and then says nothing blocks ``oracledb.connect`` indefinitely, so
  callers that must not hang (the sync loop) need their own deadline.
- ``retry_count``/``retry_delay`` written in ``tnsnames.ora`` win over the keyword
  arguments of ``connect()``. Console wallets say ``(retry_count=20)(retry_delay=3)``,
  so a stopped or unreachable database takes about a minute to fail. Values set on a
  ``ConnectParams`` *after* it parsed the alias do win, which :class:`ThinConnector`
  uses.
- A socket timeout that fires after the TLS handshake, while the driver waits for
  the listener's answer, crashes the process (segmentation fault in thin mode,
  python-oracledb 26.1). So :class:`ThinConnector` never sets one: its deadline
  shuts the socket down instead, which the driver reports as a closed connection.

The wallet is read and checked in ``oracle_wallet.py``; a failed connect is explained
by ``oracle_failures.py``.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import ssl
import threading
from dataclasses import dataclass
from typing import Any

import oracledb
import sqlalchemy

from dmledger.cloud.connecting.oracle_failures import explain_oracle_error
from dmledger.cloud.connecting.oracle_wallet import STOPPED_ADVICE, OracleWallet
from dmledger.errors import CloudUnavailable, ConfigError

logger = logging.getLogger(__name__)

SESSION_TIME_ZONE = "ALTER SESSION SET TIME_ZONE = 'UTC'"


def session_statements(current_schema: str | None) -> list[str]:
    """The statements every new Oracle connection runs before anything else.

    The session time zone is UTC, so ``CURRENT_TIMESTAMP`` and time-zone conversions
    mean the same on every machine. With ``current_schema`` (the tables' owner, for a
    user made by ``team pack``) unqualified table names resolve in that schema. Raises
    ConfigError when ``current_schema`` is not a plain identifier: it is written into
    SQL, so nothing else is accepted.
    """
    from dmledger.cloud.connecting.identifiers import check_identifier
    from dmledger.errors import InvalidInput

    statements = [SESSION_TIME_ZONE]
    if current_schema:
        try:
            schema = check_identifier(current_schema, "cloud_schema").upper()
        except InvalidInput as error:
            raise ConfigError(f"{error} (the cloud_schema setting in config.toml)") from None
        statements.append(f"ALTER SESSION SET CURRENT_SCHEMA = {schema}")
    return statements


@dataclass(frozen=True)
class ConnectLimits:
    """How long one connection attempt may take, whatever the wallet says.

    ``deadline`` (seconds) bounds a whole ``connect``: every retry, the TLS handshake,
    the login and :func:`session_statements`; when it passes, the sockets are shut down
    and CloudUnavailable is raised. ``tcp_connect_timeout`` bounds each TCP connect
    (the deadline cannot interrupt one). ``retry_count``/``retry_delay`` replace the
    wallet's (20 × 3 s on console wallets): the sync loop has its own backoff, so one
    quick retry is enough. ``expire_time`` (minutes) turns on TCP keepalive, so a
    pooled connection whose peer vanished (laptop asleep, network changed) fails in
    about two minutes instead of hanging until the operating system gives up.
    """

    deadline: float = 30.0
    tcp_connect_timeout: float = 10.0
    retry_count: int = 1
    retry_delay: int = 1
    expire_time: int = 1


class ThinConnector:
    """The engine's ``creator``: one thin-mode connection per call, with a deadline.

    Each call reads the alias from ``tnsnames.ora``, overrides the wallet's retry and
    timeout settings with ``limits`` (values set after parsing win over the file),
    connects through an SSL context whose sockets are shut down when the deadline
    passes, and runs :func:`session_statements`. With ``explain_errors`` a failure is
    raised as :func:`explain_oracle_error` makes it (DM Ledger errors); without, the
    driver's own error is raised. A passed deadline always raises CloudUnavailable.
    """

    def __init__(
        self,
        wallet: OracleWallet,
        *,
        current_schema: str | None = None,
        limits: ConnectLimits | None = None,
        explain_errors: bool = False,
    ) -> None:
        self.wallet = wallet
        self.limits = limits or ConnectLimits()
        self.session_statements = session_statements(current_schema)
        self.explain_errors = explain_errors

    def __repr__(self) -> str:
        return f"ThinConnector({self.wallet!r}, limits={self.limits!r})"

    def connect_params(self, ssl_context: ssl.SSLContext | None = None) -> Any:
        """The driver's ``oracledb.ConnectParams`` for one attempt. Holds passwords:
        never log it.

        Raises the driver's error when the alias is not in ``tnsnames.ora``.
        """
        w = self.wallet
        params = oracledb.ConnectParams(
            user=w.user,
            password=w.password,
            wallet_password=w.wallet_password,
            config_dir=str(w.wallet_dir),
            wallet_location=str(w.wallet_dir),
        )
        params.parse_connect_string(w.alias)
        params.set(
            retry_count=self.limits.retry_count,
            retry_delay=self.limits.retry_delay,
            tcp_connect_timeout=self.limits.tcp_connect_timeout,
            expire_time=self.limits.expire_time,
            ssl_context=ssl_context,
        )
        return params

    def __call__(self) -> Any:
        deadline = _Deadline(self.limits.deadline)
        try:
            with deadline:
                connection = oracledb.connect(params=self.connect_params(deadline.ssl_context()))
                try:
                    with connection.cursor() as cursor:
                        for statement in self.session_statements:
                            cursor.execute(statement)
                except BaseException:
                    with contextlib.suppress(oracledb.Error, OSError):
                        connection.close()
                    raise
        except (oracledb.Error, OSError) as error:
            if deadline.expired:
                raise CloudUnavailable(
                    f"The Oracle database (alias {self.wallet.alias!r}) did not answer within "
                    f"{self.limits.deadline:g} seconds. {STOPPED_ADVICE}"
                ) from error
            if self.explain_errors:
                raise explain_oracle_error(error, self.wallet) from error
            raise
        return connection


class _Deadline:
    """Shuts down the TLS sockets of one connect call when ``seconds`` have passed.

    A watchdog rather than socket timeouts: see the module notes (a read timeout while
    the driver connects crashes it). Shutting a socket down wakes the driver's blocked
    read with end-of-file, which it reports as a closed connection; a retry after that
    is refused at once (:meth:`watch`).
    """

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.expired = False
        self._finished = False
        self._lock = threading.Lock()
        self._sockets: list[ssl.SSLSocket] = []
        self._timer: threading.Timer | None = None

    def ssl_context(self) -> ssl.SSLContext:
        """A fresh context like ``ssl.create_default_context()`` whose sockets we watch.

        Fresh per call because the driver loads the wallet into the context it is given.
        """
        context = _WatchedSSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.load_default_certs()
        context.verify_flags = _default_verify_flags()
        context.deadline = self
        return context

    def watch(self, tls: ssl.SSLSocket) -> None:
        with self._lock:
            if not self.expired:
                self._sockets.append(tls)
                return
        tls.close()
        raise TimeoutError(f"the {self.seconds:g} s connect deadline has passed")

    def _expire(self) -> None:
        with self._lock:
            if self._finished:
                return
            self.expired = True
            for tls in self._sockets:
                # socket.socket.shutdown, not SSLSocket.shutdown: the latter also drops
                # the SSL object the driver's thread is using at this very moment.
                with contextlib.suppress(OSError):
                    socket.socket.shutdown(tls, socket.SHUT_RDWR)
        logger.info("Oracle connect deadline of %g s passed; sockets shut down", self.seconds)

    def __enter__(self) -> _Deadline:
        self._timer = threading.Timer(self.seconds, self._expire)
        self._timer.daemon = True
        self._timer.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        with self._lock:
            self._finished = True
        if self._timer is not None:
            self._timer.cancel()


class _WatchedSSLContext(ssl.SSLContext):
    """An SSL context that hands each socket to a :class:`_Deadline` before the handshake."""

    deadline: _Deadline

    def wrap_socket(
        self,
        sock: socket.socket,
        server_side: bool = False,
        do_handshake_on_connect: bool = True,
        suppress_ragged_eofs: bool = True,
        server_hostname: str | bytes | None = None,
        session: ssl.SSLSession | None = None,
    ) -> ssl.SSLSocket:
        tls = super().wrap_socket(
            sock,
            server_side=server_side,
            do_handshake_on_connect=False,
            suppress_ragged_eofs=suppress_ragged_eofs,
            server_hostname=server_hostname,
            session=session,
        )
        self.deadline.watch(tls)
        if do_handshake_on_connect:
            tls.do_handshake()
        return tls


_VERIFY_FLAGS: list[ssl.VerifyFlags] = []


def _default_verify_flags() -> ssl.VerifyFlags:
    """The verification flags of Python's default client context (stricter from 3.13)."""
    if not _VERIFY_FLAGS:
        _VERIFY_FLAGS.append(ssl.create_default_context().verify_flags)
    return _VERIFY_FLAGS[0]


def create_oracle_engine(
    w: OracleWallet,
    *,
    current_schema: str | None = None,
    limits: ConnectLimits | None = None,
    explain_errors: bool = False,
    **engine_kwargs: Any,
) -> sqlalchemy.Engine:
    """A SQLAlchemy Engine (dialect ``oracle+oracledb``) whose connections use ``w``.

    Connections come from a :class:`ThinConnector` (the engine's ``creator``), so the
    driver stays in thin mode (this never calls ``init_oracle_client``), each connect
    has a deadline (``limits``), and each session runs in UTC with ``current_schema``
    set when given. ``explain_errors`` makes connect failures DM Ledger errors (what the
    agent wants); without it the driver's errors come out wrapped by SQLAlchemy.
    Nothing connects until the engine is first used. ``engine_kwargs`` go to
    ``create_engine``; ``pool_pre_ping`` defaults to True because the cloud drops idle
    sessions and a local agent keeps its pool for hours. Passing ``creator`` or
    ``thick_mode`` is a programming error (ValueError); so is an invalid
    ``current_schema`` (ConfigError).
    """
    for forbidden in ("creator", "thick_mode"):
        if forbidden in engine_kwargs:
            raise ValueError(f"create_oracle_engine() does not accept {forbidden!r}")
    connector = ThinConnector(
        w, current_schema=current_schema, limits=limits, explain_errors=explain_errors
    )
    engine_kwargs.setdefault("pool_pre_ping", True)
    # The URL carries no host or credentials: the creator supplies everything, and an
    # empty URL keeps the password out of the Engine's repr and of SQLAlchemy's logs.
    return sqlalchemy.create_engine("oracle+oracledb://", creator=connector, **engine_kwargs)
