"""One soak agent: a teammate's DM Ledger that logs DMs and edits leads at random
while its background sync loop runs, as ``dmledger serve`` does, until told to stop.

    python -m bench.soak_agent --home HOME --index I --seed S --pool N --stop FILE
                               [--clock-skew SECONDS]

It may be SIGKILLed at any moment. What it did is kept in ``HOME/journal.jsonl``: an
``intent`` line before each action and a ``done`` (or ``void``) line once the action
returned (or was refused). After a kill, the next start settles a trailing intent by
looking at the local database, which is the truth: the action happened exactly when
its transaction committed there. So "created" means committed locally, never merely
attempted.

Kinds of action: ``log`` (a DM to a shared lead or a new one), ``status`` (a shared
lead's status: several agents race on these), and on leads only this agent touches,
``add``, ``notes`` (a unique value) and ``delete``; those can be checked one by one
against the cloud at the end.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import random
import time
import traceback
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

from dmledger.app.ledger import Ledger
from dmledger.domain.timeutil import utcnow
from dmledger.errors import DmLedgerError, ExcludedProspect
from dmledger.sync.loop import SyncLoop

JOURNAL = "journal.jsonl"
SHARED_STATUSES = ("contacted", "cold", "warm", "hot", "booked", "rejected")

log = logging.getLogger("soak_agent")


def shared_lead(n: int) -> str:
    return f"shared.lead{n:05d}"


def own_prefix(index: int) -> str:
    return f"own{index}_"


def read_journal(path: Path) -> list[dict[str, Any]]:
    """Every complete line of a journal (a line cut by a kill is skipped)."""
    if not path.exists():
        return []
    entries = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            entries.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return entries


class Journal:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._file = path.open("a", encoding="utf-8")

    def write(self, **entry: Any) -> None:
        # One write() per line: a SIGKILL leaves whole lines (the kernel has them).
        self._file.write(json.dumps(entry) + "\n")
        self._file.flush()

    def close(self) -> None:
        self._file.close()


def settle(ledger: Ledger, journal: Journal) -> None:
    """Resolve intents left without an outcome by a kill, from the local database."""
    entries = read_journal(journal.path)
    outcome = {e["id"] for e in entries if e["op"] in ("done", "void")}
    for entry in entries:
        if entry["op"] != "intent" or entry["id"] in outcome:
            continue
        happened = _happened(ledger, entry)
        journal.write(op="done" if happened else "void", id=entry["id"], settled=True)


def _happened(ledger: Ledger, entry: dict[str, Any]) -> bool:
    store = ledger.local
    with store.reading() as conn:
        kind = entry["kind"]
        if kind == "log":
            return store.log_by_client_id(conn, entry["id"]) is not None
        current = store.get_prospect(conn, entry["handle"])
        if kind == "add":
            return current is not None
        if kind == "delete":
            return current is None
        if kind == "notes":
            return current is not None and current.notes == entry["value"]
        if kind == "status":
            # Not checked one by one (other agents race on shared leads); the cache tells
            # whether this one committed only while nobody else changed the lead.
            return current is not None and current.status == entry["value"]
    raise ValueError(f"unknown journal entry kind {kind!r}")


class Agent:
    def __init__(self, home: Path, index: int, seed: int, pool: int, skew: float = 0.0) -> None:
        self.home = home
        self.index = index
        self.pool = pool
        self.rng = random.Random(f"{seed}-{index}-{os.getpid()}-{time.time_ns()}")
        offset = timedelta(seconds=skew)
        # This teammate's clock is off by ``skew``: DM times come from it, sync cursors
        # must not (they come from the cloud's clock only).
        self.ledger = Ledger.open(home, clock=lambda: utcnow() + offset)
        self.journal = Journal(home / JOURNAL)
        self.own: list[str] = []
        for entry in read_journal(self.journal.path):
            if entry.get("kind") == "add":
                self.own.append(entry["handle"])

    def run(self, stop: Path) -> None:
        settle(self.ledger, self.journal)
        loop = SyncLoop(
            self.ledger.sync,
            interval=2.0,
            debounce=0.3,
            backoff_base=0.5,
            backoff_cap=8.0,
            rng=random.Random(self.rng.random()),
        )
        loop.start()
        steps = 0
        try:
            while not stop.exists():
                self.step()
                loop.request()
                steps += 1
                if steps > 5 and not loop.state.running:
                    # The loop ends only on stop(): an exception escaped a sync.
                    raise RuntimeError("the background sync loop died (traceback above)")
                time.sleep(self.rng.uniform(0.02, 0.25))
        finally:
            loop.stop()
            self.journal.close()
            self.ledger.close()

    def step(self) -> None:
        roll = self.rng.random()
        if roll < 0.5:
            self.log_dm()
        elif roll < 0.7:
            self.set_shared_status()
        elif roll < 0.8 or not self.own:
            self.add_own()
        elif roll < 0.95:
            self.set_own_notes()
        else:
            self.delete_own()

    def _act(self, kind: str, action_id: str, fn: Any, **entry: Any) -> None:
        self.journal.write(op="intent", kind=kind, id=action_id, **entry)
        try:
            fn()
        except ExcludedProspect:
            self.journal.write(op="void", id=action_id)
            return
        self.journal.write(op="done", id=action_id)

    def log_dm(self) -> None:
        if self.rng.random() < 0.1:
            target = f"new{self.index}_{uuid.uuid4().hex[:10]}"
        else:
            target = shared_lead(self.rng.randrange(self.pool))
        cid = str(uuid.uuid4())
        self._act(
            "log",
            cid,
            lambda: self.ledger.log_dm(target, f"soak {cid}", client_log_id=cid),
            handle=target,
        )

    def set_shared_status(self) -> None:
        target = shared_lead(self.rng.randrange(self.pool))
        status = self.rng.choice(SHARED_STATUSES)
        with self.ledger.local.reading() as conn:
            known = self.ledger.local.get_prospect(conn, target) is not None
        if not known:
            return  # not pulled yet: nothing to edit
        self._act(
            "status",
            uuid.uuid4().hex,
            lambda: self.ledger.update_prospect(target, status=status),
            handle=target,
            value=status,
        )

    def add_own(self) -> None:
        handle = f"{own_prefix(self.index)}{uuid.uuid4().hex[:12]}"
        self._act("add", uuid.uuid4().hex, lambda: self.ledger.add_prospect(handle), handle=handle)
        self.own.append(handle)

    def set_own_notes(self) -> None:
        handle = self.rng.choice(self.own)
        with self.ledger.local.reading() as conn:
            if self.ledger.local.get_prospect(conn, handle) is None:
                return  # deleted (or its add never committed)
        value = f"note {uuid.uuid4().hex}"
        self._act(
            "notes",
            uuid.uuid4().hex,
            lambda: self.ledger.update_prospect(handle, notes=value),
            handle=handle,
            value=value,
        )

    def delete_own(self) -> None:
        handle = self.rng.choice(self.own)
        with self.ledger.local.reading() as conn:
            if self.ledger.local.get_prospect(conn, handle) is None:
                return
        self._act(
            "delete", uuid.uuid4().hex, lambda: self.ledger.delete_prospect(handle), handle=handle
        )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="One soak agent.")
    parser.add_argument("--home", type=Path, required=True)
    parser.add_argument("--index", type=int, required=True)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--pool", type=int, default=300)
    parser.add_argument("--stop", type=Path, required=True, help="stop when this file exists")
    parser.add_argument("--clock-skew", type=float, default=0.0, help="seconds, + or -")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.ERROR, format="%(levelname)s %(name)s: %(message)s")
    try:
        Agent(args.home, args.index, args.seed, args.pool, args.clock_skew).run(args.stop)
    except DmLedgerError:
        traceback.print_exc()
        raise SystemExit(3) from None


if __name__ == "__main__":
    main()
