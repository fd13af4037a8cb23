"""The extension in real headless Chromium, talking to the real native host.

Each test gets a fresh home (Sarah, actor sarah.sells, an embedded SQLite cloud with a
small team), the host installed for it with ``dmledger browser install --profile``
into a fresh user-data folder, and Debian's Chromium started on that folder with the
unpacked extension loaded (support/extension.py). instagram.com is our own stand-in
(support/instagram.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from support.extension import Browser, seeded_home, start


@pytest.fixture
def open_browser(playwright: Any, tmp_path: Path) -> Iterator[Any]:
    """``open_browser(home, install=True, **start_options)``: a browser for that home,
    closed and checked for dialogs (an XSS payload that ran) and page errors after the
    test."""
    opened: list[Browser] = []

    def opener(home: Path, *, install: bool = True, **options: Any) -> Browser:
        found = start(playwright, tmp_path, home, install=install, **options)
        opened.append(found)
        return found

    yield opener
    for found in opened:
        found.close()
        assert found.dialogs == [], found.dialogs
        assert found.errors == [], found.errors


@pytest.fixture
def browser(open_browser: Any, home: Path) -> Browser:
    seeded_home(home)
    found: Browser = open_browser(home)
    return found
