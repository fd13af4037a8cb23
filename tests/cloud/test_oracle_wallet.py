"""Oracle wallet checks, connect parameters, the engine and error explanations.

No Oracle server can run here. Errors are provoked for real wherever the driver can
produce them without one (closed port, unknown host, missing files, unknown alias);
the rest are built the way python-oracledb builds them (``oracledb.errors``).
"""

from __future__ import annotations

import datetime
import errno
import inspect
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import oracledb
import pytest
import sqlalchemy
import sqlalchemy.exc
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from oracledb import errors as oracle_errors

from dmledger.cloud.connecting.oracle_connect import create_oracle_engine
from dmledger.cloud.connecting.oracle_failures import explain_oracle_error
from dmledger.cloud.connecting.oracle_wallet import (
    OracleWallet,
    connect_params,
    load_wallet,
    tns_aliases,
)
from dmledger.errors import (
    CloudError,
    CloudPermissionDenied,
    CloudUnavailable,
    ConfigError,
)

WALLET_PASSWORD = "Wallet-Pass#2024"
DB_PASSWORD = "Db-Secret#9876"


# --------------------------------------------------------------------------- helpers


def _client_key_and_cert() -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "dmledger test client")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    return key, cert


def write_pem(folder: Path, *, wallet_password: str | None, with_key: bool = True) -> None:
    """An ewallet.pem shaped like the console's: key (encrypted or not), then certs."""
    key, cert = _client_key_and_cert()
    encryption: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(wallet_password.encode())
        if wallet_password
        else serialization.NoEncryption()
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
    )
    cert_pem = cert.public_bytes(serialization.Encoding.PEM)
    (folder / "ewallet.pem").write_bytes((key_pem if with_key else b"") + cert_pem)


def tns_entry(alias: str, port: int, host: str = "127.0.0.1") -> str:
    # retry_count=0: console wallets say 20 (with a 3 s delay), which would make every
    # refused-connection test take a minute.
    return (
        f"{alias} = (description= (retry_count=0)(retry_delay=3)"
        f"(address=(protocol=tcps)(port={port})(host={host}))"
        f"(connect_data=(service_name=abc_{alias}.adb.oraclecloud.com))"
        "(security=(ssl_server_dn_match=yes)))\n"
    )


def closed_port() -> int:
    """A local TCP port nobody listens on (connecting to it is refused at once)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def port() -> int:
    return closed_port()


@pytest.fixture
def wallet_dir(tmp_path: Path, port: int) -> Path:
    """A console-like wallet folder: two aliases, one written over several lines."""
    folder = tmp_path / "Wallet_dmledger"
    folder.mkdir()
    (folder / "tnsnames.ora").write_text(
        "# Generated for a test\n"
        + tns_entry("dmledger_high", port)
        + "\n"
        + "dmledger_tp =\n  (description=\n    (retry_count=0)\n"
        + f"    (address=(protocol=tcps)(port={port})(host=127.0.0.1))\n"
        + "    (connect_data=(service_name=abc_dmledger_tp.adb.oraclecloud.com))\n"
        + "    (security=(ssl_server_dn_match=yes)))\n",
        encoding="utf-8",
    )
    write_pem(folder, wallet_password=WALLET_PASSWORD)
    for thick_only in ("cwallet.sso", "ewallet.p12", "sqlnet.ora", "ojdbc.properties"):
        (folder / thick_only).write_bytes(b"not read in thin mode")
    return folder


@pytest.fixture
def wallet(wallet_dir: Path) -> OracleWallet:
    return load_wallet(wallet_dir, "dmledger_high", "DMLEDGER_APP", DB_PASSWORD, WALLET_PASSWORD)


def provoke(w: OracleWallet) -> BaseException:
    """Really call the driver with ``w`` and return what it raised."""
    with pytest.raises(Exception) as caught:
        oracledb.connect(**connect_params(w))
    return caught.value


@pytest.fixture
def silent_listener() -> Iterator[tuple[socket.socket, int]]:
    """A port whose TCP connects succeed (kernel backlog) but that never speaks."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        listener.setblocking(False)
        yield listener, int(listener.getsockname()[1])


def assert_no_secret(err: BaseException) -> None:
    for secret in (DB_PASSWORD, WALLET_PASSWORD):
        assert secret not in str(err)


# --------------------------------------------------------------------------- load_wallet


