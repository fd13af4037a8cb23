"""A lead's DM timeline: this machine's DMs merged with the team's, from the cloud.

The local half is always there (it answers offline); the cloud half is added when the
cloud answers within ``TEAM_TIMEOUT_S``. A DM known to both sides appears once (same
``client_log_id``), marked synced. The one source of the team's DMs: the web lead page
and the status card of every interface (``Ledger.card(team=True)``) use it.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from dmledger.domain.handles import normalize_handle
from dmledger.domain.timeutil import format_utc
from dmledger.errors import CloudError, CloudUnavailable, ConfigError

from .views import DmView, StatusCard

if TYPE_CHECKING:
    from collections.abc import Callable

    from dmledger.cloud import CloudStore

log = logging.getLogger(__name__)

TIMELINE_LIMIT = 200
# How long a card waits for the team's DMs before it answers with this machine's only.
TEAM_TIMEOUT_S = 3.0


@dataclass
class Timeline:
    """Newest first. ``cloud_error`` says why the team's half is missing, if it is."""

    handle: str
    entries: list[DmView] = field(default_factory=list)
    cloud_included: bool = False
    cloud_error: str | None = None


class LocalCard(Protocol):
    """``Ledger.card`` without the team's DMs: what this machine knows of a lead."""

    def __call__(self, raw_handle: str, *, recent: int) -> StatusCard: ...


class Timelines:
    """Leads' DM timelines for one home: owned by ``Ledger`` (``ledger.timelines``),
    built with the local status card and the cloud store (opened on first use, in the
    worker thread, so a broken cloud setting is a ``cloud_error``, never a failure)."""

    def __init__(self, local_card: LocalCard, cloud: Callable[[], CloudStore]) -> None:
        self._local_card = local_card
        self._cloud = cloud

    def lead(
        self, raw_handle: str, *, include_cloud: bool = True, limit: int = TIMELINE_LIMIT
    ) -> Timeline:
        """The DMs to one lead, newest first: local always, the cloud's when reachable.

        Never raises for an unreachable or misconfigured cloud: the reason is returned in
        ``cloud_error`` and the local DMs are still shown.
        """
        handle = normalize_handle(raw_handle)
        card = self._local_card(handle, recent=limit)
        timeline = Timeline(handle)
        by_id: dict[str, DmView] = {}
        for entry in card.recent_logs:
            by_id[entry.client_log_id or ""] = entry
            timeline.entries.append(entry)
        if include_cloud:
            try:
                rows = self._team_rows(handle, limit)
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

    def _team_rows(self, handle: str, limit: int) -> list[dict[str, Any]]:
        """The cloud's DMs to ``handle``, or CloudUnavailable after ``TEAM_TIMEOUT_S``.

        The query runs in a daemon thread: a cloud that does not answer (a dropped network,
        a connect timeout of 10 s or more) must not hold up a status card.
        """
        result: list[list[dict[str, Any]]] = []
        failure: list[BaseException] = []

        def fetch() -> None:
            try:
                result.append(self._cloud().logs_for(handle, limit))
            except BaseException as error:  # handed to the caller below
                failure.append(error)

        worker = threading.Thread(target=fetch, name="dmledger-team-dms", daemon=True)
        worker.start()
        worker.join(TEAM_TIMEOUT_S)
        if worker.is_alive():
            raise CloudUnavailable(f"the cloud did not answer within {TEAM_TIMEOUT_S:g} s")
        if failure:
            raise failure[0]
        return result[0]

    def with_team_dms(self, card: StatusCard, limit: int) -> StatusCard:
        """``card`` with its ``recent_logs`` merged with the team's DMs from the cloud.

        ``team_dms`` is "included", or "unavailable" with the reason in ``team_error`` (the
        local DMs are kept). Entries from the cloud have ``local`` False.
        """
        timeline = self.lead(card.handle, limit=limit)
        if not timeline.cloud_included:
            return card.model_copy(
                update={"team_dms": "unavailable", "team_error": timeline.cloud_error}
            )
        return card.model_copy(
            update={
                # A teammate's DM the last sync has not brought here yet still means
                # "contacted".
                "contacted": card.contacted or bool(timeline.entries),
                "recent_logs": timeline.entries,
                "team_dms": "included",
            }
        )


def _merge_cloud_row(timeline: Timeline, by_id: dict[str, DmView], row: dict[str, Any]) -> None:
    key = row.get("client_log_id")
    if key and key in by_id:
        mine = by_id[key]
        if not mine.synced:
            # The cloud has it even if this machine has not heard back yet.
            index = timeline.entries.index(mine)
            timeline.entries[index] = mine.model_copy(update={"synced": True, "error": None})
        return
    sent = row.get("created_at")
    timeline.entries.append(
        DmView(
            client_log_id=key,
            to=timeline.handle,
            actor=row.get("actor_username"),
            operator=row.get("operator_name"),
            message=str(row.get("message_text") or ""),
            sent_at=format_utc(sent) if isinstance(sent, datetime) else None,
            local=False,
            synced=True,
        )
    )
