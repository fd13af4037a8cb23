"""A lead's DM timeline: this machine's DMs merged with the team's, from the cloud.

The local half is always there (it answers offline); the cloud half is added when the
cloud answers. A DM known to both sides appears once (same ``client_log_id``), marked
synced. Used by the lead page of the web app.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from dmledger.domain.handles import normalize_handle
from dmledger.domain.timeutil import format_utc
from dmledger.errors import CloudError, ConfigError

if TYPE_CHECKING:
    from .ledger import Ledger

log = logging.getLogger(__name__)

TIMELINE_LIMIT = 200


@dataclass(frozen=True)
class TimelineEntry:
    """One DM on the timeline. ``sent_at`` is ISO 8601 UTC with a trailing Z."""

    client_log_id: str | None
    actor: str | None
    operator: str | None
    message: str
    sent_at: str | None
    local: bool  # recorded on this machine
    synced: bool  # known to the cloud
    error: str | None = None  # why the cloud refused it (set aside)


@dataclass
class Timeline:
    """Newest first. ``cloud_error`` says why the team's half is missing, if it is."""

    handle: str
    entries: list[TimelineEntry] = field(default_factory=list)
    cloud_included: bool = False
    cloud_error: str | None = None


def lead_timeline(
    ledger: Ledger, raw_handle: str, *, include_cloud: bool = True, limit: int = TIMELINE_LIMIT
) -> Timeline:
    """The DMs to one lead, newest first: local always, the cloud's when reachable.

    Never raises for an unreachable or misconfigured cloud: the reason is returned in
    ``cloud_error`` and the local DMs are still shown.
    """
    handle = normalize_handle(raw_handle)
    card = ledger.card(handle, recent=limit)
    timeline = Timeline(handle)
    by_id: dict[str, TimelineEntry] = {}
    for item in card.recent_logs:
        entry = TimelineEntry(
            client_log_id=item["client_log_id"],
            actor=item["actor"],
            operator=item["operator"],
            message=item["message"],
            sent_at=item["sent_at"],
            local=True,
            synced=bool(item["synced"]),
            error=item["error"],
        )
        by_id[entry.client_log_id or ""] = entry
        timeline.entries.append(entry)
    if include_cloud:
        try:
            rows = ledger.cloud.logs_for(handle, limit)
        except (CloudError, ConfigError) as error:
            log.info("team timeline of %s unavailable: %s", handle, error)
            timeline.cloud_error = str(error)
        else:
            timeline.cloud_included = True
            for row in rows:
                _merge_cloud_row(timeline, by_id, row)
    timeline.entries.sort(key=lambda e: e.sent_at or "", reverse=True)
    del timeline.entries[limit:]
    return timeline


def _merge_cloud_row(
    timeline: Timeline, by_id: dict[str, TimelineEntry], row: dict[str, Any]
) -> None:
    key = row.get("client_log_id")
    if key and key in by_id:
        mine = by_id[key]
        if not mine.synced:
            # The cloud has it even if this machine has not heard back yet.
            index = timeline.entries.index(mine)
            timeline.entries[index] = TimelineEntry(
                mine.client_log_id,
                mine.actor,
                mine.operator,
                mine.message,
                mine.sent_at,
                local=True,
                synced=True,
            )
        return
    sent = row.get("created_at")
    timeline.entries.append(
        TimelineEntry(
            client_log_id=key,
            actor=row.get("actor_username"),
            operator=row.get("operator_name"),
            message=str(row.get("message_text") or ""),
            sent_at=format_utc(sent) if isinstance(sent, datetime) else None,
            local=False,
            synced=True,
        )
    )
