"""From a home's settings to an Oracle connection, checked without an Oracle server.

A fake wallet folder (a real ``tnsnames.ora`` and a real ``ewallet.pem``) stands in
for the console's download. What is checked: the settings and the cloud URL become
the right driver parameters, field by field; every session is set up in UTC and in
the tables' schema; the wallet's minute of retries is overridden; a wrong wallet or
alias is a ConfigError naming it; and the real driver, pointed at local sockets,
cannot hang: a closed port, a peer that accepts and stays silent, and a peer that
completes TLS and then stays silent all end with a clear CloudUnavailable.
"""

from __future__ import annotations

import datetime
import re
import socket
import ssl
import threading
from collections.abc import Iterator
from pathlib import Path

import keyring
import keyring.backends.fail
import pytest
import sqlglot
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from dmledger import settings as config
from dmledger.app.ledger import Ledger
from dmledger.cloud.connecting.oracle_connect import (
    ConnectLimits,
    ThinConnector,
    create_oracle_engine,
)
from dmledger.cloud.connecting.oracle_wallet import load_wallet, oracle_target
from dmledger.cloud.schema.grants import login_name, login_statement
from dmledger.errors import CloudPermissionDenied, CloudUnavailable, ConfigError

DB_PASSWORD = "Db0Secret0Password"
WALLET_PASSWORD = "Wallet-Pass#2024"
QUICK = ConnectLimits(deadline=1.0, tcp_connect_timeout=5.0, retry_count=0, retry_delay=0)


# --------------------------------------------------------------------------- helpers


@pytest.fixture(autouse=True)
def isolated_secrets(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No keyring and no password variables unless a test sets them."""
    for name in ("DMLEDGER_CLOUD_PASSWORD", "DMLEDGER_WALLET_PASSWORD", "DMLEDGER_WALLET_DIR"):
        monkeypatch.delenv(name, raising=False)
    previous = keyring.get_keyring()
    keyring.set_keyring(keyring.backends.fail.Keyring())
    yield
    keyring.set_keyring(previous)


def certificate(common_name: str) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    return key, cert


def tns_entry(alias: str, port: int, *, dn_match: str = "yes") -> str:
    # Retries as the Oracle console writes them: 20 attempts, 3 s apart.
    return (
        f"{alias} = (description=(retry_count=20)(retry_delay=3)"
        f"(address=(protocol=tcps)(port={port})(host=127.0.0.1))"
        f"(connect_data=(service_name=abc_{alias}.adb.oraclecloud.com))"
        f"(security=(ssl_server_dn_match={dn_match})))\n"
    )


def make_wallet(
    folder: Path,
    port: int,
    *,
    trusted: x509.Certificate | None = None,
    client: tuple[ec.EllipticCurvePrivateKey, x509.Certificate] | None = None,
) -> Path:
    """A wallet folder with two aliases at ``port``; ``ewallet.pem`` holds a client key
    (encrypted with WALLET_PASSWORD) and certificate (``client``, or new ones), and the
    ``trusted`` CA certificate when given."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "tnsnames.ora").write_text(
        tns_entry("mydb_high", port, dn_match="no" if trusted else "yes")
        + tns_entry("mydb_low", port),
        encoding="utf-8",
    )
    key, cert = client or certificate("dmledger test client")
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(WALLET_PASSWORD.encode()),
    ) + cert.public_bytes(serialization.Encoding.PEM)
    if trusted is not None:
        pem += trusted.public_bytes(serialization.Encoding.PEM)
    (folder / "ewallet.pem").write_bytes(pem)
    return folder


@pytest.fixture
def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def wallet_dir(tmp_path: Path, closed_port: int) -> Path:
    return make_wallet(tmp_path / "Wallet_mydb", closed_port)


def oracle_home(
    tmp_path: Path,
    wallet_dir: Path,
    url: str = "oracle+oracledb://dmledger_operator@mydb_high",
    **settings: str,
) -> Ledger:
    ledger, _ = Ledger.init_home(
        tmp_path / "home", "Nadia", cloud_url=url, wallet_dir=str(wallet_dir), **settings
    )
    return ledger


def connector_of(ledger: Ledger) -> ThinConnector:
    creator = ledger.cloud.engine.pool._creator  # type: ignore[attr-defined]
    assert isinstance(creator, ThinConnector)
    return creator


# --------------------------------------------------------------------------- the URL


