"""Deterministic benchmark data, and fast bulk loading into the cloud.

Loading a million rows through DM Ledger itself would take longer than the benchmarks:
the cloud is filled with COPY straight into the tables of a schema created by
``CloudStore.init_schema`` (so the schema, indexes and triggers are the product's own).
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import psycopg

from dmledger.app.cloud_access import cloud_store_for

SYLLABLES = (
    "ka", "mi", "lo", "ra", "ne", "ti", "so", "vu", "ze", "ba", "do", "fi", "gu", "ha",
    "jo", "ki", "le", "ma", "no", "pa", "ri", "sa", "to", "va", "xi", "yo", "an", "el",
    "is", "on", "ur", "ly", "mar", "tin", "sun", "fit", "art", "coach", "shop", "style",
    "glow", "vibe", "studio", "home", "daily", "real", "the", "its", "by", "luxe",
)  # fmt: skip
STATUS_WEIGHTS = (
    ("new", 40), ("contacted", 25), ("cold", 10), ("warm", 8), ("hot", 5),
    ("booked", 4), ("client", 3), ("rejected", 3), ("excluded", 2),
)  # fmt: skip
NOTE_WORDS = (
    "met", "at", "conference", "likes", "fitness", "skincare", "replied", "later",
    "follow", "up", "asked", "price", "call", "booked", "friday", "referral", "from",
    "podcast", "wants", "demo", "budget", "next", "month", "interested", "in", "coaching",
)  # fmt: skip
OPERATORS = tuple(f"Op{i:02d}" for i in range(1, 9))
ACTORS = tuple(f"sender.{i:02d}" for i in range(1, 25))
EPOCH = dt.datetime(2026, 1, 1)


def actor_owner(actor: str) -> str:
    return OPERATORS[int(actor.rsplit(".", 1)[1]) % len(OPERATORS)]


def make_handles(count: int, seed: int, *, prefix: str = "") -> list[str]:
    """``count`` distinct, valid, realistic-looking handles (same seed, same handles)."""
    rng = random.Random(seed)
    seen: set[str] = set()
    out: list[str] = []
    choice, randint, rand = rng.choice, rng.randint, rng.random
    while len(out) < count:
        parts = [choice(SYLLABLES) for _ in range(randint(2, 4))]
        glue = "." if rand() < 0.2 else "_" if rand() < 0.2 else ""
        handle = prefix + glue.join(parts)
        if rand() < 0.7:
            handle += str(randint(1, 9999))
        handle = handle[:30].strip(".")
        if handle in seen or ".." in handle:
            continue
        seen.add(handle)
        out.append(handle)
    return out


@dataclass(frozen=True)
class LeadRow:
    handle: str
    status: str
    owner_actor: str | None
    notes: str | None
    first_contacted: dt.datetime | None
    last_updated: dt.datetime
    version: int


def make_leads(handles: Sequence[str], seed: int) -> Iterator[LeadRow]:
    """A realistic spread of statuses, owners, notes and first-contact times."""
    rng = random.Random(seed)
    statuses = [s for s, _ in STATUS_WEIGHTS]
    weights = [w for _, w in STATUS_WEIGHTS]
    picks = rng.choices(statuses, weights, k=len(handles))
    for version, (handle, status) in enumerate(zip(handles, picks, strict=True), start=1):
        contacted = status != "new"
        first = EPOCH + dt.timedelta(seconds=rng.randrange(180 * 86400)) if contacted else None
        notes = None
        if rng.random() < 0.1:
            notes = " ".join(rng.choice(NOTE_WORDS) for _ in range(rng.randint(3, 12)))
        yield LeadRow(
            handle=handle,
            status=status,
            owner_actor=rng.choice(ACTORS) if contacted else None,
            notes=notes,
            first_contacted=first,
            last_updated=EPOCH + dt.timedelta(days=200, microseconds=version),
            version=version,
        )


def init_cloud(url: str) -> None:
    """Create DM Ledger's schema (tables, indexes, triggers) at ``url``."""
    store = cloud_store_for(url)
    try:
        store.init_schema()
    finally:
        store.dispose()


