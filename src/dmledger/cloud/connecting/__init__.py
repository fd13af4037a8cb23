"""Connecting to the cloud: engines for SQLite and PostgreSQL, the Oracle wallet and
thin-mode connect (with why a connect failed), and ``CloudDatabase``, the handle
whose connections translate driver errors.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from dmledger.frontdoor import lazy_exports

if TYPE_CHECKING:
    from dmledger.cloud.connecting.database import CloudDatabase
    from dmledger.cloud.connecting.engine import (
        RoundTrips,
        count_round_trips,
        create_cloud_engine,
        pipelined,
    )
    from dmledger.cloud.connecting.identifiers import check_identifier
    from dmledger.cloud.connecting.oracle_connect import (
        ConnectLimits,
        ThinConnector,
        create_oracle_engine,
        session_statements,
    )
    from dmledger.cloud.connecting.oracle_failures import explain_oracle_error
    from dmledger.cloud.connecting.oracle_wallet import (
        EWALLET_PEM,
        STOPPED_ADVICE,
        TNSNAMES_ORA,
        OracleWallet,
        connect_params,
        load_wallet,
        oracle_target,
        tns_aliases,
    )

_EXPORTS = {
    "check_identifier": "identifiers",
    "CloudDatabase": "database",
    "connect_params": "oracle_wallet",
    "ConnectLimits": "oracle_connect",
    "count_round_trips": "engine",
    "create_cloud_engine": "engine",
    "create_oracle_engine": "oracle_connect",
    "EWALLET_PEM": "oracle_wallet",
    "explain_oracle_error": "oracle_failures",
    "load_wallet": "oracle_wallet",
    "oracle_target": "oracle_wallet",
    "OracleWallet": "oracle_wallet",
    "pipelined": "engine",
    "RoundTrips": "engine",
    "session_statements": "oracle_connect",
    "STOPPED_ADVICE": "oracle_wallet",
    "ThinConnector": "oracle_connect",
    "tns_aliases": "oracle_wallet",
    "TNSNAMES_ORA": "oracle_wallet",
}
__all__ = [
    "EWALLET_PEM",
    "STOPPED_ADVICE",
    "TNSNAMES_ORA",
    "CloudDatabase",
    "ConnectLimits",
    "OracleWallet",
    "RoundTrips",
    "ThinConnector",
    "check_identifier",
    "connect_params",
    "count_round_trips",
    "create_cloud_engine",
    "create_oracle_engine",
    "explain_oracle_error",
    "load_wallet",
    "oracle_target",
    "pipelined",
    "session_statements",
    "tns_aliases",
]
__getattr__ = lazy_exports(globals(), _EXPORTS)
