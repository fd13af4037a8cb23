"""Setup packs end to end on the real PostgreSQL: the lead makes one, a teammate joins.

The database users ``team pack`` creates are cluster-wide, so each test gets its own
name and drops it (after ``DROP OWNED BY``) at the end. Key derivation runs at the
lowest cost ``read_pack`` accepts, except in the one test that keeps the real cost:
the cost itself is ``test_pack.py``'s subject, not this file's.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import stat
import uuid
from collections.abc import Iterator
from pathlib import Path

import keyring
import keyring.backend
import keyring.backends.fail
import psycopg
import pytest

from dmledger import settings as config
from dmledger.app.ledger import Ledger
from dmledger.app.onboarding import join, make_pack
from dmledger.cloud.connecting.oracle_connect import ThinConnector
from dmledger.errors import (
    CloudPermissionDenied,
    CloudUnavailable,
    InvalidInput,
    PackError,
    Refused,
)
from dmledger.setup_pack import pack
from dmledger.setup_pack.pack import PackContents, write_pack

PASSPHRASE = "correct horse battery staple"


class MemoryKeyring(keyring.backend.KeyringBackend):
    """A keyring that keeps secrets in this process only."""

    priority = 1

    def __init__(self) -> None:
        super().__init__()
        self.entries: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.entries.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.entries[(service, username)] = password


@pytest.fixture(autouse=True)
def no_keyring() -> Iterator[None]:
    """No test may write to the developer's real keyring: the default here is none."""
    previous = keyring.get_keyring()
    keyring.set_keyring(keyring.backends.fail.Keyring())
    yield
    keyring.set_keyring(previous)


REAL_LOG2_N = pack._LOG2_N


@pytest.fixture(autouse=True)
def cheap_key_derivation(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pack, "_LOG2_N", pack._MIN_LOG2_N)


@pytest.fixture(autouse=True)
def no_secrets_in_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("DMLEDGER_CLOUD_PASSWORD", "DMLEDGER_WALLET_PASSWORD", "DMLEDGER_CLOUD_URL"):
        monkeypatch.delenv(name, raising=False)


def drop_role(admin_dsn: str, name: str) -> None:
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (name,)).fetchone():
            conn.execute(f"DROP OWNED BY {name}")
            conn.execute(f"DROP ROLE {name}")


@pytest.fixture
def pack_user(pg_admin_dsn: str) -> Iterator[str]:
    """A database user name no other test uses; the user is dropped afterwards."""
    name = f"dml_pack_{uuid.uuid4().hex[:10]}"
    yield name
    drop_role(pg_admin_dsn, name)


@pytest.fixture
def other_pack_user(pg_admin_dsn: str) -> Iterator[str]:
    name = f"dml_other_{uuid.uuid4().hex[:10]}"
    yield name
    drop_role(pg_admin_dsn, name)


@pytest.fixture
def lead(tmp_path: Path, pg_url: str) -> Iterator[Ledger]:
    """The team lead's home, as the superuser, with one lead already contacted."""
    ledger, _ = Ledger.init_home(tmp_path / "lead", "Lena", cloud_url=pg_url, actor="lena.leads")
    ledger.cloud_init()
    ledger.log_dm("first.lead", "hello from Lena")
    ledger.sync()
    yield ledger
    ledger.close()


@pytest.fixture
def pack_file(tmp_path: Path, lead: Ledger, pack_user: str) -> Path:
    out = tmp_path / "team.dmlpack"
    make_pack(lead, out, PASSPHRASE, user=pack_user)
    return out


def stored_verifier(admin_dsn: str, user: str) -> str:
    with psycopg.connect(admin_dsn) as conn:
        row = conn.execute("SELECT rolpassword FROM pg_authid WHERE rolname = %s", (user,))
        found = row.fetchone()
    assert found is not None and found[0] is not None
    return str(found[0])


