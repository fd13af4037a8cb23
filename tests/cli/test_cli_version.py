"""``dmledger --version`` reports the installed package's version, the one
``pyproject.toml`` gives and the changelog's latest release names."""

from __future__ import annotations

import re
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import dmledger

REPO = Path(__file__).resolve().parents[2]


def test_version_prints_the_installed_package_version() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "dmledger", "--version"], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"dmledger {version('dmledger')}"
    assert dmledger.__version__ == version("dmledger")


def test_the_changelog_names_the_version_released() -> None:
    declared = re.search(r'^version = "([^"]+)"', (REPO / "pyproject.toml").read_text(), re.M)
    assert declared is not None
    changelog = (REPO / "CHANGELOG.md").read_text(encoding="utf-8")
    releases = re.findall(r"^## \[([^\]]+)\]", changelog, re.M)
    assert releases[0] == "Unreleased"
    assert releases[1] == declared[1] == version("dmledger")
