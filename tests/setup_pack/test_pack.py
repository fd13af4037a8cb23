"""Setup packs: encryption, tamper detection, file permissions, wallet installation.

Packs use the production scrypt cost (about a quarter second each); the tests are
few enough that no cheaper setting is needed.
"""

from __future__ import annotations

import base64
import os
import stat
import unicodedata
from pathlib import Path

import pytest

from dmledger.errors import ConfigError, InvalidInput, PackError
from dmledger.setup_pack import pack
from dmledger.setup_pack.pack import PackContents, install_wallet, read_pack, write_pack

PASSPHRASE = "correct horse battery staple"
DB_PASSWORD = "Db-Secret#9876-unique"
WALLET_PASSWORD = "Wallet-Pass#2024-unique"
PEM_BODY = b"-----BEGIN ENCRYPTED PRIVATE KEY-----\nMIIFHDBOBgkqhkiG9w0BBQ0wQTApBgkq\n"
TNSNAMES = b"dmledger_tp = (description=(address=(protocol=tcps)(port=1522)(host=adb.x)))\n"
HEADER_SIZE = 45


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def contents() -> PackContents:
    return PackContents(
        cloud_url="oracle+oracledb://dmledger_tp",
        cloud_user="DMLEDGER_APP",
        cloud_password=DB_PASSWORD,
        wallet_files={"ewallet.pem": PEM_BODY, "tnsnames.ora": TNSNAMES, "empty.ora": b""},
        wallet_password=WALLET_PASSWORD,
        wallet_alias="dmledger_tp",
        role="operator",
        team_operator_hint="Sarah",
        created_at="2025-01-31T09:30:00+00:00",
    )


