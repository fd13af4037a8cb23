"""A fault-injecting TCP proxy for tests: latency, cuts, offline mode and random faults.

The proxy runs its own asyncio loop in a daemon thread, so synchronous tests drive it with
plain method calls. Every control method blocks until the proxy's loop has applied it.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import socket
import struct
import threading
from collections.abc import Coroutine
from types import TracebackType
from typing import Any, TypeVar

_T = TypeVar("_T")
_CHUNK = 65536


def _reset(writer: asyncio.StreamWriter) -> None:
    """Close a connection abruptly: SO_LINGER 0 makes the kernel send RST, not FIN."""
    sock = writer.get_extra_info("socket")
    if sock is not None and not writer.transport.is_closing():
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


class FaultProxy:
    """TCP proxy from ``(host, port)`` (127.0.0.1, OS-chosen port) to ``target``."""

    def __init__(
        self, target: tuple[str, int], *, latency: float = 0.0, host: str = "127.0.0.1"
    ) -> None:
        self.target = target
        self.host = host
        self.port = 0
        self.latency = latency  # one-way seconds, per chunk, each direction; settable live
        self.connections = 0  # accepted, including those refused while offline
        self.cuts = 0  # cut() calls + random cuts + cut_after_bytes trips (not set_offline)
        self.bytes_up = 0
        self.bytes_down = 0
        self._offline = False
        self._closing = False
        self._cut_budget: int | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._server: asyncio.Server | None = None
        self._conn_tasks: set[asyncio.Task[None]] = set()
        self._aux_tasks: set[asyncio.Task[None]] = set()
        self._random_task: asyncio.Task[None] | None = None

    # ---- lifecycle -------------------------------------------------------------------------
    def start(self) -> FaultProxy:
        if self._loop is not None:
            raise RuntimeError("proxy already started")
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="FaultProxy", daemon=True
        )
        self._thread.start()
        try:
            self._server = self._call(asyncio.start_server(self._on_accept, self.host, self.port))
        except BaseException:
            self.stop()
            raise
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    def stop(self) -> None:
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        try:
            self._call(self._shutdown())
        finally:
            loop.call_soon_threadsafe(loop.stop)
            thread.join()
            loop.run_until_complete(loop.shutdown_default_executor())
            loop.close()
            self._loop = self._thread = self._server = None
            self._closing = False

    def __enter__(self) -> FaultProxy:
        return self.start()

    def __exit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # ---- faults ----------------------------------------------------------------------------
    def cut(self) -> None:
        """Reset every open connection (both sides); returns once they are closed."""
        self._call(self._cut_all(count=True))

    def set_offline(self, offline: bool) -> None:
        """While offline, accepted connections are reset at once; going offline cuts all."""
        self._offline = offline
        if offline:
            self._call(self._cut_all())

    def cut_after_bytes(self, n: int) -> None:
        """One-shot: after ``n`` more bytes are forwarded (either direction), cut everything."""
        self._call(self._set_budget(n))

    def random_cuts(self, rate_per_second: float, seed: int) -> None:
        """Cut all connections at Poisson-distributed times (mean rate per second)."""
        self.stop_random_cuts()
        self._call(self._start_random(rate_per_second, seed))

    def stop_random_cuts(self) -> None:
        """Stop the random-cut mode (no-op if it is not running)."""
        self._call(self._stop_random())

    # ---- loop-side implementation -----------------------------------------------------------
    def _call(self, coro: Coroutine[Any, Any, _T]) -> _T:
        if self._loop is None:
            coro.close()
            raise RuntimeError("proxy is not running")
        if threading.current_thread() is self._thread:
            coro.close()
            raise RuntimeError("FaultProxy control methods must not be called from its loop")
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout=30)

    async def _shutdown(self) -> None:
        await self._stop_random()
        self._closing = True  # from now on, accepted connections are reset at once
        # Let asyncio's in-flight accept tasks finish before closing the server: closing it
        # under them makes transport creation fail and leak the accepted socket (3.11).
        me = asyncio.current_task()
        while pending := asyncio.all_tasks() - {me}:
            for task in pending & (self._conn_tasks | self._aux_tasks):
                task.cancel()
            await asyncio.wait(pending)
        if self._server is not None:
            self._server.close()  # no await since the loop above, so no accept is in flight
        await asyncio.sleep(0)  # let aborted transports' connection_lost close their sockets

    def _on_accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        # A plain callback (not a coroutine) so that we own, track and may cancel the task.
        self.connections += 1
        if self._offline or self._closing:
            _reset(writer)
            return
        task = self._track(self._conn_tasks, self._serve(reader, writer))

        def reset_if_never_started(_: asyncio.Task[None]) -> None:
            # A task cancelled before its first step never runs _serve's cleanup.
            if not writer.transport.is_closing():
                _reset(writer)

        task.add_done_callback(reset_if_never_started)

    def _track(
        self, tasks: set[asyncio.Task[None]], coro: Coroutine[Any, Any, None]
    ) -> asyncio.Task[None]:
        task = asyncio.get_running_loop().create_task(coro)
        tasks.add(task)
        task.add_done_callback(tasks.discard)
        return task

    async def _serve(self, c_reader: asyncio.StreamReader, c_writer: asyncio.StreamWriter) -> None:
        writers = [c_writer]
        clean = False
        try:
            u_reader, u_writer = await asyncio.open_connection(*self.target)
            writers.append(u_writer)
            async with asyncio.TaskGroup() as tg:
                for src, dst, up in ((c_reader, u_writer, True), (u_reader, c_writer, False)):
                    queue: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue(maxsize=64)
                    tg.create_task(self._read(src, queue))
                    tg.create_task(self._write(queue, dst, up))
            for w in writers:
                w.close()
            await asyncio.gather(*(w.wait_closed() for w in writers), return_exceptions=True)
            clean = True
        except Exception:
            pass  # unreachable target or a reset on either side: drop both sides below
        finally:
            if not clean:
                for w in writers:
                    _reset(w)

    async def _read(
        self, src: asyncio.StreamReader, queue: asyncio.Queue[tuple[float, bytes]]
    ) -> None:
        loop = asyncio.get_running_loop()
        while True:
            data = await src.read(_CHUNK)
            await queue.put((loop.time() + self.latency, data))
            if not data:
                return

    async def _write(
        self, queue: asyncio.Queue[tuple[float, bytes]], dst: asyncio.StreamWriter, up: bool
    ) -> None:
        loop = asyncio.get_running_loop()
        while True:
            due, data = await queue.get()  # FIFO and monotonic waits: never reorders
            if (delay := due - loop.time()) > 0:
                await asyncio.sleep(delay)
            if not data:
                if dst.can_write_eof():
                    dst.write_eof()
                return
            tripped = False
            if (budget := self._cut_budget) is not None:
                data = data[:budget]
                self._cut_budget = budget - len(data) or None
                tripped = self._cut_budget is None
            # Counted before the write: the peer may read the bytes (and a test read the
            # count) before this task runs again.
            if up:
                self.bytes_up += len(data)
            else:
                self.bytes_down += len(data)
            dst.write(data)
            await dst.drain()
            if tripped:
                self._track(self._aux_tasks, self._cut_all(count=True))
                await asyncio.Event().wait()  # parked until the cut cancels this connection

    async def _cut_all(self, count: bool = False) -> None:
        self.cuts += count
        await asyncio.sleep(0)  # let connections accepted just before the cut register
        tasks = list(self._conn_tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks)
        await asyncio.sleep(0)  # let transports' connection_lost run, closing the sockets

    async def _set_budget(self, n: int) -> None:
        if n <= 0:
            raise ValueError("n must be positive")
        self._cut_budget = n

    async def _start_random(self, rate: float, seed: int) -> None:
        if rate <= 0:
            raise ValueError("rate_per_second must be positive")
        self._random_task = asyncio.get_running_loop().create_task(self._random_loop(rate, seed))

    async def _random_loop(self, rate: float, seed: int) -> None:
        rng = random.Random(seed)
        while True:
            await asyncio.sleep(rng.expovariate(rate))
            await self._cut_all(count=True)

    async def _stop_random(self) -> None:
        task, self._random_task = self._random_task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