def test_load_wallet_accepts_a_complete_wallet_folder(wallet_dir: Path) -> None:
    w = load_wallet(wallet_dir, "dmledger_high", "DMLEDGER_APP", DB_PASSWORD, WALLET_PASSWORD)

    assert w.wallet_dir == wallet_dir.resolve()
    assert w.wallet_dir.is_absolute()
    assert (w.alias, w.user, w.password, w.wallet_password) == (
        "dmledger_high",
        "DMLEDGER_APP",
        DB_PASSWORD,
        WALLET_PASSWORD,
    )


def test_load_wallet_finds_the_alias_whatever_its_case(wallet_dir: Path) -> None:
    w = load_wallet(wallet_dir, "DMLEDGER_TP", "u", None, WALLET_PASSWORD)

    assert w.alias == "DMLEDGER_TP"


def test_load_wallet_expands_a_home_relative_path(
    wallet_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(wallet_dir.parent))

    w = load_wallet(Path("~") / wallet_dir.name, "dmledger_high", "u", None, WALLET_PASSWORD)

    assert w.wallet_dir == wallet_dir.resolve()


def test_missing_wallet_folder_is_named_in_the_error(tmp_path: Path) -> None:
    missing = tmp_path / "Wallet_nowhere"

    with pytest.raises(ConfigError, match="does not exist") as caught:
        load_wallet(missing, "dmledger_high", "u", None, None)

    assert str(missing) in str(caught.value)
    assert "Download the wallet again" in str(caught.value)


def test_the_wallet_zip_itself_is_refused_with_a_hint_to_unzip(tmp_path: Path) -> None:
    zipped = tmp_path / "Wallet_dmledger.zip"
    zipped.write_bytes(b"PK\x03\x04")

    with pytest.raises(ConfigError, match="unzip it first"):
        load_wallet(zipped, "dmledger_high", "u", None, None)


def test_missing_tnsnames_ora_is_named_in_the_error(wallet_dir: Path) -> None:
    (wallet_dir / "tnsnames.ora").unlink()

    with pytest.raises(ConfigError, match=r"has no tnsnames\.ora") as caught:
        load_wallet(wallet_dir, "dmledger_high", "u", None, WALLET_PASSWORD)

    assert str(wallet_dir.resolve()) in str(caught.value)


def test_missing_ewallet_pem_is_named_in_the_error(wallet_dir: Path) -> None:
    (wallet_dir / "ewallet.pem").unlink()

    with pytest.raises(ConfigError, match=r"has no ewallet\.pem") as caught:
        load_wallet(wallet_dir, "dmledger_high", "u", None, WALLET_PASSWORD)

    assert "thin mode" in str(caught.value)


def test_unknown_alias_error_lists_the_aliases_that_exist(wallet_dir: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_wallet(wallet_dir, "dmledger_low", "u", None, WALLET_PASSWORD)

    message = str(caught.value)
    assert "'dmledger_low' is not defined in" in message
    assert str(wallet_dir.resolve() / "tnsnames.ora") in message
    assert "dmledger_high, dmledger_tp" in message


def test_tnsnames_without_any_alias_is_refused(wallet_dir: Path) -> None:
    (wallet_dir / "tnsnames.ora").write_text("# nothing here\n", encoding="utf-8")

    with pytest.raises(ConfigError, match="defines no connection aliases"):
        load_wallet(wallet_dir, "dmledger_high", "u", None, WALLET_PASSWORD)


@pytest.mark.parametrize(("alias", "user"), [("", "u"), ("  ", "u"), ("dmledger_high", "")])
def test_blank_alias_or_user_is_refused(wallet_dir: Path, alias: str, user: str) -> None:
    with pytest.raises(ConfigError, match="No Oracle"):
        load_wallet(wallet_dir, alias, user, None, WALLET_PASSWORD)


def test_encrypted_wallet_without_a_wallet_password_is_refused(wallet_dir: Path) -> None:
    # Without this check OpenSSL would prompt "Enter PEM pass phrase:" on the terminal.
    with pytest.raises(ConfigError, match="no wallet password was given") as caught:
        load_wallet(wallet_dir, "dmledger_high", "u", DB_PASSWORD, None)

    assert "DMLEDGER_WALLET_PASSWORD" in str(caught.value)


def test_wrong_wallet_password_is_refused_without_showing_it(wallet_dir: Path) -> None:
    with pytest.raises(ConfigError, match="Wrong wallet password") as caught:
        load_wallet(wallet_dir, "dmledger_high", "u", DB_PASSWORD, "not-the-wallet-password")

    assert "not-the-wallet-password" not in str(caught.value)
    assert_no_secret(caught.value)


def test_unencrypted_wallet_key_needs_no_wallet_password(wallet_dir: Path) -> None:
    write_pem(wallet_dir, wallet_password=None)

    w = load_wallet(wallet_dir, "dmledger_high", "u", DB_PASSWORD, None)

    assert "wallet_password" not in connect_params(w)


def test_certificates_only_wallet_is_accepted_for_one_way_tls(wallet_dir: Path) -> None:
    write_pem(wallet_dir, wallet_password=None, with_key=False)

    assert load_wallet(wallet_dir, "dmledger_high", "u", None, None).alias == "dmledger_high"


def test_key_that_does_not_match_the_certificate_is_refused(wallet_dir: Path) -> None:
    key, _ = _client_key_and_cert()
    _, other_cert = _client_key_and_cert()
    (wallet_dir / "ewallet.pem").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        + other_cert.public_bytes(serialization.Encoding.PEM)
    )

    with pytest.raises(ConfigError, match="cannot be used together"):
        load_wallet(wallet_dir, "dmledger_high", "u", None, None)


