"""Tests for the fault-injecting TCP proxy, with real sockets and the real PostgreSQL."""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator

import psycopg
import pytest

from .proxy import FaultProxy

PG_ADDR = ("127.0.0.1", 5432)


class EchoServer:
    """Threaded TCP echo server on 127.0.0.1 (one thread per connection)."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.addr: tuple[str, int] = self.sock.getsockname()
        self._threads: list[threading.Thread] = []
        self._acceptor = threading.Thread(target=self._accept_loop, daemon=True)
        self._acceptor.start()

    def _accept_loop(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return  # listening socket closed
            t = threading.Thread(target=self._echo, args=(conn,), daemon=True)
            self._threads.append(t)
            t.start()

    @staticmethod
    def _echo(conn: socket.socket) -> None:
        with conn:
            try:
                while data := conn.recv(65536):
                    conn.sendall(data)
            except OSError:
                pass

    def close(self) -> None:
        self.sock.shutdown(socket.SHUT_RDWR)
        self.sock.close()
        self._acceptor.join(5)
        for t in self._threads:
            t.join(5)


@pytest.fixture
def echo() -> Iterator[EchoServer]:
    server = EchoServer()
    yield server
    server.close()


def _connect(proxy: FaultProxy) -> socket.socket:
    return socket.create_connection((proxy.host, proxy.port), timeout=5)


def _roundtrip(s: socket.socket, payload: bytes) -> bytes:
    s.sendall(payload)
    got = b""
    while len(got) < len(payload):
        chunk = s.recv(65536)
        if not chunk:
            break
        got += chunk
    return got


def _is_dead(s: socket.socket) -> bool:
    """True if the peer has closed or reset the connection (blocks up to the socket timeout)."""
    try:
        return s.recv(1) == b""
    except ConnectionError:
        return True


def _dropped_on_connect(proxy: FaultProxy) -> bool:
    """True if a new connection is reset or closed (the RST may even beat connect())."""
    try:
        s = _connect(proxy)
    except ConnectionError:
        return True
    with s:
        return _is_dead(s)


def _read_until_dead(s: socket.socket) -> bytes:
    """Everything received before the peer closed or reset the connection."""
    got = b""
    try:
        while chunk := s.recv(65536):
            got += chunk
    except ConnectionError:
        pass
    return got


def test_forwards_both_ways(echo: EchoServer) -> None:
    with FaultProxy(echo.addr) as proxy:
        assert proxy.host == "127.0.0.1" and proxy.port > 0
        with _connect(proxy) as s:
            assert _roundtrip(s, b"hello") == b"hello"
            big = os.urandom(1_000_000)
            assert _roundtrip(s, big) == big
        assert proxy.connections == 1
        assert proxy.bytes_up == proxy.bytes_down == 1_000_005


def test_half_close_is_forwarded(echo: EchoServer) -> None:
    with FaultProxy(echo.addr) as proxy, _connect(proxy) as s:
        s.sendall(b"last words")
        s.shutdown(socket.SHUT_WR)
        got = b""
        while chunk := s.recv(100):
            got += chunk
        assert got == b"last words"


def test_latency_delays_each_direction(echo: EchoServer) -> None:
    with FaultProxy(echo.addr, latency=0.05) as proxy, _connect(proxy) as s:
        start = time.monotonic()
        assert _roundtrip(s, b"ping") == b"ping"
        assert time.monotonic() - start >= 0.1
        proxy.latency = 0.0
        start = time.monotonic()
        assert _roundtrip(s, b"ping") == b"ping"
        assert time.monotonic() - start < 0.1


def test_latency_keeps_order(echo: EchoServer) -> None:
    with FaultProxy(echo.addr, latency=0.01) as proxy, _connect(proxy) as s:
        payload = b"".join(i.to_bytes(4, "big") for i in range(50_000))
        for i in range(0, len(payload), 1000):
            s.sendall(payload[i : i + 1000])
        got = b""
        while len(got) < len(payload):
            got += s.recv(65536)
        assert got == payload


def test_cut_closes_open_connections_and_accepts_new_ones(echo: EchoServer) -> None:
    with FaultProxy(echo.addr) as proxy:
        with _connect(proxy) as a, _connect(proxy) as b:
            assert _roundtrip(a, b"x") == b"x"
            assert _roundtrip(b, b"y") == b"y"
            proxy.cut()
            assert _is_dead(a) and _is_dead(b)
        assert proxy.cuts == 1
        with _connect(proxy) as c:
            assert _roundtrip(c, b"again") == b"again"


def test_offline_rejects_then_restores(echo: EchoServer) -> None:
    with FaultProxy(echo.addr) as proxy:
        with _connect(proxy) as old:
            assert _roundtrip(old, b"x") == b"x"
            proxy.set_offline(True)
            assert _is_dead(old)
        assert _dropped_on_connect(proxy)
        proxy.set_offline(False)
        with _connect(proxy) as s:
            assert _roundtrip(s, b"back") == b"back"


def test_cut_after_bytes(echo: EchoServer) -> None:
    with FaultProxy(echo.addr) as proxy, _connect(proxy) as s:
        proxy.cut_after_bytes(3)
        s.sendall(b"abcdef")
        assert b"abc".startswith(_read_until_dead(s))
        assert proxy.bytes_up == 3
        assert proxy.cuts == 1


def test_random_cuts(echo: EchoServer) -> None:
    with FaultProxy(echo.addr) as proxy:
        proxy.random_cuts(rate_per_second=50.0, seed=1)
        with _connect(proxy) as s:
            assert _is_dead(s)
        proxy.stop_random_cuts()
        seen = proxy.cuts
        assert seen >= 1
        time.sleep(0.1)
        assert proxy.cuts == seen
        with _connect(proxy) as s:
            assert _roundtrip(s, b"calm") == b"calm"


def test_unreachable_target_closes_client() -> None:
    with socket.create_server(("127.0.0.1", 0)) as placeholder:
        addr = placeholder.getsockname()
    with FaultProxy(addr) as proxy:
        assert _dropped_on_connect(proxy)


def _postgres_listening() -> bool:
    try:
        with socket.create_connection(PG_ADDR, timeout=1):
            return True
    except OSError:
        return False


@pytest.mark.postgres
def test_postgres_through_proxy_and_cut() -> None:
    if os.environ.get("CI") != "true" and not _postgres_listening():
        pytest.skip("no PostgreSQL listening on 127.0.0.1:5432 (and CI is not 'true')")
    with FaultProxy(PG_ADDR) as proxy:
        conninfo = f"host={proxy.host} port={proxy.port} user=postgres dbname=test"
        with psycopg.connect(conninfo, autocommit=True, connect_timeout=5) as conn:
            assert conn.execute("select 1").fetchone() == (1,)
            proxy.cut()
            with pytest.raises(psycopg.OperationalError):
                conn.execute("select 1")
        with psycopg.connect(conninfo, autocommit=True, connect_timeout=5) as conn:
            assert conn.execute("select 2").fetchone() == (2,)
        assert proxy.connections == 2 and proxy.cuts == 1
        assert proxy.bytes_up > 0 and proxy.bytes_down > 0
