"""Oracle Autonomous Database (ATP) over an mTLS wallet, with python-oracledb in thin mode.

The Oracle console hands out a *wallet*: a zip with ``tnsnames.ora`` (connection
aliases such as ``mydb_high``), ``ewallet.pem`` (the client certificate, its private
key and the CA certificates, as PEM), plus files that only thick mode reads
(``cwallet.sso``, ``ewallet.p12``, ``sqlnet.ora``, ...). Thin mode needs just the
first two, so those are what :func:`load_wallet` checks.

Facts about python-oracledb 2.x/3.x thin mode this module relies on, verified
against a local ``openssl s_server`` (see ``tests/cloud/test_oracle_mtls.py``):

- A wrong wallet password does **not** raise at load time: the driver swallows the
  ``ssl.SSLError`` from ``load_cert_chain`` and connects *without* a client
  certificate. The server then aborts the handshake, and the caller sees
  ``DPY-6005`` caused by ``TLSV13_ALERT_CERTIFICATE_REQUIRED`` (TLS 1.3) or
  ``SSLV3_ALERT_HANDSHAKE_FAILURE`` (TLS 1.2). Nothing in the error says "password",
  so :func:`explain_oracle_error` re-opens the key itself to tell.
- With an encrypted key and *no* wallet password, OpenSSL prompts
  ``Enter PEM pass phrase:`` on the terminal, which would stall an interactive
  command; :func:`load_wallet` refuses that combination up front.
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
"""

from __future__ import annotations

import contextlib
import enum
import errno
import logging
import re
import socket
import ssl
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import oracledb
import sqlalchemy
from sqlalchemy.engine import make_url

from dmledger.errors import (
    CloudError,
    CloudPermissionDenied,
    CloudUnavailable,
    ConfigError,
)

__all__ = [
    "EWALLET_PEM",
    "TNSNAMES_ORA",
    "ConnectLimits",
    "OracleWallet",
    "ThinConnector",
    "connect_params",
    "create_oracle_engine",
    "explain_oracle_error",
    "load_wallet",
    "oracle_target",
    "session_statements",
    "tns_aliases",
]

logger = logging.getLogger(__name__)

TNSNAMES_ORA = "tnsnames.ora"
EWALLET_PEM = "ewallet.pem"

_DOWNLOAD_ADVICE = (
    "Download the wallet again from the Oracle Cloud console (your Autonomous Database → "
    "Database connection → Download wallet) and unzip all of its files into that folder."
)
_STOPPED_ADVICE = (
    "If the database is stopped, start it in the Oracle Cloud console (your Autonomous "
    "Database → Start); Always Free databases stop by themselves after 7 days without use. "
    "Otherwise check this machine's internet connection and that outgoing port 1522 is "
    "not blocked. Your local data keeps working and will sync when the cloud is back."
)
# Nested IFILE includes deeper than this are a configuration mistake, not a use case.
_MAX_IFILE_DEPTH = 8


@dataclass(frozen=True)
class OracleWallet:
    """Everything needed to open a thin-mode mTLS connection to one Autonomous Database.

    Build it with :func:`load_wallet`, which checks the folder. ``password`` is the
    database user's password; ``wallet_password`` is the one chosen when the wallet
    was downloaded (needed when ``ewallet.pem`` holds an encrypted key). Neither
    appears in ``repr()``.
    """

    wallet_dir: Path
    alias: str
    user: str
    password: str | None
    wallet_password: str | None

    def __repr__(self) -> str:
        return (
            f"OracleWallet(wallet_dir={str(self.wallet_dir)!r}, alias={self.alias!r}, "
            f"user={self.user!r}, password={_mask(self.password)}, "
            f"wallet_password={_mask(self.wallet_password)})"
        )


def _mask(secret: str | None) -> str:
    return "None" if secret is None else "'***'"


# --------------------------------------------------------------------------- wallet


