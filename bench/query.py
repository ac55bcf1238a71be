"""The query benchmark: the served demo city against PostgreSQL holding the same data.

    .venv/bin/python bench/query.py --scale 1        # the seed-scale city (46.59 M rows)
    .venv/bin/python bench/query.py --scale 0.05     # a quick look

Four queries, as a department's system or a contest participant would send them: a lookup by ID
number on the largest person table, a filtered page of the largest table, a group-by aggregate
over the largest table, and a catalog search. For each: the server's own time (its
`Server-Timing` header, median over one keep-alive connection), and HTTP p50/p99 and requests
per second under a bounded load of 16 keep-alive connections from a second process on loopback
(bench/_load.py), with the CPU each request cost the server's processes and the load's. The
same lookup, page and group-by run on PostgreSQL over the same rows, with the indexes CKAN's
DataStore creates (its `_id` primary key, and a b-tree on the field a publisher declares as the
lookup key). Writes bench/results/query.json and query.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import resource
import socket
import statistics
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

import duckdb
import psycopg

from ingest import PG_TYPES  # the same PostgreSQL types as the ingest benchmark

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
PG_URL = os.environ.get("CITYHUB_BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
TOKEN = "bench-operator"
TARGETS = {
    "lookup_server_ms": 2.0,
    "lookup_http_p50_ms": 10.0,
    "groupby_seconds": 0.5,
    "groupby_vs_pg": 10.0,
    "search_p99_ms": 20.0,
    "search_rps": 500.0,
}
SEARCH_TERMS = [
    "企业",
    "人口",
    "交通",
    "医保",
    "学校",
    "空气质量",
    "公积金",
    "用电",
    "许可",
    "社保",
]
LOAD = """
import json, sys
from pathlib import Path
from cityhub.config import Settings
from cityhub.demo import generate
from cityhub.hub import Hub
from cityhub.ingest import apply_catalog, load_manifest, sync_file
out = Path(sys.argv[1])
if not (out / "city.toml").is_file():  # the same seed gives the same files: reuse them
    generate(out, scale=float(sys.argv[2]), seed=int(sys.argv[3]))
hub = Hub(Settings(home=Path(sys.argv[4])))
hub.init()
manifest = load_manifest(out / "city.toml")
apply_catalog(hub, manifest)
for job in manifest.jobs():
    sync_file(hub, job.dataset, job.path, job.options)
