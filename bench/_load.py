"""A bounded HTTP load on loopback, from its own process (so it does not share the server's GIL).

python bench/_load.py '<json spec>'   →   prints {"n", "errors", "seconds", "rps", "p50_ms", ...}

spec: {"host", "port", "paths": [...], "headers": {...}, "concurrency": 16, "requests": N,
"max_seconds": S}. Each of `concurrency` keep-alive connections sends the next path in turn
until N requests are done or S seconds have passed, whichever comes first. The client is a few
lines of asyncio over raw HTTP/1.1 rather than an HTTP library, on uvloop (installed with the
server), so that on a 2-core machine the load itself takes as little of the server's CPU as it can.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import sys
import time
from typing import Any

import uvloop


async def _one(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes
) -> tuple[int, float, float | None]:
    """Status, milliseconds on the wire, and the server's own milliseconds (Server-Timing)."""
    began = time.perf_counter()
    writer.write(request)
    await writer.drain()
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    length = 0
    chunked = False
    server = None
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.lower() == b"content-length":
            length = int(value)
        elif name.lower() == b"server-timing" and b"dur=" in value:
            server = float(value.split(b"dur=")[1].split(b",")[0])
        elif name.lower() == b"transfer-encoding" and b"chunked" in value.lower():
            chunked = True
    if chunked:
        while True:
            size = int((await reader.readuntil(b"\r\n")).strip(), 16)
            await reader.readexactly(size + 2)
            if size == 0:
                break
    else:
        await reader.readexactly(length)
    return status, (time.perf_counter() - began) * 1000, server


async def _run(spec: dict[str, Any]) -> dict[str, Any]:
    host, port = spec["host"], int(spec["port"])
    extra = "".join(f"{k}: {v}\r\n" for k, v in spec.get("headers", {}).items())
    requests = [
        f"GET {p} HTTP/1.1\r\nHost: {host}:{port}\r\n{extra}\r\n".encode() for p in spec["paths"]
    ]
    total, deadline = int(spec["requests"]), time.perf_counter() + float(spec["max_seconds"])
    latencies: list[float] = []
    server_ms: list[float] = []
    errors = 0
    sent = 0

    async def worker() -> None:
        nonlocal errors, sent
        reader, writer = await asyncio.open_connection(host, port)
        try:
            while sent < total and time.perf_counter() < deadline:
                request = requests[sent % len(requests)]
                sent += 1
                status, ms, own = await _one(reader, writer, request)
                latencies.append(ms)
                if own is not None:
                    server_ms.append(own)
                errors += status >= 400
        finally:
            writer.close()

    began = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(int(spec["concurrency"]))))
    seconds = time.perf_counter() - began
    ordered = sorted(latencies)

    def pct(p: float) -> float:
        return ordered[min(len(ordered) - 1, int(p * len(ordered)))]

    return {
        "n": len(latencies),
        "errors": errors,
        "seconds": seconds,
        "rps": len(latencies) / seconds,
        "p50_ms": statistics.median(ordered),
        "p90_ms": pct(0.90),
        "p99_ms": pct(0.99),
        "max_ms": ordered[-1],
        "server_p50_ms": statistics.median(server_ms) if server_ms else None,
    }


if __name__ == "__main__":
    print(json.dumps(uvloop.run(_run(json.loads(sys.argv[1])))))