def tns_aliases(tnsnames: Path) -> list[str]:
    """The connection aliases defined in a ``tnsnames.ora`` file, in file order.

    Understands the forms the Oracle console and DBAs write: ``alias = (description=...)``
    over one or many lines, several names for one entry (``a, b = (...)``), ``#``
    comments and ``IFILE = other.ora`` includes (relative to the including file).
    Names keep the case they have in the file; Oracle compares them case-insensitively.

    Raises ConfigError when the file (or an included one) cannot be read.
    """
    return _tns_aliases(tnsnames, depth=0, seen=frozenset())


def _tns_aliases(path: Path, depth: int, seen: frozenset[Path]) -> list[str]:
    if depth > _MAX_IFILE_DEPTH or path.resolve() in seen:
        raise ConfigError(f"{path}: IFILE includes are nested too deeply or form a cycle.")
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise ConfigError(f"Cannot read {path}: {exc.strerror or exc}.") from exc
    text = "\n".join(line.split("#", 1)[0] for line in text.splitlines())

    aliases: list[str] = []
    names: list[str] = []  # characters seen at parenthesis depth 0 since the last "="
    level = 0
    i = 0
    while i < len(text):
        char = text[i]
        if char == "(":
            level += 1
        elif char == ")":
            level = max(0, level - 1)
        elif level == 0 and char == "=":
            declared = "".join(names)
            names.clear()
            j = i + 1
            while j < len(text) and text[j] in " \t\r":
                j += 1
            if j < len(text) and text[j] != "(":
                # A bare value (IFILE = path, or an Easy Connect string) runs to the end
                # of the line; its text must not be read as the next alias's name.
                end = text.find("\n", j)
                end = len(text) if end < 0 else end
                value = text[j:end].strip().strip("\"'")
                if declared.strip().lower() == "ifile":
                    included = Path(value).expanduser()
                    if not included.is_absolute():
                        included = path.parent / included
                    aliases += _tns_aliases(included, depth + 1, seen | {path.resolve()})
                    i = end
                    continue
                i = end - 1
            aliases += [name.strip() for name in declared.split(",") if name.strip()]
        elif level == 0:
            names.append(char)
        i += 1
    return aliases


class _KeyState(enum.Enum):
    """What OpenSSL makes of the client key in ``ewallet.pem`` with a given password."""

    USABLE = "usable"
    NO_KEY = "no key"  # one-way TLS wallet: CA certificates only
    NEEDS_PASSWORD = "needs password"
    WRONG_PASSWORD = "wrong password"
    UNUSABLE = "unusable"


class _PasswordAsked(Exception):
    """Raised from the OpenSSL password callback when there is no password to give."""


def _client_key_state(pem: Path, wallet_password: str | None) -> tuple[_KeyState, str]:
    """Load ``pem`` exactly as the thin driver does (``SSLContext.load_cert_chain``).

    Going through :mod:`ssl` rather than parsing the key ourselves means "usable" here
    means usable to the driver, including key/certificate mismatches. The password is
    given through a callback so we learn whether OpenSSL asked for one at all (an
    unencrypted key never triggers it) and so OpenSSL never prompts on a terminal.
    """
    try:
        pem_text = pem.read_text(encoding="ascii", errors="replace")
    except OSError as exc:
        return _KeyState.UNUSABLE, exc.strerror or str(exc)
    if "PRIVATE KEY-----" not in pem_text:
        return _KeyState.NO_KEY, "no private key in the file"

    asked = False

    def give_password() -> str:
        nonlocal asked
        asked = True
        if wallet_password is None:
            raise _PasswordAsked
        return wallet_password

    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    try:
        context.load_cert_chain(str(pem), password=give_password)
    except _PasswordAsked:
        return _KeyState.NEEDS_PASSWORD, "the key is encrypted"
    except ssl.SSLError as exc:
        # After a successful decrypt the only failure left is a key that does not
        # match the certificate; "PEM lib" after the callback ran is a failed decrypt.
        if asked and exc.reason != "KEY_VALUES_MISMATCH":
            return _KeyState.WRONG_PASSWORD, "the key cannot be decrypted"
        return _KeyState.UNUSABLE, exc.reason or str(exc)
    except OSError as exc:
        return _KeyState.UNUSABLE, exc.strerror or str(exc)
    return _KeyState.USABLE, "ok"


