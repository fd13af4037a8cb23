"""Encrypted setup packs: everything a new teammate needs to join, in one file.

A pack carries the cloud URL, the database credentials and, for Oracle, the wallet
files. It travels over chat or e-mail, so it is encrypted with a passphrase that
travels another way, and the key derivation is memory-hard to make guessing it
offline expensive.

File layout (all integers big-endian)::

    offset  size  field
    0       8     magic  b"DMLPACK\\x00"
    8       1     format version (1)
    9       1     KDF id (1 = scrypt)
    10      1     scrypt log2(n)
    11      1     scrypt r
    12      1     scrypt p
    13      16    scrypt salt (random)
    29      12    AES-GCM nonce (random)
    41      4     ciphertext length, tag included
    45      ...   AES-256-GCM ciphertext of the JSON payload, 16-byte tag at the end

The 45 header bytes are the AES-GCM associated data, so changing any of them (cost,
salt, version, length) makes decryption fail just like changing the ciphertext.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import datetime
import json
import logging
import os
import struct
import tempfile
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from dmledger.errors import ConfigError, InvalidInput, PackError

__all__ = [
    "MIN_PASSPHRASE_LENGTH",
    "PackContents",
    "install_wallet",
    "read_pack",
    "write_pack",
]

logger = logging.getLogger(__name__)

MIN_PASSPHRASE_LENGTH = 8

_MAGIC = b"DMLPACK\x00"
_VERSION = 1
_KDF_SCRYPT = 1
_HEADER = struct.Struct(">8sBBBBB16s12sI")
_TAG_SIZE = 16

# n = 2**17, r = 8: 128 MiB and about a quarter second per derivation, OWASP's
# recommendation for scrypt. Packs are opened once per teammate, so the cost is
# paid by the person joining and, far more often, by anyone guessing passphrases.
_LOG2_N = 17
_R = 8
_P = 1
# What packs we read may ask for: the settings `team pack` writes, or a cheaper n down
# to 2**15 (r and p fixed). Below, the pack is too weak to trust; anything else (a
# damaged or hostile header) is refused before any derivation, so the most a header
# can cost is one derivation of the kind `team pack` does (128 MiB, a quarter second).
_MIN_LOG2_N = 15
ACCEPTED_SCRYPT = frozenset((log2_n, _R, _P) for log2_n in range(_MIN_LOG2_N, _LOG2_N + 1))


@dataclass
class PackContents:
    """What a setup pack holds. ``repr()`` shows which secrets are set, never them.

    ``cloud_url`` must not embed a password (it is written to the teammate's config
    file in clear); the password goes in ``cloud_password``. ``wallet_files`` maps
    file names in the Oracle wallet folder to their bytes (empty for other clouds).
    ``created_at`` is an ISO 8601 UTC timestamp. ``cloud_schema`` is the Oracle schema
    owning the tables, when the pack's user is not their owner (None otherwise).
    """

    cloud_url: str
    cloud_user: str | None
    cloud_password: str | None
    wallet_files: dict[str, bytes]
    wallet_password: str | None
    wallet_alias: str | None
    role: str
    team_operator_hint: str | None
    created_at: str = field(
        default_factory=lambda: datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
    )
    cloud_schema: str | None = None

    def __repr__(self) -> str:
        return (
            f"PackContents(cloud_url={self.cloud_url!r}, cloud_user={self.cloud_user!r}, "
            f"cloud_password={_mask(self.cloud_password)}, "
            f"wallet_files={sorted(self.wallet_files)!r}, "
            f"wallet_password={_mask(self.wallet_password)}, "
            f"wallet_alias={self.wallet_alias!r}, role={self.role!r}, "
            f"team_operator_hint={self.team_operator_hint!r}, created_at={self.created_at!r}, "
            f"cloud_schema={self.cloud_schema!r})"
        )


def _mask(secret: str | None) -> str:
    return "None" if secret is None else "'***'"


# --------------------------------------------------------------------------- writing


def write_pack(path: Path, contents: PackContents, passphrase: str) -> None:
    """Encrypt ``contents`` with ``passphrase`` into ``path`` (mode 0600).

    The file appears complete or not at all: it is written to a temporary file in
    the same folder and renamed over ``path`` (an existing file is replaced).
    Takes about a quarter of a second and 128 MiB of memory, on purpose.

    Raises InvalidInput when the passphrase is shorter than ``MIN_PASSPHRASE_LENGTH``
    characters (leading and trailing spaces not counted), when ``cloud_url`` embeds
    a password, or when a wallet file name is unsafe.
    """
    _check_passphrase(passphrase)
    _check_contents(contents)

    salt = os.urandom(16)
    nonce = os.urandom(12)
    payload = json.dumps(_to_json(contents), separators=(",", ":")).encode("utf-8")
    header = _HEADER.pack(
        _MAGIC, _VERSION, _KDF_SCRYPT, _LOG2_N, _R, _P, salt, nonce, len(payload) + _TAG_SIZE
    )
    key = _derive_key(passphrase, salt, _LOG2_N, _R, _P)
    ciphertext = AESGCM(key).encrypt(nonce, payload, header)
    _write_atomically(Path(path), header + ciphertext)
    logger.info("Wrote setup pack %s (%d wallet files)", path, len(contents.wallet_files))


def _check_passphrase(passphrase: str) -> None:
    if len(passphrase.strip()) < MIN_PASSPHRASE_LENGTH:
        raise InvalidInput(
            f"The pack passphrase must be at least {MIN_PASSPHRASE_LENGTH} characters "
            "long, not counting spaces at either end; a longer phrase of several words "
            "is better."
        )


def _check_contents(contents: PackContents) -> None:
    try:
        embedded_password = urlsplit(contents.cloud_url).password
    except ValueError:
        embedded_password = None  # not a URL urllib can split; nothing to leak
    if embedded_password:
        raise InvalidInput(
            "The cloud URL of a pack must not contain a password (it is stored in clear "
            "in the teammate's config file); give it as the cloud password instead."
        )
    for name in contents.wallet_files:
        _check_file_name(name, InvalidInput)


def _to_json(contents: PackContents) -> dict[str, Any]:
    return {
        "cloud_url": contents.cloud_url,
        "cloud_user": contents.cloud_user,
        "cloud_password": contents.cloud_password,
        "wallet_files": {
            name: base64.b64encode(data).decode("ascii")
            for name, data in sorted(contents.wallet_files.items())
        },
        "wallet_password": contents.wallet_password,
        "wallet_alias": contents.wallet_alias,
        "role": contents.role,
        "team_operator_hint": contents.team_operator_hint,
        "created_at": contents.created_at,
        "cloud_schema": contents.cloud_schema,
    }


def _derive_key(passphrase: str, salt: bytes, log2_n: int, r: int, p: int) -> bytes:
    # NFC so that the same passphrase typed on macOS (often decomposed) and on
    # Windows or Linux (composed) gives the same key.
    secret = unicodedata.normalize("NFC", passphrase).encode("utf-8")
    return Scrypt(salt=salt, length=32, n=1 << log2_n, r=r, p=p).derive(secret)


def _write_atomically(path: Path, data: bytes) -> None:
    folder = path.parent if str(path.parent) else Path(".")
    # mkstemp creates the file 0600 from the start, so the secret is never readable
    # by others, not even for the moment before a chmod.
    fd, temp_name = tempfile.mkstemp(dir=folder, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temp_name, 0o600)
        os.replace(temp_name, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp_name)
        raise
    _fsync_folder(folder)


def _fsync_folder(folder: Path) -> None:
    """Make the rename itself durable; not possible (nor needed) on every platform."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


