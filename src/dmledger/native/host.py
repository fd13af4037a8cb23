"""``dmledger native-host``: answers the extension's requests from the local store.

One request at a time, in order, each answered with the same ``id``. The host calls
only ``Ledger`` methods (instant, offline); a write asks the :class:`SyncScheduler` for
a sync, which runs ``dmledger sync`` as a separate, detached process so the host
keeps answering and the per-home lock keeps it to one sync at a time (also when
``dmledger serve`` runs its own loop).

Nothing but frames ever goes to stdout: logging goes to stderr (Chrome keeps it in its
log), and any error — a malformed frame, a refused request, a bug — becomes an error
reply.
"""

from __future__ import annotations

import gc
import logging
import os
import queue
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, BinaryIO

from pydantic import TypeAdapter, ValidationError
from sqlalchemy import exc as sa_exc

from dmledger.app.ledger import Ledger
from dmledger.app.views import StatusCard
from dmledger.domain.statuses import STATUSES
from dmledger.errors import ConfigError, DmLedgerError, StoreDamaged

from .framing import EndOfStream, Frame, ReplyTooLarge, encode_frame, read_frame
from .protocol import (
    AddActor,
    AnyRequest,
    ErrorBody,
    GetCard,
    Hello,
    HelloResult,
    LogDm,
    RecordReply,
    Reply,
    Request,
    RequestId,
    SetStatus,
)

log = logging.getLogger(__name__)

SYNC_RETRIES = 3  # a sync refused because another one runs is tried again this often
SYNC_RETRY_DELAY_S = 2.0
EXIT_CLOUD_UNAVAILABLE = 3
CLOUD_RETRY_S = 60.0  # after the cloud failed, team cards are local-only this long
TEAM_UNAVAILABLE = "the team's DMs could not be read from the cloud (offline?)"
_REQUEST_ID: TypeAdapter[int] = TypeAdapter(RequestId)


class SyncScheduler:
    """Runs ``dmledger sync`` in a detached process after writes, one at a time.

    Writes made while a sync runs are covered by one more sync after it. The process
    is in its own session, so it finishes even when the browser stops the host.
    """

    def __init__(self, home: Path, *, enabled: bool = True) -> None:
        self.home = home
        self.enabled = enabled
        self._wanted = threading.Event()
        self._stopping = False
        self._thread: threading.Thread | None = None

    def request(self) -> None:
        if not self.enabled:
            return
        self._wanted.set()
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="sync", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        while self._wanted.wait():
            if self._stopping:
                return
            self._wanted.clear()
            for _attempt in range(SYNC_RETRIES):
                code = self._sync_once()
                # 0 done; 3 offline (the queue waits for the next write or `serve`).
                if code in (0, EXIT_CLOUD_UNAVAILABLE) or self._stopping:
                    break
                threading.Event().wait(SYNC_RETRY_DELAY_S)

    def _start(self) -> subprocess.Popen[bytes] | None:
        """``dmledger sync`` for this home in its own session; None if it cannot start."""
        command = [sys.executable, "-m", "dmledger", "--home", str(self.home), "sync", "--json"]
        try:
            return subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
                close_fds=True,
            )
        except OSError as error:
            log.warning("could not start a sync: %s", error)
            return None

    def _sync_once(self) -> int:
        child = self._start()
        return 0 if child is None else child.wait()

    def close(self) -> None:
        """Start a last sync for writes not yet covered; do not wait for it."""
        self._stopping = True
        if self._wanted.is_set():
            self._wanted.clear()
            self._start()
        self._wanted.set()  # wake the thread so it ends


