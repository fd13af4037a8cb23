"""What a logged DM does to a prospect, and who owns a contested lead."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from dmledger.domain.statuses import Status, status_after_dm
from dmledger.errors import ExcludedProspect


@dataclass(frozen=True)
class Contact:
    """The part of a prospect a DM can change."""

    status: Status
    owner_actor: str | None
    first_contacted: datetime | None


def check_dm_allowed(handle: str, status: Status | None, *, force: bool) -> None:
    """Refuse a DM to an excluded prospect unless forced."""
    if status is Status.EXCLUDED and not force:
        raise ExcludedProspect(
            f"{handle!r} is excluded (do not contact): a DM to an excluded prospect is "
            "refused; use --force if it was really sent"
        )


def apply_dm(current: Contact | None, actor: str, sent_at: datetime) -> Contact:
    """The prospect after one DM from ``actor`` sent at ``sent_at`` (UTC).

    The earliest first contact owns the lead: a DM sent earlier than the known first
    contact (two teammates offline) takes FIRST_CONTACTED and OWNER_ACTOR. Ties go to
    the alphabetically first actor so every machine agrees.
    """
    if current is None:
        return Contact(Status.CONTACTED, actor, sent_at)
    status = status_after_dm(current.status)
    first, owner = current.first_contacted, current.owner_actor
    if first is None:
        # First DM: it sets FIRST_CONTACTED, and the owner only when none was recorded.
        return Contact(status, owner or actor, sent_at)
    if sent_at < first or (sent_at == first and owner is not None and actor < owner):
        # An earlier contact made offline by someone else: the earliest one owns the lead.
        return Contact(status, actor, sent_at)
    return Contact(status, owner or actor, first)
