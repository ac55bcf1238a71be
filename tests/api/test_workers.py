"""`cityhub serve --workers N`: each process accepts on a socket of its own (SO_REUSEPORT), so the
kernel spreads connections across them; a process that dies is replaced; a busy port fails at
once. Who holds which connection is read from /proc (Linux, as the server's target)."""

from __future__ import annotations

import http.client
import os
import select
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from cityhub.config import Settings
from cityhub.hub import Hub

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="reads connections from Linux's /proc"
)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _children(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        found += [int(p) for p in (task / "children").read_text().split()]
    return found


def _peer_ports(pid: int) -> set[int]:
    """The remote ports of the TCP connections process `pid` holds."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:  # closed meanwhile
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    ports = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        parts = line.split()
        if parts[9] in inodes and parts[3] == "01":  # ESTABLISHED
            ports.add(int(parts[2].split(":")[1], 16))
    return ports


def _get(port: int, path: str = "/api/v1/stats") -> int:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("GET", path)
        return conn.getresponse().status
    finally:
        conn.close()


def _wait_for(check: Callable[[], bool], seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"not so after {seconds} s")


@pytest.fixture
def home(tmp_path: Path) -> Path:
    hub = Hub(Settings(home=tmp_path / "home"))
    hub.init()
    hub.close()
    return tmp_path / "home"


def _serve(home: Path, port: int, log: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "CITYHUB_HOME": str(home)}
    env.pop("CITYHUB_DATABASE_URL", None)
    with log.open("wb") as err:
        return subprocess.Popen(
            [sys.executable, "-m", "cityhub.cli", "serve", "--port", str(port), "--workers", "2"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=err,
        )


@pytest.fixture
def server(home: Path, tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    port = _free_port()
    proc = _serve(home, port, tmp_path / "server.log")
    try:
        _wait_for(lambda: len(_children(proc.pid)) >= 2 and _get(port) == 200)
        yield proc, port
    finally:
        if proc.poll() is None:
            proc.terminate()
            proc.wait(timeout=60)


def _workers(proc: subprocess.Popen[bytes]) -> list[int]:
    """The server processes (spawn also starts a resource tracker, which holds no socket)."""
    return [p for p in _children(proc.pid) if "resource_tracker" not in _cmdline(p)]


def _cmdline(pid: int) -> str:
    return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()


def test_connections_are_spread_across_the_processes(
    server: tuple[subprocess.Popen[bytes], int],
) -> None:
    proc, port = server
    workers = _workers(proc)
    assert len(workers) == 2
    # 32 keep-alive connections, all open at once as a load generator's are: with one shared
    # socket the first process to wake took them all.
    conns = [http.client.HTTPConnection("127.0.0.1", port, timeout=30) for _ in range(32)]
    try:
        # Connected in one burst, as a load generator's are: all are queued before a process
        # wakes to accept them.
        for c in conns:
            c.sock = socket.socket()
            c.sock.setblocking(False)
            c.sock.connect_ex(("127.0.0.1", port))
        for c in conns:
            select.select([], [c.sock], [], 30)
            c.sock.setblocking(True)
            c.sock.settimeout(30)
        for c in conns:
            c.request("GET", "/api/v1/stats")
        for c in conns:
            response = c.getresponse()
            response.read()
            assert response.status == 200
        ours = {c.sock.getsockname()[1] for c in conns}
        held = {pid: _peer_ports(pid) & ours for pid in workers}
        assert set().union(*held.values()) == ours  # every connection is a worker's
        # Spread by hash: all 32 on one of two sockets would be a 1 in 2**31 chance.
        assert all(held.values()), {pid: len(p) for pid, p in held.items()}
    finally:
        for c in conns:
            c.close()


def test_a_process_that_dies_is_replaced_and_a_stop_ends_them_all(
    server: tuple[subprocess.Popen[bytes], int],
) -> None:
    proc, port = server
    victim, survivor = _workers(proc)
    os.kill(victim, signal.SIGKILL)
    _wait_for(lambda: victim not in _workers(proc) and len(_workers(proc)) == 2)
    replacement = next(p for p in _workers(proc) if p != survivor)
    # The replacement serves the dead one's socket: every fresh connection is answered.
    _wait_for(lambda: all(_get(port) == 200 for _ in range(16)))
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=60) == 0
    for pid in (survivor, replacement):
        assert not Path(f"/proc/{pid}").exists() or "zombie" in (
            Path(f"/proc/{pid}/status").read_text().lower()
        )


def test_a_busy_port_is_refused_clearly(home: Path, tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        proc = _serve(home, port, tmp_path / "server.log")
        assert proc.wait(timeout=60) == 1
    message = (tmp_path / "server.log").read_text()
    assert f"cannot serve at 127.0.0.1:{port}" in message
    assert "Address already in use" in message