"""


# -- the served city --------------------------------------------------------------------------


def ensure_city(work: Path, scale: float, seed: int) -> Path:
    home = work / f"query-home-{scale:g}-{seed}"
    if not (home / "catalog.db").is_file():
        city = work / f"city-{scale:g}-{seed}"
        print(f"generating and loading the city at scale {scale:g} into {home} ...", flush=True)
        subprocess.run(
            [sys.executable, "-c", LOAD, str(city), str(scale), str(seed), str(home)], check=True
        )
    # A city loaded by an earlier cityhub: its metadata DB brought to this one's schema.
    subprocess.run(
        [_cli(), "db", "upgrade"], env={**os.environ, "CITYHUB_HOME": str(home)}, check=True
    )
    return home


def _cli() -> str:
    return str(Path(sys.executable).with_name("cityhub"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    def __init__(self, home: Path, workers: int) -> None:
        self.port = free_port()
        env = {
            **os.environ,
            "CITYHUB_HOME": str(home),
            "CITYHUB_OPERATOR_TOKEN": TOKEN,
            # the load generator is one address sending thousands of requests a minute
            "CITYHUB_RATE_LIMIT_TOKEN": "100000000",
            "CITYHUB_RATE_LIMIT_ANONYMOUS": "100000000",
        }
        self.proc = subprocess.Popen(
            [_cli(), "serve", "--port", str(self.port), "--workers", str(workers)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        deadline = time.time() + 60
        while True:
            try:
                self.get("/api/v1/stats")
                break
            except OSError:
                if time.time() > deadline or self.proc.poll() is not None:
                    raise SystemExit("the server did not start") from None
                time.sleep(0.3)

    def get(self, path: str) -> tuple[Any, float]:
        """The answer and the server's own time (ms) for it."""
        req = urllib.request.Request(
            f"http://127.0.0.1:{self.port}{path}", headers={"Authorization": f"Bearer {TOKEN}"}
        )
        with urllib.request.urlopen(req, timeout=120) as resp:
            body = json.loads(resp.read())
            timing = resp.headers.get("Server-Timing", "app;dur=nan")
        return body, float(timing.split("dur=")[1])

    def server_ms(self, paths: list[str], n: int) -> dict[str, float]:
        """The server's own time (Server-Timing) over one keep-alive connection, as a client
        that keeps its connection sees it: median of `n` requests."""
        one = self.load(paths, n, 120, concurrency=1)
        return {"median_ms": float(one["server_p50_ms"]), "n": n}

    def load(
        self, paths: list[str], requests: int, max_seconds: float, concurrency: int = 16
    ) -> dict[str, Any]:
        spec = {
            "host": "127.0.0.1",
            "port": self.port,
            "paths": paths,
            "headers": {"Authorization": f"Bearer {TOKEN}"},
            "concurrency": concurrency,
            "requests": requests,
            "max_seconds": max_seconds,
        }
        server_cpu, client_cpu = self.cpu_seconds(), _children_cpu_seconds()
        done = subprocess.run(
            [sys.executable, str(HERE / "_load.py"), json.dumps(spec)],
            capture_output=True,
            text=True,
            check=True,
        )
        result = dict(json.loads(done.stdout))
        # CPU per request, of the server's processes and of the load's: steadier on a shared
        # machine than the latencies, which follow how much of the two cores the run was given.
        n = max(1, int(result["n"]))
        result["server_cpu_ms"] = (self.cpu_seconds() - server_cpu) * 1000 / n
        result["client_cpu_ms"] = (_children_cpu_seconds() - client_cpu) * 1000 / n
        return result

    def cpu_seconds(self) -> float:
        """User and system CPU of the server's processes so far (the supervisor and its
        children), from /proc."""
        tick = os.sysconf("SC_CLK_TCK")
        total = 0.0
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue  # a process that ended meanwhile
            pid, ppid = int(stat.parent.name), int(fields[1])
            if self.proc.pid in (pid, ppid):
                total += (int(fields[11]) + int(fields[12])) / tick
        return total

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=30)


def _children_cpu_seconds() -> float:
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    return used.ru_utime + used.ru_stime


def q(path: str, **params: Any) -> str:
    return path + "?" + urllib.parse.urlencode(params, doseq=True)


# -- the workload -----------------------------------------------------------------------------


def pick(server: Server) -> dict[str, Any]:
    """The datasets and values the queries use, read from the served catalog."""
    listing, _ = server.get(q("/api/v1/datasets", limit=1000))
    records = [
        server.get(f"/api/v1/datasets/{urllib.parse.quote(d['code'])}")[0] for d in listing["items"]
    ]
    connected = [r for r in records if r["connected"]]
    largest = max(connected, key=lambda r: r["row_count"])
    people = [
        r
        for r in connected
        if r["lookup"]
        and any(
            f["name"] == r["lookup"]["field"] and f["semantic_type"] == "id_card"
            for f in r["fields"]
        )
    ]
    person = max(people, key=lambda r: r["row_count"])
    keyed = [r["code"] for r in connected if r["lookup"]]
    # The filter and the group: the largest table's text field with the fewest distinct values
    # but at least ten (a route, a station, a district), and its most common value.
    texts = [
        f
        for f in largest["fields"]
        if f["data_type"] == "string" and (f["profile"] or {}).get("top")
    ]
    group = min(texts, key=lambda f: (f["profile"]["distinct"] < 10, f["profile"]["distinct"]))
    value = group["profile"]["top"][0]["value"]
    numbers = [f for f in largest["fields"] if f["data_type"] in ("integer", "decimal")]
    return {
        "person": person,
        "largest": largest,
        "keyed": keyed,
        "group": group["name"],
        "value": value,
        "number": numbers[0]["name"] if numbers else None,
    }


