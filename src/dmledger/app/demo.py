"""``dmledger demo``: a realistic sample team in the embedded cloud, marked as demo data.

Three operators, five actors, about 1,000 leads and 3,000 DMs over the last 30 days
in working hours, with replies, bookings, clients, a few refusals and a few double
contacts, so every screen has something true to show. Deterministic for a given
seed; written through the same cloud statements a sync uses.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from dmledger.cloud import put_template, set_rules
from dmledger.domain.followups import FollowUpRule, rule_values
from dmledger.domain.records import ActorRow, Edit, OutgoingLog
from dmledger.domain.templates import render_template
from dmledger.errors import Refused

if TYPE_CHECKING:
    from .ledger import Ledger

TEAM = {
    "Sarah": ("sarah.sells", "sarah.growth"),
    "Marcus": ("marcus.closes", "marcus.coaching"),
    "Priya": ("priya.studio",),
}
_FIRST = (
    "glow",
    "fit",
    "mindful",
    "urban",
    "coastal",
    "bold",
    "little",
    "golden",
    "wild",
    "studio",
    "daily",
    "pure",
    "north",
    "sunny",
    "velvet",
    "modern",
    "happy",
    "true",
    "bright",
    "cozy",
    "lunar",
    "olive",
    "rustic",
    "zen",
    "salt",
    "maple",
)
_SECOND = (
    "skin",
    "coach",
    "bakery",
    "yoga",
    "designs",
    "fitness",
    "photo",
    "nails",
    "brows",
    "decor",
    "threads",
    "kitchen",
    "barber",
    "florals",
    "pilates",
    "ceramics",
    "lashes",
    "realty",
    "dental",
    "tattoo",
    "boutique",
    "candles",
    "coffee",
    "jewelry",
)
# The team's templates (the follow-up feature): every demo DM is written from one of them.
_OPENERS = {
    "intro": "Hey {handle}! Loved your last post, quick question about your bookings?",
    "studio": "Hi {handle} 👋 we help studios like yours fill their calendar. Open to a chat?",
    "feed": "Hey! Saw {handle} on my feed, your work is great. Do you take new clients this month?",
}
_FOLLOW_UPS = {
    "bump": "Just bumping this in case it got buried 🙂",
    "no-pressure": "No worries if now is not a good time!",
    "call": "Would a 10-minute call on Thursday work?",
    "link": "Here is the link to book a slot when it suits you.",
}
_REPLIED = ("warm", "hot", "booked", "client", "rejected")  # outcomes that had a reply
_NOTES = {
    "warm": "Replied, interested but busy until next week.",
    "hot": "Asked for prices. Follow up with the offer.",
    "booked": "Call booked.",
    "client": "Signed. Onboarding started.",
    "rejected": "Said no thanks.",
    "excluded": "Asked not to be contacted again. Do not DM.",
}


def load_demo(
    ledger: Ledger, *, leads: int = 1000, dms: int = 3000, seed: int = 7
) -> dict[str, int]:
    """Fill the embedded cloud with the sample team. Refuses a real (non-SQLite) cloud
    and a cloud that already holds data that is not demo data."""
    store = ledger.cloud
    if store.dialect != "sqlite":
        raise Refused(
            "demo data goes only into the embedded SQLite cloud, never a team's real "
            f"database ({ledger.cloud_label})"
        )
    store.init_schema()
    if store.info_value("demo_data") == "true":
        return {"operators": 0, "actors": 0, "leads": 0, "dms": 0}
    if store.counts()["prospects"]:
        raise Refused("this cloud already holds leads that are not demo data: not touching it")
    rng = random.Random(seed)
    now = ledger.clock().replace(second=0, microsecond=0)
    handles = _handles(rng, leads)
    actor_rows = [ActorRow(a, op, "active") for op, names in TEAM.items() for a in names]
    actor_rows[-2] = ActorRow(actor_rows[-2].username, actor_rows[-2].owner_operator, "restricted")
    owners = {h: rng.choice(actor_rows) for h in handles}
    contacted = handles[: int(len(handles) * 0.9)]  # the rest are fresh leads, not yet DM'd

    logs: list[OutgoingLog] = []
    first_times: dict[str, datetime] = {}
    for handle in contacted:
        first = _working_time(rng, now - timedelta(days=30), now - timedelta(days=1))
        first_times[handle] = first
        logs.append(_from_template(rng, handle, owners[handle], first, _OPENERS))
    while len(logs) < dms:
        handle = rng.choice(contacted)
        when = first_times[handle] + timedelta(
            hours=rng.randint(20, 24 * 6), minutes=rng.randint(0, 59)
        )
        if when >= now:
            continue
        logs.append(_from_template(rng, handle, owners[handle], when, _FOLLOW_UPS))
    # A few double contacts: another teammate messaged a lead someone already owned.
    for handle in rng.sample(contacted, 12):
        other = rng.choice([a for a in actor_rows if a.username != owners[handle].username])
        when = first_times[handle] + timedelta(hours=rng.randint(1, 72))
        if when < now:
            logs.append(_from_template(rng, handle, other, when, _OPENERS))

    logs.sort(key=lambda item: item.sent_at)
    with store.transaction() as conn:
        store.ensure_people(conn, sorted(TEAM), actor_rows)
        for start in range(0, len(logs), 1000):
            store.push_logs(conn, logs[start : start + 1000])
        edits: list[Edit] = []
        for seq, handle in enumerate(contacted):
            status = _outcome(rng)
            if status != "contacted":
                edits.append(Edit(seq * 2, "status", handle, status=status))
            if status in _NOTES and rng.random() < 0.8:
                edits.append(Edit(seq * 2 + 1, "notes", handle, notes=_NOTES[status]))
            if status in _REPLIED:
                replied = first_times[handle] + timedelta(hours=rng.randint(2, 60))
                reply_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
                edits.append(Edit(seq * 2 + 1, "reply", handle, at=min(replied, now), ref=reply_id))
        for offset, handle in enumerate(handles[len(contacted) :]):
            edits.append(Edit(10**6 + offset, "add", handle, status="new"))
        store.push_edits(conn, edits)
        store.set_info(conn, "demo_data", "true")
        set_rules(conn, rule_values(FollowUpRule(3, 3)))
        for name, text in {**_OPENERS, **_FOLLOW_UPS}.items():
            put_template(conn, name, text, "Sarah")
    return {
        "operators": len(TEAM),
        "actors": len(actor_rows),
        "leads": len(handles),
        "dms": len(logs),
    }


def _handles(rng: random.Random, count: int) -> list[str]:
    found: set[str] = set()
    while len(found) < count:
        a, b = rng.choice(_FIRST), rng.choice(_SECOND)
        style = rng.randrange(4)
        handle = (
            f"{a}.{b}"
            if style == 0
            else f"{a}_{b}"
            if style == 1
            else f"{a}{b}{rng.randint(1, 99)}"
            if style == 2
            else f"the.{a}.{b}"
        )
        found.add(handle)
    ordered = sorted(found)
    rng.shuffle(ordered)
    return ordered


def _working_time(rng: random.Random, start: datetime, end: datetime) -> datetime:
    span = (end - start).days or 1
    day = start + timedelta(days=rng.randrange(span))
    hour = min(21, max(8, int(rng.gauss(14, 3))))
    return day.replace(hour=hour, minute=rng.randrange(60), second=rng.randrange(60))


def _from_template(
    rng: random.Random,
    handle: str,
    actor: ActorRow,
    when: datetime,
    templates: dict[str, str],
) -> OutgoingLog:
    name = rng.choice(sorted(templates))
    operator = actor.owner_operator or "Sarah"
    text = render_template(templates[name], handle=handle, actor=actor.username, operator=operator)
    return replace(_log(rng, handle, actor, when, text), template=name)


def _log(
    rng: random.Random, handle: str, actor: ActorRow, when: datetime, text: str
) -> OutgoingLog:
    return OutgoingLog(
        client_log_id=str(uuid.UUID(int=rng.getrandbits(128), version=4)),
        target=handle,
        actor=actor.username,
        operator=actor.owner_operator or "Sarah",
        message=text,
        sent_at=when,
    )


def _outcome(rng: random.Random) -> str:
    roll = rng.random()
    for limit, status in (
        (0.35, "contacted"),
        (0.65, "cold"),
        (0.78, "warm"),
        (0.85, "hot"),
        (0.90, "booked"),
        (0.93, "client"),
        (0.98, "rejected"),
    ):
        if roll < limit:
            return status
    return "excluded"