@pytest.mark.parametrize(
    ("url", "user", "alias", "expected"),
    [
        ("oracle+oracledb://APP@mydb_tp", None, None, ("APP", "mydb_tp")),
        ("oracle+oracledb://APP@mydb_tp", "OTHER", "mydb_low", ("APP", "mydb_tp")),
        ("oracle+oracledb://mydb_high", "APP", None, ("APP", "mydb_high")),
        ("oracle+oracledb://mydb_high", None, None, ("ADMIN", "mydb_high")),
        ("oracle+oracledb://", "APP", "mydb_low", ("APP", "mydb_low")),
    ],
)
def test_user_and_alias_come_from_the_url_else_from_the_settings(
    url: str, user: str | None, alias: str | None, expected: tuple[str, str]
) -> None:
    assert oracle_target(url, user, alias) == expected


@pytest.mark.parametrize(
    "url",
    [
        "oracle+oracledb://ADMIN@adb.eu-frankfurt-1.oraclecloud.com:1522",
        "oracle+oracledb://ADMIN@mydb_high/service",
        "oracle+oracledb://ADMIN@mydb_high?service_name=x",
    ],
)
def test_a_host_port_url_is_refused_with_the_form_to_use(url: str) -> None:
    with pytest.raises(ConfigError, match=re.escape("oracle+oracledb://USER@ALIAS")):
        oracle_target(url, None, None)


def test_with_no_alias_anywhere_the_error_shows_an_example() -> None:
    with pytest.raises(ConfigError, match="ADMIN@mydb_high"):
        oracle_target("oracle+oracledb://", None, None)


# --------------------------------------------------------------------------- the Ledger's engine


