"""Team onboarding: the lead makes a setup pack, a teammate joins with it.

``make_pack`` runs on the team lead's machine, against a PostgreSQL or Oracle cloud:
it creates a least-privilege database user for the teammates' agents (or gives an
existing one a new password), grants it the operator role, and writes an encrypted
setup pack (``setup_pack/pack.py``: the file format, a layer below) with everything a
teammate needs: the cloud URL for that user, its password, and for Oracle the wallet,
its password and the schema owning the tables. The passphrase is never stored anywhere.

``join`` runs on the teammate's machine: it opens the pack, checks everything, then
installs a home with owner-only permissions (folders 0700, files 0600), keeps the
passwords in the OS keyring (or, where there is none, in ``HOME/secrets/``; never in
``config.toml``), registers the teammate as an operator in the cloud and runs the
first sync. A wrong passphrase or a changed file is refused before anything is
written, so it leaves nothing behind.
"""

from __future__ import annotations

import dataclasses
import logging
import secrets
import shutil
import string
import tempfile
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import make_url

from dmledger import settings as config
from dmledger.cloud import (
    EWALLET_PEM,
    ROLES,
    TNSNAMES_ORA,
    backend_of,
    ensure_login,
    login_name,
    oracle_target,
    redact_url,
)
from dmledger.domain.handles import validate_actor_username
from dmledger.domain.text import validate_name
from dmledger.errors import CloudError, InvalidInput, PackError, Refused
from dmledger.setup_pack.pack import (
    MIN_PASSPHRASE_LENGTH,
    PackContents,
    install_wallet,
    read_pack,
    write_pack,
)
from dmledger.sync.engine import Progress

from .ledger import Ledger
from .views import JoinReport, PackReport

__all__ = [
    "JoinReport",
    "PackReport",
    "ensure_shareable",
    "join",
    "make_pack",
    "new_password",
]

log = logging.getLogger(__name__)

WALLET_FOLDER = "wallet"

_PASSWORD_ALPHABET = string.ascii_letters + string.digits
_PASSWORD_LENGTH = 24  # about 143 bits; Oracle accepts at most 30 characters
_MAX_WALLET_BYTES = 5 * 1024 * 1024  # console wallets are ~30 kB; more means a wrong folder


def new_password() -> str:
    """A random database password: 24 letters and digits, with at least one upper-case
    letter, one lower-case letter and one digit.

    Letters and digits only, because the password is written into a CREATE USER
    statement and a URL-free config, and Oracle's password rules (12 to 30 characters,
    all three classes) must hold.
    """
    while True:
        password = "".join(secrets.choice(_PASSWORD_ALPHABET) for _ in range(_PASSWORD_LENGTH))
        if (
            any(c.islower() for c in password)
            and any(c.isupper() for c in password)
            and any(c.isdigit() for c in password)
        ):
            return password


# --------------------------------------------------------------------------- the lead


def make_pack(
    ledger: Ledger,
    out: Path,
    passphrase: str,
    *,
    role: str = "operator",
    user: str = config.DEFAULT_PACK_USER,
) -> PackReport:
    """Create or reset database user ``user`` with a new random password, grant it
    ``role``, and write the encrypted setup pack ``out`` (0600) for a teammate.

    Everything that can be checked is checked before the database is touched: the
    cloud is shared (the embedded SQLite file is refused), the passphrase is long
    enough and not part of the file name, the output folder exists, the role and user
    name are valid, the cloud has the current schema. Resetting an existing user's
    password locks out every agent still using the old one: the report says so.

    Raises Refused (embedded cloud, a protected user), InvalidInput (passphrase, name,
    role, folder), CloudSchemaError, CloudError.
    """
    backend = ensure_shareable(ledger)
    _check_passphrase(passphrase, out)
    folder = out.parent if str(out.parent) else Path(".")
    if not folder.is_dir():
        raise InvalidInput(f"cannot write the pack: folder {folder} does not exist")
    if role not in ROLES:
        raise InvalidInput(f"role {role!r} is not one of: {', '.join(ROLES)}")
    name = login_name(backend, user)
    ledger.cloud.require_schema()
    # Everything but the password first: a wallet problem must stop us before the
    # database user is created or its password changed.
    without_password = _contents_for(ledger, backend, name, role)

    password = new_password()
    created = ensure_login(ledger.cloud.db, name, password)
    statements = ledger.cloud_grants(role, name, apply=True)
    log.info(
        "database user %s %s, %d grants applied",
        name,
        "created" if created else "reset",
        len(statements),
    )
    contents = dataclasses.replace(without_password, cloud_password=password)
    write_pack(out, contents, passphrase)
    return PackReport(
        path=out,
        user=name,
        created=created,
        backend=backend,
        role=role,
        grants=len(statements),
        wallet_files=len(contents.wallet_files),
    )