class Host:
    """Turns one decoded request into one reply dict. Opens the home on first need, and
    again after a failure, so a home set up while the browser runs is found."""

    def __init__(self, home: Path, *, sync: SyncScheduler | None = None) -> None:
        self.home = home
        self.sync = sync or SyncScheduler(home, enabled=False)
        self._ledger: Ledger | None = None
        self._cloud_down_until = 0.0

    def close(self) -> None:
        if self._ledger is not None:
            self._ledger.close()
            self._ledger = None

    def ledger(self) -> Ledger:
        if self._ledger is None:
            self._ledger = Ledger.open(self.home)
        return self._ledger

    def prepare(self) -> None:
        """Open the home and read what ``hello`` reads, before the first request: the
        browser starts the host when it starts, so this overlaps the first page's load
        instead of delaying its card. A home that cannot be opened yet is left to the
        first request, whose reply says why; nothing here is kept but the open Ledger."""
        try:
            self._hello(self.ledger())
        except (DmLedgerError, sa_exc.SQLAlchemyError):
            self.close()
        except Exception:
            log.exception("opening the home ahead of the first request failed")
            self.close()

    # -- one request ------------------------------------------------------------------

    def reply_to(self, frame: Frame) -> dict[str, Any]:
        """The reply for one frame; never raises."""
        parsed = self.parse(frame)
        return parsed if isinstance(parsed, dict) else self.answer(parsed)

    def parse(self, frame: Frame) -> AnyRequest | dict[str, Any]:
        """The validated request, or the error reply for a frame that is not one (with
        the frame's id when that is a valid request id, else none); never raises."""
        if frame.error is not None:
            return _error(None, frame.error.kind, str(frame.error))
        request_id = _safe_id(frame.value)
        try:
            return Request.model_validate({"body": frame.value}).body
        except ValidationError as error:
            return _error(request_id, "malformed", _validation_message(error))
        except Exception:  # a validator's own fault: this frame fails, the host goes on
            log.exception("request %s could not be validated", request_id)
            return _error(request_id, "malformed", "the request could not be validated")

    def answer(self, request: AnyRequest) -> dict[str, Any]:
        """The reply for one valid request; never raises."""
        try:
            reply = self._dispatch(request)
        except ConfigError as error:
            self.close()
            return _error(request.id, "ConfigError", str(error), fix=self._setup_fix())
        except StoreDamaged as error:
            self.close()  # hold no handle on the file `dmledger repair` moves aside
            return _error(request.id, "StoreDamaged", str(error), fix="dmledger repair")
        except DmLedgerError as error:
            return _error(request.id, type(error).__name__, str(error))
        except sa_exc.OperationalError as error:
            self.close()
            if "locked" in str(error.orig):
                return _error(
                    request.id,
                    "busy",
                    "the local store is busy: another DM Ledger process is writing to it; "
                    "try again in a moment",
                    fix="dmledger status",
                )
            log.exception("local store error")
            return _error(request.id, "internal", "the local store could not be read")
        except Exception:
            log.exception("request %s failed", request.id)
            return _error(request.id, "internal", "the host failed on this request (see its log)")
        return _dump(reply)

    def _dispatch(self, request: AnyRequest) -> Reply:
        ledger = self.ledger()
        if isinstance(request, Hello):
            return Reply(id=request.id, ok=True, hello=self._hello(ledger))
        if isinstance(request, GetCard):
            card = self._team_card(ledger, request.handle) if request.team else None
            return _card_reply(request.id, card or ledger.card(request.handle))
        if isinstance(request, LogDm):
            _item, card, created = ledger.log_dm(
                request.handle,
                request.message,
                actor=request.actor,
                force=request.force,
                client_log_id=request.client_log_id,
            )
            self.sync.request()
            return _card_reply(request.id, card, created=created)
        if isinstance(request, SetStatus):
            if ledger.card(request.handle).known:
                ledger.update_prospect(request.handle, status=request.status)
            else:
                ledger.add_prospect(request.handle, status=request.status)
            self.sync.request()
            return _card_reply(request.id, ledger.card(request.handle))
        if isinstance(request, AddActor):
            created = ledger.add_actor(request.actor)
            return Reply(id=request.id, ok=True, hello=self._hello(ledger), created=created)
        if isinstance(request, RecordReply):
            result = ledger.followups.reply(request.handle, reply_id=request.reply_id)
            self.sync.request()
            return _card_reply(request.id, result.prospect, was_contacted=result.was_contacted)
        if not ledger.card(request.handle).known:
            ledger.add_prospect(request.handle)
        ledger.update_prospect(request.handle, append_note=request.note)
        self.sync.request()
        return _card_reply(request.id, ledger.card(request.handle))

    def _team_card(self, ledger: Ledger, handle: str) -> StatusCard:
        """The card with the team's DMs; while the cloud is known to be down, the local
        card marked so. The page never gets the database's error, only that it failed."""
        if time.monotonic() < self._cloud_down_until:
            card = ledger.card(handle)
        else:
            card = ledger.card(handle, team=True)
            if card.team_dms == "included":
                return card
            log.info("team DMs of %s not read: %s", card.handle, card.team_error)
            self._cloud_down_until = time.monotonic() + CLOUD_RETRY_S
        return card.model_copy(update={"team_dms": "unavailable", "team_error": TEAM_UNAVAILABLE})

    @staticmethod
    def _hello(ledger: Ledger) -> HelloResult:
        operator = ledger.settings.operator
        people = ledger.people.local()
        own = {a.username for a in people.actors if a.owner_operator == operator}
        if ledger.settings.actor:
            own.add(ledger.settings.actor)
        usable = sorted(own | {a.username for a in people.actors if a.status == "active"})
        owner_of = {a.username: a.owner_operator for a in people.actors}
        return HelloResult(
            operator=operator,
            actor=ledger.settings.actor,
            own_actors=sorted(own),
            actors=usable,
            owners={name: operator if name in own else owner_of.get(name) for name in usable},
            statuses=list(STATUSES),
        )

    def _setup_fix(self) -> str:
        return f"dmledger --home {self.home} init --operator YOUR_NAME --actor YOUR_ACCOUNT"

    # -- the stream ------------------------------------------------------------------

    def serve(self, stdin: BinaryIO, stdout: BinaryIO) -> None:
        """Answer frames until stdin closes (the browser let go of the host).

        Team cards reach the cloud, which can be slow or down: a second Host (its own
        Ledger) answers them on a thread, so local cards and writes never wait."""
        lock = threading.Lock()

        def send(reply: dict[str, Any]) -> None:
            with lock:
                _write(stdout, reply)

        cloud_host = Host(self.home)
        waiting: queue.Queue[GetCard | None] = queue.Queue()

        def cloud_worker() -> None:
            while (request := waiting.get()) is not None:
                send(cloud_host.answer(request))
            cloud_host.close()

        worker = threading.Thread(target=cloud_worker, name="cloud", daemon=True)
        worker.start()
        try:
            while True:
                try:
                    frame = read_frame(stdin)
                except EndOfStream:
                    return
                parsed = self.parse(frame)
                if isinstance(parsed, GetCard) and parsed.team:
                    waiting.put(parsed)
                else:
                    send(parsed if isinstance(parsed, dict) else self.answer(parsed))
        finally:
            waiting.put(None)
            worker.join(timeout=5)
            self.close()
            self.sync.close()


