"""``python -m dmledger``: the same as the ``dmledger`` command (the native host's
launcher uses it, so it runs with the Python that ``browser install`` ran with)."""

from __future__ import annotations

from dmledger.cli import main

main()