# --------------------------------------------------------------------------- tns_aliases


def test_tns_aliases_reads_several_names_comments_includes_and_easy_connect(
    tmp_path: Path,
) -> None:
    (tmp_path / "more.ora").write_text(tns_entry("included_tp", 1522), encoding="utf-8")
    tnsnames = tmp_path / "tnsnames.ora"
    tnsnames.write_text(
        "# commented_out = (description=(address=(host=x)))\n"
        + "first_high, first_alias = (description=\n"
        + "  (address=(protocol=tcps)(port=1522)(host=h)) # trailing comment\n"
        + "  (connect_data=(service_name=s)))\n"
        + "easy = dbhost.example.com:1522/service\n"
        + "IFILE = more.ora\n"
        + tns_entry("Last_Low", 1522),
        encoding="utf-8",
    )

    assert tns_aliases(tnsnames) == [
        "first_high",
        "first_alias",
        "easy",
        "included_tp",
        "Last_Low",
    ]


def test_tns_aliases_refuses_an_include_cycle(tmp_path: Path) -> None:
    (tmp_path / "tnsnames.ora").write_text("IFILE = tnsnames.ora\n", encoding="utf-8")

    with pytest.raises(ConfigError, match="cycle"):
        tns_aliases(tmp_path / "tnsnames.ora")


# --------------------------------------------------------------------------- the wallet object


def test_wallet_repr_never_shows_passwords(wallet: OracleWallet) -> None:
    shown = repr(wallet) + str(wallet)

    assert DB_PASSWORD not in shown
    assert WALLET_PASSWORD not in shown
    assert "password='***'" in shown
    assert "dmledger_high" in shown


def test_wallet_repr_says_when_a_password_is_absent(wallet_dir: Path) -> None:
    write_pem(wallet_dir, wallet_password=None)
    w = load_wallet(wallet_dir, "dmledger_high", "u", None, None)

    assert "password=None" in repr(w)
    assert "wallet_password=None" in repr(w)


# --------------------------------------------------------------------------- connect_params


def test_connect_params_field_by_field(wallet: OracleWallet) -> None:
    params = connect_params(wallet)

    assert params["user"] == "DMLEDGER_APP"
    assert params["password"] == DB_PASSWORD
    assert params["dsn"] == "dmledger_high"
    assert params["config_dir"] == str(wallet.wallet_dir)
    assert params["wallet_location"] == str(wallet.wallet_dir)
    assert params["wallet_password"] == WALLET_PASSWORD
    assert set(params) == {
        "user",
        "password",
        "dsn",
        "config_dir",
        "wallet_location",
        "wallet_password",
    }


def test_connect_params_leave_out_absent_passwords(wallet: OracleWallet) -> None:
    bare = OracleWallet(wallet.wallet_dir, wallet.alias, wallet.user, None, None)

    assert set(connect_params(bare)) == {"user", "dsn", "config_dir", "wallet_location"}


def test_connect_params_are_keywords_of_oracledb_connect(wallet: OracleWallet) -> None:
    # oracledb.connect() has no **kwargs, so a misspelt key would fail to bind here.
    bound = inspect.signature(oracledb.connect).bind(**connect_params(wallet))

    assert bound.arguments["dsn"] == "dmledger_high"
    assert bound.arguments["wallet_location"] == str(wallet.wallet_dir)


# --------------------------------------------------------------------------- engine


