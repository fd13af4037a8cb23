"""Why an Oracle *connect* failed, in words a person can act on: wallet files, alias,
wallet password, TLS, network, a stopped database, a refused login.

Thin mode folds the errors it wraps into its text (``DPY-6005 ... DPY-2018``,
``DPY-6000 ... (Similar to ORA-12506)``) and lets bare ``OSError``/``ssl.SSLError``
through, so those are read too. The codes are read with the tables of
``driver_errors/oracle.py``, which classifies a failed *statement*.
"""

from __future__ import annotations

import errno
import logging
import re
import socket
import ssl

import oracledb

from dmledger.cloud.connecting.oracle_wallet import (
    DOWNLOAD_ADVICE,
    EWALLET_PEM,
    STOPPED_ADVICE,
    TNSNAMES_ORA,
    OracleWallet,
    client_key_state,
    tns_aliases,
    wallet_password_problem,
)
from dmledger.cloud.driver_errors.oracle import (
    BAD_DESCRIPTOR,
    NO_PRIVILEGE,
    NOT_SERVING,
    SERVER_NAME_MISMATCH,
    TIMEOUT,
    WRONG_LOGIN,
    error_codes,
    exception_chain,
)
from dmledger.errors import CloudError, CloudPermissionDenied, CloudUnavailable, ConfigError

logger = logging.getLogger(__name__)


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
    chain = list(exception_chain(exc))
    codes = error_codes(chain)
    kind, message = _classify(chain, codes, w)
    # Our own sentences never hold a secret; the driver's text might (a connect string
    # typed with "user/password@host"), so only that part is scrubbed.
    detail = _scrub(_driver_detail(chain), w)
    logger.debug("Oracle error %s classified as %s", sorted(codes), kind.__name__)
    return kind(f"{message} (oracledb: {detail})")


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
            f"connect. {DOWNLOAD_ADVICE}"
        )
    if "DPY-4026" in codes:
        return CloudUnavailable, (
            f"{TNSNAMES_ORA} is missing or unreadable in {folder}. {DOWNLOAD_ADVICE}"
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
    if codes & BAD_DESCRIPTOR:
        return CloudUnavailable, (
            f"The entry for {target} in {TNSNAMES_ORA} cannot be understood by the driver. "
            f"{DOWNLOAD_ADVICE}"
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
    if codes & WRONG_LOGIN:
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
    if codes & NO_PRIVILEGE:
        return CloudPermissionDenied, (
            f"{_cap(user)} lacks a database privilege this action needs "
            f"({', '.join(sorted(codes & NO_PRIVILEGE))}). An administrator can grant DM "
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
    timed_out = bool(codes & TIMEOUT) or _first(chain, TimeoutError) is not None
    if refused or timed_out or codes & NOT_SERVING:
        how = "refused the connection" if refused else "did not answer in time"
        if codes & NOT_SERVING:
            how = "is not accepting connections right now"
        return CloudUnavailable, f"{_cap(target)} {how}. {STOPPED_ADVICE}"

    # TLS: the wallet and the database must trust each other.
    if w is not None and _looks_like_failed_handshake(chain, codes):
        pem = w.wallet_dir / EWALLET_PEM
        state, _ = client_key_state(pem, w.wallet_password)
        problem = wallet_password_problem(pem, state)
        if problem is not None:
            return CloudUnavailable, problem
    if codes & SERVER_NAME_MISMATCH:
        return CloudUnavailable, (
            f"The server's certificate does not match the name {TNSNAMES_ORA} expects for "
            f"{target}: the wallet is for another database, or something on the network "
            f"intercepts TLS. {DOWNLOAD_ADVICE}"
        )
    if _first(chain, ssl.SSLCertVerificationError) is not None:
        return CloudUnavailable, (
            f"The certificate of {target} is not signed by a CA in the wallet: the wallet "
            f"is for another database, or out of date. {DOWNLOAD_ADVICE}"
        )
    if _first(chain, ssl.SSLError) is not None:
        return CloudUnavailable, (
            f"The TLS handshake with {target} failed: the database did not accept the "
            "wallet's client certificate (a wallet for another database, a rotated or "
            f"expired wallet, or a wrong wallet password). {DOWNLOAD_ADVICE}"
        )
    if "DPY-4011" in codes:
        return CloudUnavailable, (
            f"The connection to {target} was closed by the database or the network. "
            f"{STOPPED_ADVICE}"
        )
    if (
        "DPY-6005" in codes
        or _first(chain, OSError) is not None
        or _first(chain, oracledb.OperationalError) is not None
    ):
        return CloudUnavailable, f"Cannot connect to {target}. {STOPPED_ADVICE}"
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