def scram_accepts(verifier: str, password: str) -> bool:
    """Whether a SCRAM-SHA-256 verifier was made from ``password`` (RFC 5802 / 7677)."""
    method, _, rest = verifier.partition("$")
    iterations_salt, _, keys = rest.partition("$")
    iterations, _, salt = iterations_salt.partition(":")
    stored_key, _, _server_key = keys.partition(":")
    assert method == "SCRAM-SHA-256"
    salted = hashlib.pbkdf2_hmac(
        "sha256", password.encode(), base64.b64decode(salt), int(iterations)
    )
    client_key = hmac.new(salted, b"Client Key", "sha256").digest()
    return hashlib.sha256(client_key).digest() == base64.b64decode(stored_key)


def entries(folder: Path) -> set[str]:
    return {p.name for p in folder.iterdir()}


def every_file(*roots: Path) -> Iterator[Path]:
    for root in roots:
        for path in root.rglob("*"):
            if path.is_file():
                yield path


# --------------------------------------------------------------------------- the scenario


def test_a_joined_home_sees_the_leads_leads_and_its_dms_reach_the_lead(
    tmp_path: Path, lead: Ledger, pack_file: Path, pack_user: str
) -> None:
    report = join(tmp_path / "mate", pack_file, PASSPHRASE, operator="Nadia", actor="nadia.dm")

    assert report.sync.pulled >= 1
    mate = Ledger.open(report.home)
    try:
        card = mate.card("first.lead")
        assert (card.known, card.owner_actor, card.owner_operator) == (
            True,
            "lena.leads",
            "Lena",
        )
        mate.log_dm("second.lead", "hi from Nadia")
        assert mate.sync().pushed_logs == 1
        assert "Nadia" in mate.list_operators()
    finally:
        mate.close()
    lead.sync()
    assert lead.card("second.lead").owner_actor == "nadia.dm"
    assert mate.settings.cloud_url.startswith(f"postgresql+psycopg://{pack_user}@")


def test_the_password_is_kept_outside_the_config_and_is_the_one_the_database_holds(
    tmp_path: Path, pack_file: Path, pack_user: str, pg_admin_dsn: str
) -> None:
    report = join(tmp_path / "mate", pack_file, PASSPHRASE, operator="Nadia")

    assert report.password_kept_in == "file"  # this machine has no usable keyring
    secret_file = report.home / "secrets" / "cloud_password"
    password = secret_file.read_text(encoding="utf-8").strip()
    assert len(password) == 24 and password.isalnum()
    assert password not in (report.home / "config.toml").read_text(encoding="utf-8")
    settings = config.load(report.home)
    assert config.cloud_password(settings, report.home) == password
    # Trust authentication here accepts any password, so prove the stored one would
    # pass password authentication: the server holds a SCRAM verifier made from it.
    verifier = stored_verifier(pg_admin_dsn, pack_user)
    assert password not in verifier
    assert scram_accepts(verifier, password)


def test_with_a_usable_keyring_the_password_goes_there_and_no_file_is_written(
    tmp_path: Path, pack_file: Path
) -> None:
    memory = MemoryKeyring()
    keyring.set_keyring(memory)

    report = join(tmp_path / "mate", pack_file, PASSPHRASE, operator="Nadia")

    assert report.password_kept_in == "keyring"
    assert not (report.home / "secrets").exists()
    settings = config.load(report.home)
    [(service, name)] = memory.entries
    assert (service, name) == ("dmledger", f"cloud:{settings.cloud_url}")
    assert config.cloud_password(settings, report.home) == memory.entries[(service, name)]


def test_the_joined_user_is_restricted_to_the_operator_role(
    tmp_path: Path, pack_file: Path
) -> None:
    report = join(tmp_path / "mate", pack_file, PASSPHRASE, operator="Nadia")
    mate = Ledger.open(report.home)
    try:
        with pytest.raises(CloudPermissionDenied):
            mate.cloud_reset()
        with pytest.raises(CloudPermissionDenied):
            mate.cloud.run_statements(["DELETE FROM outreach_logs"])
    finally:
        mate.close()


