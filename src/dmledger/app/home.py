"""``init``: create a home, or change only what is given on one that exists.

Re-running ``init`` must never lose what a home holds: the actor set earlier, the
queue of DMs and edits not yet synced. Replacing the operator or the cloud of a home
with queued work is refused unless forced, and then the report says what happens to
the queue.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from dmledger import settings as config
from dmledger.cloud import backend_of, redact_url
from dmledger.domain.handles import validate_actor_username
from dmledger.domain.records import ActorRow
from dmledger.domain.text import validate_name
from dmledger.errors import InvalidInput, Refused
from dmledger.local import meta_keys as keys

from .ledger import Ledger


@dataclass
class InitReport:
    """What ``init`` did: a new home, or the settings it changed (old → new)."""

    created: bool
    changes: list[str] = field(default_factory=list)
    queue_note: str | None = None  # what happens to queued work after --force


def init_or_update(
    home: Path,
    *,
    operator: str | None,
    cloud_url: str | None = None,
    actor: str | None = None,
    wallet_dir: str | None = None,
    wallet_alias: str | None = None,
    cloud_user: str | None = None,
    force: bool = False,
) -> tuple[Ledger, str | None, InitReport]:
    """Create ``home``, or update the settings given on an existing one.

    Returns the ledger, a password found in ``cloud_url`` (the caller keeps it
    elsewhere) and the report. Raises Refused when the operator or the cloud of a home
    with queued work would be replaced without ``force``.
    """
    if not (home / config.CONFIG_NAME).is_file():
        if operator is None:
            raise InvalidInput(
                f"no DM Ledger home at {home} yet: give --operator NAME (your name on the "
                "team) to create one"
            )
        ledger, password = Ledger.init_home(
            home,
            operator,
            cloud_url=cloud_url,
            actor=actor,
            wallet_dir=wallet_dir,
            wallet_alias=wallet_alias,
            cloud_user=cloud_user,
        )
        return ledger, password, InitReport(created=True)

    current = config.load(home, environment=False)
    given: dict[str, str | None] = {
        "operator": validate_name(operator, "operator name") if operator is not None else None,
        "actor": validate_actor_username(actor) if actor is not None else None,
        "wallet_dir": wallet_dir,
        "wallet_alias": wallet_alias,
        "cloud_user": cloud_user,
    }
    password = None
    if cloud_url is not None:
        url, password = config.split_password(cloud_url)
        backend_of(url)
        given["cloud_url"] = url
    updates = {k: v for k, v in given.items() if v is not None and getattr(current, k) != v}
    report = InitReport(created=False)
    for key, new in updates.items():
        old = getattr(current, key)
        shown = (
            (redact_url(old) if old else old, redact_url(new or ""))
            if key == "cloud_url"
            else (old, new)
        )
        report.changes.append(f"{key.replace('_', ' ')}: {shown[0] or '(none)'} → {shown[1]}")
    replacing: list[str] = [k for k in ("operator", "cloud_url") if k in updates]
    ledger = Ledger(home, current)
    try:
        with ledger.local.reading() as conn:
            counts = ledger.local.queue_counts(conn)
        queued = counts.pending_logs + counts.pending_changes
        if replacing and queued:
            what = " and ".join(
                "the operator" if k == "operator" else "the cloud" for k in replacing
            )
            waiting = f"{counts.pending_logs} DMs and {counts.pending_changes} edits"
            consequence = _consequence(replacing)
            if not force:
                raise Refused(
                    f"this home has {waiting} waiting for sync: replacing {what} now means "
                    f"{consequence}. Run `dmledger sync` first, or add --force"
                )
            report.queue_note = f"{waiting} stay queued: {consequence}"
    finally:
        ledger.close()
    settings = current.model_copy(update=updates)
    if updates:
        config.save(home, settings)
    ledger = Ledger(home, settings)
    with ledger.local.transaction() as conn:
        if "actor" in updates and settings.actor:
            ledger.local.remember_actor(conn, ActorRow(settings.actor, settings.operator, "active"))
        if "cloud_url" in updates:
            # The cache mirrors the old cloud: the next sync reads the new one in full
            # and drops what it does not have (queued work is kept).
            ledger.local.set_meta(conn, keys.FORCE_RESYNC, "1")
    return ledger, password, report


def _consequence(replacing: list[str]) -> str:
    parts = []
    if "cloud_url" in replacing:
        parts.append("they are pushed to the new cloud at the next sync, not to the old one")
    if "operator" in replacing:
        parts.append("the queued DMs keep the operator they were recorded with")
    return "; ".join(parts)
