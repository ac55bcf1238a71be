"""Server processes that each accept connections on a listening socket of their own.

uvicorn's own `--workers` shares one listening socket between its processes, and asyncio accepts
every pending connection at each wake-up: a burst of keep-alive clients lands on whichever
process woke first and stays there (16 connections of a load were seen split 16 to 0 between two
processes, the second idle while the first ran at full CPU). Here each process listens on a socket
of its own, all bound to the same address with SO_REUSEPORT, and the kernel spreads new
connections across them by their addresses' hash.

The sockets are bound by the supervisor (a port in use fails at once, in the foreground) and kept
there: a process that dies is started again on its socket, and the connections that arrived on it
meanwhile wait in its queue rather than being refused.
"""

from __future__ import annotations

import logging
import multiprocessing
import multiprocessing.connection
import signal
import socket
import time
from collections.abc import Mapping
from multiprocessing.context import SpawnProcess
from types import FrameType
from typing import Any

log = logging.getLogger(__name__)

APP = "cityhub.api.app:serving_app"
EARLY_EXIT_SECONDS = 10.0  # a process ending by itself this soon after its start failed to start
STOP_SECONDS = 30.0  # for requests in flight to finish when the server is stopped

# Sockets travel to the spawned processes by duplication of their descriptors.
multiprocessing.allow_connection_pickling()


def reuse_port_supported() -> bool:
    return hasattr(socket, "SO_REUSEPORT")


def listeners(host: str, port: int, count: int) -> list[socket.socket]:
    """`count` sockets listening on host:port, the kernel sharing connections between them (port
    0: the first one picks the port, the others join it)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sockets: list[socket.socket] = []
    try:
        for _ in range(count):
            sock = socket.socket(family, socket.SOCK_STREAM)
            sockets.append(sock)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            sock.bind((host, port))
            port = sock.getsockname()[1]
            sock.listen(2048)
    except OSError:
        for sock in sockets:
            sock.close()
        raise
    return sockets


def _serve_one(config: Mapping[str, Any], sock: socket.socket) -> None:
    """One server process (the spawned child's entry point)."""
    import uvicorn

    uvicorn.Server(uvicorn.Config(APP, factory=True, **config)).run(sockets=[sock])


def serve_processes(workers: int, host: str, port: int, **config: Any) -> None:
    """Run `workers` server processes on host:port until SIGINT or SIGTERM; `config` goes to
    uvicorn.Config (log level, ...). Raises OSError when the address cannot be bound and
    RuntimeError when a process exits right after its start (it would again)."""
    sockets = listeners(host, port, workers)
    context = multiprocessing.get_context("spawn")
    settings = {"host": host, "port": sockets[0].getsockname()[1], **config}

    def start(sock: socket.socket) -> tuple[SpawnProcess, float]:
        process = context.Process(target=_serve_one, args=(settings, sock), daemon=False)
        process.start()
        return process, time.monotonic()

    stopping = False

    def stop(_signum: int, _frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    running = [start(sock) for sock in sockets]
    try:
        while not stopping:
            multiprocessing.connection.wait([p.sentinel for p, _ in running], timeout=0.5)
            for i, (process, began) in enumerate(running):
                if process.is_alive() or stopping:
                    continue
                # Killed (a negative code: OOM, an operator) it is replaced; ended on its own
                # right after its start (a bad setting, the app failing to load), it would again.
                early = time.monotonic() - began < EARLY_EXIT_SECONDS
                if early and process.exitcode is not None and process.exitcode >= 0:
                    raise RuntimeError(
                        f"server process {process.pid} exited {process.exitcode} at its start; "
                        "see its messages above"
                    )
                log.warning(
                    "server process %s exited %s; starting another", process.pid, process.exitcode
                )
                running[i] = start(sockets[i])
    finally:
        for process, _ in running:
            if process.is_alive():
                process.terminate()  # uvicorn's graceful shutdown
        deadline = time.monotonic() + STOP_SECONDS
        for process, _ in running:
            process.join(max(0.0, deadline - time.monotonic()))
            if process.is_alive():
                process.kill()
                process.join()
        for sock in sockets:
            sock.close()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
