"""Where the test suite runs: CI or not, and the real PostgreSQL server's address.

One place for these, so a test that must not skip under CI, or must reach the server
through a proxy, reads the same values as the fixtures in ``tests/conftest.py``.
"""

from __future__ import annotations

import os

IN_CI = os.environ.get("CI", "").lower() == "true"
PG_HOST = os.environ.get("DMLEDGER_TEST_PG_HOST", "127.0.0.1")
PG_PORT = int(os.environ.get("DMLEDGER_TEST_PG_PORT", "5432"))