def _wallet_password_problem(pem: Path, state: _KeyState) -> str | None:
    """The person-facing sentence for a key state that will stop mTLS, else None."""
    if state is _KeyState.NEEDS_PASSWORD:
        return (
            f"The client key in {pem} is encrypted, and no wallet password was given. "
            "Set DMLEDGER_WALLET_PASSWORD to the password chosen when the wallet was "
            "downloaded from the Oracle console (it is not the database user's password)."
        )
    if state is _KeyState.WRONG_PASSWORD:
        return (
            f"Wrong wallet password: it does not open the client key in {pem}. The wallet "
            "password is the one chosen when the wallet was downloaded from the Oracle "
            "console (not the database user's password); fix DMLEDGER_WALLET_PASSWORD, or "
            "download the wallet again with a new password."
        )
    return None


def load_wallet(
    wallet_dir: Path,
    alias: str,
    user: str,
    password: str | None,
    wallet_password: str | None,
) -> OracleWallet:
    """Check an unzipped Oracle wallet folder and return the settings to connect with.

    Checks, in order: the folder exists (and is not the zip itself); it holds
    ``tnsnames.ora`` and ``ewallet.pem`` (thin mode reads nothing else); ``alias`` is
    defined in ``tnsnames.ora`` (case-insensitive); and, when ``ewallet.pem`` holds
    an encrypted client key, that ``wallet_password`` opens it. Does not touch the
    network. The returned ``wallet_dir`` is absolute.

    Raises ConfigError naming the path or alias at fault and what to do about it.
    """
    folder = Path(wallet_dir).expanduser()
    if not alias.strip():
        raise ConfigError("No Oracle connection alias given (for example 'mydb_high').")
    if not user.strip():
        raise ConfigError("No Oracle database user given.")
    if not folder.exists():
        raise ConfigError(
            f"Oracle wallet folder {folder} does not exist. {_DOWNLOAD_ADVICE} Then point "
            "DMLEDGER_WALLET_DIR at it."
        )
    if not folder.is_dir():
        hint = " It looks like the zip itself: unzip it first." if folder.suffix == ".zip" else ""
        raise ConfigError(f"Oracle wallet path {folder} is a file, not a folder.{hint}")
    folder = folder.resolve()

    tnsnames = folder / TNSNAMES_ORA
    if not tnsnames.is_file():
        raise ConfigError(
            f"Oracle wallet folder {folder} has no {TNSNAMES_ORA}, which lists the "
            f"database's connection aliases. {_DOWNLOAD_ADVICE}"
        )
    pem = folder / EWALLET_PEM
    if not pem.is_file():
        raise ConfigError(
            f"Oracle wallet folder {folder} has no {EWALLET_PEM}; python-oracledb thin mode "
            f"needs it for mTLS (cwallet.sso alone is for thick mode). {_DOWNLOAD_ADVICE}"
        )

    aliases = tns_aliases(tnsnames)
    if not aliases:
        raise ConfigError(f"{tnsnames} defines no connection aliases. {_DOWNLOAD_ADVICE}")
    if alias.strip().lower() not in {name.lower() for name in aliases}:
        raise ConfigError(
            f"Connection alias {alias!r} is not defined in {tnsnames}. Aliases defined "
            f"there: {', '.join(aliases)}. Use one of them (for DM Ledger on ATP, the one "
            "ending in _tp)."
        )

    state, _ = _client_key_state(pem, wallet_password)
    problem = _wallet_password_problem(pem, state)
    if problem is not None:
        raise ConfigError(problem)
    if state is _KeyState.UNUSABLE:
        raise ConfigError(
            f"The client certificate and key in {pem} cannot be used together, so the "
            f"database would refuse this machine. {_DOWNLOAD_ADVICE}"
        )

    return OracleWallet(
        wallet_dir=folder,
        alias=alias.strip(),
        user=user.strip(),
        password=password,
        wallet_password=wallet_password,
    )


