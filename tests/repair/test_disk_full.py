"""A full disk is a refusal that names the disk and the room needed, not a half-write.

The home lives on a real small filesystem: a size-limited tmpfs mounted for the test
(root only; skipped with the reason otherwise). Filling it with a plain file leaves
SQLite exactly what a full laptop disk leaves it: short writes to the ``-wal`` and no
room to map the ``-shm``, so what is tested is the kernel's ENOSPC as SQLite meets it,
not a simulated limit. The cloud (embedded SQLite) lives on the ordinary disk.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from dmledger.app.ledger import Ledger
from dmledger.cli import app
from dmledger.local import backup


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    mount = tmp_path / "small"
    mount.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a size-limited tmpfs needs root")
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=16m,mode=0700", "tmpfs", str(mount)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def cli(home: Path, *args: str) -> Result:
    return CliRunner().invoke(app, ["--home", str(home), *args])


def fill(mount: Path, leave: int = 16 * 1024) -> Path:
    """A file taking all but ``leave`` bytes of the filesystem."""
    filler = mount / "filler"
    free = shutil.disk_usage(mount).free
    with filler.open("wb") as f:
        f.truncate(0)
        chunk = b"\0" * (1 << 20)
        remaining = free - leave
        while remaining > 0:
            f.write(chunk[: min(len(chunk), remaining)])
            remaining -= len(chunk)
    return filler


def refused_for_space(result: Result, mount: Path) -> None:
    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.output
    assert "is full" in result.stderr and str(mount) in result.stderr
    assert "needs at least" in result.stderr


def test_log_import_and_pull_stop_cleanly_and_work_once_space_is_freed(
    small_disk: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(backup, "AUTOMATIC", False)
    home = small_disk / "home"
    cloud = tmp_path / "cloud.db"
    ledger, _ = Ledger.init_home(home, "Sarah", actor="sarah.sells", cloud_url=f"sqlite:///{cloud}")
    ledger.cloud_init()
    queued = [
        ledger.log_dm(f"before{i}", "queued before the disk filled")[0].client_log_id
        for i in range(5)
    ]
    ledger.close()
    # A teammate's 3,000 leads wait in the cloud for this home's pull.
    teammate = tmp_path / "teammate"
    other, _ = Ledger.init_home(
        teammate, "Marcus", actor="marcus.closes", cloud_url=f"sqlite:///{cloud}"
    )
    for i in range(3000):
        other.log_dm(f"team.lead{i}", "hello " + "z" * 200)
    other.sync()
    other.close()
    csv = tmp_path / "leads.csv"
    csv.write_text("handle\n" + "".join(f"imported{i}\n" for i in range(4000)))

    filler = fill(small_disk)
    refused_for_space(
        cli(home, "log", "--to", "during", "--message", "hi", "--client-log-id", "during-1"),
        small_disk,
    )
    refused_for_space(cli(home, "import", str(csv)), small_disk)
    refused_for_space(cli(home, "sync"), small_disk)

    filler.unlink()
    # Nothing queued before was lost; the refused DM was not half-recorded.
    db = sqlite3.connect(f"{(home / 'local_data.db').as_uri()}?mode=ro", uri=True)
    try:
        ids = {r[0] for r in db.execute("SELECT client_log_id FROM outreach_logs")}
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    finally:
        db.close()
    assert set(queued) <= ids and "during-1" not in ids

    assert (
        cli(
            home, "log", "--to", "during", "--message", "hi", "--client-log-id", "during-1"
        ).exit_code
        == 0
    )
    assert cli(home, "import", str(csv)).exit_code == 0
    assert cli(home, "sync").exit_code == 0
    db = sqlite3.connect(cloud)
    try:
        rows = [r[0] for r in db.execute("SELECT client_log_id FROM outreach_logs")]
        in_cloud = set(rows)
        leads = db.execute("SELECT count(*) FROM prospects").fetchone()[0]
    finally:
        db.close()
    assert set(queued) | {"during-1"} <= in_cloud
    assert len(rows) == len(in_cloud), "a DM pushed before the disk filled went up twice"
    assert leads >= 3000 + 4000
    home_leads = cli(home, "--json", "prospect", "list", "--limit", "10")
    assert home_leads.exit_code == 0
