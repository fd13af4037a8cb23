"""The one way to a cloud store from a home's settings, for every backend.

``Ledger.cloud`` opens its store here; so do the tests and the benchmarks that need a
store without a home (``home=None``: no secret files are read). Nothing connects
until a statement runs.
"""

from __future__ import annotations

from pathlib import Path

from dmledger import settings as config
from dmledger.cloud import CloudStore, backend_of, redact_url
from dmledger.errors import ConfigError


def open_cloud_store(settings: config.Settings, home: Path | None = None) -> CloudStore:
    """The cloud store for ``settings.cloud_url``: SQLite and PostgreSQL through
    ``cloud/connecting/engine.py``, Oracle through its wallet
    (``cloud/connecting/oracle_wallet.py``, ``oracle_connect.py``). The password comes
    from ``settings``' secret sources (environment, keyring, ``home``'s secret files).
    ConfigError for a URL of no known backend or an Oracle cloud without a wallet
    folder."""
    url = settings.cloud_url
    if backend_of(url) == "oracle":
        from dmledger.cloud import create_oracle_engine, load_wallet, oracle_target

        user, alias = oracle_target(url, settings.cloud_user, settings.wallet_alias)
        if not settings.wallet_dir:
            raise ConfigError(
                "an Oracle cloud needs the wallet folder: set wallet_dir in config.toml "
                "or DMLEDGER_WALLET_DIR to the folder the wallet zip was unzipped into"
            )
        wallet = load_wallet(
            Path(settings.wallet_dir),
            alias,
            user,
            config.cloud_password(settings, home),
            config.wallet_password(settings, home),
        )
        engine = create_oracle_engine(
            wallet, current_schema=settings.cloud_schema, explain_errors=True
        )
        return CloudStore(engine, redact_url(url))
    from dmledger.cloud import create_cloud_engine

    password = config.cloud_password(settings, home)
    return CloudStore(create_cloud_engine(url, password=password), url)


def cloud_store_for(url: str) -> CloudStore:
    """``open_cloud_store`` for a bare URL (tests, benchmarks): no home, no operator."""
    return open_cloud_store(config.Settings(operator="dmledger", cloud_url=url))