def test_create_oracle_engine_does_not_connect(
    wallet_dir: Path, silent_listener: tuple[socket.socket, int]
) -> None:
    listener, listening_port = silent_listener
    (wallet_dir / "tnsnames.ora").write_text(
        tns_entry("dmledger_high", listening_port), encoding="utf-8"
    )
    w = load_wallet(wallet_dir, "dmledger_high", "u", DB_PASSWORD, WALLET_PASSWORD)

    engine = create_oracle_engine(w)
    try:
        assert engine.dialect.name == "oracle"
        assert engine.dialect.driver == "oracledb"
        with pytest.raises(BlockingIOError):
            listener.accept()  # nobody knocked
    finally:
        engine.dispose()


def test_engine_connections_come_from_the_thin_driver_with_our_params(
    wallet: OracleWallet,
) -> None:
    engine = create_oracle_engine(wallet)
    try:
        with pytest.raises(sqlalchemy.exc.OperationalError) as caught, engine.connect():
            pass
    finally:
        engine.dispose()

    assert isinstance(caught.value.orig, oracledb.OperationalError)
    assert "Connection refused" in str(caught.value.orig)
    assert oracledb.is_thin_mode()
    explained = explain_oracle_error(caught.value, wallet)
    assert isinstance(explained, CloudUnavailable)


def test_engine_repr_and_url_hold_no_credentials(wallet: OracleWallet) -> None:
    engine = create_oracle_engine(wallet, pool_size=2)
    try:
        assert DB_PASSWORD not in repr(engine)
        assert engine.url.password is None
        assert engine.url.username is None
    finally:
        engine.dispose()


def test_engine_pings_pooled_connections_unless_told_otherwise(wallet: OracleWallet) -> None:
    default = create_oracle_engine(wallet)
    chosen = create_oracle_engine(wallet, pool_pre_ping=False)
    try:
        assert default.pool._pre_ping is True
        assert chosen.pool._pre_ping is False
    finally:
        default.dispose()
        chosen.dispose()


@pytest.mark.parametrize("forbidden", ["creator", "thick_mode"])
def test_engine_refuses_a_creator_or_thick_mode(wallet: OracleWallet, forbidden: str) -> None:
    with pytest.raises(ValueError, match=forbidden):
        create_oracle_engine(wallet, **{forbidden: True})


# --------------------------------------------------------------------------- errors, provoked


def test_refused_connection_says_to_start_the_database(wallet: OracleWallet) -> None:
    raised = provoke(wallet)

    err = explain_oracle_error(raised, wallet)

    assert isinstance(err, CloudUnavailable)
    assert err.exit_code == 3
    assert "refused the connection" in str(err)
    assert "start it in the Oracle Cloud console" in str(err)
    assert "7 days" in str(err)
    assert "DPY-6005" in str(err)
    assert_no_secret(err)


def test_alias_missing_from_tnsnames_lists_the_aliases(wallet: OracleWallet) -> None:
    other = OracleWallet(
        wallet.wallet_dir, "dmledger_medium", wallet.user, DB_PASSWORD, WALLET_PASSWORD
    )
    raised = provoke(other)
    assert raised.args[0].full_code == "DPY-4000"

    err = explain_oracle_error(raised, other)

    assert isinstance(err, CloudUnavailable)
    assert "'dmledger_medium' is not defined in" in str(err)
    assert "Aliases defined there: dmledger_high, dmledger_tp." in str(err)


def test_missing_tnsnames_at_connect_time_names_the_folder(wallet: OracleWallet) -> None:
    (wallet.wallet_dir / "tnsnames.ora").unlink()
    raised = provoke(wallet)
    assert raised.args[0].full_code == "DPY-4026"

    err = explain_oracle_error(raised, wallet)

    assert isinstance(err, CloudUnavailable)
    assert f"tnsnames.ora is missing or unreadable in {wallet.wallet_dir}" in str(err)


def test_missing_ewallet_pem_at_connect_time_names_the_folder(
    wallet: OracleWallet, silent_listener: tuple[socket.socket, int]
) -> None:
    # The driver opens ewallet.pem only once TCP is up, so something must listen.
    _, listening_port = silent_listener
    (wallet.wallet_dir / "tnsnames.ora").write_text(
        tns_entry("dmledger_high", listening_port), encoding="utf-8"
    )
    (wallet.wallet_dir / "ewallet.pem").unlink()
    raised = provoke(wallet)
    assert "DPY-2018" in str(raised)

    err = explain_oracle_error(raised, wallet)

    assert isinstance(err, CloudUnavailable)
    assert f"The wallet folder {wallet.wallet_dir} has no ewallet.pem" in str(err)