def ensure_shareable(ledger: Ledger) -> str:
    """The cloud's backend when teammates can share it; Refused for the embedded SQLite
    cloud. Cheap (no connection), so the CLI asks it before asking for a passphrase."""
    backend = backend_of(ledger.settings.cloud_url)
    if backend == "sqlite":
        raise Refused(
            "this home's cloud is the embedded SQLite file, which only this machine can "
            "open: a teammate cannot join it. Move the team to PostgreSQL or Oracle "
            "(`dmledger init --cloud URL`, then `dmledger cloud init`) and make the pack there"
        )
    return backend


def _check_passphrase(passphrase: str, out: Path) -> None:
    if len(passphrase.strip()) < MIN_PASSPHRASE_LENGTH:
        raise InvalidInput(
            f"the pack passphrase must be at least {MIN_PASSPHRASE_LENGTH} characters long, "
            "not counting spaces at either end; a phrase of several words is better"
        )
    if passphrase.strip().lower() in out.name.lower():
        raise InvalidInput(
            "the pack's file name contains its passphrase: anyone who sees the file would "
            "see the passphrase too. Choose another file name"
        )


def _contents_for(ledger: Ledger, backend: str, user: str, role: str) -> PackContents:
    """The pack's contents for ``user``, without its password."""
    settings = ledger.settings
    if backend == "postgresql":
        # Same server, database and options (search_path included); only the user changes.
        parsed = make_url(settings.cloud_url).set(username=user)
        url = parsed._replace(password=None).render_as_string(hide_password=False)
        return PackContents(
            cloud_url=url,
            cloud_user=user,
            cloud_password=None,
            wallet_files={},
            wallet_password=None,
            wallet_alias=None,
            role=role,
            team_operator_hint=None,
        )
    _owner_user, alias = oracle_target(
        settings.cloud_url, settings.cloud_user, settings.wallet_alias
    )
    if not settings.wallet_dir:
        raise InvalidInput("this home has no wallet_dir: the pack needs the Oracle wallet")
    owner = ledger.cloud.current_schema()
    return PackContents(
        cloud_url=f"oracle+oracledb://{user}@{alias}",
        cloud_user=user,
        cloud_password=None,
        wallet_files=_wallet_files(Path(settings.wallet_dir).expanduser()),
        wallet_password=config.wallet_password(settings, ledger.home),
        wallet_alias=alias,
        role=role,
        team_operator_hint=None,
        cloud_schema=owner.upper() if owner else None,
    )


def _wallet_files(folder: Path) -> dict[str, bytes]:
    """Every file at the top of the wallet folder (thin mode reads two of them; the
    others keep the copy usable by other Oracle tools)."""
    files = {path.name: path.read_bytes() for path in sorted(folder.iterdir()) if path.is_file()}
    for needed in (TNSNAMES_ORA, EWALLET_PEM):
        if needed not in files:
            raise InvalidInput(f"the wallet folder {folder} has no {needed}")
    if sum(len(data) for data in files.values()) > _MAX_WALLET_BYTES:
        raise InvalidInput(
            f"the wallet folder {folder} holds more than {_MAX_WALLET_BYTES // 2**20} MB: "
            "wallet_dir should be the folder the wallet zip was unzipped into"
        )
    return files


# --------------------------------------------------------------------------- the teammate


@dataclass(frozen=True)
class _Plan:
    """Everything ``join`` will write, decided and checked before anything is written."""

    home: Path
    contents: PackContents
    backend: str
    operator: str
    actor: str | None
    rejoin: bool


def join(
    home: Path,
    pack_file: Path,
    passphrase: str,
    *,
    operator: str | None = None,
    actor: str | None = None,
    progress: Progress | None = None,
) -> JoinReport:
    """Install the setup pack ``pack_file`` into ``home``, register ``operator`` (and
    ``actor``) in the cloud, and run the first sync, reporting pulled rows to
    ``progress``.

    The pack is decrypted and every value checked first: a wrong passphrase, a changed
    file or bad input raises (PackError, InvalidInput, Refused) with the disk untouched.
    A new home is built in a private temporary folder next to ``home`` and renamed into
    place. An existing home is accepted only when it already uses the pack's database
    (joining again, say after the lead reset the password, refreshes the settings, the
    password and the wallet, and keeps queued work); any other non-empty folder is
    refused. If the cloud cannot be reached after the install, the CloudError says the
    home is installed and that ``dmledger sync`` finishes the job.
    """
    home = Path(home).expanduser().absolute()
    contents = read_pack(Path(pack_file), passphrase)
    plan = _plan(home, contents, operator, actor)
    if plan.rejoin:
        _write_home(home, plan)
    else:
        _build_then_rename(plan)
    kept_in = _keep_secrets(plan)
    config.secure_home(home)

    ledger = Ledger.open(home)
    try:
        ledger.add_operator(plan.operator)
        if plan.actor:
            ledger.add_actor(plan.actor, plan.operator)
        report = ledger.sync(progress)
    except CloudError as error:
        raise type(error)(
            f"{error} (the setup is installed in {home}; run `dmledger sync` when the cloud "
            "can be reached to finish joining)"
        ) from error
    finally:
        ledger.close()
        config.secure_home(home)
    wallet_dir = home / WALLET_FOLDER if contents.wallet_files else None
    return JoinReport(
        home=home,
        operator=plan.operator,
        actor=plan.actor,
        cloud=redact_url(contents.cloud_url),
        role=contents.role,
        password_kept_in=kept_in,
        wallet_dir=wallet_dir,
        rejoined=plan.rejoin,
        sync=report,
    )