def test_making_a_pack_again_gives_the_user_a_new_password_and_says_so(
    tmp_path: Path, lead: Ledger, pack_file: Path, pack_user: str, pg_admin_dsn: str
) -> None:
    before = stored_verifier(pg_admin_dsn, pack_user)

    again = make_pack(lead, tmp_path / "again.dmlpack", PASSPHRASE, user=pack_user)

    assert (again.created, again.user) == (False, pack_user)
    assert stored_verifier(pg_admin_dsn, pack_user) != before


def test_joining_again_with_a_new_pack_refreshes_the_password_and_keeps_local_work(
    tmp_path: Path, lead: Ledger, pack_file: Path, pack_user: str, pg_admin_dsn: str
) -> None:
    first = join(tmp_path / "mate", pack_file, PASSPHRASE, operator="Nadia", actor="nadia.dm")
    secret_file = first.home / "secrets" / "cloud_password"
    old_password = secret_file.read_text(encoding="utf-8")
    mate = Ledger.open(first.home)
    mate.log_dm("queued.lead", "sent while the password was being reset", actor="nadia.dm")
    mate.close()
    newer = make_pack(lead, tmp_path / "newer.dmlpack", PASSPHRASE, user=pack_user)

    second = join(first.home, newer.path, PASSPHRASE, operator="Nadia")

    assert second.rejoined and second.sync.pushed_logs == 1
    new_password = secret_file.read_text(encoding="utf-8").strip()
    assert new_password != old_password.strip()
    assert scram_accepts(stored_verifier(pg_admin_dsn, pack_user), new_password)


def test_joining_again_with_a_pack_for_another_user_of_the_same_database_switches_user(
    tmp_path: Path, lead: Ledger, pack_file: Path, other_pack_user: str
) -> None:
    first = join(tmp_path / "mate", pack_file, PASSPHRASE, operator="Nadia")
    own = make_pack(lead, tmp_path / "nadia.dmlpack", PASSPHRASE, user=other_pack_user)

    second = join(first.home, own.path, PASSPHRASE, operator="Nadia")

    assert second.rejoined
    assert config.load(first.home).cloud_url.startswith(f"postgresql+psycopg://{other_pack_user}@")


# --------------------------------------------------------------------------- refusals


def test_a_wrong_passphrase_is_refused_and_no_home_is_created(
    tmp_path: Path, pack_file: Path
) -> None:
    before = entries(tmp_path)

    with pytest.raises(PackError, match="wrong passphrase"):
        join(tmp_path / "mate", pack_file, "not the passphrase", operator="Nadia")

    assert entries(tmp_path) == before


def test_a_tampered_pack_is_refused_and_an_empty_home_stays_empty(
    tmp_path: Path, pack_file: Path, home: Path
) -> None:
    data = bytearray(pack_file.read_bytes())
    data[len(data) // 2] ^= 0x01
    pack_file.write_bytes(bytes(data))
    before = entries(tmp_path)

    with pytest.raises(PackError, match="changed"):
        join(home, pack_file, PASSPHRASE, operator="Nadia")

    assert entries(tmp_path) == before
    assert list(home.iterdir()) == []


def test_bad_input_is_refused_before_anything_is_written(tmp_path: Path, pack_file: Path) -> None:
    before = entries(tmp_path)

    with pytest.raises(InvalidInput, match="--operator"):
        join(tmp_path / "mate", pack_file, PASSPHRASE)
    with pytest.raises(InvalidInput):
        join(tmp_path / "mate", pack_file, PASSPHRASE, operator="Nadia", actor="no way")

    assert entries(tmp_path) == before


def test_a_home_of_another_cloud_or_a_folder_in_use_is_refused(
    tmp_path: Path, pack_file: Path, sqlite_url: str
) -> None:
    other, _ = Ledger.init_home(tmp_path / "other", "Omar", cloud_url=sqlite_url)
    other.close()
    config_before = (tmp_path / "other" / "config.toml").read_bytes()
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "notes.txt").write_text("mine", encoding="utf-8")

    with pytest.raises(Refused, match="already the DM Ledger home"):
        join(tmp_path / "other", pack_file, PASSPHRASE, operator="Nadia")
    with pytest.raises(Refused, match="not an empty folder"):
        join(busy, pack_file, PASSPHRASE, operator="Nadia")

    assert (tmp_path / "other" / "config.toml").read_bytes() == config_before
    assert entries(busy) == {"notes.txt"}


