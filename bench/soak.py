"""``make soak [MINUTES=10]``: several agents hammer the sync engine through faults, and
at the end we count what was lost (nothing, or the exit status says so).
Halfway through, one agent's store is damaged on disk and repaired (``dmledger repair``).

    python -m bench.soak --minutes 10 [--agents 4] [--seed 7] [--json FILE]

Each agent is a separate process with its own home (``bench.soak_agent``): it logs DMs
and edits leads at random while its background sync loop runs. Every agent reaches
PostgreSQL through its own fault proxy (latency, random connection cuts), and each
agent's clock is off by up to an hour either way (DM times come from it). Meanwhile
agents are SIGKILLed and restarted, one agent's network goes offline for a minute,
and now and then a ``dmledger sync`` CLI process syncs a home at the same time as its
agent (one sync at a time per home). Then the faults stop, every home syncs twice
(push, then pull what the others pushed), and we check:

- every DM an agent created (committed locally) is in the cloud exactly once, and the
  cloud holds no soak DM that no agent created;
- nothing is left queued or set aside in any home;
- every cache equals the cloud's leads (sorted-row checksums);
- each agent's own leads (added, noted, deleted by it alone) are in the cloud exactly
  as its journal says they should be;
- every lead that was DM'd is owned by the actor of its earliest DM, with that DM's
  time as its first contact (agents race on the same leads, with skewed latencies).

Exit status 0 when all of that holds, 1 otherwise.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import psycopg
from rich.console import Console
from rich.table import Table

from bench.faults import load_fault_proxy
from bench.harness import BenchDatabase, admin_url
from bench.soak_agent import JOURNAL, own_prefix, read_journal, shared_lead
from dmledger.app.cloud_access import cloud_store_for
from dmledger.app.ledger import Ledger
from dmledger.errors import DmLedgerError

REPO = Path(__file__).resolve().parents[1]
console = Console(highlight=False, width=max(Console().width, 120))


def say(message: str) -> None:
    console.print(f"[dim]{time.strftime('%H:%M:%S')}[/] {message}")


@dataclass
class AgentProc:
    index: int
    home: Path
    proxy: Any  # FaultProxy
    latency: float
    skew: float  # seconds this agent's clock is off
    process: subprocess.Popen[bytes] | None = None
    starts: int = 0
    kills: int = 0
    crashes: list[int] = field(default_factory=list)  # exit codes of unexpected exits

    @property
    def operator(self) -> str:
        return f"Agent{self.index}"

    @property
    def actor(self) -> str:
        return f"agent{self.index}.sends"


class Soak:
    def __init__(self, args: argparse.Namespace, db: BenchDatabase, tmp: Path) -> None:
        self.args = args
        self.db = db
        self.tmp = tmp
        self.rng = random.Random(args.seed)
        self.stop_file = tmp / "stop"
        self.agents: list[AgentProc] = []
        self.cli_runs: dict[str, int] = {}  # outcome -> count
        self.offline_seconds = 0.0
        self.store_damage: dict[str, Any] = {}  # the damaged store and its repair

    # -- setup -----------------------------------------------------------------------

    def setup(self) -> None:
        store = cloud_store_for(self.db.cloud_url())
        try:
            store.init_schema()
        finally:
            store.dispose()
        with psycopg.connect(self.db.dsn()) as conn:
            conn.cursor().executemany(
                "INSERT INTO prospects (target_username) VALUES (%s)",
                [(shared_lead(n),) for n in range(self.args.pool)],
            )
        fault_proxy = load_fault_proxy()
        for index in range(self.args.agents):
            latency = self.rng.uniform(0.005, 0.03)
            skew = self.rng.uniform(-3600, 3600)
            proxy = fault_proxy((self.db.host, self.db.port), latency=latency).start()
            home = self.tmp / f"agent{index}"
            agent = AgentProc(index, home, proxy, latency, skew)
            ledger, _ = Ledger.init_home(
                home,
                agent.operator,
                cloud_url=self.db.cloud_url(port=proxy.port),
                actor=agent.actor,
            )
            ledger.close()
            self.agents.append(agent)

    def start(self, agent: AgentProc) -> None:
        with (agent.home / "agent.log").open("ab") as log:
            agent.process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "bench.soak_agent",
                    "--home",
                    str(agent.home),
                    "--index",
                    str(agent.index),
                    "--seed",
                    str(self.args.seed),
                    "--pool",
                    str(self.args.pool),
                    "--stop",
                    str(self.stop_file),
                    "--clock-skew",
                    str(agent.skew),
                ],
                cwd=REPO,
                stdout=log,
                stderr=log,
            )
        agent.starts += 1

    # -- chaos -----------------------------------------------------------------------

    def chaos(self) -> None:
        duration = self.args.minutes * 60
        for i, agent in enumerate(self.agents):
            self.start(agent)
            agent.proxy.random_cuts(self.args.cut_rate, self.args.seed * 100 + i)
        started = time.monotonic()
        end = started + duration
        offline_agent = self.agents[-1]
        self.offline_seconds = min(60.0, duration / 3)
        offline_at = started + duration / 3
        offline_until: float | None = None
        next_kill = started + self._kill_gap()
        next_cli = started + self.rng.uniform(5, 20)
        next_report = started + 60
        damage_at: float | None = started + duration / 2
        restarts: list[tuple[float, AgentProc]] = []
        while (now := time.monotonic()) < end:
            if offline_until is None and now >= offline_at:
                say(f"agent {offline_agent.index} goes offline for {self.offline_seconds:.0f} s")
                offline_agent.proxy.set_offline(True)
                offline_until = now + self.offline_seconds
            elif offline_until is not None and now >= offline_until and offline_until > 0:
                say(f"agent {offline_agent.index} is back online")
                offline_agent.proxy.set_offline(False)
                offline_until = 0.0
            if now >= next_kill:
                victim = self.rng.choice(self.agents)
                if victim.process is not None and victim.process.poll() is None:
                    victim.process.send_signal(signal.SIGKILL)
                    victim.process.wait()
                    victim.kills += 1
                    victim.process = None
                    restarts.append((now + self.rng.uniform(0.5, 3.0), victim))
                next_kill = now + self._kill_gap()
            for due, agent in list(restarts):
                if now >= due:
                    restarts.remove((due, agent))
                    self.start(agent)
            for agent in self.agents:
                if agent.process is not None and agent.process.poll() is not None:
                    agent.crashes.append(agent.process.returncode)
                    say(f"[red]agent {agent.index} exited by itself ({agent.process.returncode})")
                    self.start(agent)
            if damage_at is not None and now >= damage_at:
                damage_at = None
                self._damage_and_repair(self.rng.choice(self.agents[:-1] or self.agents))
            if now >= next_cli:
                self._cli_sync(self.rng.choice(self.agents))
                next_cli = now + self.rng.uniform(15, 40)
            if now >= next_report:
                self._progress()
                next_report = now + 60
            time.sleep(0.1)
        if offline_until:
            offline_agent.proxy.set_offline(False)
        for _due, agent in restarts:
            self.start(agent)

    def _damage_and_repair(self, agent: AgentProc) -> None:
        """The agent dies (SIGKILL), pages of its cache are written over on disk, and
        ``dmledger repair`` rebuilds its store: its queue must survive whole (the
        final check counts every DM it created), and the agent starts again."""
        if agent.process is not None and agent.process.poll() is None:
            agent.process.send_signal(signal.SIGKILL)
            agent.process.wait()
            agent.kills += 1
        agent.process = None
        store = agent.home / "local_data.db"
        db = sqlite3.connect(store, timeout=30)
        try:
            db.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # the pages are in the file now
            pages = [r[0] for r in db.execute("SELECT pageno FROM dbstat WHERE name='prospects'")]
            size = int(db.execute("PRAGMA page_size").fetchone()[0])
        finally:
            db.close()
        chosen = sorted(self.rng.sample(pages[1:] or pages, min(3, len(pages))))
        with store.open("r+b") as f:
            for page in chosen:
                f.seek((page - 1) * size + self.rng.randrange(size // 2))
                f.write(self.rng.randbytes(size // 4))
        script = Path(sys.executable).with_name("dmledger")
        command = [*self._dmledger(script), "--home", str(agent.home), "--json"]
        check = subprocess.run([*command, "repair", "--check"], capture_output=True, timeout=600)
        done = subprocess.run([*command, "repair"], capture_output=True, timeout=1200)
        report: dict[str, Any] = {}
        if done.returncode == 0:
            report = json.loads(done.stdout)
        self.store_damage = {
            "agent": agent.index,
            "pages_written_over": chosen,
            "check_exit": check.returncode,
            "repair_exit": done.returncode,
            "repair_error": done.stderr.decode(errors="replace")[-300:] if done.returncode else "",
            **{
                k: report.get(k)
                for k in ("damaged", "salvaged", "from_backup", "lost", "uncounted")
            },
        }
        say(
            f"agent {agent.index}'s store damaged on pages {chosen} and repaired: "
            f"{report.get('salvaged')} salvaged, {report.get('from_backup')} from the backup, "
            f"{report.get('lost')} lost"
        )
        self.start(agent)

    @staticmethod
    def _dmledger(script: Path) -> list[str]:
        if script.exists():
            return [str(script)]
        return [sys.executable, "-c", "from dmledger.cli import main; main()"]

    def _kill_gap(self) -> float:
        return self.rng.uniform(0.5, 1.5) * float(self.args.kill_every)

    def _cli_sync(self, agent: AgentProc) -> None:
        """A second process syncing the same home, as a person running the CLI would."""
        script = Path(sys.executable).with_name("dmledger")
        command = (
            [str(script)]
            if script.exists()
            else [sys.executable, "-c", "from dmledger.cli import main; main()"]
        )
        done = subprocess.run(
            [*command, "--home", str(agent.home), "--json", "sync"],
            cwd=REPO,
            capture_output=True,
            timeout=300,
            check=False,
        )
        outcome = {0: "synced", 3: "cloud unreachable"}.get(done.returncode, "")
        if done.returncode == 1 and b"is syncing" in done.stderr:
            outcome = "busy: the agent was syncing"
        if not outcome:
            outcome = f"exit {done.returncode}: " + done.stderr.decode(errors="replace")[-300:]
        self.cli_runs[outcome] = self.cli_runs.get(outcome, 0) + 1

    def _progress(self) -> None:
        created = sum(len(created_logs(a.home)) for a in self.agents)
        cuts = sum(a.proxy.cuts for a in self.agents)
        kills = sum(a.kills for a in self.agents)
        say(f"{created} DMs created so far, {cuts} cuts, {kills} kills")

    def stop_agents(self) -> None:
        self.stop_file.touch()
        for agent in self.agents:
            agent.proxy.stop_random_cuts()
            agent.proxy.set_offline(False)
        for agent in self.agents:
            if agent.process is None:
                continue
            try:
                code = agent.process.wait(timeout=120)
            except subprocess.TimeoutExpired:
                agent.process.kill()
                code = agent.process.wait()
            if code != 0:
                agent.crashes.append(code)

    # -- the end -----------------------------------------------------------------------

    def final_syncs(self) -> list[str]:
        """Two rounds: every home pushes everything, then every home pulls the rest."""
        problems = []
        for round_no in (1, 2):
            for agent in self.agents:
                ledger = Ledger.open(agent.home)
                try:
                    for attempt in range(10):
                        try:
                            ledger.sync()
                            break
                        except DmLedgerError as error:
                            if attempt == 9:
                                problems.append(f"agent {agent.index} round {round_no}: {error}")
                            time.sleep(1)
                finally:
                    ledger.close()
        return problems


def created_logs(home: Path) -> set[str]:
    """Client ids of the DMs this agent created (committed locally), from its journal."""
    entries = read_journal(home / JOURNAL)
    logs = {e["id"] for e in entries if e["op"] == "intent" and e["kind"] == "log"}
    return {e["id"] for e in entries if e["op"] == "done" and e["id"] in logs}


def expected_own(home: Path) -> dict[str, str | None] | None:
    """The cloud state this agent's own leads must end in: handle -> notes, deleted
    leads absent. None when the journal has an unsettled intent (cannot judge)."""
    entries = read_journal(home / JOURNAL)
    outcome = {e["id"]: e["op"] for e in entries if e["op"] in ("done", "void")}
    state: dict[str, str | None] = {}
    for entry in entries:
        if entry["op"] != "intent" or entry["kind"] not in ("add", "notes", "delete"):
            continue
        verdict = outcome.get(entry["id"])
        if verdict is None:
            return None
        if verdict != "done":
            continue
        handle = entry["handle"]
        if entry["kind"] == "add":
            state[handle] = None
        elif entry["kind"] == "notes":
            state[handle] = entry["value"]
        else:
            state.pop(handle, None)
    return state


def edits_applied(home: Path) -> int:
    entries = read_journal(home / JOURNAL)
    kinds = {e["id"]: e["kind"] for e in entries if e["op"] == "intent"}
    return sum(1 for e in entries if e["op"] == "done" and kinds.get(e["id"]) != "log")


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat(timespec="microseconds")


def cloud_rows(dsn: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(
            "SELECT p.target_username, coalesce(p.status, 'new'), p.owner_actor,"
            " a.owner_operator, p.notes, p.first_contacted, p.last_updated, p.row_version"
            " FROM prospects p LEFT JOIN actors a ON a.username = p.owner_actor"
            ' ORDER BY p.target_username COLLATE "C"'
        ).fetchall()
    return [(h, s, oa, oo, n, _iso(f), _iso(lu), v) for h, s, oa, oo, n, f, lu, v in rows]


def cache_rows(home: Path) -> list[tuple[Any, ...]]:
    db = sqlite3.connect(home / "local_data.db")
    try:
        return db.execute(
            "SELECT target_username, coalesce(status, 'new'), owner_actor, owner_operator,"
            " notes, first_contacted, last_updated, row_version FROM prospects"
            " ORDER BY target_username"
        ).fetchall()
    finally:
        db.close()


def checksum(rows: list[tuple[Any, ...]]) -> str:
    return hashlib.sha256(repr(rows).encode()).hexdigest()[:16]


def queue_left(home: Path) -> tuple[int, int]:
    """(pending or set-aside DMs, pending or set-aside edits) in a home."""
    db = sqlite3.connect(home / "local_data.db")
    try:
        logs = db.execute("SELECT count(*) FROM outreach_logs WHERE synced_to_cloud = 0")
        edits = db.execute("SELECT count(*) FROM outbox")
        return int(logs.fetchone()[0]), int(edits.fetchone()[0])
    finally:
        db.close()


def verify(soak: Soak, sync_problems: list[str]) -> dict[str, Any]:
    dsn = soak.db.dsn()
    with psycopg.connect(dsn) as conn:
        logs = conn.execute(
            "SELECT client_log_id, message_text FROM outreach_logs WHERE message_text LIKE 'soak %'"
        ).fetchall()
        # The earliest DM (by sent time, then actor) owns its lead, everywhere.
        owners_wrong = conn.execute(
            "SELECT count(*) FROM prospects p JOIN LATERAL ("
            "  SELECT l.actor_username AS actor, l.created_at FROM outreach_logs l"
            "  WHERE l.target_username = p.target_username"
            "  ORDER BY l.created_at, l.actor_username LIMIT 1) first ON true"
            " WHERE p.owner_actor IS DISTINCT FROM first.actor"
            "    OR p.first_contacted IS DISTINCT FROM first.created_at"
        ).fetchone()
    cloud_ids = [r[0] for r in logs]
    messages = [r[1] for r in logs]
    created: set[str] = set()
    for agent in soak.agents:
        created |= created_logs(agent.home)
    in_cloud = set(cloud_ids)
    duplicates = (len(cloud_ids) - len(in_cloud)) + (len(messages) - len(set(messages)))
    cloud = cloud_rows(dsn)
    cloud_sum = checksum(cloud)
    cloud_by_handle = {r[0]: r for r in cloud}
    agents = []
    own_mismatches = 0
    for agent in soak.agents:
        rows = cache_rows(agent.home)
        pending_logs, pending_edits = queue_left(agent.home)
        expected = expected_own(agent.home)
        mismatched: list[str] = []
        if expected is None:
            mismatched.append("journal has an unsettled intent")
        else:
            prefix = own_prefix(agent.index)
            actual = {h: r[4] for h, r in cloud_by_handle.items() if h.startswith(prefix)}
            mismatched = [
                h for h in set(expected) | set(actual) if expected.get(h, "∅") != actual.get(h, "∅")
            ]
        own_mismatches += len(mismatched)
        agents.append(
            {
                "agent": agent.index,
                "latency_ms_one_way": round(agent.latency * 1000, 1),
                "clock_skew_seconds": round(agent.skew),
                "logs_created": len(created_logs(agent.home)),
                "edits_applied": edits_applied(agent.home),
                "cache_rows": len(rows),
                "cache_equals_cloud": checksum(rows) == cloud_sum,
                "queued_left": pending_logs + pending_edits,
                "own_leads_wrong": len(mismatched),
                "starts": agent.starts,
                "kills": agent.kills,
                "unexpected_exits": agent.crashes,
                "cuts": agent.proxy.cuts,
                "connections": agent.proxy.connections,
            }
        )
    summary = {
        "minutes": soak.args.minutes,
        "agents": len(soak.agents),
        "logs_created": len(created),
        "logs_in_cloud": len(cloud_ids),
        "duplicates": duplicates,
        "missing": len(created - in_cloud),
        "in_cloud_but_never_created": len(in_cloud - created),
        "caches_equal_cloud": {str(a["agent"]): a["cache_equals_cloud"] for a in agents},
        "cloud_prospects": len(cloud),
        "edits_applied": sum(a["edits_applied"] for a in agents),
        "own_lead_mismatches": own_mismatches,
        "leads_not_owned_by_their_first_contact": int(owners_wrong[0]) if owners_wrong else -1,
        "queued_left": sum(a["queued_left"] for a in agents),
        "faults_injected": {
            "connection_cuts": sum(a["cuts"] for a in agents),
            "offline_seconds": round(soak.offline_seconds),
            "proxy_connections": sum(a["connections"] for a in agents),
        },
        "kills": sum(a["kills"] for a in agents),
        "unexpected_agent_exits": sum(len(a["unexpected_exits"]) for a in agents),
        "cli_syncs": dict(sorted(soak.cli_runs.items())),
        "final_sync_problems": sync_problems,
        "store_damage": soak.store_damage,
        "per_agent": agents,
    }
    summary["ok"] = (
        summary["logs_created"] > 0
        and summary["duplicates"] == 0
        and summary["missing"] == 0
        and summary["in_cloud_but_never_created"] == 0
        and all(a["cache_equals_cloud"] for a in agents)
        and own_mismatches == 0
        and summary["leads_not_owned_by_their_first_contact"] == 0
        and summary["queued_left"] == 0
        and summary["unexpected_agent_exits"] == 0
        and not sync_problems
        and (
            not soak.store_damage
            or (soak.store_damage["repair_exit"] == 0 and soak.store_damage["lost"] == 0)
        )
    )
    return summary


def self_test(soak: Soak, problems: list[str]) -> str:
    """Damage the cloud on purpose and check that ``verify`` notices (a lost DM, a cache
    that no longer equals the cloud, an own lead not as journaled): a checker that
    cannot fail would prove nothing. The database is dropped right after."""
    with psycopg.connect(soak.db.dsn()) as conn:
        lost = conn.execute(
            "DELETE FROM outreach_logs WHERE log_id = (SELECT min(log_id) FROM outreach_logs"
            " WHERE message_text LIKE 'soak %') RETURNING client_log_id"
        ).fetchone()
        changed = conn.execute(
            "UPDATE prospects SET notes = 'changed behind the agents'' backs'"
            " WHERE target_username = (SELECT min(target_username) FROM prospects"
            "   WHERE target_username LIKE 'own%')"
        ).rowcount
    if lost is None or not changed:
        return "not run (nothing to damage)"
    damaged = verify(soak, problems)
    seen = (
        damaged["missing"] == 1
        and not any(damaged["caches_equal_cloud"].values())
        and damaged["own_lead_mismatches"] == 1
        and not damaged["ok"]
    )
    return "yes" if seen else "NO: the checker missed the damage"


def print_summary(summary: dict[str, Any]) -> None:
    table = Table(title=f"Soak: {summary['minutes']} min, {summary['agents']} agents")
    table.add_column("what")
    table.add_column("value", justify="right")
    faults = summary["faults_injected"]
    rows = [
        ("logs created", summary["logs_created"]),
        ("logs in the cloud", summary["logs_in_cloud"]),
        ("duplicates", summary["duplicates"]),
        ("missing", summary["missing"]),
        ("in the cloud but never created", summary["in_cloud_but_never_created"]),
        (
            "caches equal to the cloud",
            ", ".join(
                f"agent {k}: {'yes' if v else 'NO'}"
                for k, v in summary["caches_equal_cloud"].items()
            ),
        ),
        ("edits applied", summary["edits_applied"]),
        ("own leads not as journaled", summary["own_lead_mismatches"]),
        ("leads not owned by their earliest DM", summary["leads_not_owned_by_their_first_contact"]),
        ("still queued after the final syncs", summary["queued_left"]),
        (
            "faults injected",
            f"{faults['connection_cuts']} connection cuts, "
            f"{faults['offline_seconds']} s offline (one agent)",
        ),
        ("kills (SIGKILL)", summary["kills"]),
        ("unexpected agent exits", summary["unexpected_agent_exits"]),
        ("a store damaged mid-run, then repaired", summary["store_damage"] or "not reached"),
        ("CLI syncs alongside the agents", summary["cli_syncs"]),
        ("checker self-test (a lost log and a diverged lead are seen)", summary["self_test"]),
        ("verdict", "[green]OK[/]" if summary["ok"] else "[red]FAILED[/]"),
    ]
    for what, value in rows:
        table.add_row(what, str(value))
    console.print(table)
    for problem in summary["final_sync_problems"]:
        console.print(f"[red]final sync: {problem}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--agents", type=int, default=4)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--pool", type=int, default=300, help="shared leads all agents DM")
    parser.add_argument("--cut-rate", type=float, default=0.1, help="cuts per second per proxy")
    parser.add_argument("--kill-every", type=float, default=30.0, help="mean seconds between kills")
    parser.add_argument("--json", type=Path, help="also write the summary here")
    parser.add_argument("--keep", action="store_true", help="keep the homes (printed)")
    args = parser.parse_args(argv)
    tmp = Path(tempfile.mkdtemp(prefix="dmledger-soak-"))
    try:
        with BenchDatabase(admin_url(), prefix="dmledger_soak") as db:
            soak = Soak(args, db, tmp)
            soak.setup()
            say(
                f"{args.agents} agents for {args.minutes:g} min: cuts {args.cut_rate}/s per "
                f"agent, a kill every ~{args.kill_every:g} s, one agent offline for a while"
            )
            try:
                soak.chaos()
            finally:
                soak.stop_agents()
            say("faults stopped; final syncs")
            problems = soak.final_syncs()
            summary = verify(soak, problems)
            summary["self_test"] = self_test(soak, problems)
            summary["ok"] = summary["ok"] and summary["self_test"] == "yes"
            for agent in soak.agents:
                agent.proxy.stop()
    finally:
        if args.keep:
            say(f"homes kept in {tmp}")
        else:
            import shutil

            shutil.rmtree(tmp, ignore_errors=True)
    print_summary(summary)
    if args.json:
        args.json.write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    if not summary["ok"]:
        for agent in summary["per_agent"]:
            if agent["unexpected_exits"]:
                console.print(f"agent {agent['agent']} exited unexpectedly: see agent.log (--keep)")
    raise SystemExit(0 if summary["ok"] else 1)


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()