def load_people(dsn: str) -> None:
    with psycopg.connect(dsn) as conn:
        conn.cursor().executemany(
            "INSERT INTO operators (operator_name) VALUES (%s)", [(o,) for o in OPERATORS]
        )
        conn.cursor().executemany(
            "INSERT INTO actors (username, owner_operator, status) VALUES (%s, %s, 'active')",
            [(a, actor_owner(a)) for a in ACTORS],
        )


def load_leads(dsn: str, handles: Sequence[str], seed: int) -> int:
    """COPY the leads into ``prospects``; returns the highest row_version handed out."""
    top = 0
    with psycopg.connect(dsn) as conn:
        # The seed chooses each row's version and last_updated (consecutive versions,
        # a UTC time per row), so the stamp trigger is off while it COPYs; then the
        # cursor base is raised above the highest version (CloudStore.rebase_cursor),
        # so every later write (trigger on again) is stamped above it, as in production.
        conn.execute("ALTER TABLE prospects DISABLE TRIGGER USER")
        with conn.cursor().copy(
            "COPY prospects (target_username, status, owner_actor, notes, first_contacted,"
            " last_updated, row_version, last_dm_at, dm_count, last_message) FROM STDIN"
        ) as copy:
            for lead in make_leads(handles, seed):
                # A contacted lead had one DM at its first contact (issue 12's figures), so
                # the Today list has the open ones due.
                dm = lead.first_contacted is not None
                copy.write_row(
                    (
                        lead.handle,
                        lead.status,
                        lead.owner_actor,
                        lead.notes,
                        lead.first_contacted,
                        lead.last_updated,
                        lead.version,
                        lead.first_contacted,
                        1 if dm else None,
                        f"Hey {lead.handle}! Quick question about your bookings?" if dm else None,
                    )
                )
                top = lead.version
        conn.execute("ALTER TABLE prospects ENABLE TRIGGER USER")
        conn.execute("ANALYZE prospects")
    store = cloud_store_for(dsn.replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        store.rebase_cursor()
    finally:
        store.dispose()
    return top


def load_logs(dsn: str, count: int, seed: int) -> None:
    """COPY ``count`` outreach logs, shaped like a real team's: each contacted lead gets
    its first DM from its owner at its first-contact time, then a few follow-ups days
    apart, nearly always from the same actor (1 in 20 comes from another actor: a
    double contact). Leads are visited in random order until ``count`` DMs exist."""
    rng = random.Random(seed)
    with psycopg.connect(dsn) as conn:
        leads = conn.execute(
            "SELECT target_username, owner_actor, first_contacted FROM prospects"
            " WHERE owner_actor IS NOT NULL AND first_contacted IS NOT NULL"
            " ORDER BY target_username"
        ).fetchall()
        if not leads:
            raise ValueError("no contacted leads to log DMs to")
        with conn.cursor().copy(
            "COPY outreach_logs (target_username, actor_username, operator_name, message_text,"
            " created_at, client_log_id) FROM STDIN"
        ) as copy:
            written = 0
            while written < count:
                rng.shuffle(leads)
                for handle, owner, first in leads:
                    sent = first
                    follow_ups = int(rng.expovariate(1.25))
                    for k in range(1 + follow_ups):
                        if written >= count:
                            break
                        if k:
                            sent = sent + dt.timedelta(days=rng.uniform(1, 6))
                        actor = owner if k == 0 or rng.random() > 0.05 else rng.choice(ACTORS)
                        copy.write_row(
                            (
                                handle,
                                actor,
                                actor_owner(actor),
                                "Hey! Loved your latest post, quick question for you",
                                sent,
                                f"bench-{seed}-{written}",
                            )
                        )
                        written += 1
                    if written >= count:
                        break
        conn.execute("ANALYZE outreach_logs")
