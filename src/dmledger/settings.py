"""Settings: read once, in one place.

The home folder holds ``config.toml`` (no secrets, ever), ``local_data.db``, the
API token file and, for the embedded default, ``cloud.db``. Where the home is:
``--home``, else ``DMLEDGER_HOME``, else the platform's user data folder.
Environment variables override the file (``DMLEDGER_CLOUD_URL``,
``DMLEDGER_WALLET_DIR``); secrets come only from the environment or the OS keyring.
"""

from __future__ import annotations

import logging
import os
import secrets
import tomllib
from pathlib import Path

import platformdirs
import tomli_w
from pydantic import BaseModel, Field
from sqlalchemy.engine import make_url

from dmledger.errors import ConfigError, InvalidInput

log = logging.getLogger(__name__)

CONFIG_NAME = "config.toml"
TOKEN_NAME = "api_token"
KEYRING_SERVICE = "dmledger"


class Settings(BaseModel):
    """What ``config.toml`` holds, after environment overrides."""

    operator: str
    actor: str | None = None
    cloud_url: str
    wallet_dir: str | None = None
    wallet_alias: str | None = None
    cloud_user: str | None = None
    sync_interval: float = Field(default=30.0, gt=0)
    tombstone_retention_days: int = Field(default=90, gt=0)


def default_home() -> Path:
    return Path(platformdirs.user_data_dir("dmledger", appauthor=False))


def resolve_home(option: str | Path | None) -> Path:
    """The home from ``--home``, ``DMLEDGER_HOME`` or the platform default."""
    if option:
        return Path(option).expanduser().resolve()
    env = os.environ.get("DMLEDGER_HOME")
    if env:
        return Path(env).expanduser().resolve()
    return default_home()


def embedded_cloud_url(home: Path) -> str:
    return f"sqlite:///{home / 'cloud.db'}"


def load(home: Path) -> Settings:
    """Read the home's settings; ConfigError when the home was never initialised."""
    path = home / CONFIG_NAME
    if not path.is_file():
        raise ConfigError(
            f"no DM Ledger home at {home}: run `dmledger init --operator NAME` first "
            "(or pass --home / set DMLEDGER_HOME)"
        )
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as error:
        raise ConfigError(f"{path} cannot be read: {error}") from None
    overrides = {
        "cloud_url": os.environ.get("DMLEDGER_CLOUD_URL"),
        "wallet_dir": os.environ.get("DMLEDGER_WALLET_DIR"),
    }
    data.update({k: v for k, v in overrides.items() if v})
    try:
        return Settings.model_validate(data)
    except ValueError as error:
        raise ConfigError(f"{path} has unusable settings: {error}") from None


def save(home: Path, settings: Settings) -> Path:
    """Write ``config.toml`` atomically with owner-only permissions."""
    home.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = home / CONFIG_NAME
    data = {k: v for k, v in settings.model_dump().items() if v is not None}
    temporary = path.with_suffix(".tmp")
    temporary.write_text(tomli_w.dumps(data), encoding="utf-8")
    temporary.chmod(0o600)
    os.replace(temporary, path)
    return path


def split_password(url: str) -> tuple[str, str | None]:
    """Separate a password typed into a URL, so it is never written to the config."""
    try:
        parsed = make_url(url)
    except Exception:
        raise InvalidInput(
            "cloud URL is not a database URL: expected e.g. sqlite:///PATH or "
            "postgresql+psycopg://USER@HOST/DB"
        ) from None
    if parsed.password is None:
        return url, None
    password = str(parsed.password)
    return parsed.set(password=None).render_as_string(hide_password=False), password


def cloud_password(settings: Settings) -> str | None:
    """``DMLEDGER_CLOUD_PASSWORD``, else the OS keyring, else None."""
    return _secret("DMLEDGER_CLOUD_PASSWORD", f"cloud:{settings.cloud_url}")


def wallet_password() -> str | None:
    return _secret("DMLEDGER_WALLET_PASSWORD", "wallet")


def store_secret(name: str, value: str) -> bool:
    """Keep a secret in the OS keyring; False when no keyring is usable here."""
    try:
        import keyring

        keyring.set_password(KEYRING_SERVICE, name, value)
    except Exception as error:  # any backend failure means "no keyring here"
        log.info("no usable keyring (%s)", type(error).__name__)
        return False
    return True


def _secret(env_name: str, keyring_name: str) -> str | None:
    value = os.environ.get(env_name)
    if value:
        return value
    try:
        import keyring

        found = keyring.get_password(KEYRING_SERVICE, keyring_name)
    except Exception:  # no keyring backend on this machine
        return None
    return None if found is None else str(found)


def api_token(home: Path, *, create: bool = False) -> str:
    """The local JSON API's bearer token, kept in a 0600 file in the home."""
    path = home / TOKEN_NAME
    if path.is_file():
        return path.read_text(encoding="utf-8").strip()
    if not create:
        raise ConfigError(f"no API token in {home}: run `dmledger init` first")
    token = secrets.token_urlsafe(32)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(token + "\n")
    return token