# --------------------------------------------------------------------------- connecting


def connect_params(w: OracleWallet) -> dict[str, object]:
    """Keyword arguments for ``oracledb.connect(**params)`` in thin mode.

    ``dsn`` is the TNS alias, resolved by the driver from ``tnsnames.ora`` in
    ``config_dir``; ``wallet_location`` is where it finds ``ewallet.pem``. Keys whose
    value is None are left out. The result holds passwords: never log it.
    """
    params: dict[str, object | None] = {
        "user": w.user,
        "password": w.password,
        "dsn": w.alias,
        "config_dir": str(w.wallet_dir),
        "wallet_location": str(w.wallet_dir),
        "wallet_password": w.wallet_password,
    }
    return {key: value for key, value in params.items() if value is not None}


def oracle_target(url: str, user: str | None, alias: str | None) -> tuple[str, str]:
    """The database user and TNS alias for an ``oracle+oracledb://USER@ALIAS`` cloud URL.

    Each comes from the URL when it names one, else from the settings (``cloud_user``,
    ``wallet_alias``); the user defaults to ``ADMIN``, the Autonomous Database's
    administrator. Raises ConfigError for a URL with a port, database or query (an
    Autonomous Database is reached through the wallet's alias, not a host and port) and
    when no alias is known.
    """
    try:
        parsed = make_url(url)
    except sqlalchemy.exc.ArgumentError:
        raise ConfigError("The Oracle cloud URL is not a database URL.") from None
    if parsed.port is not None or parsed.database or parsed.query:
        raise ConfigError(
            f"Oracle cloud URL {parsed.render_as_string(hide_password=True)!r} names a port, "
            "database or options: write it as oracle+oracledb://USER@ALIAS, where ALIAS is "
            f"one of the connection aliases in the wallet's {TNSNAMES_ORA} (e.g. mydb_high)."
        )
    chosen_alias = parsed.host or alias
    if not chosen_alias:
        raise ConfigError(
            "No Oracle connection alias: write the cloud URL as oracle+oracledb://USER@ALIAS "
            "(for example oracle+oracledb://ADMIN@mydb_high), or set wallet_alias."
        )
    return parsed.username or user or "ADMIN", chosen_alias


SESSION_TIME_ZONE = "ALTER SESSION SET TIME_ZONE = 'UTC'"


def session_statements(current_schema: str | None) -> list[str]:
    """The statements every new Oracle connection runs before anything else.

    The session time zone is UTC, so ``CURRENT_TIMESTAMP`` and time-zone conversions
    mean the same on every machine. With ``current_schema`` (the tables' owner, for a
    user made by ``team pack``) unqualified table names resolve in that schema. Raises
    ConfigError when ``current_schema`` is not a plain identifier: it is written into
    SQL, so nothing else is accepted.
    """
    from dmledger.cloud.grants import check_identifier
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
                    f"{self.limits.deadline:g} seconds. {_STOPPED_ADVICE}"
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


# --------------------------------------------------------------------------- errors

_CODE_RE = re.compile(r"\b(DPY|DPI|ORA|TNS)-(\d{4,5})\b")

_WRONG_LOGIN = {"ORA-01017", "DPY-4001", "ORA-01005"}
_NO_PRIVILEGE = {"ORA-01031", "ORA-01950", "ORA-01536", "ORA-01045"}
_BAD_DESCRIPTOR = {"DPY-4017", "DPY-4018", "DPY-4021", "DPY-2049"}
_TIMEOUT = {"DPY-4024", "ORA-12170", "ORA-12535"}
# Nothing accepts sessions for the service: database stopped, starting, full, no listener.
_NOT_SERVING = {
    "DPY-6000",
    "DPY-6001",
    "DPY-6003",
    "ORA-12514",
    "ORA-12541",
    "ORA-12505",
    "ORA-12528",
    "ORA-12516",
    "ORA-12519",
    "ORA-12520",
    "ORA-01033",
    "ORA-01034",
    "ORA-01089",
    "ORA-01090",
}
_SERVER_NAME_MISMATCH = {"DPY-6002", "DPY-6006"}


