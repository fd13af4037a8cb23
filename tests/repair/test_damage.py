"""A teammate's store broken for real, then ``dmledger repair`` and a sync: nothing
created before the damage is lost or doubled in the cloud, and what cannot be read
is named.

Each case copies one home (``breaking.build``: DMs synced, DMs queued before the
newest backup, DMs queued after it, a queued edit, reply and team change), breaks its
``local_data.db`` on disk, and checks: every command either works or stops with the
one message naming ``dmledger repair`` (exit 1, no traceback); ``repair --check``
says it; after ``repair`` and ``sync`` the cloud holds each DM once, and a DM it lacks
is one queued after the backup and named in the report.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import traceback
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, Phase, given, note, settings
from hypothesis import strategies as st
from typer.testing import Result

from dmledger.local import backup

from .breaking import (
    World,
    another_sqlite_file,
    build,
    copy,
    pages_of,
    random_bytes,
    truncate,
    write_over,
)

COMMANDS = (
    ("status",),
    ("prospect", "show", "before_backup3", "--local"),
    ("prospect", "list"),
    ("today", "--json"),
    ("log", "--to", "newlead", "--message", "after the damage", "--client-log-id", "late-1"),
    ("sync",),
)


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    automatic = backup.AUTOMATIC
    try:
        yield build(tmp_path_factory.mktemp("template") / "home")
    finally:
        backup.AUTOMATIC = automatic


@pytest.fixture
def world(template: World, tmp_path: Path) -> World:
    return copy(template, tmp_path / "home")


def no_traceback_or_the_message(world: World) -> tuple[bool, list[str]]:
    """Run every command: each works, or says the one message (exit 1). Returns whether
    any said it, and the client ids of DMs logged meanwhile (they must reach the cloud)."""
    said = False
    logged: list[str] = []
    for command in COMMANDS:
        result = world.cli(*command)
        assert "Traceback" not in result.output
        if result.exit_code == 0:
            if command[0] == "log":
                logged.append("late-1")
            continue
        if not isinstance(result.exception, SystemExit):
            pytest.fail(f"{command}: {_trace(result)}")
        if "dmledger repair" in result.stderr:
            assert result.exit_code == 1
            assert str(world.store) in result.stderr
            said = True
        else:  # only the cloud may refuse otherwise: the embedded cloud is here
            raise AssertionError(f"{command}: {result.stderr}")
    return said, logged


def _trace(result: Result) -> str:
    info = result.exc_info
    return "".join(traceback.format_exception(*info)) if info else repr(result.exception)


def repair_then_sync(world: World, *, logged: list[str]) -> dict[str, object]:
    result = world.cli("--json", "repair")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    for key in ("damaged", "moved_to", "salvaged", "from_backup", "lost"):
        assert key in report
    synced = world.cli("sync")
    assert synced.exit_code == 0, synced.output
    cloud = world.cloud_dms()
    assert max(cloud.values()) == 1, "a DM reached the cloud twice"
    named = " ".join(report["lost_items"])  # type: ignore[arg-type]
    uncounted = report["uncounted"]
    for client_id in [*world.synced, *world.before_backup, *logged]:
        assert cloud[client_id] == 1, client_id
    for client_id in world.after_backup:
        if cloud[client_id] != 1:
            assert f"DM #{world.local_ids[client_id]} " in named or uncounted, client_id
    if report["damaged"]:
        moved = Path(str(report["moved_to"]))
        assert moved.exists() and oct(moved.stat().st_mode & 0o777) == "0o600"
    # The store works again: status is clean, a new DM is recorded and synced.
    assert world.cli("status").exit_code == 0
    assert (
        world.cli("log", "--to", "fresh", "--message", "hi", "--client-log-id", "fresh-1").exit_code
        == 0
    )
    assert world.cli("sync").exit_code == 0
    assert world.cloud_dms()["fresh-1"] == 1
    return report


@settings(
    max_examples=12,
    deadline=None,
    # Each example copies a home and repairs it: shrinking would take minutes.
    phases=[Phase.explicit, Phase.reuse, Phase.generate],
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    table=st.sampled_from(["prospects", "outreach_logs", "meta", "outbox"]),
    which=st.integers(min_value=0, max_value=10_000),
    offset=st.integers(min_value=0, max_value=4095),
    data=st.binary(min_size=1, max_size=600),
)
def test_byte_damage_at_random_pages(
    template: World, table: str, which: int, offset: int, data: bytes
) -> None:
    with tempfile.TemporaryDirectory(ignore_cleanup_errors=True) as scratch:
        world = copy(template, Path(scratch) / "home")
        pages = pages_of(world.store, table)
        note(f"page {pages[which % len(pages)]} of {table}, offset {offset}, {data!r}")
        write_over(world.store, pages[which % len(pages)], offset, data)
        checked = world.cli("repair", "--check")
        assert "Traceback" not in checked.output
        _said, logged = no_traceback_or_the_message(world)
        repair_then_sync(world, logged=logged)
        if checked.exit_code == 1:
            assert "dmledger repair" in checked.stderr


def test_damage_on_every_queue_page_names_what_is_lost(world: World) -> None:
    """Every leaf of the DMs' table written over: the backup gives back what it holds,
    and each DM queued after it is named as lost by its number."""
    size = 4096
    for page in pages_of(world.store, "outreach_logs"):
        write_over(world.store, page, 0, bytes([0x0D]) + b"\xff" * 11 + b"\xee" * (size - 12))
    said, logged = no_traceback_or_the_message(world)
    assert said
    report = repair_then_sync(world, logged=logged)
    assert report["damaged"] is True
    assert report["from_backup"] >= len(world.before_backup)
    missing = [c for c in world.after_backup if world.cloud_dms()[c] == 0]
    assert missing, "the damage should have taken DMs queued after the backup"
    assert report["lost"] >= len(missing)


def test_truncated_file(world: World) -> None:
    truncate(world.store, 0.5)
    said, logged = no_traceback_or_the_message(world)
    assert said
    report = repair_then_sync(world, logged=logged)
    assert report["damaged"] is True
    assert "truncated" in " ".join(report["problems"])  # type: ignore[arg-type]


def test_file_of_random_bytes(world: World) -> None:
    random_bytes(world.store, seed=7)
    said, _logged = no_traceback_or_the_message(world)
    assert said
    report = repair_then_sync(world, logged=[])
    assert report["from_backup"] >= len(world.before_backup)
    assert report["uncounted"], "a file with nothing readable must say its loss is uncounted"


def test_store_replaced_by_another_sqlite_file(world: World) -> None:
    another_sqlite_file(world.store)
    result = world.cli("status")
    assert result.exit_code == 1
    assert "not a DM Ledger store" in result.stderr and "dmledger repair" in result.stderr
    said, _logged = no_traceback_or_the_message(world)
    assert said
    report = repair_then_sync(world, logged=[])
    assert report["damaged"] is True
    assert report["uncounted"]


def test_missing_wal_beside_its_shm(world: World) -> None:
    """DMs committed to the write-ahead log by a process that died before a checkpoint;
    then the -wal is gone and the -shm stays (a sync tool that copied only two files)."""
    code = (
        "import os, sys\n"
        "from pathlib import Path\n"
        "from dmledger.app.ledger import Ledger\n"
        "from dmledger.local import backup\n"
        "backup.AUTOMATIC = False\n"
        "ledger = Ledger.open(Path(sys.argv[1]))\n"
        "for i in range(5):\n"
        "    ledger.log_dm(f'walonly{i}', 'in the log only', client_log_id=f'wal-{i}')\n"
        "os._exit(0)\n"
    )
    subprocess.run([sys.executable, "-c", code, str(world.home)], check=True, timeout=60)
    wal = Path(f"{world.store}-wal")
    assert wal.exists() and Path(f"{world.store}-shm").exists()
    wal.unlink()
    result = world.cli("prospect", "show", "synced3", "--local")
    assert result.exit_code == 1 and "write-ahead log" in result.stderr
    assert "dmledger repair" in result.stderr
    said, logged = no_traceback_or_the_message(world)
    assert said
    report = repair_then_sync(world, logged=logged)
    assert any("write-ahead log" in item for item in report["uncounted"])  # type: ignore[union-attr]


def test_repair_keeps_the_queued_edit_reply_and_team_change(world: World) -> None:
    """Damage to the DMs' table only: the status change, the reply and the template
    made offline are read from the damaged file and reach the cloud once."""
    pages = pages_of(world.store, "outreach_logs")
    write_over(world.store, pages[len(pages) // 2], 0, b"\x00" * 4096)
    report = repair_then_sync(world, logged=[])
    assert report["details"]["edits"]["salvaged"] >= 2  # type: ignore[index]
    assert report["details"]["team_changes"]["salvaged"] >= 1  # type: ignore[index]
    assert world.cloud_replies() == 1
    db = __import__("sqlite3").connect(world.cloud)
    try:
        assert db.execute(
            "SELECT status FROM prospects WHERE target_username='synced1'"
        ).fetchone() == ("warm",)
        assert db.execute(
            "SELECT count(*) FROM message_templates WHERE template_name='intro'"
        ).fetchone() == (1,)
    finally:
        db.close()


def test_repair_with_the_cloud_unreachable_keeps_the_queue(world: World) -> None:
    pages = pages_of(world.store, "outreach_logs")
    write_over(world.store, pages[-1], 0, b"\x00" * 4096)
    env_cloud = "sqlite:////nonexistent/dir/cloud.db"
    os.environ["DMLEDGER_CLOUD_URL"] = env_cloud
    try:
        result = world.cli("--json", "repair")
    finally:
        del os.environ["DMLEDGER_CLOUD_URL"]
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["damaged"] and not report["resynced"] and report["resync_error"]
    status = world.cli("--json", "status")
    assert status.exit_code == 0
    assert json.loads(status.stdout)["pending_logs"] > 0
    assert world.cli("sync").exit_code == 0
    cloud = world.cloud_dms()
    assert max(cloud.values()) == 1
    for client_id in [*world.synced, *world.before_backup]:
        assert cloud[client_id] == 1


def test_check_on_a_sound_store(world: World) -> None:
    result = world.cli("--json", "repair", "--check")
    assert result.exit_code == 0
    assert json.loads(result.stdout)["damaged"] is False
    result = world.cli("--json", "repair")
    assert json.loads(result.stdout)["moved_to"] is None