def wait_for_indexes(server: Server, codes: list[str], seconds: float = 1800) -> float:
    """Until every key index the server builds is ready: a build running beside the
    measurements would take their CPU."""
    began = time.time()
    waiting = list(codes)
    while waiting:
        if time.time() - began > seconds:
            raise SystemExit(f"key indexes not ready after {seconds:.0f} s: {waiting}")
        record, _ = server.get(f"/api/v1/datasets/{urllib.parse.quote(waiting[0])}")
        if record["lookup"]["index"] == "ready":
            waiting.pop(0)
        else:
            time.sleep(1)
    return time.time() - began


def sample_keys(lake_files: list[str], field: str, n: int) -> list[str]:
    files = ", ".join(f"'{f}'" for f in lake_files)
    rows = (
        duckdb.connect()
        .execute(
            f'SELECT "{field}" FROM read_parquet([{files}]) '
            f"USING SAMPLE reservoir({n} ROWS) REPEATABLE (7)"
        )
        .fetchall()
    )
    return [r[0] for r in rows if r[0] is not None]


# -- PostgreSQL -------------------------------------------------------------------------------


def pg_load(files: list[str], table: str, key: str | None, scratch: Path) -> dict[str, Any]:
    """The rows of one version in a PostgreSQL table as CKAN's DataStore keeps them: `_id`
    serial primary key, typed columns, and a b-tree on the declared lookup key."""
    con = duckdb.connect()
    listed = ", ".join(f"'{f}'" for f in files)
    rel = con.sql(f"SELECT * FROM read_parquet([{listed}], union_by_name=true)")
    columns = [
        (n, PG_TYPES.get(str(t).split("(")[0], "text"))
        for n, t in zip(rel.columns, rel.types, strict=True)
    ]
    csv = scratch / f"{table}.csv"
    rel.write_csv(str(csv), header=False)
    began = time.perf_counter()
    with psycopg.connect(PG_URL, autocommit=True) as pg:
        pg.execute(f"DROP TABLE IF EXISTS {table}")
        cols = ", ".join(f'"{n}" {t}' for n, t in columns)
        pg.execute(f"CREATE TABLE {table} (_id bigserial PRIMARY KEY, {cols})")
        names = ", ".join(f'"{n}"' for n, _ in columns)
        copy_sql = f"COPY {table} ({names}) FROM STDIN WITH (FORMAT csv)"
        with pg.cursor() as cur, cur.copy(copy_sql) as copy, open(csv, "rb") as f:
            while block := f.read(1 << 20):
                copy.write(block)
        if key:
            pg.execute(f'CREATE INDEX ON {table} ("{key}")')
        pg.execute(f"VACUUM ANALYZE {table}")
    csv.unlink()
    return {"table": table, "seconds": time.perf_counter() - began}


def pg_time(sql: str, params_list: list[tuple[Any, ...]], n: int) -> dict[str, float]:
    times = []
    with psycopg.connect(PG_URL, autocommit=True) as pg:
        for i in range(n):
            began = time.perf_counter()
            pg.execute(sql, params_list[i % len(params_list)]).fetchall()
            times.append((time.perf_counter() - began) * 1000)
    return {"median_ms": statistics.median(times), "n": n}


# -- the run ----------------------------------------------------------------------------------