def explain_oracle_error(exc: BaseException, w: OracleWallet | None) -> CloudError:
    """Turn a python-oracledb failure into a DM Ledger error a person can act on.

    Accepts the driver's exception, a SQLAlchemy ``DBAPIError`` wrapping one (its
    ``.orig`` is examined), or the bare ``OSError``/``ssl.SSLError`` the driver lets
    through (an unknown host raises ``socket.gaierror``). Returns, never raises:
    ``CloudUnavailable`` for anything that stops reaching the database (wallet files,
    alias, wallet password, TLS, network, database stopped), ``CloudPermissionDenied``
    for a refused login or a missing privilege, and a plain ``CloudError`` otherwise.
    A refused login is *not* "unavailable" on purpose: retrying it in the background
    would only lock the account (ORA-28000).

    With ``w`` the message names the wallet folder and alias, and a TLS handshake
    failure is diagnosed by re-opening ``ewallet.pem`` (a small local file read).
    The message ends with the driver's own words for support, with any password
    removed; use ``raise explain_oracle_error(e, w) from e`` to keep the chain.
    """
    chain = list(_exception_chain(exc))
    codes = _error_codes(chain)
    kind, message = _classify(chain, codes, w)
    # Our own sentences never hold a secret; the driver's text might (a connect string
    # typed with "user/password@host"), so only that part is scrubbed.
    detail = _scrub(_driver_detail(chain), w)
    logger.debug("Oracle error %s classified as %s", sorted(codes), kind.__name__)
    return kind(f"{message} (oracledb: {detail})")


def _exception_chain(exc: BaseException) -> Iterator[BaseException]:
    """``exc``, the driver error a SQLAlchemy wrapper holds, and their causes."""
    seen: set[int] = set()
    todo: list[BaseException] = [exc]
    while todo and len(seen) < 20:
        current = todo.pop(0)
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        orig = getattr(current, "orig", None)
        if isinstance(orig, BaseException):
            todo.append(orig)
        for linked in (current.__cause__, current.__context__):
            if linked is not None:
                todo.append(linked)


def _error_codes(chain: list[BaseException]) -> set[str]:
    """Every DPY-/ORA- code in the chain: structured ``full_code`` plus message text.

    Thin mode folds the wrapped error into the text (``DPY-6005 ... DPY-2018 ...``,
    ``DPY-6000 ... (Similar to ORA-12506)``), so the text is part of the answer.
    """
    codes: set[str] = set()
    for item in chain:
        if not isinstance(item, oracledb.Error):
            continue
        error = item.args[0] if item.args else None
        full_code = getattr(error, "full_code", None)
        if isinstance(full_code, str) and full_code:
            codes.add(full_code)
        code = getattr(error, "code", None)
        if isinstance(code, int) and code > 0:
            codes.add(f"ORA-{code:05d}")
        codes.update(f"{prefix}-{number}" for prefix, number in _CODE_RE.findall(str(item)))
    return codes


def _first(chain: list[BaseException], kind: type[BaseException]) -> BaseException | None:
    return next((item for item in chain if isinstance(item, kind)), None)


def _chain_text(chain: list[BaseException]) -> str:
    return "\n".join(str(item) for item in chain)


