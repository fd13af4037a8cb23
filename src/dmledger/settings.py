"""Settings: read once, in one place.

The home folder holds ``config.toml`` (no secrets, ever), ``local_data.db``, the
API token file and, for the embedded default, ``cloud.db``. Where the home is:
``--home``, else ``DMLEDGER_HOME``, else the platform's user data folder.
:func:`load` reads :class:`Settings` through pydantic-settings' sources, highest
first: the environment (``DMLEDGER_`` and the field's name: ``DMLEDGER_CLOUD_URL``,
``DMLEDGER_WALLET_DIR``, ``DMLEDGER_SYNC_INTERVAL``, …; empty values are ignored),
then the home's ``config.toml``, then the defaults. Secrets never go in
``config.toml``: they come from the environment, else the OS keyring, else (on
machines with no usable keyring, where ``dmledger join`` puts them) a 0600 file in
the home's 0700 ``secrets/`` folder.
"""

from __future__ import annotations

import logging
import os
import re
import secrets
import tomllib
from pathlib import Path
from urllib.parse import unquote

import tomli_w
from pydantic import Field, ValidationError
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from dmledger.errors import ConfigError, InvalidInput

# Re-exported (``x as x``): the home's place and privacy live in the light homedir.
from dmledger.homedir import CONFIG_NAME as CONFIG_NAME
from dmledger.homedir import DEFAULT_PACK_USER as DEFAULT_PACK_USER
from dmledger.homedir import OWNER_ONLY_UMASK as OWNER_ONLY_UMASK
from dmledger.homedir import default_home as default_home
from dmledger.homedir import require_home
from dmledger.homedir import resolve_home as resolve_home
from dmledger.homedir import secure_home as secure_home

log = logging.getLogger(__name__)

TOKEN_NAME = "api_token"
PAGE_SECRET_NAME = "page_secret"
KEYRING_SERVICE = "dmledger"
ENV_PREFIX = "DMLEDGER_"


class Settings(BaseSettings):
    """What ``config.toml`` holds, after environment overrides (see :func:`load`).

    Built directly (``Settings(operator=..., cloud_url=...)``) it holds what it is
    given and reads nothing else: ``init`` and ``join`` write exactly what they chose.
    """

    # Unknown keys in config.toml (from a newer version) are ignored, as before.
    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, env_ignore_empty=True, extra="ignore")

    operator: str
    actor: str | None = None
    cloud_url: str
    wallet_dir: str | None = None
    wallet_alias: str | None = None
    cloud_user: str | None = None
    # Oracle: the schema that owns the tables, when the user is not the owner (an
    # operator user made by `team pack`); set as CURRENT_SCHEMA on every connection.
    cloud_schema: str | None = None
    sync_interval: float = Field(default=30.0, gt=0)
    tombstone_retention_days: int = Field(default=90, gt=0)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Only what the caller passes: load() gathers the file and the environment.
        return (init_settings,)


def embedded_cloud_url(home: Path) -> str:
    return f"sqlite:///{home / 'cloud.db'}"


def load(home: Path, *, environment: bool = True) -> Settings:
    """Read the home's settings; ConfigError when the home was never initialised.

    ``environment=False`` reads the file alone (to rewrite it without saving an
    override taken from the environment)."""
    path = require_home(home)
    try:
        from_file = TomlConfigSettingsSource(Settings, toml_file=path)()
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
        raise ConfigError(f"{path} cannot be read: {error}") from None
    from_env = EnvSettingsSource(Settings)() if environment else {}
    try:
        return Settings(**{**from_file, **from_env})
    except ValidationError as error:
        raise ConfigError(_unusable(path, error, from_env)) from None


def _unusable(path: Path, error: ValidationError, from_env: dict[str, object]) -> str:
    """Each bad value with where it came from and the rule it breaks."""
    problems = []
    for item in error.errors():
        name = str(item["loc"][0]) if item["loc"] else "?"
        where = f"{ENV_PREFIX}{name.upper()}" if name in from_env else name
        given = f" = {item['input']!r}" if item["type"] != "missing" else ""
        problems.append(f"{where}{given}: {item['msg']}")
    return f"{path} has unusable settings: " + "; ".join(problems)


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


_AUTHORITY_END = re.compile(r"[/?#]")
UNCLEAR_PASSWORD = (
    "cloud URL: its user name and password cannot be told apart from the host without "
    "doubt (an unencoded @, /, ? or # in the password): percent-encode them in the "
    "password (@ as %40, / as %2F, ? as %3F, # as %23), or leave the password out of the "
    "URL and set DMLEDGER_CLOUD_PASSWORD"
)