def test_no_wallet_folder_configured_is_explained() -> None:
    with pytest.raises(oracledb.DatabaseError) as caught:
        oracledb.connect(user="u", password=DB_PASSWORD, dsn="dmledger_high")

    err = explain_oracle_error(caught.value, None)

    assert isinstance(err, CloudUnavailable)
    assert "DMLEDGER_WALLET_DIR" in str(err)


def test_unknown_host_says_the_machine_looks_offline(wallet: OracleWallet) -> None:
    # RFC 6761 guarantees .invalid never resolves; the driver lets gaierror through.
    (wallet.wallet_dir / "tnsnames.ora").write_text(
        tns_entry("dmledger_high", 1522, host="adb.dmledger-test.invalid"), encoding="utf-8"
    )
    raised = provoke(wallet)
    assert isinstance(raised, socket.gaierror)

    err = explain_oracle_error(raised, wallet)

    assert isinstance(err, CloudUnavailable)
    assert "seems to be offline" in str(err)


# --------------------------------------------------------------------------- errors, built


def ora(code: int, text: str) -> oracledb.Error:
    """An ORA- error as thin mode raises it when the database sends one."""
    error = oracle_errors._Error(f"ORA-{code:05d}: {text}", code=code)
    exc: oracledb.Error = error.exc_type(error)
    return exc


def dpy(number: int, cause: Exception | None = None, **args: Any) -> oracledb.Error:
    """A DPY- error exactly as the driver creates it."""
    exc = oracle_errors._create_exception(number, cause=cause, **args)  # type: ignore[arg-type]
    assert isinstance(exc, oracledb.Error)
    return exc


def while_connecting(inner: Exception) -> oracledb.Error:
    """Wrap ``inner`` the way thin mode wraps failures during connect (DPY-6005)."""
    return dpy(oracle_errors.ERR_CONNECTION_FAILED, cause=inner, connection_id="test")


@pytest.mark.parametrize("wrapped", [False, True])
def test_wrong_user_or_password_is_permission_denied_not_retried(
    wallet: OracleWallet, wrapped: bool
) -> None:
    raised = ora(1017, "invalid credential or not authorized; logon denied")
    if wrapped:
        raised = while_connecting(raised)

    err = explain_oracle_error(raised, wallet)

    assert isinstance(err, CloudPermissionDenied)
    assert "wrong user name or password (ORA-01017)" in str(err)
    assert "'DMLEDGER_APP'" in str(err)
    assert "DMLEDGER_CLOUD_PASSWORD" in str(err)
    assert_no_secret(err)


def test_locked_account_says_how_to_unlock(wallet: OracleWallet) -> None:
    err = explain_oracle_error(ora(28000, "The account is locked."), wallet)

    assert isinstance(err, CloudPermissionDenied)
    assert "ACCOUNT UNLOCK" in str(err)


def test_expired_password_says_to_change_it(wallet: OracleWallet) -> None:
    err = explain_oracle_error(ora(28001, "the password has expired"), wallet)

    assert isinstance(err, CloudPermissionDenied)
    assert "has expired" in str(err)


@pytest.mark.parametrize(
    ("code", "text"),
    [
        (1031, "insufficient privileges"),
        (1950, "no privileges on tablespace 'DATA'"),
        (1045, "Login denied. User DMLEDGER_APP does not have CREATE SESSION privilege."),
    ],
)
def test_missing_privilege_is_permission_denied_with_the_grant_command(
    wallet: OracleWallet, code: int, text: str
) -> None:
    err = explain_oracle_error(ora(code, text), wallet)

    assert isinstance(err, CloudPermissionDenied)
    assert f"ORA-{code:05d}" in str(err)
    assert "dmledger cloud grants" in str(err)


@pytest.mark.parametrize(
    "raised",
    [
        pytest.param(
            while_connecting(dpy(oracle_errors.ERR_LISTENER_REFUSED_CONNECTION, error_code=12514)),
            id="DPY-6000 like ORA-12514",
        ),
        pytest.param(
            while_connecting(dpy(oracle_errors.ERR_LISTENER_REFUSED_CONNECTION, error_code=12541)),
            id="DPY-6000 like ORA-12541",
        ),
        pytest.param(
            while_connecting(
                dpy(
                    oracle_errors.ERR_INVALID_SERVICE_NAME,
                    service_name="abc_dmledger_high.adb.oraclecloud.com",
                    host="adb.eu-frankfurt-1.oraclecloud.com",
                    port=1522,
                )
            ),
            id="DPY-6001 service not registered",
        ),
        pytest.param(ora(12514, "Cannot connect to database."), id="ORA-12514"),
        pytest.param(ora(1033, "ORACLE initialization or shutdown in progress"), id="ORA-01033"),
    ],
)
def test_database_not_serving_says_to_start_it(wallet: OracleWallet, raised: Exception) -> None:
    err = explain_oracle_error(raised, wallet)

    assert isinstance(err, CloudUnavailable)
    assert "is not accepting connections right now" in str(err)
    assert "start it in the Oracle Cloud console" in str(err)


