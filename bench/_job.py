"""One measured job, run in its own process so its peak memory is its own.

python bench/_job.py '<json spec>'   →   prints {"seconds", "peak_rss_mib", "rows"}
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any


def cityhub_manifest(spec: dict[str, Any]) -> int:
    """Everything a real sync does, for every source of a source file, into a fresh home."""
    from cityhub.config import Settings
    from cityhub.hub import Hub
    from cityhub.ingest import apply_catalog, load_manifest, sync_file

    hub = Hub(Settings(home=Path(spec["home"])))
    hub.init()
    manifest = load_manifest(Path(spec["manifest"]))
    apply_catalog(hub, manifest)
    wanted = set(spec.get("only") or [])
    jobs = [j for j in manifest.jobs() if not wanted or str(j.path) in wanted]
    return sum(sync_file(hub, j.dataset, j.path, j.options).rows_written for j in jobs)


def duckdb_copy(spec: dict[str, Any]) -> int:
    """The floor of our stack: DuckDB's own CSV reader (types sniffed) straight to Parquet."""
    import duckdb

    con = duckdb.connect()
    out = Path(spec["out"])
    out.mkdir(parents=True, exist_ok=True)
    rows = 0
    for i, f in enumerate(spec["files"]):
        target = out / f"{i}.parquet"
        con.execute(f"COPY (SELECT * FROM read_csv('{f}')) TO '{target}' (FORMAT parquet)")
        rows += con.sql(f"SELECT count(*) FROM '{target}'").fetchall()[0][0]
    return rows


def pg_copy(spec: dict[str, Any]) -> int:
    """What CKAN's DataStore loader does before its indexes: COPY into typed tables."""
    import psycopg

    rows = 0
    with psycopg.connect(spec["url"], autocommit=True) as conn:
        for i, item in enumerate(spec["files"]):
            table = f"bench_{i}"
            cols = ", ".join(f'"{name}" {pg_type}' for name, pg_type in item["columns"])
            conn.execute(f"DROP TABLE IF EXISTS {table}")
            conn.execute(f"CREATE TABLE {table} ({cols})")  # logged, as CKAN's DataStore has
            encoding = item.get("encoding", "UTF8")
            copy_sql = (
                f"COPY {table} FROM STDIN WITH (FORMAT csv, HEADER true, ENCODING '{encoding}')"
            )
            with conn.cursor() as cur, cur.copy(copy_sql) as copy, open(item["path"], "rb") as f:
                while block := f.read(1 << 20):
                    copy.write(block)
            rows += conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]  # type: ignore[index]
            conn.execute(f"DROP TABLE {table}")
    return rows


JOBS = {"cityhub": cityhub_manifest, "duckdb": duckdb_copy, "postgres": pg_copy}

if __name__ == "__main__":
    spec = json.loads(sys.argv[1])
    began = time.perf_counter()
    rows = JOBS[spec["kind"]](spec)
    seconds = time.perf_counter() - began
    # VmHWM, not getrusage: ru_maxrss survives exec, so a child would report its parent's peak.
    hwm = next(
        line
        for line in Path("/proc/self/status").read_text().splitlines()
        if line.startswith("VmHWM:")
    )
    peak = int(hwm.split()[1]) / 1024
    print(json.dumps({"seconds": seconds, "peak_rss_mib": peak, "rows": rows}))