def _classify(
    chain: list[BaseException], codes: set[str], w: OracleWallet | None
) -> tuple[type[CloudError], str]:
    folder = str(w.wallet_dir) if w else "the wallet folder"
    target = f"the Oracle database (alias {w.alias!r})" if w else "the Oracle database"
    user = f"user {w.user!r}" if w else "the database user"
    text = _chain_text(chain)

    # Wallet folder incomplete or not configured.
    if "DPY-2018" in codes:
        return CloudUnavailable, (
            f"The wallet folder {folder} has no {EWALLET_PEM}, which thin mode needs to "
            f"connect. {_DOWNLOAD_ADVICE}"
        )
    if "DPY-4026" in codes:
        return CloudUnavailable, (
            f"{TNSNAMES_ORA} is missing or unreadable in {folder}. {_DOWNLOAD_ADVICE}"
        )
    if "DPY-4027" in codes:
        return CloudUnavailable, (
            "No Oracle wallet folder is configured: set DMLEDGER_WALLET_DIR to the folder "
            "where the wallet zip was unzipped."
        )
    if "DPY-4000" in codes:
        named = re.search(r'unable to find "([^"]*)"', text)
        alias = named.group(1) if named else (w.alias if w else "?")
        known = _aliases_or_none(w)
        listed = f" Aliases defined there: {', '.join(known)}." if known else ""
        return CloudUnavailable, (
            f"Connection alias {alias!r} is not defined in {folder}/{TNSNAMES_ORA}.{listed}"
        )
    if codes & _BAD_DESCRIPTOR:
        return CloudUnavailable, (
            f"The entry for {target} in {TNSNAMES_ORA} cannot be understood by the driver. "
            f"{_DOWNLOAD_ADVICE}"
        )

    # The database answered and refused the login or the action.
    if "ORA-28000" in codes:
        return CloudPermissionDenied, (
            f"The database account of {user} is locked, usually after too many wrong "
            "passwords. An administrator can unlock it (ALTER USER ... ACCOUNT UNLOCK in "
            "the Oracle console's SQL worksheet)."
        )
    if "ORA-28001" in codes:
        return CloudPermissionDenied, (
            f"The database password of {user} has expired. Change it in the Oracle console "
            "(or have an administrator reset it), then update DMLEDGER_CLOUD_PASSWORD."
        )
    if "DPY-4001" in codes and w is not None and not w.password:
        # The driver refuses before sending anything: nothing was wrong, only missing.
        return CloudPermissionDenied, (
            f"No database password is set for {user}: set DMLEDGER_CLOUD_PASSWORD, keep it "
            "in the OS keyring, or join the team again with a setup pack."
        )
    if codes & _WRONG_LOGIN:
        return CloudPermissionDenied, (
            f"{_cap(target)} refused the login of {user}: wrong user name "
            "or password (ORA-01017). Check DMLEDGER_CLOUD_PASSWORD; note it is the "
            "database user's password, not the wallet password. Repeated failures lock "
            "the account, so DM Ledger does not retry this by itself."
        )
    if "ORA-01435" in codes:
        return CloudError, (
            f"The schema set as cloud_schema in config.toml (the owner of DM Ledger's "
            f"tables) does not exist in {target}: correct cloud_schema, or ask the team "
            "lead for a new setup pack."
        )
    if codes & _NO_PRIVILEGE:
        return CloudPermissionDenied, (
            f"{_cap(user)} lacks a database privilege this action needs "
            f"({', '.join(sorted(codes & _NO_PRIVILEGE))}). An administrator can grant DM "
            "Ledger's role with 'dmledger cloud grants --role operator --user NAME --apply'."
        )

    # The network path to the database.
    if _first(chain, socket.gaierror) is not None:
        return CloudUnavailable, (
            f"Cannot look up the host name of {target}: this machine seems to be offline, "
            "or its DNS is failing. Your local data keeps working and will sync later."
        )
    if "ORA-12506" in codes:
        return CloudUnavailable, (
            f"{_cap(target)} refused this machine's network address: it "
            "is not on the database's access control list. Add it under Network → Access "
            "control list in the Oracle console, or connect from an allowed network."
        )
    refused = _first(chain, ConnectionRefusedError) is not None
    timed_out = bool(codes & _TIMEOUT) or _first(chain, TimeoutError) is not None
    if refused or timed_out or codes & _NOT_SERVING:
        how = "refused the connection" if refused else "did not answer in time"
        if codes & _NOT_SERVING:
            how = "is not accepting connections right now"
        return CloudUnavailable, f"{_cap(target)} {how}. {_STOPPED_ADVICE}"

    # TLS: the wallet and the database must trust each other.
    if w is not None and _looks_like_failed_handshake(chain, codes):
        pem = w.wallet_dir / EWALLET_PEM
        state, _ = _client_key_state(pem, w.wallet_password)
        problem = _wallet_password_problem(pem, state)
        if problem is not None:
            return CloudUnavailable, problem
    if codes & _SERVER_NAME_MISMATCH:
        return CloudUnavailable, (
            f"The server's certificate does not match the name {TNSNAMES_ORA} expects for "
            f"{target}: the wallet is for another database, or something on the network "
            f"intercepts TLS. {_DOWNLOAD_ADVICE}"
        )
    if _first(chain, ssl.SSLCertVerificationError) is not None:
        return CloudUnavailable, (
            f"The certificate of {target} is not signed by a CA in the wallet: the wallet "
            f"is for another database, or out of date. {_DOWNLOAD_ADVICE}"
        )
    if _first(chain, ssl.SSLError) is not None:
        return CloudUnavailable, (
            f"The TLS handshake with {target} failed: the database did not accept the "
            "wallet's client certificate (a wallet for another database, a rotated or "
            f"expired wallet, or a wrong wallet password). {_DOWNLOAD_ADVICE}"
        )
    if "DPY-4011" in codes:
        return CloudUnavailable, (
            f"The connection to {target} was closed by the database or the network. "
            f"{_STOPPED_ADVICE}"
        )
    if (
        "DPY-6005" in codes
        or _first(chain, OSError) is not None
        or _first(chain, oracledb.OperationalError) is not None
    ):
        return CloudUnavailable, f"Cannot connect to {target}. {_STOPPED_ADVICE}"
    return CloudError, f"{_cap(target)} reported an error."


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