def run(args: argparse.Namespace) -> dict[str, Any]:
    home = ensure_city(args.work, args.scale, args.seed)
    server = Server(home, args.workers)
    try:
        w = pick(server)
        person, largest = w["person"], w["largest"]
        key = person["lookup"]["field"]
        index_wait = wait_for_indexes(server, [person["code"], *w["keyed"]])
        from cityhub.config import Settings
        from cityhub.lake import Lake

        lake = Lake(Settings(home=home).lake_path)
        person_files = lake.files(person["code"])
        largest_files = lake.files(largest["code"])
        keys = sample_keys(person_files, key, 500)
        pc, lc = urllib.parse.quote(person["code"]), urllib.parse.quote(largest["code"])
        lookup_paths = [q(f"/api/v1/datasets/{pc}/rows", filter=f"{key}:eq:{k}") for k in keys]
        page_paths = [
            q(f"/api/v1/datasets/{lc}/rows", filter=f"{w['group']}:eq:{w['value']}", limit=100)
        ]
        metrics = ["count"] + ([f"avg:{w['number']}"] if w["number"] else [])
        group_paths = [q(f"/api/v1/datasets/{lc}/aggregate", group_by=w["group"], metric=metrics)]
        search_paths = [q("/api/v1/datasets", q=t, limit=20) for t in SEARCH_TERMS]
        for paths in (lookup_paths[:20], page_paths, group_paths, search_paths):
            for p in paths:
                server.get(p)  # warm: files mapped, plans cached, pages in the OS cache
        ours = {
            "lookup": {
                "server": server.server_ms(lookup_paths, 300),
                "http": server.load(lookup_paths, 4000, 60),
                "http1": server.load(lookup_paths, 1000, 30, concurrency=1),
            },
            "page": {
                "server": server.server_ms(page_paths, 50),
                "http": server.load(page_paths, 1000, 60),
                "http1": server.load(page_paths, 200, 30, concurrency=1),
            },
            "groupby": {
                "server": server.server_ms(group_paths, 10),
                "http": server.load(group_paths, 64, 120),
            },
            "search": {
                "server": server.server_ms(search_paths, 300),
                "http": server.load(search_paths, 6000, 60),
                "http1": server.load(search_paths, 1000, 30, concurrency=1),
            },
        }
    finally:
        server.stop()
    print("loading the same rows into PostgreSQL ...", flush=True)
    pg_loads = [
        pg_load(person_files, "bench_q_person", key, args.work),
        pg_load(largest_files, "bench_q_largest", None, args.work),
    ]
    avg = f', avg("{w["number"]}")' if w["number"] else ""
    pg = {
        "lookup": pg_time(
            f'SELECT * FROM bench_q_person WHERE "{key}" = %s', [(k,) for k in keys], 300
        ),
        "page": pg_time(
            f'SELECT * FROM bench_q_largest WHERE "{w["group"]}" = %s ORDER BY _id LIMIT 100',
            [(w["value"],)],
            50,
        ),
        "groupby": pg_time(
            f'SELECT "{w["group"]}", count(*){avg} FROM bench_q_largest GROUP BY 1', [()], 5
        ),
    }
    with psycopg.connect(PG_URL, autocommit=True) as con:
        con.execute("DROP TABLE IF EXISTS bench_q_person, bench_q_largest")
    return {
        "scale": args.scale,
        "seed": args.seed,
        "machine": f"{platform.machine()}, {os.cpu_count()} cores",
        "workers": args.workers,
        "person_table": {
            "code": person["code"],
            "rows": person["row_count"],
            "key": key,
            "indexes_ready_after_seconds": index_wait,
        },
        "largest_table": {
            "code": largest["code"],
            "rows": largest["row_count"],
            "filter": f"{w['group']} = {w['value']}",
            "group_by": w["group"],
            "metrics": metrics,
        },
        "cityhub": ours,
        "postgres": pg,
        "postgres_load": pg_loads,
    }


