"""A home to break: DMs synced, DMs queued before the newest backup, DMs queued after it,
a queued edit, reply and team change; and the ways to break its store for real.

The home is built once per module (``build``) and copied for each case (``copy``): its
embedded cloud (``cloud.db``) is copied with it, so every case starts from the same
cloud and the same queue.
"""

from __future__ import annotations

import os
import random
import shutil
import sqlite3
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from typer.testing import CliRunner, Result

from dmledger import settings as config
from dmledger.app.ledger import Ledger
from dmledger.cli import app
from dmledger.local import backup
from dmledger.local.reader import DB_NAME

BACKUP_STAMP = "20260101T000000Z"


@dataclass
class World:
    """A home and what it holds; ids are client ids, ``local_ids`` their row ids."""

    home: Path
    synced: list[str] = field(default_factory=list)
    before_backup: list[str] = field(default_factory=list)
    after_backup: list[str] = field(default_factory=list)
    local_ids: dict[str, int] = field(default_factory=dict)

    @property
    def store(self) -> Path:
        return self.home / DB_NAME

    @property
    def cloud(self) -> Path:
        return self.home / "cloud.db"

    def every_dm(self) -> list[str]:
        return [*self.synced, *self.before_backup, *self.after_backup]

    def cli(self, *args: str) -> Result:
        return CliRunner().invoke(app, ["--home", str(self.home), *args])

    def cloud_dms(self) -> Counter[str]:
        db = sqlite3.connect(self.cloud)
        try:
            return Counter(r[0] for r in db.execute("SELECT client_log_id FROM outreach_logs"))
        finally:
            db.close()

    def cloud_replies(self) -> int:
        db = sqlite3.connect(self.cloud)
        try:
            return int(db.execute("SELECT count(*) FROM prospect_replies").fetchone()[0])
        finally:
            db.close()


def build(home: Path, *, synced: int = 40, before: int = 60, after: int = 30) -> World:
    """The home every case copies (automatic backups off: this one is taken by hand)."""
    backup.AUTOMATIC = False
    world = World(home)
    ledger, _ = Ledger.init_home(
        home, "Sarah", actor="sarah.sells", cloud_url=f"sqlite:///{home / 'cloud.db'}"
    )
    try:
        ledger.cloud_init()
        for phase, count in (("synced", synced), ("before_backup", before)):
            for i in range(count):
                item, _card, _new = ledger.log_dm(f"{phase}{i}", f"{phase} {i} " + "x" * (i * 7))
                getattr(world, phase).append(item.client_log_id)
                world.local_ids[item.client_log_id] = item.local_id
            if phase == "synced":
                ledger.sync()
        ledger.update_prospect("synced1", status="warm")
        ledger.followups.reply("synced2", reply_id="reply-one")
        offline = Ledger(
            home,
            ledger.settings.model_copy(update={"cloud_url": "sqlite:////nonexistent/dir/cloud.db"}),
        )
        try:
            offline.templates.add("intro", "Hi {handle}")  # queued: that cloud cannot be reached
        finally:
            offline.close()
    finally:
        ledger.close()
    assert backup.take(world.store, stamp=BACKUP_STAMP) is not None
    ledger = Ledger.open(home)
    try:
        for i in range(after):
            item, _card, _new = ledger.log_dm(f"after{i}", f"after {i} " + "y" * (i * 5))
            world.after_backup.append(item.client_log_id)
            world.local_ids[item.client_log_id] = item.local_id
    finally:
        ledger.close()
    return world


def copy(world: World, home: Path) -> World:
    """The same home at ``home``, its config pointed at its own copy of the cloud."""
    shutil.copytree(world.home, home)
    settings = config.load(home).model_copy(update={"cloud_url": f"sqlite:///{home / 'cloud.db'}"})
    config.save(home, settings)
    return World(
        home,
        list(world.synced),
        list(world.before_backup),
        list(world.after_backup),
        dict(world.local_ids),
    )


# -- ways to break it --------------------------------------------------------------


def pages_of(store: Path, table: str) -> list[int]:
    """The pages holding ``table``'s b-tree (read before the damage, with SQLite's dbstat)."""
    db = sqlite3.connect(store)
    try:
        return [int(r[0]) for r in db.execute("SELECT pageno FROM dbstat WHERE name = ?", (table,))]
    finally:
        db.close()


def page_size(store: Path) -> int:
    db = sqlite3.connect(store)
    try:
        return int(db.execute("PRAGMA page_size").fetchone()[0])
    finally:
        db.close()


def write_over(store: Path, page: int, offset: int, data: bytes) -> None:
    size = page_size(store)
    with store.open("r+b") as f:
        f.seek((page - 1) * size + offset)
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def truncate(store: Path, fraction: float) -> None:
    size = store.stat().st_size
    with store.open("r+b") as f:
        f.truncate(int(size * fraction))


def random_bytes(store: Path, seed: int) -> None:
    rng = random.Random(seed)
    store.write_bytes(rng.randbytes(store.stat().st_size))


def another_sqlite_file(store: Path) -> None:
    store.unlink()
    db = sqlite3.connect(store)
    db.execute("CREATE TABLE photos (id INTEGER PRIMARY KEY, path TEXT, taken TEXT)")
    db.executemany(
        "INSERT INTO photos (path, taken) VALUES (?, ?)",
        [(f"/p/{i}.jpg", "2020") for i in range(50)],
    )
    db.commit()
    db.close()
