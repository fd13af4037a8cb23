"""The background sync loop: every ``interval`` seconds, sooner when asked, with
exponential backoff and full jitter while the cloud is unreachable.

``serve`` runs it in a thread; ``dmledger sync --watch`` runs it in the foreground.
A local write calls ``request()``; requests within ``debounce`` seconds collapse
into one sync.
"""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Callable
from dataclasses import dataclass

from dmledger.errors import CloudUnavailable, DmLedgerError, StoreDamaged, SyncBusy
from dmledger.sync.engine import SyncReport

log = logging.getLogger(__name__)

# How long ``stop()`` waits for a sync in progress. A sync blocked on a slow or hung
# cloud is not waited for: shutting down must take seconds, not the 30 s a cloud
# statement may take (see ``stop``).
STOP_WAIT = 2.0


@dataclass
class LoopState:
    """What the loop last saw, for the sync indicator."""

    running: bool = False
    failures: int = 0
    next_delay: float = 0.0
    last_report: SyncReport | None = None
    last_error: str | None = None
    #: Why the loop stopped by itself (a damaged local store: syncing cannot help).
    stopped_by: DmLedgerError | None = None


def backoff_delay(failures: int, base: float, cap: float, rng: random.Random) -> float:
    """Full-jitter exponential backoff: uniform in [0, min(cap, base * 2**failures)]."""
    ceiling = min(cap, base * (2 ** min(failures, 30)))
    return rng.uniform(0, ceiling)


class SyncLoop:
    """Calls ``sync`` repeatedly until ``stop()``."""

    def __init__(
        self,
        sync: Callable[[], SyncReport],
        *,
        interval: float = 30.0,
        debounce: float = 1.0,
        backoff_base: float = 1.0,
        backoff_cap: float = 300.0,
        on_report: Callable[[SyncReport], None] | None = None,
        on_error: Callable[[DmLedgerError, float], None] | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self._sync = sync
        self.interval = interval
        self.debounce = debounce
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap
        self._on_report = on_report
        self._on_error = on_error
        self._rng = rng or random.Random()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.state = LoopState()

    def request(self) -> None:
        """Ask for a sync soon (debounced)."""
        self._wake.set()

    def stop(self, wait: float = STOP_WAIT) -> bool:
        """End the loop, waiting up to ``wait`` seconds for a sync in progress; True
        when the loop has ended.

        A sync still running after that is left behind in its daemon thread and dies
        with the process. Nothing is lost: its cloud transaction never commits (the
        database rolls it back when the connection closes), the local queue is marked
        synced only after a commit, and every local write is one SQLite transaction.
        """
        self._stop.set()
        self._wake.set()
        if self._thread is None:
            return True
        self._thread.join(timeout=wait)
        if self._thread.is_alive():
            log.warning(
                "a sync was still running after %gs; it is abandoned: the cloud rolls back "
                "its transaction and the queue stays as it was",
                wait,
            )
            return False
        return True

    def start(self) -> None:
        """Run in a daemon thread."""
        self._thread = threading.Thread(target=self.run, name="dmledger-sync", daemon=True)
        self._thread.start()

    def run(self, max_cycles: int | None = None) -> None:
        """Run in this thread until stopped (or ``max_cycles`` cycles, for tests)."""
        self.state.running = True
        cycles = 0
        try:
            while not self._stop.is_set():
                delay = self._cycle()
                cycles += 1
                if max_cycles is not None and cycles >= max_cycles:
                    return
                self.state.next_delay = delay
                woken = self._wake.wait(timeout=delay)
                if woken and not self._stop.is_set():
                    # Collapse a burst of requests into one sync.
                    self._stop.wait(timeout=self.debounce)
                self._wake.clear()
        finally:
            self.state.running = False

    def _cycle(self) -> float:
        try:
            report = self._sync()
        except SyncBusy:
            return self.interval  # someone else is syncing this home: not a failure
        except StoreDamaged as error:
            # Every further sync would meet the same damage: stop, and say why.
            self.state.failures += 1
            self.state.last_error = str(error)
            self.state.stopped_by = error
            log.error("sync stopped: %s", error)
            self._stop.set()  # its owner says it (``state.stopped_by``), once
            return 0.0
        except CloudUnavailable as error:
            self.state.failures += 1
            self.state.last_error = str(error)
            delay = backoff_delay(
                self.state.failures, self.backoff_base, self.backoff_cap, self._rng
            )
            log.warning("cloud unreachable, next try in %.1fs: %s", delay, error)
            if self._on_error is not None:
                self._on_error(error, delay)
            return delay
        except DmLedgerError as error:
            self.state.failures += 1
            self.state.last_error = str(error)
            log.error("sync failed: %s", error)
            if self._on_error is not None:
                self._on_error(error, self.interval)
            return self.interval
        except Exception as error:  # a bug must not end background syncing for good
            self.state.failures += 1
            self.state.last_error = f"unexpected error: {type(error).__name__}: {error}"
            log.exception("sync failed unexpectedly")
            return backoff_delay(
                self.state.failures, self.backoff_base, self.backoff_cap, self._rng
            )
        self.state.failures = 0
        self.state.last_error = None
        self.state.last_report = report
        if self._on_report is not None:
            self._on_report(report)
        return self.interval