def _plan(home: Path, contents: PackContents, operator: str | None, actor: str | None) -> _Plan:
    try:
        backend = backend_of(contents.cloud_url)
    except InvalidInput as error:
        raise PackError(f"the setup pack holds an unusable cloud URL: {error}") from None
    if backend == "sqlite":
        raise PackError("the setup pack is for an embedded SQLite cloud, which cannot be shared")
    if config.split_password(contents.cloud_url)[1] is not None:
        raise PackError("the setup pack's cloud URL holds a password; ask for a new pack")
    if backend == "oracle":
        for needed in (TNSNAMES_ORA, EWALLET_PEM):
            if needed not in contents.wallet_files:
                raise PackError(f"the setup pack's Oracle wallet has no {needed}")
    chosen = operator or contents.team_operator_hint
    if not chosen:
        raise InvalidInput("give --operator NAME: your name on the team, e.g. Nadia")
    name = validate_name(chosen, "operator name")
    actor_name = validate_actor_username(actor) if actor else None

    rejoin = False
    if (home / config.CONFIG_NAME).is_file():
        current = config.load(home)
        if _without_user(current.cloud_url) != _without_user(contents.cloud_url):
            raise Refused(
                f"{home} is already the DM Ledger home of {current.operator} for cloud "
                f"{redact_url(current.cloud_url)}: join into another folder (--home DIR)"
            )
        rejoin = True
    elif home.exists() and (not home.is_dir() or any(home.iterdir())):
        raise Refused(
            f"{home} exists and is not an empty folder: join into a new or empty folder "
            "(--home DIR)"
        )
    return _Plan(home, contents, backend, name, actor_name, rejoin)


def _without_user(url: str) -> str:
    """The URL naming the database but not who logs in: two packs for different users
    of one team's database are the same cloud."""
    parsed = make_url(url)
    return parsed._replace(username=None, password=None).render_as_string(hide_password=False)


def _build_then_rename(plan: _Plan) -> None:
    """Write the new home in a private folder beside it, then rename it into place, so
    a failure half way leaves no half-made home."""
    plan.home.parent.mkdir(parents=True, exist_ok=True)
    building = Path(tempfile.mkdtemp(prefix=".dmledger-join-", dir=plan.home.parent))
    try:
        _write_home(building, plan)
        config.secure_home(building)
        # POSIX rename() replaces an empty folder (checked by _plan) in one step.
        building.rename(plan.home)
    except BaseException:
        shutil.rmtree(building, ignore_errors=True)
        raise


def _write_home(target: Path, plan: _Plan) -> None:
    """Config, local store, API token and wallet into ``target``; paths written into the
    config name the final home."""
    contents = plan.contents
    wallet_dir: str | None = None
    if contents.wallet_files:
        install_wallet(contents.wallet_files, target / WALLET_FOLDER)
        wallet_dir = str(plan.home / WALLET_FOLDER)
    ledger, _ = Ledger.init_home(
        target,
        plan.operator,
        cloud_url=contents.cloud_url,
        actor=plan.actor,
        wallet_dir=wallet_dir,
        wallet_alias=contents.wallet_alias,
        cloud_user=contents.cloud_user if plan.backend == "oracle" else None,
        cloud_schema=contents.cloud_schema,
    )
    ledger.close()


def _keep_secrets(plan: _Plan) -> str | None:
    """The passwords into the OS keyring when one is usable, else into 0600 files in
    ``HOME/secrets/``. Returns where the database password went."""
    settings = config.load(plan.home)
    contents = plan.contents
    kept_in = None
    if contents.cloud_password is not None:
        kept_in = _keep(
            plan.home,
            config.cloud_secret_name(settings.cloud_url),
            config.CLOUD_PASSWORD_FILE,
            contents.cloud_password,
        )
    if contents.wallet_password is not None and settings.wallet_dir:
        _keep(
            plan.home,
            config.wallet_secret_name(settings.wallet_dir),
            config.WALLET_PASSWORD_FILE,
            contents.wallet_password,
        )
    return kept_in


def _keep(home: Path, keyring_name: str, file_name: str, value: str) -> str:
    stale = home / config.SECRETS_DIR / file_name
    if config.store_secret(keyring_name, value):
        # A file from an earlier join on this machine would never be read (the keyring
        # comes first) but would keep an old secret on disk.
        stale.unlink(missing_ok=True)
        return "keyring"
    config.write_secret_file(home, file_name, value)
    return "file"
