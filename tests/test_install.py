"""The package installs and runs outside the repository, as ``pipx install .`` would.

The wheel is built from a copy of the sources, installed into a fresh virtual
environment in a temporary folder (``pip --python``, the wheel only: the dependencies
it needs are made visible from this test environment's site-packages, so the test
needs no network), and its ``dmledger serve`` is run from a folder outside the tree.
Every page and every asset the pages link to must be served.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import sysconfig
import time
from pathlib import Path

import httpx
import pytest

REPO = Path(__file__).resolve().parents[1]
PAGES = ("/", "/leads", "/leads/import", "/team", "/admin", "/?q=someone.new")


def run(*args: str | Path, cwd: Path, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(
        [str(a) for a in args],
        cwd=cwd,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, f"{args}: {done.stdout}\n{done.stderr}"
    return done.stdout


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The ``bin`` folder of a fresh venv holding the built wheel of this repository."""
    root = tmp_path_factory.mktemp("install")
    source = root / "source"
    source.mkdir()
    shutil.copy(REPO / "pyproject.toml", source)
    shutil.copy(REPO / "README.md", source)
    shutil.copytree(REPO / "src", source / "src", ignore=shutil.ignore_patterns("__pycache__"))
    pip = (sys.executable, "-m", "pip", "--disable-pip-version-check", "-q")
    run(*pip, "wheel", "--no-deps", "-w", root / "dist", source, cwd=root)
    (wheel,) = (root / "dist").glob("dmledger-*.whl")
    venv = root / "venv"
    run(sys.executable, "-m", "venv", "--without-pip", venv, cwd=root)
    python = venv / "bin" / "python"
    run(*pip, "--python", python, "install", "--no-deps", wheel, cwd=root)
    # The dependencies: this environment's, appended after the venv's own packages.
    site = run(python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))", cwd=root)
    Path(site.strip(), "test-dependencies.pth").write_text(
        sysconfig.get_path("purelib") + "\n", encoding="utf-8"
    )
    return venv / "bin"


def test_the_installed_package_comes_from_the_wheel_not_the_tree(installed: Path) -> None:
    where = run(
        installed / "python", "-c", "import dmledger; print(dmledger.__file__)", cwd=installed
    )
    assert Path(where.strip()).is_relative_to(installed.parent)
    assert "--operator" in run(installed / "dmledger", "init", "--help", cwd=installed)


def test_serve_from_the_wheel_shows_every_page_and_its_assets(
    installed: Path, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    dmledger = installed / "dmledger"
    run(
        dmledger,
        "--home",
        home,
        "init",
        "--operator",
        "Sarah",
        "--actor",
        "sarah.sells",
        cwd=tmp_path,
    )
    run(dmledger, "--home", home, "cloud", "init", cwd=tmp_path)
    port = free_port()
    log = tmp_path / "serve.log"
    with log.open("w") as output:
        server = subprocess.Popen(
            [str(dmledger), "--home", str(home), "serve", "--port", str(port), "--no-browser"],
            cwd=tmp_path,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        with httpx.Client(base_url=base, timeout=10) as client:
            deadline = time.monotonic() + 60
            while True:
                try:
                    client.get("/static/favicon.svg")
                    break
                except httpx.TransportError:
                    assert server.poll() is None, log.read_text()
                    assert time.monotonic() < deadline, "serve did not start within 60 s"
                    time.sleep(0.2)
            assets: set[str] = set()
            for path in PAGES:
                page = client.get(path)
                assert page.status_code == 200, (path, page.text[:300])
                assert "<html" in page.text
                assets.update(re.findall(r'(?:href|src)="(/static/[^"]+)"', page.text))
            assert {a.split("?")[0] for a in assets} >= {
                "/static/app.css",
                "/static/app.js",
                "/static/favicon.svg",
            }
            for asset in sorted(assets):
                served = client.get(asset)
                assert served.status_code == 200, asset
                assert len(served.content) > 100, asset
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_the_readme_says_how_to_get_dmledger_on_the_path() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    using = readme[readme.index("## Using it") :]
    using = using[: using.index("```")]  # the words before the first command
    assert ".venv/bin/dmledger" in using
    assert "pipx install ." in using