def _write(stdout: BinaryIO, reply: dict[str, Any]) -> None:
    """Write one reply; a reply that cannot be encoded is answered by an error instead."""
    try:
        data = encode_frame(reply)
    except ReplyTooLarge as error:
        data = encode_frame(_error(reply.get("id"), "too_large", str(error)))
    except Exception:
        log.exception("reply to request %s could not be encoded", reply.get("id"))
        data = encode_frame(
            _error(reply.get("id"), "internal", "the host could not write its reply (see its log)")
        )
    stdout.write(data)
    stdout.flush()


def _card_reply(
    request_id: int,
    card: StatusCard,
    *,
    created: bool | None = None,
    was_contacted: bool | None = None,
) -> Reply:
    return Reply(id=request_id, ok=True, card=card, created=created, was_contacted=was_contacted)


def _error(
    request_id: int | None, kind: str, message: str, *, fix: str | None = None
) -> dict[str, Any]:
    return _dump(
        Reply(id=request_id, ok=False, error=ErrorBody(type=kind, message=message, fix=fix))
    )


def _dump(reply: Reply) -> dict[str, Any]:
    """The reply as JSON data: unused top-level parts left out, the card's fields all kept."""
    data = reply.model_dump()
    return {k: v for k, v in data.items() if v is not None or k == "id"}


def _safe_id(value: Any) -> int | None:
    """The frame's ``id`` when it is a valid request id (an integer, not a bool, within
    the protocol's bounds), else None: a reply never echoes what it cannot carry."""
    raw = value.get("id") if isinstance(value, dict) else None
    try:
        return _REQUEST_ID.validate_python(raw, strict=True)
    except ValidationError:
        return None


def _validation_message(error: ValidationError) -> str:
    first = error.errors(include_url=False, include_input=False)[0]
    where = ".".join(str(part) for part in first["loc"] if part != "body") or "request"
    return f"request field {where[:100]!r}: {first['msg'][:300]}"


def run(home: Path) -> None:
    """The process entry point: frames on stdin/stdout, sync after writes."""
    if os.name == "nt":  # Chrome's frames are binary; Windows would translate newlines
        import msvcrt

        msvcrt.setmode(sys.stdin.fileno(), os.O_BINARY)  # type: ignore[attr-defined]
        msvcrt.setmode(sys.stdout.fileno(), os.O_BINARY)  # type: ignore[attr-defined]
    stdin = sys.stdin.buffer
    stdout = sys.stdout.buffer
    # Anything printed by mistake must not corrupt the frames: stdout is ours alone.
    sys.stdout = sys.stderr
    host = Host(home, sync=SyncScheduler(home))
    host.prepare()
    # What start-up made lives as long as the host: keep the collector off it from now
    # on (and on again, if the launcher turned it off for the start).
    gc.freeze()
    gc.enable()
    host.serve(stdin, stdout)


__all__ = ["Host", "SyncScheduler", "run"]
