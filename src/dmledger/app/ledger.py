"""``Ledger``: the one application object. The CLI, the web app and the tests call it.

Built from a home folder and its settings. Writes of prospects and DMs go to the
local store first (the cache changes at once, the change is queued for sync);
operators, actors and ``cloud`` actions go to the cloud directly.

The cloud's modules (SQLAlchemy's dialects, psycopg, the cloud store, the sync engine)
are imported where they are first needed, not with this module: the native host
answers hello and the local card from the local store alone, and its start-up is most
of the wait for the first card after the browser starts.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from dataclasses import replace
from datetime import datetime, timedelta
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from dmledger import settings as config
from dmledger.domain.handles import normalize_handle, validate_actor_username
from dmledger.domain.notes import merge_note, note_line
from dmledger.domain.records import ActorRow, CloudInfo, OutgoingLog, Prospect
from dmledger.domain.rules import check_dm_allowed
from dmledger.domain.statuses import parse_actor_status, parse_status, read_stored_status
from dmledger.domain.text import NOTES_MAX_CHARS, validate_name
from dmledger.domain.text import clean_text as _clean_text
from dmledger.domain.timeutil import Clock, utcnow
from dmledger.errors import InvalidInput, NotFound, Refused
from dmledger.local import LocalStore, ProspectFilter, apply_dm_to_cache
from dmledger.local import meta_keys as keys

from .context import Context
from .filters import normalised_filter
from .outgoing import client_made_id, new_dm, require_registered_actor
from .views import IndexBuild, StatusCard, SyncStatus

if TYPE_CHECKING:
    from dmledger.cloud import CloudStore
    from dmledger.sync.engine import Progress, SyncEngine, SyncReport

    from .dashboard import TeamDashboard
    from .followups import FollowUps
    from .importing import CsvFiles
    from .people import BulkResult, Roster
    from .templates import Templates
    from .timeline import Timelines

log = logging.getLogger(__name__)

# Said by the Leads page, the API (a Warning header: ASCII only) and the CLI while a
# search cannot use the index. The results are whole, only slower: say both.
SEARCH_INDEXING = (
    "search index is being built (in the background, after a sync); until then a search "
    "reads every lead: the results are complete, only slower"
)


class Ledger:
    """One home: its settings, its local store, and (lazily) its cloud."""

    def __init__(self, home: Path, settings: config.Settings, *, clock: Clock = utcnow) -> None:
        self.home = home
        self.settings = settings
        self.clock = clock
        config.secure_home(home)  # before any file is opened: SQLite's files too
        self.local = LocalStore.in_home(home)
        self._cloud: CloudStore | None = None
        self._schema_checked = False
        self.context = Context(settings, self.now)

    # -- opening -------------------------------------------------------------------

    @classmethod
    def open(cls, home: Path, *, clock: Clock = utcnow) -> Ledger:
        """Open an initialised home; ConfigError when there is none."""
        return cls(home, config.load(home), clock=clock)

    @classmethod
    def init_home(
        cls,
        home: Path,
        operator: str,
        *,
        cloud_url: str | None = None,
        actor: str | None = None,
        wallet_dir: str | None = None,
        wallet_alias: str | None = None,
        cloud_user: str | None = None,
        cloud_schema: str | None = None,
    ) -> tuple[Ledger, str | None]:
        """Write the home's config (never a password) and create the local store.

        Works with the cloud unreachable: it touches only the home. Returns the ledger
        and a password found in the URL, which the caller must keep elsewhere.
        """
        name = validate_name(operator, "operator name")
        actor_name = validate_actor_username(actor) if actor else None
        url = cloud_url or config.embedded_cloud_url(home)
        url, password = config.split_password(url)
        from dmledger.cloud import backend_of  # lazy: see the module's docstring

        backend_of(url)
        config.secure_home(home)
        settings = config.Settings(
            operator=name,
            actor=actor_name,
            cloud_url=url,
            wallet_dir=wallet_dir,
            wallet_alias=wallet_alias,
            cloud_user=cloud_user,
            cloud_schema=cloud_schema,
        )
        config.save(home, settings)
        config.api_token(home, create=True)
        ledger = cls(home, settings)
        if actor_name:
            with ledger.local.transaction() as conn:
                ledger.local.remember_actor(conn, ActorRow(actor_name, name, "active"))
        return ledger, password

    def close(self) -> None:
        self.local.dispose()
        if self._cloud is not None:
            self._cloud.dispose()

    @property
    def cloud(self) -> CloudStore:
        """The cloud store, opened on first use (no connection until a statement runs).

        For ``app/`` and tests: interfaces call ``Ledger`` methods instead."""
        if self._cloud is None:
            from .cloud_access import open_cloud_store  # lazy: see the module's docstring

            self._cloud = open_cloud_store(self.settings, self.home)
        return self._cloud

    def prepare_cloud(self) -> None:
        """Open the cloud store now (it does not connect): a server calls this once
        before threads race to open it. ConfigError for an unusable cloud setting."""
        _ = self.cloud

    @property
    def cloud_label(self) -> str:
        from dmledger.cloud import redact_url  # lazy: see the module's docstring

        return redact_url(self.settings.cloud_url)

    def _clock_offset(self) -> timedelta | None:
        """The offset to the cloud's clock measured at the last sync (None before it)."""
        from dmledger.sync.engine import clock_offset  # lazy: see the module's docstring

        with self.local.reading() as conn:
            return clock_offset(self.local, conn)

    def now(self) -> datetime:
        """This machine's clock corrected by the offset to the cloud's, measured at the
        last sync (UTC): the time stamped on DMs, edits and note lines."""
        return self.clock() + (self._clock_offset() or timedelta(0))

    @cached_property
    def followups(self) -> FollowUps:
        """Replies, follow-up dates, the Today list and the team's rule (app/followups.py)."""
        from .followups import FollowUps

        return FollowUps(self.context, self.local, self.card, self._share_team_edits)

    def _share_team_edits(self) -> list[str]:
        """The sync's hook for the team's templates and rule: push them now; the errors
        the cloud gave."""
        return list(self.sync_engine().share_team_edits().errors)

    @cached_property
    def csv(self) -> CsvFiles:
        """CSV import of leads and past DMs, and export of a list (app/importing.py)."""
        from .importing import CsvFiles

        return CsvFiles(self.local, self.settings, self.clock)

    @cached_property
    def team(self) -> TeamDashboard:
        """The Team page's numbers from the cloud, cached for offline viewing (app/dashboard.py)."""
        from .dashboard import TeamDashboard

        return TeamDashboard(self.local, self._cloud_store, self.clock)

    @cached_property
    def timelines(self) -> Timelines:
        """A lead's DMs: this machine's merged with the team's from the cloud (app/timeline.py)."""
        from .timeline import Timelines

        return Timelines(self.card, self._cloud_store)

    @cached_property
    def people(self) -> Roster:
        """The team's operators and actors, from the cloud or this machine's copy
        (app/people.py)."""
        from .people import Roster

        return Roster(self.local, self.settings.operator, self._cloud_store)

    def _cloud_store(self) -> CloudStore:
        return self.cloud

    @cached_property
    def templates(self) -> Templates:
        """The team's message templates (app/templates.py)."""
        from .templates import Templates

        return Templates(self.context, self.local, self.followups.change_team, self.log_dm)

    def sync_engine(self) -> SyncEngine:
        from dmledger.sync.engine import SyncEngine  # lazy: see the module's docstring
        from dmledger.sync.gateway import StoreGateway

        return SyncEngine(self.home, self.local, StoreGateway(self.cloud), clock=self.clock)

    # -- the status card -----------------------------------------------------------

    def card(self, raw_handle: str, *, recent: int = 5, team: bool = False) -> StatusCard:
        """The status card. From the local store only (instant, works offline), unless
        ``team``: then ``recent_logs`` also holds the team's DMs from the cloud, fetched
        within a bounded time, and ``team_dms`` says whether they could be (see
        :meth:`dmledger.app.timeline.Timelines.with_team_dms`).

        Unknown handles get a card with ``known=False``; callers decide whether that is
        a 404 or a "nobody has contacted them" answer.
        """
        if team:
            return self.timelines.with_team_dms(self.card(raw_handle, recent=recent), recent)
        handle = normalize_handle(raw_handle)
        with self.local.reading() as conn:
            rows = self.local.card_rows(conn, handle, recent)
        pending = rows.edits_queued or any(not item.synced for item in rows.recent_logs)
        return StatusCard.build(
            handle,
            rows.prospect,
            rows.recent_logs,
            pending,
            rows.notices,
            operator=self.settings.operator,
        )

    def require_card(self, raw_handle: str, *, team: bool = False) -> StatusCard:
        """The card of a lead in the ledger; NotFound for one nobody has recorded."""
        card = self.card(raw_handle, team=team)
        if not card.known:
            raise NotFound(
                f"{card.handle!r} is not in the ledger: nobody on the team has recorded a DM "
                "to them (as of the last sync)"
            )
        return card

    # -- prospects -----------------------------------------------------------------

    def add_prospect(
        self, raw_handle: str, *, status: str | None = None, notes: str | None = None
    ) -> Prospect:
        handle = normalize_handle(raw_handle)
        chosen = parse_status(status).value if status else "new"
        text = _clean_text(notes, "notes", NOTES_MAX_CHARS)
        with self.local.transaction() as conn:
            existing = self.local.get_prospect(conn, handle)
            if existing is not None:
                raise Refused(
                    f"{handle!r} is already in the ledger (status {existing.status}"
                    + (f", owner {existing.owner_actor}" if existing.owner_actor else "")
                    + "): use `prospect set` to change it"
                )
            prospect = Prospect(handle, chosen, notes=text)
            self.local.put_prospect(conn, prospect)
            self.local.enqueue_edit(conn, "add", handle, status=chosen, notes=text, at=self.now())
        return prospect

    def update_prospect(
        self,
        raw_handle: str,
        *,
        status: str | None = None,
        notes: str | None = None,
        append_note: str | None = None,
    ) -> Prospect:
        """Set status and/or notes (a person's decision: any status, backwards too)."""
        handle = normalize_handle(raw_handle)
        if status is None and notes is None and append_note is None:
            raise InvalidInput("nothing to change: give --status, --notes or --append-note")
        if notes is not None and append_note is not None:
            raise InvalidInput("give either --notes (replace) or --append-note, not both")
        chosen = parse_status(status).value if status else None
        now = self.now()
        with self.local.transaction() as conn:
            current = self.local.get_prospect(conn, handle)
            if current is None:
                raise NotFound(f"{handle!r} is not in the ledger: add it with `prospect add`")
            updated = current
            if chosen is not None and chosen != current.status:
                updated = replace(updated, status=chosen)
                self.local.enqueue_edit(conn, "status", handle, status=chosen, at=now)
            new_notes = current.notes
            if notes is not None:
                new_notes = _clean_text(notes, "notes", NOTES_MAX_CHARS) or None
            line = None
            if append_note is not None:
                addition = _clean_text(append_note, "note", NOTES_MAX_CHARS)
                if not addition:
                    raise InvalidInput("the note to append is empty: write what to add")
                line = note_line(now, self.settings.operator, addition)
                new_notes = merge_note(current.notes, line)
                if len(new_notes) > NOTES_MAX_CHARS:
                    raise InvalidInput(
                        f"notes of {handle!r} would be {len(new_notes)} characters: "
                        f"the limit is {NOTES_MAX_CHARS}"
                    )
            if new_notes != current.notes:
                updated = replace(updated, notes=new_notes)
                if line is not None:  # an append merges at the cloud; a replace wins there
                    self.local.enqueue_edit(conn, "append", handle, notes=line, at=now)
                else:
                    self.local.enqueue_edit(
                        conn, "notes", handle, notes=new_notes, base=current.notes, at=now
                    )
            self.local.put_prospect(conn, updated)
        return updated

    def set_status_many(self, handles: list[str], status: str) -> BulkResult:
        """One status on many leads (the Leads page's bulk change), each as
        :meth:`update_prospect` sets it; see ``people.set_status_many``."""
        from .people import set_status_many

        return set_status_many(
            lambda raw, chosen: self.update_prospect(raw, status=chosen), handles, status
        )

    def delete_prospect(self, raw_handle: str) -> None:
        """Delete a lead, its notes and this machine's DMs to it; the cloud follows at sync."""
        handle = normalize_handle(raw_handle)
        with self.local.transaction() as conn:
            if self.local.get_prospect(conn, handle) is None:
                raise NotFound(f"{handle!r} is not in the ledger")
            self.local.delete_prospect(conn, handle)
            self.local.enqueue_edit(conn, "delete", handle, at=self.now())

    def list_prospects(
        self, where: ProspectFilter, *, after: str | None = None, limit: int = 50
    ) -> list[Prospect]:
        if limit < 1 or limit > 10_000:
            raise InvalidInput(f"limit {limit} is out of range: 1 to 10000")
        where = normalised_filter(where)
        with self.local.reading() as conn:
            return self.local.list_prospects(conn, where, after=after, limit=limit)

    def search_notice(self, where: ProspectFilter) -> str | None:
        """What to tell whoever searches while the search index is being built (after a
        full resync's rows, before its index): the results come from an exact scan."""
        if not where.search:
            return None
        with self.local.reading() as conn:
            return SEARCH_INDEXING if self.local.search_indexing(conn) else None

    def count_prospects(self, where: ProspectFilter) -> int:
        with self.local.reading() as conn:
            return self.local.count_prospects(conn, normalised_filter(where))

    # -- DMs -----------------------------------------------------------------------

    def log_dm(
        self,
        to: str,
        message: str,
        *,
        actor: str | None = None,
        at: datetime | None = None,
        force: bool = False,
        client_log_id: str | None = None,
        template: str | None = None,
    ) -> tuple[OutgoingLog, StatusCard, bool]:
        """Record a DM that was sent. Returns the log, the card after it, and whether it
        was new (False when ``client_log_id`` was already recorded: idempotent).

        Refuses a DM to an excluded lead unless ``force``; never moves a status back.
        """
        offset = self._clock_offset()
        # Before the first sync no offset is known: the raw time is corrected at that sync.
        raw_clock = at is None and offset is None
        now = self.clock() + (offset or timedelta(0))
        log_id = client_made_id(client_log_id, "client_log_id")
        item = new_dm(
            log_id,
            to,
            message,
            actor=self.context.actor(actor),
            operator=self.settings.operator,
            sent_at=at,
            now=now,
        )
        if template is not None:
            item = replace(item, template=template)
        with self.local.transaction() as conn:
            existing = self.local.log_by_client_id(conn, log_id)
            if existing is not None:
                item = OutgoingLog(
                    existing.client_log_id,
                    existing.target,
                    existing.actor,
                    existing.operator,
                    existing.message,
                    existing.sent_at,
                    existing.id,
                )
                created = False
            else:
                require_registered_actor(self.local, conn, item.actor)
                current = self.local.get_prospect(conn, item.target)
                check_dm_allowed(
                    item.target,
                    None if current is None else read_stored_status(current.status),
                    force=force,
                )
                local_id = self.local.insert_log(conn, item, raw_clock=raw_clock)
                item = replace(item, local_id=local_id or 0)
                apply_dm_to_cache(self.local, conn, item)
                created = True
        return item, self.card(item.target), created

    # -- people (cloud) --------------------------------------------------------------

    def add_operator(self, name: str) -> bool:
        return self.cloud.add_operator(validate_name(name, "operator name"))

    def list_operators(self) -> list[str]:
        return self.cloud.list_operators()

    def add_actor(self, username: str, operator: str | None = None) -> bool:
        actor = validate_actor_username(username)
        owner = validate_name(operator or self.settings.operator, "operator name")
        if owner == self.settings.operator:
            # This home's own operator is registered on first use, as a push would.
            self.cloud.add_operator(owner)
        created = self.cloud.add_actor(actor, owner)
        with self.local.transaction() as conn:
            self.local.remember_actor(conn, ActorRow(actor, owner, "active"))
        return created

    def list_actors(self) -> list[ActorRow]:
        return self.cloud.list_actors()

    def set_actor_status(self, username: str, status: str) -> None:
        actor = validate_actor_username(username)
        value = parse_actor_status(status)
        self.cloud.set_actor_status(actor, value)
        with self.local.transaction() as conn:
            known = self.local.get_actor(conn, actor)
            self.local.replace_people(
                conn, [], [ActorRow(actor, known.owner_operator if known else None, value)]
            )

    # -- cloud ---------------------------------------------------------------------

    def cloud_init(self) -> bool:
        return self.cloud.init_schema()

    def cloud_check(self) -> CloudInfo:
        return self.cloud.check()

    def cloud_upgrade(self) -> list[str]:
        return self.cloud.upgrade()

    def cloud_reset(self) -> None:
        """Factory reset of the cloud; the local cache and cursor start over too."""
        self.cloud.reset()
        with self.local.transaction() as conn:
            self.local.forget_cloud(conn)

    def cloud_purge_tombstones(self, older_than_days: int) -> int:
        """Forget the cloud's deletions older than ``older_than_days`` (at least 1); a
        cache away longer than that resyncs fully. Returns how many were purged."""
        if older_than_days < 1:
            raise InvalidInput(f"--older-than-days {older_than_days} must be at least 1")
        return self.cloud.purge_tombstones_older_than(older_than_days)

    def cloud_grants(self, role: str, user: str, *, apply: bool = False) -> list[str]:
        """The least-privilege grants for ``user`` on this cloud; run them if ``apply``."""
        from dmledger.cloud import grant_statements

        statements = grant_statements(
            self.cloud.dialect, role, user, owner=self.cloud.current_schema()
        )
        if apply:
            self.cloud.run_statements(statements)
        return statements

    @staticmethod
    def cloud_ddl(dialect: str) -> str:
        from dmledger.cloud import render_script  # lazy: see the module's docstring

        return render_script(dialect)

    # -- sync ----------------------------------------------------------------------

    def sync(self, progress: Progress | None = None, *, build_indexes: bool = True) -> SyncReport:
        """One sync cycle. After a full resync's rows, its indexes are built in this
        call, or with ``build_indexes=False`` left to :meth:`build_indexes` (the cache is
        complete and correct meanwhile: search scans, and says so)."""
        if not self._schema_checked:
            # Once per Ledger: the loop syncs every few seconds, and a sync with
            # nothing to do must stay at one round trip.
            self.cloud.require_schema()
            self._schema_checked = True
        return self.sync_engine().sync_once(progress, build_indexes=build_indexes)

    def indexes_pending(self) -> bool:
        """Are the indexes a full resync turned off still to be built?"""
        with self.local.reading() as conn:
            return self.local.search_indexing(conn)

    def build_indexes(self, progress: Progress | None = None, *, background: bool = False) -> bool:
        """Build the indexes a full resync left off (see ``LocalStore.finish_indexing``).
        ``background``: in a process of its own that outlives this one (``dmledger
        sync`` returns once the rows are in); returns whether one was started."""
        if not background:
            return self.local.finish_indexing(progress)
        if not self.indexes_pending():
            return False
        args = [sys.executable, "-m", "dmledger.local.build_indexes", str(self.local.path)]
        if hasattr(os, "posix_spawn"):  # no Popen to reap: it may outlive this process
            quiet = [(os.POSIX_SPAWN_OPEN, fd, os.devnull, os.O_RDWR, 0) for fd in (0, 1, 2)]
            os.posix_spawn(args[0], args, os.environ, file_actions=quiet, setsid=True)
        else:
            subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL, start_new_session=True)  # fmt: skip
        return True

    def status(self, *, probe_cloud: bool = True, check: bool = True) -> SyncStatus:
        """The queue and the last sync. ``check``: SQLite's quick check of the tables
        holding queued work first (StoreDamaged: a damaged queue is never "all is well")."""
        if check:
            self.local.check_queue()
        with self.local.reading() as conn:
            counts = self.local.queue_counts(conn)
            aside = self.local.set_aside(conn)
            last_sync = self.local.get_meta(conn, keys.LAST_SYNC_AT)
            last_attempt = self.local.get_meta(conn, keys.LAST_ATTEMPT_AT)
            last_error = self.local.get_meta(conn, keys.LAST_ERROR)
            indexing = self.local.index_progress(conn)
        reachable: bool | None = None
        if probe_cloud:
            try:
                reachable = self.cloud.check().reachable
            except Exception as error:  # status must answer even with a broken cloud config
                log.info("cloud probe failed: %s", error)
                reachable = False
        return SyncStatus(
            pending_logs=counts.pending_logs,
            pending_changes=counts.pending_changes,
            set_aside=aside,
            last_sync_at=_z(last_sync),
            last_attempt_at=_z(last_attempt),
            last_error=last_error,
            cloud_reachable=reachable,
            cloud=self.cloud_label,
            indexing=None
            if indexing is None
            else IndexBuild(indexed=indexing[0], leads=indexing[1]),
        )

    def retry_set_aside(self) -> int:
        with self.local.transaction() as conn:
            return self.local.retry_set_aside(conn)

    def drop_set_aside(self, ref: str) -> str:
        """Drop one set-aside item named ``log:ID`` or ``edit:ID`` (plain ID means a log)."""
        kind, _, number = ref.partition(":") if ":" in ref else ("log", "", ref)
        if kind not in ("log", "edit") or not number.isdigit():
            raise InvalidInput(f"{ref!r} is not a set-aside item: expected log:ID or edit:ID")
        with self.local.transaction() as conn:
            item = self.local.drop_set_aside(conn, kind, int(number))
        return f"dropped {item.kind} {item.id} ({item.detail} for {item.target})"


def _z(text: str | None) -> str | None:
    return None if text is None else text + "Z"


__all__ = ["Ledger"]