def test_the_embedded_cloud_cannot_be_packed(tmp_path: Path, sqlite_url: str) -> None:
    ledger, _ = Ledger.init_home(tmp_path / "solo", "Sam", cloud_url=sqlite_url)
    try:
        with pytest.raises(Refused, match="embedded SQLite"):
            make_pack(ledger, tmp_path / "team.dmlpack", PASSPHRASE)
    finally:
        ledger.close()
    assert not (tmp_path / "team.dmlpack").exists()


@pytest.mark.parametrize(
    ("passphrase", "file_name", "words"),
    [
        ("short", "team.dmlpack", "at least 8"),
        ("opensesame99", "opensesame99.dmlpack", "file name"),
    ],
)
def test_a_weak_or_visible_passphrase_is_refused_before_any_user_is_made(
    tmp_path: Path,
    lead: Ledger,
    pack_user: str,
    pg_admin_dsn: str,
    passphrase: str,
    file_name: str,
    words: str,
) -> None:
    with pytest.raises(InvalidInput, match=words):
        make_pack(lead, tmp_path / file_name, passphrase, user=pack_user)

    with psycopg.connect(pg_admin_dsn) as conn:
        assert (
            conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (pack_user,)).fetchone()
            is None
        )
    assert not (tmp_path / file_name).exists()


def test_the_lead_cannot_hand_out_its_own_user(tmp_path: Path, lead: Ledger) -> None:
    with pytest.raises(Refused, match="choose another --user"):
        make_pack(lead, tmp_path / "team.dmlpack", PASSPHRASE, user="postgres")


def test_an_existing_user_with_administrative_rights_is_not_handed_out(
    tmp_path: Path, lead: Ledger, pack_user: str, pg_admin_dsn: str
) -> None:
    with psycopg.connect(pg_admin_dsn, autocommit=True) as conn:
        conn.execute(f"CREATE ROLE {pack_user} CREATEROLE")

    with pytest.raises(Refused, match="choose another --user"):
        make_pack(lead, tmp_path / "team.dmlpack", PASSPHRASE, user=pack_user)

    with psycopg.connect(pg_admin_dsn) as conn:
        row = conn.execute("SELECT rolcanlogin FROM pg_roles WHERE rolname = %s", (pack_user,))
        assert row.fetchone() == (False,)


# --------------------------------------------------------------------------- what is on disk


def test_every_installed_folder_is_0700_and_every_file_0600(
    tmp_path: Path, pack_file: Path, home: Path
) -> None:
    home.chmod(0o755)  # an empty folder made beforehand, readable by others
    report = join(home, pack_file, PASSPHRASE, operator="Nadia", actor="nadia.dm")
    mate = Ledger.open(report.home)
    mate.log_dm("another.lead", "hi", actor="nadia.dm")
    mate.sync()
    mate.close()

    seen = [report.home, *report.home.rglob("*")]
    assert any(p.name == "cloud_password" for p in seen)
    for path in seen:
        expected = 0o700 if path.is_dir() else 0o600
        assert stat.S_IMODE(path.stat().st_mode) == expected, path
    assert stat.S_IMODE(pack_file.stat().st_mode) == 0o600
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".dmledger-join-")]


def test_the_passphrase_is_written_nowhere(tmp_path: Path, lead: Ledger, pack_file: Path) -> None:
    report = join(tmp_path / "mate", pack_file, PASSPHRASE, operator="Nadia")

    needle = PASSPHRASE.encode()
    for path in every_file(lead.home, report.home, pack_file.parent):
        assert needle not in path.read_bytes(), path


