"""Where the home is, whether it was set up, and keeping it private.

Light on purpose (the standard library only, platformdirs when the default is asked
for): the CLI's root reads the home for every command, and ``dmledger today`` must
start in a fraction of a second. ``dmledger.settings`` re-exports these.
"""

from __future__ import annotations

import os
from pathlib import Path

from dmledger.errors import ConfigError

CONFIG_NAME = "config.toml"
OWNER_ONLY_UMASK = 0o077
#: The database user `team pack` makes (or resets) for the agents when none is named
#: (here, not in settings, because the CLI's option shows it at import time).
DEFAULT_PACK_USER = "dmledger_operator"


def default_home() -> Path:
    import platformdirs

    return Path(platformdirs.user_data_dir("dmledger", appauthor=False))


def resolve_home(option: str | Path | None) -> Path:
    """The home from ``--home``, ``DMLEDGER_HOME`` or the platform default."""
    if option:
        return Path(option).expanduser().resolve()
    env = os.environ.get("DMLEDGER_HOME")
    if env:
        return Path(env).expanduser().resolve()
    return default_home()


def require_home(home: Path) -> Path:
    """``home``'s ``config.toml``; ConfigError when the home was never initialised."""
    path = home / CONFIG_NAME
    if not path.is_file():
        raise ConfigError(
            f"no DM Ledger home at {home}: run `dmledger init --operator NAME` first "
            "(or pass --home / set DMLEDGER_HOME)"
        )
    return path


def secure_home(home: Path) -> None:
    """Make ``home`` private to this OS user, now and for what is created later.

    Sets the process umask to 077, so files SQLite makes later (``-wal``, ``-shm``,
    ``cloud.db``) are born 0600, and sets every existing folder under ``home`` to 0700
    and every file to 0600 (symbolic links are left alone: they point outside). A file
    that cannot be changed (owned by someone else) is logged, not fatal.
    """
    os.umask(OWNER_ONLY_UMASK)
    home.mkdir(parents=True, exist_ok=True, mode=0o700)
    _chmod(home, 0o700)
    for folder, subfolders, files in os.walk(home):
        for name, mode in [(n, 0o700) for n in subfolders] + [(n, 0o600) for n in files]:
            path = Path(folder, name)
            if not path.is_symlink():
                _chmod(path, mode)


def _chmod(path: Path, mode: int) -> None:
    try:
        if path.stat().st_mode & 0o777 != mode:
            path.chmod(mode)
    except OSError as error:
        import logging  # only on this rare path: `today` starts without it

        logging.getLogger(__name__).warning(
            "cannot make %s private: %s", path, error.strerror or error
        )
