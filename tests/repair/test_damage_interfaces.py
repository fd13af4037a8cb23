"""The one message on every interface: ``serve`` (API 503 with a problem body, the
pages, its sync loop stopping) while its store is damaged under it, the native host's
card, and a sync whose push reached the cloud before the damage stopped it."""

from __future__ import annotations

import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from dmledger import settings as config
from dmledger.app.ledger import Ledger
from dmledger.errors import StoreDamaged
from dmledger.local import backup
from dmledger.native.host import Host
from dmledger.native.protocol import GetCard, Hello

from .breaking import World, build, copy, pages_of, write_over

DMLEDGER = str(Path(sys.executable).with_name("dmledger"))


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    automatic = backup.AUTOMATIC
    try:
        yield build(tmp_path_factory.mktemp("template") / "home", synced=10, before=20, after=10)
    finally:
        backup.AUTOMATIC = automatic


@pytest.fixture
def world(template: World, tmp_path: Path) -> World:
    return copy(template, tmp_path / "home")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _damage_under_a_reader(world: World) -> None:
    """Everything into the main file, its DM and lead pages written over, then one
    write by another connection (so every open connection reads the file again)."""
    db = sqlite3.connect(world.store, timeout=30)
    try:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        pages = pages_of(world.store, "outreach_logs") + pages_of(world.store, "prospects")
    finally:
        db.close()
    for page in pages[1:]:
        write_over(world.store, page, 0, b"\x0d" + b"\xff" * 4095)
    db = sqlite3.connect(world.store, timeout=30)
    try:
        db.execute("PRAGMA user_version = 7")
        db.commit()
    finally:
        db.close()


def test_damage_while_serve_runs(world: World) -> None:
    port = _free_port()
    env = {**os.environ, "DMLEDGER_SYNC_INTERVAL": "3600"}
    process = subprocess.Popen(
        [DMLEDGER, "--home", str(world.home), "serve", "--no-browser", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    token = config.api_token(world.home)
    headers = {"Authorization": f"Bearer {token}"}
    try:
        deadline = time.monotonic() + 60
        while True:  # serve is up, and its first sync has pushed the queue
            try:
                answer = httpx.get(f"{base}/api/v1/sync", headers=headers, timeout=5)
                if answer.status_code == 200 and answer.json()["pending_logs"] == 0:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "serve never synced"
            time.sleep(0.2)
        _damage_under_a_reader(world)

        card = httpx.get(f"{base}/api/v1/prospects/before_backup3", headers=headers, timeout=10)
        assert card.status_code == 503, card.text
        problem = card.json()["error"]
        assert problem["type"] == "StoreDamaged"
        assert "dmledger repair" in problem["message"] and str(world.store) in problem["message"]

        page = httpx.get(f"{base}/leads", timeout=10)
        assert page.status_code == 503
        assert "The local store is damaged" in page.text and "dmledger repair" in page.text
        assert "Traceback" not in page.text

        # The loop meets it too, and stops.
        httpx.post(f"{base}/api/v1/sync", headers=headers, timeout=10)
        status = httpx.get(f"{base}/api/v1/sync", headers=headers, timeout=10)
        assert status.status_code == 503
        assert status.json()["error"]["type"] == "StoreDamaged"
        # While serve holds the store, repair refuses (naming the process) at once.
        from dmledger.app import repair

        assert repair._holder(world.store, wait=0) == process.pid
    finally:
        process.send_signal(signal.SIGTERM)
        _out, err = process.communicate(timeout=30)
    assert "Traceback" not in err
    result = world.cli("--json", "repair")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["damaged"] is True
    assert world.cli("sync").exit_code == 0
    cloud = world.cloud_dms()
    assert max(cloud.values()) == 1
    for client_id in world.every_dm():
        assert cloud[client_id] == 1


def test_the_hosts_card_says_it(world: World) -> None:
    host = Host(world.home)
    try:
        assert host.answer(Hello(id=1, type="hello"))["ok"]
        _damage_under_a_reader(world)
        reply = host.answer(GetCard(id=2, type="card", handle="before_backup3"))
        assert reply["ok"] is False
        assert reply["error"]["type"] == "StoreDamaged"
        assert reply["error"]["fix"] == "dmledger repair"
        assert str(world.store) in reply["error"]["message"]
    finally:
        host.close()


def test_damage_after_the_push_loses_and_doubles_nothing(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The cloud took the push; marking the DMs sent meets the damage. The sync stops
    with the message; after repair the same DMs are pushed again, and the cloud keeps
    each once (client ids)."""
    from dmledger.local.queue import Journal

    def damaged_mark(self: Journal, conn: object, local_ids: object) -> None:
        raise sqlite3.DatabaseError("database disk image is malformed")

    monkeypatch.setattr(Journal, "mark_logs_synced", damaged_mark)
    result = world.cli("sync")
    assert result.exit_code == 1
    assert "dmledger repair" in result.stderr and "Traceback" not in result.output
    monkeypatch.undo()
    before = world.cloud_dms()
    for client_id in world.before_backup + world.after_backup:
        assert before[client_id] == 1  # the push was committed before the damage
    pages = pages_of(world.store, "outreach_logs")
    write_over(world.store, pages[-1], 0, b"\x00" * 4096)
    assert world.cli("repair").exit_code == 0
    assert world.cli("sync").exit_code == 0
    cloud = world.cloud_dms()
    assert max(cloud.values()) == 1
    for client_id in world.every_dm():
        assert cloud[client_id] == 1


def test_open_refuses_another_programs_file(tmp_path: Path, template: World) -> None:
    world = copy(template, tmp_path / "home")
    world.store.unlink()
    db = sqlite3.connect(world.store)
    db.execute("CREATE TABLE notes (body TEXT)")
    db.commit()
    db.close()
    with pytest.raises(StoreDamaged, match="not a DM Ledger store"):
        Ledger.open(world.home)
    check = subprocess.run(
        [DMLEDGER, "--home", str(world.home), "--json", "repair", "--check"],
        capture_output=True,
        text=True,
    )
    assert check.returncode == 1
    assert json.loads(check.stdout)["damaged"] is True