@pytest.fixture(scope="module")
def made_pack(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """One pack's bytes, made once; tests that damage it work on copies."""
    path = tmp_path_factory.mktemp("pack") / "team.dmlpack"
    write_pack(
        path,
        PackContents(
            cloud_url="postgresql+psycopg://app@db.example.com/dmledger",
            cloud_user="app",
            cloud_password=DB_PASSWORD,
            wallet_files={},
            wallet_password=None,
            wallet_alias=None,
            role="operator",
            team_operator_hint=None,
        ),
        PASSPHRASE,
    )
    return path.read_bytes()


def damaged(tmp_path: Path, data: bytes) -> Path:
    path = tmp_path / "damaged.dmlpack"
    path.write_bytes(data)
    return path


def flip(data: bytes, offset: int) -> bytes:
    return data[:offset] + bytes([data[offset] ^ 0x01]) + data[offset + 1 :]


# --------------------------------------------------------------------------- round trip


def test_a_pack_reads_back_exactly_what_was_written(tmp_path: Path, contents: PackContents) -> None:
    path = tmp_path / "team.dmlpack"

    write_pack(path, contents, PASSPHRASE)

    assert read_pack(path, PASSPHRASE) == contents


def test_created_at_defaults_to_now_in_utc() -> None:
    made = PackContents("sqlite:///x.db", None, None, {}, None, None, "operator", None)

    assert made.created_at.endswith("+00:00")


def test_the_passphrase_is_unicode_normalised(tmp_path: Path, contents: PackContents) -> None:
    path = tmp_path / "team.dmlpack"
    composed = "caf\u00e9 au lait, s'il vous pla\u00eet"
    decomposed = unicodedata.normalize("NFD", composed)  # as macOS may hand it over
    assert decomposed != composed

    write_pack(path, contents, composed)

    assert read_pack(path, decomposed) == contents


def test_the_pack_file_is_private_to_its_owner(tmp_path: Path, contents: PackContents) -> None:
    path = tmp_path / "team.dmlpack"
    old_umask = os.umask(0o000)  # even with a permissive umask
    try:
        write_pack(path, contents, PASSPHRASE)
    finally:
        os.umask(old_umask)

    assert mode(path) == 0o600


def test_writing_replaces_an_older_pack_and_leaves_no_temporary_file(
    tmp_path: Path, contents: PackContents
) -> None:
    path = tmp_path / "team.dmlpack"
    path.write_bytes(b"old")
    path.chmod(0o644)

    write_pack(path, contents, PASSPHRASE)

    assert read_pack(path, PASSPHRASE) == contents
    assert mode(path) == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["team.dmlpack"]


def test_no_secret_appears_in_the_file(tmp_path: Path, contents: PackContents) -> None:
    path = tmp_path / "team.dmlpack"
    write_pack(path, contents, PASSPHRASE)
    data = path.read_bytes()

    for secret in (PASSPHRASE, DB_PASSWORD, WALLET_PASSWORD):
        assert secret.encode() not in data
        assert base64.b64encode(secret.encode()) not in data
    for needle in (PEM_BODY, TNSNAMES, base64.b64encode(PEM_BODY), b"ewallet.pem"):
        assert needle not in data


def test_two_packs_of_the_same_contents_differ(tmp_path: Path, contents: PackContents) -> None:
    write_pack(tmp_path / "a", contents, PASSPHRASE)
    write_pack(tmp_path / "b", contents, PASSPHRASE)

    a, b = (tmp_path / "a").read_bytes(), (tmp_path / "b").read_bytes()
    assert a[13:45] != b[13:45]  # fresh salt and nonce
    assert a[45:] != b[45:]


def test_repr_shows_which_secrets_are_set_but_not_their_values(contents: PackContents) -> None:
    shown = repr(contents)

    assert DB_PASSWORD not in shown
    assert WALLET_PASSWORD not in shown
    assert PEM_BODY.decode() not in shown
    assert "cloud_password='***'" in shown
    assert "'ewallet.pem'" in shown


# --------------------------------------------------------------------------- refusals when writing


@pytest.mark.parametrize("passphrase", ["", "short", "1234567", "   abc   "])
def test_a_short_passphrase_is_refused_naming_the_rule(
    tmp_path: Path, contents: PackContents, passphrase: str
) -> None:
    path = tmp_path / "team.dmlpack"

    with pytest.raises(InvalidInput, match="at least 8 characters"):
        write_pack(path, contents, passphrase)

    assert not path.exists()


def test_eight_characters_are_enough(tmp_path: Path, contents: PackContents) -> None:
    write_pack(tmp_path / "team.dmlpack", contents, "12345678")

    assert read_pack(tmp_path / "team.dmlpack", "12345678") == contents


def test_a_cloud_url_with_a_password_is_refused(tmp_path: Path, contents: PackContents) -> None:
    contents.cloud_url = "postgresql+psycopg://app:hunter2@db.example.com/dmledger"

    with pytest.raises(InvalidInput, match="must not contain a password") as caught:
        write_pack(tmp_path / "team.dmlpack", contents, PASSPHRASE)

    assert "hunter2" not in str(caught.value)


def test_an_unsafe_wallet_file_name_is_refused_when_writing(
    tmp_path: Path, contents: PackContents
) -> None:
    contents.wallet_files["../evil"] = b"x"

    with pytest.raises(InvalidInput, match="plain file name"):
        write_pack(tmp_path / "team.dmlpack", contents, PASSPHRASE)


# --------------------------------------------------------------------------- refusals when reading


def test_a_wrong_passphrase_is_refused(tmp_path: Path, made_pack: bytes) -> None:
    path = damaged(tmp_path, made_pack)

    with pytest.raises(PackError, match="wrong passphrase, or the file was changed"):
        read_pack(path, "not the right passphrase")


@pytest.mark.parametrize(
    ("offset", "what"),
    [
        (20, "salt"),
        (35, "nonce"),
    ],
)
def test_a_changed_header_byte_is_detected(
    tmp_path: Path, made_pack: bytes, offset: int, what: str
) -> None:
    path = damaged(tmp_path, flip(made_pack, offset))

    with pytest.raises(PackError, match="wrong passphrase, or the file was changed"):
        read_pack(path, PASSPHRASE)


def test_a_changed_cost_byte_is_refused_before_any_work(tmp_path: Path, made_pack: bytes) -> None:
    # log2(n) = 17 ^ 0xFF would ask scrypt for far more memory than any machine has.
    data = bytearray(made_pack)
    data[10] ^= 0xFF
    path = damaged(tmp_path, bytes(data))

    with pytest.raises(PackError, match="key-derivation settings"):
        read_pack(path, PASSPHRASE)


@pytest.mark.parametrize(
    ("offset", "value"),
    [
        (10, 18),  # n = 2**18: 256 MiB, within what main accepted (1 GiB), not what we write
        (10, 20),  # n = 2**20, r = 8: the 1 GiB main allowed, about 4 s of work
        (11, 9),  # r = 9
        (11, 1),  # r = 1 with n as written: cheap, but not ours
        (12, 2),  # p = 2: twice the work
        (12, 16),
    ],
)
def test_only_the_key_derivation_settings_team_pack_writes_are_accepted(
    tmp_path: Path, made_pack: bytes, monkeypatch: pytest.MonkeyPatch, offset: int, value: int
) -> None:
    data = bytearray(made_pack)
    data[offset] = value
    path = damaged(tmp_path, bytes(data))
    derivations: list[tuple[int, int, int]] = []

    def spy(passphrase: str, salt: bytes, log2_n: int, r: int, p: int) -> bytes:
        derivations.append((log2_n, r, p))
        raise AssertionError("no key may be derived for a refused header")

    monkeypatch.setattr(pack, "_derive_key", spy)
    with pytest.raises(PackError, match="key-derivation settings"):
        read_pack(path, PASSPHRASE)
    assert derivations == []


def test_a_weakened_cost_is_refused(tmp_path: Path, made_pack: bytes) -> None:
    data = bytearray(made_pack)
    data[10] = 10  # n = 1024: cheap to brute-force, so never trusted
    path = damaged(tmp_path, bytes(data))

    with pytest.raises(PackError, match="key-derivation settings"):
        read_pack(path, PASSPHRASE)


@pytest.mark.parametrize("where", ["first", "middle", "tag"])
def test_a_changed_ciphertext_byte_is_detected(
    tmp_path: Path, made_pack: bytes, where: str
) -> None:
    offset = {"first": HEADER_SIZE, "middle": (HEADER_SIZE + len(made_pack)) // 2}.get(
        where, len(made_pack) - 1
    )
    path = damaged(tmp_path, flip(made_pack, offset))

    with pytest.raises(PackError, match="wrong passphrase, or the file was changed"):
        read_pack(path, PASSPHRASE)


def test_bytes_appended_to_a_pack_are_detected(tmp_path: Path, made_pack: bytes) -> None:
    path = damaged(tmp_path, made_pack + b"\x00")

    with pytest.raises(PackError, match="the file was changed"):
        read_pack(path, PASSPHRASE)


@pytest.mark.parametrize("keep", [4, 8, 9, 30, HEADER_SIZE, HEADER_SIZE + 10, -1])
def test_a_truncated_pack_is_reported_as_truncated(
    tmp_path: Path, made_pack: bytes, keep: int
) -> None:
    path = damaged(tmp_path, made_pack[:keep])

    with pytest.raises(PackError, match="is truncated"):
        read_pack(path, PASSPHRASE)


def test_an_empty_file_is_reported(tmp_path: Path) -> None:
    with pytest.raises(PackError, match="is empty"):
        read_pack(damaged(tmp_path, b""), PASSPHRASE)


def test_a_file_that_is_not_a_pack_is_reported(tmp_path: Path) -> None:
    path = damaged(tmp_path, b"PK\x03\x04 this is a zip, not a pack" * 4)

    with pytest.raises(PackError, match="is not a DM Ledger setup pack"):
        read_pack(path, PASSPHRASE)


def test_a_newer_format_version_is_reported(tmp_path: Path, made_pack: bytes) -> None:
    data = bytearray(made_pack)
    data[8] = 2

    with pytest.raises(PackError, match=r"format version 2\b.*update DM Ledger"):
        read_pack(damaged(tmp_path, bytes(data)), PASSPHRASE)


def test_a_missing_file_is_a_pack_error(tmp_path: Path) -> None:
    with pytest.raises(PackError, match="Cannot read setup pack"):
        read_pack(tmp_path / "nowhere.dmlpack", PASSPHRASE)


# --------------------------------------------------------------------------- install_wallet


def test_install_wallet_writes_private_files_in_a_private_folder(tmp_path: Path) -> None:
    dest = tmp_path / "home" / "wallet"
    old_umask = os.umask(0o000)
    try:
        returned = install_wallet({"ewallet.pem": PEM_BODY, "tnsnames.ora": TNSNAMES}, dest)
    finally:
        os.umask(old_umask)

    assert returned == dest
    assert mode(dest) == 0o700
    assert (dest / "ewallet.pem").read_bytes() == PEM_BODY
    assert (dest / "tnsnames.ora").read_bytes() == TNSNAMES
    assert {mode(dest / name) for name in ("ewallet.pem", "tnsnames.ora")} == {0o600}
    assert sorted(p.name for p in dest.iterdir()) == ["ewallet.pem", "tnsnames.ora"]


def test_install_wallet_tightens_an_existing_folder_and_replaces_files(tmp_path: Path) -> None:
    dest = tmp_path / "wallet"
    dest.mkdir(mode=0o755)
    dest.chmod(0o755)
    (dest / "ewallet.pem").write_bytes(b"old")
    (dest / "ewallet.pem").chmod(0o644)

    install_wallet({"ewallet.pem": PEM_BODY}, dest)

    assert mode(dest) == 0o700
    assert mode(dest / "ewallet.pem") == 0o600
    assert (dest / "ewallet.pem").read_bytes() == PEM_BODY


def test_install_wallet_replaces_a_planted_symlink_instead_of_following_it(
    tmp_path: Path,
) -> None:
    dest = tmp_path / "wallet"
    dest.mkdir()
    victim = tmp_path / "victim.txt"
    victim.write_bytes(b"keep me")
    (dest / "ewallet.pem").symlink_to(victim)

    install_wallet({"ewallet.pem": PEM_BODY}, dest)

    assert victim.read_bytes() == b"keep me"
    assert not (dest / "ewallet.pem").is_symlink()


@pytest.mark.parametrize(
    "name",
    [
        "../ewallet.pem",
        "..",
        ".",
        "",
        "sub/ewallet.pem",
        "/etc/passwd",
        "..\\ewallet.pem",
        "C:ewallet.pem",
        "ewallet.pem\x00.txt",
        "a..b",
    ],
)
def test_install_wallet_refuses_unsafe_names_and_writes_nothing(tmp_path: Path, name: str) -> None:
    dest = tmp_path / "wallet"

    with pytest.raises(ConfigError, match="plain file name"):
        install_wallet({"tnsnames.ora": TNSNAMES, name: b"x"}, dest)

    assert not dest.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_a_pack_round_trip_installs_a_usable_wallet(tmp_path: Path, contents: PackContents) -> None:
    write_pack(tmp_path / "team.dmlpack", contents, PASSPHRASE)
    opened = read_pack(tmp_path / "team.dmlpack", PASSPHRASE)

    dest = install_wallet(opened.wallet_files, tmp_path / "wallet")

    assert (dest / "ewallet.pem").read_bytes() == PEM_BODY
    assert (dest / "empty.ora").read_bytes() == b""