def test_the_ledger_builds_the_connection_from_its_settings_field_by_field(
    tmp_path: Path, wallet_dir: Path, closed_port: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DMLEDGER_CLOUD_PASSWORD", DB_PASSWORD)
    monkeypatch.setenv("DMLEDGER_WALLET_PASSWORD", WALLET_PASSWORD)
    ledger = oracle_home(tmp_path, wallet_dir, cloud_schema="admin")
    try:
        connector = connector_of(ledger)
        wallet = connector.wallet
        params = connector.connect_params()
        assert ledger.cloud.dialect == "oracle"
        assert "dmledger_operator@mydb_high" in ledger.cloud.url
    finally:
        ledger.close()

    assert (wallet.user, wallet.alias, wallet.wallet_dir) == (
        "dmledger_operator",
        "mydb_high",
        wallet_dir.resolve(),
    )
    assert (wallet.password, wallet.wallet_password) == (DB_PASSWORD, WALLET_PASSWORD)
    assert params.user == "dmledger_operator"
    assert params.config_dir == str(wallet_dir.resolve())
    assert params.wallet_location == str(wallet_dir.resolve())
    assert (params.host, params.port) == ("127.0.0.1", closed_port)
    assert params.service_name == "abc_mydb_high.adb.oraclecloud.com"
    assert connector.explain_errors is True
    assert ledger.cloud.engine.pool._pre_ping is True  # type: ignore[attr-defined]


def test_every_session_runs_in_utc_and_in_the_tables_schema(
    tmp_path: Path, wallet_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DMLEDGER_WALLET_PASSWORD", WALLET_PASSWORD)
    with_owner = oracle_home(tmp_path, wallet_dir, cloud_schema="admin")
    statements = connector_of(with_owner).session_statements
    with_owner.close()
    own = create_oracle_engine(load_wallet(wallet_dir, "mydb_high", "ADMIN", None, WALLET_PASSWORD))
    own_statements = own.pool._creator.session_statements  # type: ignore[attr-defined]
    own.dispose()

    assert statements == [
        "ALTER SESSION SET TIME_ZONE = 'UTC'",
        "ALTER SESSION SET CURRENT_SCHEMA = ADMIN",
    ]
    assert own_statements == ["ALTER SESSION SET TIME_ZONE = 'UTC'"]
    for statement in statements:
        # sqlglot has no grammar for ALTER SESSION: it reads it as a command, so this
        # checks tokens and quoting; the exact text is Oracle's documented syntax.
        assert sqlglot.parse_one(statement, read="oracle").sql(dialect="oracle") == statement


@pytest.mark.parametrize("schema", ["admin; DROP TABLE prospects", "1admin", "a b"])
def test_a_cloud_schema_that_is_not_a_plain_name_is_a_config_error(
    tmp_path: Path, wallet_dir: Path, schema: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DMLEDGER_WALLET_PASSWORD", WALLET_PASSWORD)
    ledger = oracle_home(tmp_path, wallet_dir, cloud_schema=schema)
    try:
        with pytest.raises(ConfigError, match="cloud_schema"):
            ledger.cloud  # noqa: B018 - opening the cloud is what is tested
    finally:
        ledger.close()


def test_the_wallets_minute_of_retries_is_replaced_by_one_quick_retry(
    tmp_path: Path, wallet_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DMLEDGER_WALLET_PASSWORD", WALLET_PASSWORD)
    ledger = oracle_home(tmp_path, wallet_dir)
    try:
        connector = connector_of(ledger)
        params = connector.connect_params()
    finally:
        ledger.close()

    assert "(retry_count=20)(retry_delay=3)" in (wallet_dir / "tnsnames.ora").read_text()
    assert connector.limits == ConnectLimits()
    assert (params.retry_count, params.retry_delay) == (1, 1)
    assert (params.tcp_connect_timeout, params.expire_time) == (10.0, 1)


def test_user_and_alias_from_the_settings_when_the_url_has_none(
    tmp_path: Path, wallet_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DMLEDGER_WALLET_PASSWORD", WALLET_PASSWORD)
    ledger = oracle_home(
        tmp_path, wallet_dir, "oracle+oracledb://", cloud_user="APP", wallet_alias="mydb_low"
    )
    try:
        wallet = connector_of(ledger).wallet
    finally:
        ledger.close()

    assert (wallet.user, wallet.alias) == ("APP", "mydb_low")


def test_passwords_are_read_from_the_homes_secret_files_without_env_or_keyring(
    tmp_path: Path, wallet_dir: Path
) -> None:
    ledger = oracle_home(tmp_path, wallet_dir)
    config.write_secret_file(ledger.home, config.CLOUD_PASSWORD_FILE, DB_PASSWORD)
    config.write_secret_file(ledger.home, config.WALLET_PASSWORD_FILE, WALLET_PASSWORD)
    try:
        wallet = connector_of(ledger).wallet
    finally:
        ledger.close()

    assert (wallet.password, wallet.wallet_password) == (DB_PASSWORD, WALLET_PASSWORD)
    assert DB_PASSWORD not in (ledger.home / "config.toml").read_text()


def test_an_alias_missing_from_the_wallet_is_a_config_error_listing_the_aliases(
    tmp_path: Path, wallet_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DMLEDGER_WALLET_PASSWORD", WALLET_PASSWORD)
    ledger = oracle_home(tmp_path, wallet_dir, "oracle+oracledb://ADMIN@mydb_tp")
    try:
        with pytest.raises(ConfigError, match="'mydb_tp' is not defined") as caught:
            ledger.cloud  # noqa: B018
    finally:
        ledger.close()
    assert "mydb_high, mydb_low" in str(caught.value)


def test_a_wrong_wallet_folder_or_password_is_a_config_error(
    tmp_path: Path, wallet_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DMLEDGER_WALLET_PASSWORD", "not the wallet password")
    ledger = oracle_home(tmp_path, wallet_dir)
    missing = oracle_home(tmp_path / "other", tmp_path / "nowhere")
    no_folder, _ = Ledger.init_home(
        tmp_path / "third", "Nadia", cloud_url="oracle+oracledb://ADMIN@mydb_high"
    )
    try:
        with pytest.raises(ConfigError, match="Wrong wallet password"):
            ledger.cloud  # noqa: B018
        with pytest.raises(ConfigError, match="does not exist"):
            missing.cloud  # noqa: B018
        with pytest.raises(ConfigError, match="DMLEDGER_WALLET_DIR"):
            no_folder.cloud  # noqa: B018
    finally:
        for each in (ledger, missing, no_folder):
            each.close()


# --------------------------------------------------------------------------- the real driver


def test_cloud_check_on_a_database_that_refuses_says_to_start_it(
    tmp_path: Path, wallet_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DMLEDGER_CLOUD_PASSWORD", DB_PASSWORD)
    monkeypatch.setenv("DMLEDGER_WALLET_PASSWORD", WALLET_PASSWORD)
    ledger = oracle_home(tmp_path, wallet_dir)
    try:
        info = ledger.cloud_check()
    finally:
        ledger.close()

    assert info.reachable is False
    assert "refused the connection" in info.message
    assert "Always Free databases stop by themselves after 7 days" in info.message


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port whose TCP connects succeed (kernel backlog) but that never says a word."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        yield int(listener.getsockname()[1])


@pytest.mark.parametrize("explain_errors", [True, False])
def test_a_peer_that_accepts_and_says_nothing_cannot_hang_a_connect(
    tmp_path: Path, silent_port: int, explain_errors: bool
) -> None:
    folder = make_wallet(tmp_path / "wallet", silent_port)
    wallet = load_wallet(folder, "mydb_high", "ADMIN", DB_PASSWORD, WALLET_PASSWORD)
    engine = create_oracle_engine(wallet, limits=QUICK, explain_errors=explain_errors)
    try:
        with pytest.raises(CloudUnavailable, match="did not answer within 1 seconds"):
            engine.connect().close()
    finally:
        engine.dispose()


class TlsThenSilence:
    """A TLS server that demands a client certificate signed by ``client_ca`` (as ATP
    does), completes the handshake, reads what the client sends (the Oracle Net
    CONNECT packet) and then never answers."""

    def __init__(self, folder: Path, client_ca: x509.Certificate) -> None:
        key, cert = certificate("localhost")
        (folder / "server.pem").write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
            + cert.public_bytes(serialization.Encoding.PEM)
        )
        self.certificate = cert
        self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.context.load_cert_chain(folder / "server.pem")
        self.context.verify_mode = ssl.CERT_REQUIRED
        self.context.load_verify_locations(
            cadata=client_ca.public_bytes(serialization.Encoding.PEM).decode()
        )
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(8)
        self.listener.settimeout(0.2)
        self.port = int(self.listener.getsockname()[1])
        self.received: list[bytes] = []
        self._open: list[socket.socket] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                raw, _ = self.listener.accept()
            except TimeoutError:
                continue
            try:
                tls = self.context.wrap_socket(raw, server_side=True)
            except (ssl.SSLError, OSError):
                raw.close()
                continue
            self._open.append(tls)
            tls.settimeout(0.2)
            while not self._stop.is_set():
                try:
                    data = tls.recv(4096)
                except TimeoutError:
                    continue
                except OSError:
                    break
                if not data:
                    break
                self.received.append(data)

    def __enter__(self) -> TlsThenSilence:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
        for each in self._open:
            each.close()
        self.listener.close()


def test_a_peer_silent_after_the_mtls_handshake_cannot_hang_a_connect(tmp_path: Path) -> None:
    client = certificate("dmledger test client")
    with TlsThenSilence(tmp_path, client_ca=client[1]) as server:
        folder = make_wallet(
            tmp_path / "wallet", server.port, trusted=server.certificate, client=client
        )
        wallet = load_wallet(folder, "mydb_high", "ADMIN", DB_PASSWORD, WALLET_PASSWORD)
        engine = create_oracle_engine(wallet, limits=QUICK, explain_errors=True)
        try:
            with pytest.raises(CloudUnavailable, match="did not answer within 1 seconds"):
                engine.connect().close()
        finally:
            engine.dispose()

    # Mutual TLS was done (the connector's SSL context presented the wallet's client
    # certificate) and the driver had moved on to Oracle Net when the deadline came.
    assert server.received, "the client never got past the TLS handshake"


# --------------------------------------------------------------------------- team pack on Oracle


def test_team_pack_creates_and_resets_oracle_users_with_a_quoted_password() -> None:
    name = login_name("oracle", "dmledger_operator")

    assert name == "DMLEDGER_OPERATOR"
    assert (
        login_statement("oracle", name, "Ab3dEf6hIj9kLm2nOp5qRs8t", exists=False)
        == 'CREATE USER DMLEDGER_OPERATOR IDENTIFIED BY "Ab3dEf6hIj9kLm2nOp5qRs8t"'
    )
    assert (
        login_statement("oracle", name, "Ab3dEf6hIj9kLm2nOp5qRs8t", exists=True)
        == 'ALTER USER DMLEDGER_OPERATOR IDENTIFIED BY "Ab3dEf6hIj9kLm2nOp5qRs8t" ACCOUNT UNLOCK'
    )
    assert login_name("postgresql", "DMLedger_Operator") == "dmledger_operator"


def test_a_missing_database_password_is_named_as_missing_not_wrong(
    tmp_path: Path, wallet_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DMLEDGER_WALLET_PASSWORD", WALLET_PASSWORD)
    ledger = oracle_home(tmp_path, wallet_dir)
    try:
        with pytest.raises(CloudPermissionDenied, match="No database password is set"):
            ledger.cloud_check()
    finally:
        ledger.close()
