"""DM Ledger: a local-first CRM for teams that do Instagram DM outreach by hand.

``dmledger.__version__`` is the installed package's version (``pyproject.toml``'s, as
``importlib.metadata`` reads it), looked up on first use so start-up does not pay for
it.
"""

from __future__ import annotations

from typing import Any


def __getattr__(name: str) -> Any:
    if name == "__version__":
        from importlib.metadata import version

        return version("dmledger")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