@pytest.mark.parametrize(
    "raised",
    [
        pytest.param(while_connecting(TimeoutError("timed out")), id="socket timeout"),
        pytest.param(dpy(oracle_errors.ERR_CALL_TIMEOUT_EXCEEDED, timeout=5000), id="DPY-4024"),
    ],
)
def test_timeouts_say_the_database_did_not_answer(wallet: OracleWallet, raised: Exception) -> None:
    err = explain_oracle_error(raised, wallet)

    assert isinstance(err, CloudUnavailable)
    assert "did not answer in time" in str(err)
    assert "Always Free" in str(err)


def test_access_control_list_refusal_is_explained(wallet: OracleWallet) -> None:
    raised = while_connecting(dpy(oracle_errors.ERR_LISTENER_REFUSED_CONNECTION, error_code=12506))

    err = explain_oracle_error(raised, wallet)

    assert isinstance(err, CloudUnavailable)
    assert "access control list" in str(err)


def test_missing_wallet_password_at_connect_time_is_explained(wallet_dir: Path) -> None:
    # Observed with the real driver: with an encrypted key and no wallet password,
    # OpenSSL prompts "Enter PEM pass phrase:" on the terminal, and where there is
    # none the connect fails with EINVAL. Provoking it could block a developer's
    # terminal, so the error is built as the driver raised it.
    w = OracleWallet(wallet_dir.resolve(), "dmledger_high", "u", DB_PASSWORD, None)
    raised = while_connecting(OSError(errno.EINVAL, "Invalid argument"))

    err = explain_oracle_error(raised, w)

    assert isinstance(err, CloudUnavailable)
    assert "no wallet password was given" in str(err)


def test_connection_closed_mid_session_is_unavailable(wallet: OracleWallet) -> None:
    raised = ora(3113, "end-of-file on communication channel")
    assert raised.args[0].full_code == "DPY-4011"  # the driver's own translation

    err = explain_oracle_error(raised, wallet)

    assert isinstance(err, CloudUnavailable)
    assert "closed by the database or the network" in str(err)


def test_server_certificate_name_mismatch_points_at_the_wallet(wallet: OracleWallet) -> None:
    raised = while_connecting(
        dpy(oracle_errors.ERR_INVALID_SERVER_NAME, expected_name="adb.example.com")
    )

    err = explain_oracle_error(raised, wallet)

    assert isinstance(err, CloudUnavailable)
    assert "does not match the name tnsnames.ora expects" in str(err)


def test_other_database_errors_stay_plain_cloud_errors(wallet: OracleWallet) -> None:
    err = explain_oracle_error(ora(1, "unique constraint (X.PK) violated"), wallet)

    assert type(err) is CloudError
    assert "ORA-00001" in str(err)


def test_explanation_without_a_wallet_still_gives_advice() -> None:
    err = explain_oracle_error(while_connecting(ConnectionRefusedError(111, "refused")), None)

    assert isinstance(err, CloudUnavailable)
    assert "The Oracle database refused the connection" in str(err)


def test_passwords_in_driver_messages_are_removed(wallet: OracleWallet) -> None:
    raised = dpy(
        oracle_errors.ERR_CANNOT_PARSE_CONNECT_STRING,
        data=f"dmledger_app/{DB_PASSWORD}@adb password={WALLET_PASSWORD}",
    )

    err = explain_oracle_error(raised, wallet)

    assert "DPY-4018" in str(err)
    assert_no_secret(err)


def test_password_shaped_text_is_removed_even_without_a_wallet() -> None:
    raised = dpy(
        oracle_errors.ERR_CANNOT_PARSE_CONNECT_STRING,
        data="(description=(password=hunter2-secret)) oracle://app:pw-in-url@host/x",
    )

    err = explain_oracle_error(raised, None)

    assert "hunter2-secret" not in str(err)
    assert "pw-in-url" not in str(err)
