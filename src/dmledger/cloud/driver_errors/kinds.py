"""What a failed statement means for the sync: the one answer every driver's table of
codes gives (``postgres.py``, ``sqlite.py``, ``oracle.py``), which ``translation.py``
turns into an error class and a message."""

from __future__ import annotations

from typing import Literal

Refusal = Literal["unreachable", "busy", "login", "row", "right", "schema", "other"]