# --------------------------------------------------------------------------- reading


def read_pack(path: Path, passphrase: str) -> PackContents:
    """Decrypt the setup pack at ``path``.

    Raises PackError, with a message saying which, when the file cannot be read, is
    not a DM Ledger pack, was made by a newer format, is cut short, or fails
    authentication: a wrong passphrase and a modified file look the same by design.
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise PackError(f"Cannot read setup pack {path}: {exc.strerror or exc}.") from exc

    if not data:
        raise PackError(f"Setup pack {path} is empty. Copy or download it again.")
    if len(data) <= len(_MAGIC) and _MAGIC.startswith(data):
        raise PackError(f"Setup pack {path} is truncated: the file ends inside its header.")
    if data[: len(_MAGIC)] != _MAGIC:
        raise PackError(f"{path} is not a DM Ledger setup pack.")
    version = data[len(_MAGIC)]
    if version != _VERSION:
        raise PackError(
            f"Setup pack {path} uses format version {version}, and this DM Ledger reads "
            f"version {_VERSION}; update DM Ledger, or ask for a pack made by this version."
        )
    if len(data) < _HEADER.size:
        raise PackError(f"Setup pack {path} is truncated: the file ends inside its header.")
    header = data[: _HEADER.size]
    _, _, kdf, log2_n, r, p, salt, nonce, length = _HEADER.unpack(header)
    ciphertext = data[_HEADER.size :]
    if len(ciphertext) < length:
        raise PackError(
            f"Setup pack {path} is truncated: {len(data)} bytes instead of "
            f"{_HEADER.size + length}. Copy or download it again."
        )
    if len(ciphertext) > length or length < _TAG_SIZE:
        raise PackError(_TAMPERED.format(path=path))
    if kdf != _KDF_SCRYPT or (log2_n, r, p) not in ACCEPTED_SCRYPT:
        # The header is authenticated only after the key is derived, so these values
        # are unverified here; refusing odd ones keeps a bad file from costing gigabytes.
        raise PackError(
            f"Setup pack {path} asks for key-derivation settings this DM Ledger does not "
            "accept; the file was changed or made by another program."
        )

    key = _derive_key(passphrase, salt, log2_n, r, p)
    try:
        payload = AESGCM(key).decrypt(nonce, ciphertext, header)
    except InvalidTag:
        raise PackError(_TAMPERED.format(path=path)) from None
    return _from_json(payload, path)


_TAMPERED = (
    "Cannot open setup pack {path}: wrong passphrase, or the file was changed after it was made."
)


def _from_json(payload: bytes, path: Path) -> PackContents:
    """Rebuild the contents; only a buggy writer can get past AES-GCM with bad JSON."""
    try:
        raw = json.loads(payload.decode("utf-8"))
        if not isinstance(raw, dict):
            raise TypeError("payload is not an object")
        files = raw["wallet_files"]
        if not isinstance(files, dict):
            raise TypeError("wallet_files is not an object")
        contents = PackContents(
            cloud_url=_text(raw, "cloud_url"),
            cloud_user=_optional_text(raw, "cloud_user"),
            cloud_password=_optional_text(raw, "cloud_password"),
            wallet_files={
                str(name): base64.b64decode(str(data), validate=True)
                for name, data in files.items()
            },
            wallet_password=_optional_text(raw, "wallet_password"),
            wallet_alias=_optional_text(raw, "wallet_alias"),
            role=_text(raw, "role"),
            team_operator_hint=_optional_text(raw, "team_operator_hint"),
            created_at=_text(raw, "created_at"),
            cloud_schema=_optional_text(raw, "cloud_schema"),
        )
    except (ValueError, KeyError, TypeError, binascii.Error) as exc:
        raise PackError(
            f"Setup pack {path} decrypted, but its contents are malformed ({exc}); "
            "ask for a new pack."
        ) from None
    return contents


def _text(raw: dict[str, Any], key: str) -> str:
    value = raw[key]
    if not isinstance(value, str):
        raise TypeError(f"{key} is not a string")
    return value


def _optional_text(raw: dict[str, Any], key: str) -> str | None:
    value = raw.get(key)
    if value is not None and not isinstance(value, str):
        raise TypeError(f"{key} is not a string")
    return value


# --------------------------------------------------------------------------- wallet files


def install_wallet(files: dict[str, bytes], dest_dir: Path) -> Path:
    """Write wallet files into ``dest_dir`` (created 0700; each file 0600).

    Every name is checked before anything is written: a bare file name is required,
    so names with a path separator, ``..``, a NUL or a drive prefix raise ConfigError
    and leave the disk untouched. Existing files of the same name are replaced
    atomically (a symlink planted there is replaced, not followed). Returns
    ``dest_dir``.
    """
    dest = Path(dest_dir)
    for name in files:
        _check_file_name(name, ConfigError)

    dest.mkdir(mode=0o700, parents=True, exist_ok=True)
    if dest.is_symlink() or not dest.is_dir():
        raise ConfigError(f"Wallet destination {dest} is not a plain folder.")
    # mkdir's mode is filtered by the umask and ignored for an existing folder.
    os.chmod(dest, 0o700)
    for name, data in files.items():
        _write_atomically(dest / name, data)
    logger.info("Installed %d wallet files into %s", len(files), dest)
    return dest


def _check_file_name(name: str, error: type[InvalidInput] | type[ConfigError]) -> None:
    separators = {"/", "\\", os.sep, os.altsep or "/"}
    unsafe = (
        not name
        or name in {".", ".."}
        or ".." in name
        or "\x00" in name
        or any(sep in name for sep in separators)
        or (len(name) >= 2 and name[1] == ":")  # a Windows drive, "C:evil"
    )
    if unsafe:
        raise error(
            f"Refusing wallet file name {name!r}: it must be a plain file name, without "
            "folders, '..' or a drive."
        )