def split_password(url: str) -> tuple[str, str | None]:
    """Separate a password typed into a URL, so it is never written to the config.

    InvalidInput (naming the fix, never the password) when the URL's user part is
    ambiguous: more than one ``@`` before the host, or a password that a standard URL
    parser would read differently from SQLAlchemy (``/``, ``?`` or ``#`` in it).
    """
    from sqlalchemy.engine import make_url  # heavy: only commands that take a URL

    try:
        parsed = make_url(url)
    except Exception:
        raise InvalidInput(
            "cloud URL is not a database URL: expected e.g. sqlite:///PATH or "
            "postgresql+psycopg://USER@HOST/DB"
        ) from None
    authority = _AUTHORITY_END.split(url.partition("://")[2], maxsplit=1)[0]
    userinfo, at, _host = authority.rpartition("@")
    if authority.count("@") > 1:
        raise InvalidInput(UNCLEAR_PASSWORD)
    if parsed.password is None:
        return url, None
    password = str(parsed.password)
    if not at or unquote(userinfo.partition(":")[2]) != password:
        raise InvalidInput(UNCLEAR_PASSWORD)
    # URL.set() treats password=None as "leave it": only _replace removes it.
    return parsed._replace(password=None).render_as_string(hide_password=False), password


SECRETS_DIR = "secrets"
CLOUD_PASSWORD_FILE = "cloud_password"
WALLET_PASSWORD_FILE = "wallet_password"


def cloud_secret_name(cloud_url: str) -> str:
    """The OS keyring entry holding the password for ``cloud_url``."""
    return f"cloud:{cloud_url}"


def wallet_secret_name(wallet_dir: str) -> str:
    """The OS keyring entry holding the password of the wallet in ``wallet_dir``."""
    return f"wallet:{wallet_dir}"


def cloud_password(settings: Settings, home: Path | None = None) -> str | None:
    """``DMLEDGER_CLOUD_PASSWORD``, else the OS keyring, else ``HOME/secrets/cloud_password``
    (only when ``home`` is given), else None."""
    return _secret(
        "DMLEDGER_CLOUD_PASSWORD",
        [cloud_secret_name(settings.cloud_url)],
        _secret_file(home, CLOUD_PASSWORD_FILE),
    )


def wallet_password(settings: Settings | None = None, home: Path | None = None) -> str | None:
    """``DMLEDGER_WALLET_PASSWORD``, else the OS keyring (the entry for this wallet
    folder, then the machine-wide ``wallet`` entry), else ``HOME/secrets/wallet_password``
    (only when ``home`` is given), else None."""
    names = ["wallet"]
    if settings is not None and settings.wallet_dir:
        names.insert(0, wallet_secret_name(settings.wallet_dir))
    return _secret("DMLEDGER_WALLET_PASSWORD", names, _secret_file(home, WALLET_PASSWORD_FILE))


def pack_passphrase() -> str | None:
    """``DMLEDGER_PACK_PASSPHRASE`` (for scripts); None means ask the person. Never stored."""
    return os.environ.get("DMLEDGER_PACK_PASSPHRASE") or None


def write_secret_file(home: Path, file_name: str, value: str) -> Path:
    """Keep a secret in ``HOME/secrets/FILE`` (folder 0700, file 0600), for machines
    without a usable OS keyring. Written atomically; the file is never readable by
    others, not even briefly."""
    folder = home / SECRETS_DIR
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    folder.chmod(0o700)  # mkdir's mode is filtered by the umask
    path = folder / file_name
    temporary = folder / f".{file_name}.tmp"
    temporary.unlink(missing_ok=True)
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(value + "\n")
    os.replace(temporary, path)
    return path


def _secret_file(home: Path | None, file_name: str) -> Path | None:
    return None if home is None else home / SECRETS_DIR / file_name


def store_secret(name: str, value: str) -> bool:
    """Keep a secret in the OS keyring; False when no keyring is usable here."""
    try:
        import keyring

        keyring.set_password(KEYRING_SERVICE, name, value)
    except Exception as error:  # any backend failure means "no keyring here"
        log.info("no usable keyring (%s)", type(error).__name__)
        return False
    return True


def _secret(env_name: str, keyring_names: list[str], file: Path | None) -> str | None:
    value = os.environ.get(env_name)
    if value:
        return value
    for name in keyring_names:
        try:
            import keyring

            found = keyring.get_password(KEYRING_SERVICE, name)
        except Exception:  # no keyring backend on this machine
            break
        if found is not None:
            return str(found)
    if file is not None:
        try:
            text = file.read_text(encoding="utf-8").strip()
        except FileNotFoundError:
            return None
        except OSError as error:
            raise ConfigError(f"{file} cannot be read: {error.strerror or error}") from None
        return text or None
    return None


def api_token(home: Path, *, create: bool = False) -> str:
    """The local JSON API's bearer token, kept in a 0600 file in the home."""
    return _token_file(home / TOKEN_NAME, create=create, what="API token")


def page_secret(home: Path, *, create: bool = False) -> str:
    """The secret that opens the web pages when their login is on (``serve --login``),
    kept in a 0600 file in the home; made on first use with ``create``."""
    return _token_file(home / PAGE_SECRET_NAME, create=create, what="page login secret")


def _token_file(path: Path, *, create: bool, what: str) -> str:
    if path.is_file():
        return path.read_text(encoding="utf-8").strip()
    if not create:
        raise ConfigError(f"no {what} in {path.parent}: run `dmledger init` first")
    token = secrets.token_urlsafe(32)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(token + "\n")
    return token
