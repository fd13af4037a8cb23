"""Oracle Autonomous Database wallets: the folder, its aliases, its client key.

The Oracle console hands out a *wallet*: a zip with ``tnsnames.ora`` (connection
aliases such as ``mydb_high``), ``ewallet.pem`` (the client certificate, its private
key and the CA certificates, as PEM), plus files that only thick mode reads
(``cwallet.sso``, ``ewallet.p12``, ``sqlnet.ora``, ...). python-oracledb's thin mode
needs just the first two, so those are what :func:`load_wallet` checks.

Facts about thin mode this module relies on, verified against a local
``openssl s_server`` (see ``tests/cloud/test_oracle_mtls.py``):

- A wrong wallet password does **not** raise at load time: the driver swallows the
  ``ssl.SSLError`` from ``load_cert_chain`` and connects *without* a client
  certificate, so the failure surfaces later as a TLS error with nothing saying
  "password". :func:`client_key_state` re-opens the key to tell (used by
  ``oracle_failures.py`` when a handshake fails).
- With an encrypted key and *no* wallet password, OpenSSL prompts
  ``Enter PEM pass phrase:`` on the terminal, which would stall an interactive
  command; :func:`load_wallet` refuses that combination up front.

Connecting lives in ``oracle_connect.py``; the driver's errors in ``oracle_failures.py``.
"""

from __future__ import annotations

import enum
import ssl
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy
from sqlalchemy.engine import make_url

from dmledger.errors import ConfigError

TNSNAMES_ORA = "tnsnames.ora"
EWALLET_PEM = "ewallet.pem"

DOWNLOAD_ADVICE = (
    "Download the wallet again from the Oracle Cloud console (your Autonomous Database → "
    "Database connection → Download wallet) and unzip all of its files into that folder."
)
STOPPED_ADVICE = (
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


class KeyState(enum.Enum):
    """What OpenSSL makes of the client key in ``ewallet.pem`` with a given password."""

    USABLE = "usable"
    NO_KEY = "no key"  # one-way TLS wallet: CA certificates only
    NEEDS_PASSWORD = "needs password"
    WRONG_PASSWORD = "wrong password"
    UNUSABLE = "unusable"


class _PasswordAsked(Exception):
    """Raised from the OpenSSL password callback when there is no password to give."""


def client_key_state(pem: Path, wallet_password: str | None) -> tuple[KeyState, str]:
    """Load ``pem`` exactly as the thin driver does (``SSLContext.load_cert_chain``).

    Going through :mod:`ssl` rather than parsing the key ourselves means "usable" here
    means usable to the driver, including key/certificate mismatches. The password is
    given through a callback so we learn whether OpenSSL asked for one at all (an
    unencrypted key never triggers it) and so OpenSSL never prompts on a terminal.
    """
    try:
        pem_text = pem.read_text(encoding="ascii", errors="replace")
    except OSError as exc:
        return KeyState.UNUSABLE, exc.strerror or str(exc)
    if "PRIVATE KEY-----" not in pem_text:
        return KeyState.NO_KEY, "no private key in the file"

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
        return KeyState.NEEDS_PASSWORD, "the key is encrypted"
    except ssl.SSLError as exc:
        # After a successful decrypt the only failure left is a key that does not
        # match the certificate; "PEM lib" after the callback ran is a failed decrypt.
        if asked and exc.reason != "KEY_VALUES_MISMATCH":
            return KeyState.WRONG_PASSWORD, "the key cannot be decrypted"
        return KeyState.UNUSABLE, exc.reason or str(exc)
    except OSError as exc:
        return KeyState.UNUSABLE, exc.strerror or str(exc)
    return KeyState.USABLE, "ok"


def wallet_password_problem(pem: Path, state: KeyState) -> str | None:
    """The person-facing sentence for a key state that will stop mTLS, else None."""
    if state is KeyState.NEEDS_PASSWORD:
        return (
            f"The client key in {pem} is encrypted, and no wallet password was given. "
            "Set DMLEDGER_WALLET_PASSWORD to the password chosen when the wallet was "
            "downloaded from the Oracle console (it is not the database user's password)."
        )
    if state is KeyState.WRONG_PASSWORD:
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
            f"Oracle wallet folder {folder} does not exist. {DOWNLOAD_ADVICE} Then point "
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
            f"database's connection aliases. {DOWNLOAD_ADVICE}"
        )
    pem = folder / EWALLET_PEM
    if not pem.is_file():
        raise ConfigError(
            f"Oracle wallet folder {folder} has no {EWALLET_PEM}; python-oracledb thin mode "
            f"needs it for mTLS (cwallet.sso alone is for thick mode). {DOWNLOAD_ADVICE}"
        )

    aliases = tns_aliases(tnsnames)
    if not aliases:
        raise ConfigError(f"{tnsnames} defines no connection aliases. {DOWNLOAD_ADVICE}")
    if alias.strip().lower() not in {name.lower() for name in aliases}:
        raise ConfigError(
            f"Connection alias {alias!r} is not defined in {tnsnames}. Aliases defined "
            f"there: {', '.join(aliases)}. Use one of them (for DM Ledger on ATP, the one "
            "ending in _tp)."
        )

    state, _ = client_key_state(pem, wallet_password)
    problem = wallet_password_problem(pem, state)
    if problem is not None:
        raise ConfigError(problem)
    if state is KeyState.UNUSABLE:
        raise ConfigError(
            f"The client certificate and key in {pem} cannot be used together, so the "
            f"database would refuse this machine. {DOWNLOAD_ADVICE}"
        )

    return OracleWallet(
        wallet_dir=folder,
        alias=alias.strip(),
        user=user.strip(),
        password=password,
        wallet_password=wallet_password,
    )


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