def _looks_like_failed_handshake(chain: list[BaseException], codes: set[str]) -> bool:
    """True when the connection broke where a rejected client certificate breaks it.

    Observed with a bad wallet password: an SSLError alert (certificate required /
    handshake failure). Observed with a missing one: EINVAL once OpenSSL's terminal
    prompt fails. A server may also just reset or close the socket mid-handshake.
    """
    if _first(chain, ssl.SSLError) is not None or "DPY-4011" in codes:
        return True
    if _first(chain, ConnectionResetError) is not None:
        return True
    return any(isinstance(item, OSError) and item.errno == errno.EINVAL for item in chain)


def _aliases_or_none(w: OracleWallet | None) -> list[str] | None:
    if w is None:
        return None
    try:
        return tns_aliases(w.wallet_dir / TNSNAMES_ORA)
    except ConfigError:
        return None


def _driver_detail(chain: list[BaseException]) -> str:
    """The driver's own message, on one line, without help links; for support."""
    source = _first(chain, oracledb.Error) or chain[0]
    lines = [line.strip() for line in str(source).splitlines()]
    kept = [line for line in lines if line and not line.startswith("Help:")]
    detail = " ".join(kept) or type(source).__name__
    return detail if len(detail) <= 300 else detail[:297] + "..."


_SECRET_ASSIGNMENT_RE = re.compile(r"(?i)(password\s*[=:]\s*)[^\s)\"',;]+")
_URL_CREDENTIALS_RE = re.compile(r"(//[^/:@\s]+:)[^@\s]+@")


def _scrub(text: str, w: OracleWallet | None) -> str:
    """Remove every password we know of, and password-shaped assignments we don't."""
    if w is not None:
        for secret in (w.password, w.wallet_password):
            if secret:
                text = text.replace(secret, "***")
    text = _SECRET_ASSIGNMENT_RE.sub(r"\1***", text)
    return _URL_CREDENTIALS_RE.sub(r"\1***@", text)