def write_results(r: dict[str, Any]) -> None:
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "query.json").write_text(json.dumps(r, indent=2, ensure_ascii=False) + "\n")
    ours, pg = r["cityhub"], r["postgres"]

    def verdict(ok: bool) -> str:
        return "met" if ok else "missed"

    rows = []
    for name, label in (
        ("lookup", "lookup by ID number"),
        ("page", "filtered page (100 rows)"),
        ("groupby", "group-by aggregate"),
        ("search", "catalog search"),
    ):
        o = ours[name]
        pg_ms = f"{pg[name]['median_ms']:.1f}" if name in pg else "-"
        one = f"{o['http1']['p50_ms']:.1f}" if "http1" in o else "-"
        rows.append(
            f"| {label} | {o['server']['median_ms']:.2f} | {one} | {o['http']['p50_ms']:.1f} | "
            f"{o['http']['p99_ms']:.1f} | {o['http']['rps']:.0f} | "
            f"{o['http']['server_cpu_ms']:.2f} | {o['http']['client_cpu_ms']:.2f} | {pg_ms} |"
        )
    gb_s = ours["groupby"]["server"]["median_ms"] / 1000
    gb_ratio = pg["groupby"]["median_ms"] / ours["groupby"]["server"]["median_ms"]
    checks = [
        (
            "lookup, server side",
            f"{ours['lookup']['server']['median_ms']:.2f} ms",
            "≤ 2 ms",
            ours["lookup"]["server"]["median_ms"] <= TARGETS["lookup_server_ms"],
        ),
        (
            "lookup, HTTP p50 under load",
            f"{ours['lookup']['http']['p50_ms']:.1f} ms",
            "≤ 10 ms",
            ours["lookup"]["http"]["p50_ms"] <= TARGETS["lookup_http_p50_ms"],
        ),
        (
            "group-by over the largest table",
            f"{gb_s:.3f} s",
            "≤ 0.5 s",
            gb_s <= TARGETS["groupby_seconds"],
        ),
        (
            "group-by, PostgreSQL / cityhub",
            f"{gb_ratio:.1f}×",
            "≥ 10×",
            gb_ratio >= TARGETS["groupby_vs_pg"],
        ),
        (
            "catalog search p99 under load",
            f"{ours['search']['http']['p99_ms']:.1f} ms",
            "≤ 20 ms",
            ours["search"]["http"]["p99_ms"] <= TARGETS["search_p99_ms"],
        ),
        (
            "catalog search throughput",
            f"{ours['search']['http']['rps']:.0f} req/s",
            "≥ 500",
            ours["search"]["http"]["rps"] >= TARGETS["search_rps"],
        ),
    ]
    p, lt = r["person_table"], r["largest_table"]
    md = [
        f"# Query benchmark (scale {r['scale']:g}, {r['machine']})",
        "",
        f"Person table {p['code']} ({p['rows']:,} rows, key {p['key']}; the key indexes were "
        f"ready {p['indexes_ready_after_seconds']:.0f} s after the server started). Largest table "
        f"{lt['code']} ({lt['rows']:,} rows; filter {lt['filter']}; group by {lt['group_by']}, "
        f"{', '.join(lt['metrics'])}). HTTP: 1 and 16 keep-alive connections from a "
        f"second process; "
        f"{r['workers']} server processes.",
        "",
        "| query | server ms (median) | HTTP p50 ms, 1 connection | HTTP p50 ms, 16 | "
        "HTTP p99 ms, 16 | req/s, 16 | server CPU ms/req, 16 | load CPU ms/req, 16 | "
        "PostgreSQL ms |",
        "|---|---|---|---|---|---|---|---|---|",
        *rows,
        "",
        "| target | measured | target | |",
        "|---|---|---|---|",
        *[f"| {a} | {b} | {c} | {verdict(ok)} |" for a, b, c, ok in checks],
        "",
    ]
    (RESULTS / "query.md").write_text("\n".join(md))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=2017)
    parser.add_argument("--work", type=Path, default=HERE / "data")
    parser.add_argument("--workers", type=int, default=2, help="server processes")
    args = parser.parse_args()
    random.seed(args.seed)
    write_results(run(args))
    print((RESULTS / "query.md").read_text())


if __name__ == "__main__":
    main()