def test_a_pack_made_at_the_real_key_derivation_cost_joins(
    tmp_path: Path, lead: Ledger, pack_user: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pack, "_LOG2_N", REAL_LOG2_N)
    pack_file = make_pack(lead, tmp_path / "team.dmlpack", PASSPHRASE, user=pack_user).path
    assert pack_file.read_bytes()[10] == REAL_LOG2_N  # scrypt log2(n), in the header

    report = join(tmp_path / "mate", pack_file, PASSPHRASE, operator="Nadia")

    assert report.sync.pulled >= 1


# --------------------------------------------------------------------------- offline, Oracle


def test_an_unreachable_cloud_still_installs_the_home_and_says_how_to_finish(
    tmp_path: Path, closed_port: int
) -> None:
    url = f"postgresql+psycopg://dml_nobody@127.0.0.1:{closed_port}/team"
    pack_path = tmp_path / "offline.dmlpack"
    write_pack(pack_path, _contents(url), PASSPHRASE)

    with pytest.raises(CloudUnavailable, match="dmledger sync"):
        join(tmp_path / "mate", pack_path, PASSPHRASE, operator="Nadia")

    settings = config.load(tmp_path / "mate")
    assert settings.cloud_url == url and settings.operator == "Nadia"


def test_an_oracle_pack_installs_the_wallet_and_the_connection_settings(
    tmp_path: Path, closed_port: int
) -> None:
    tnsnames = (
        "mydb_high = (description=(retry_count=20)(retry_delay=3)"
        f"(address=(protocol=tcps)(port={closed_port})(host=127.0.0.1))"
        "(connect_data=(service_name=abc_mydb_high.adb.oraclecloud.com))"
        "(security=(ssl_server_dn_match=yes)))\n"
    ).encode()
    contents = _contents("oracle+oracledb://DMLEDGER_OPERATOR@mydb_high")
    contents.wallet_files = {"tnsnames.ora": tnsnames, "ewallet.pem": b"", "cwallet.sso": b"x"}
    contents.wallet_password = "Wallet-Pass-2024"
    contents.wallet_alias = "mydb_high"
    contents.cloud_user = "DMLEDGER_OPERATOR"
    contents.cloud_schema = "ADMIN"
    pack_path = tmp_path / "oracle.dmlpack"
    write_pack(pack_path, contents, PASSPHRASE)

    # The database is not there (closed port): the home is installed all the same.
    with pytest.raises(CloudUnavailable, match="dmledger sync"):
        join(tmp_path / "mate", pack_path, PASSPHRASE, operator="Nadia")

    home = tmp_path / "mate"
    wallet = home / "wallet"
    assert {p.name for p in wallet.iterdir()} == {"tnsnames.ora", "ewallet.pem", "cwallet.sso"}
    assert stat.S_IMODE(wallet.stat().st_mode) == 0o700
    assert stat.S_IMODE((wallet / "tnsnames.ora").stat().st_mode) == 0o600
    settings = config.load(home)
    assert (settings.wallet_dir, settings.wallet_alias, settings.cloud_schema) == (
        str(wallet),
        "mydb_high",
        "ADMIN",
    )
    assert (home / "secrets" / "wallet_password").read_text().strip() == "Wallet-Pass-2024"
    ledger = Ledger.open(home)
    try:
        connector = ledger.cloud.engine.pool._creator  # type: ignore[attr-defined]
        assert isinstance(connector, ThinConnector)
        assert (connector.wallet.user, connector.wallet.alias) == ("DMLEDGER_OPERATOR", "mydb_high")
        assert connector.wallet.password == contents.cloud_password
        assert connector.wallet.wallet_password == "Wallet-Pass-2024"
        assert connector.session_statements[-1] == "ALTER SESSION SET CURRENT_SCHEMA = ADMIN"
    finally:
        ledger.close()


@pytest.fixture
def closed_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _contents(url: str) -> PackContents:
    return PackContents(
        cloud_url=url,
        cloud_user=None,
        cloud_password="Zq8" + os.urandom(8).hex(),
        wallet_files={},
        wallet_password=None,
        wallet_alias=None,
        role="operator",
        team_operator_hint=None,
    )
