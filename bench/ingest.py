"""The ingest benchmark: cityhub against bare DuckDB and PostgreSQL COPY on the demo city.

    .venv/bin/python bench/ingest.py --scale 1            # the seed-scale city (46.59 M rows)
    .venv/bin/python bench/ingest.py --scale 0.05 --repeat 1   # a quick look

Every job runs in its own process (bench/_job.py), so its peak RSS is its own, and the compared
jobs run interleaved, `--repeat` times, so the machine's noise hits them alike; medians are
reported. Writes bench/results/ingest.json and bench/results/ingest.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import duckdb

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
PG_URL = os.environ.get("CITYHUB_BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
PG_TYPES = {
    "BIGINT": "bigint",
    "INTEGER": "bigint",
    "DOUBLE": "double precision",
    "DATE": "date",
    "TIMESTAMP": "timestamp",
    "BOOLEAN": "boolean",
    "TIME": "time",
}
GENERATE = """
import json, sys
from pathlib import Path
from cityhub.demo import generate
city = generate(Path(sys.argv[1]), scale=float(sys.argv[2]), seed=int(sys.argv[3]))
print(json.dumps({"manifest": str(city.manifest),
                  "malformed": [str(m.path) for m in city.malformed]}))
"""
TARGETS = {"vs_duckdb": 1.3, "vs_postgres": 1 / 3, "gbk_vs_utf8": 1.2, "peak_rss_mib": 1536}


def run_job(spec: dict[str, Any]) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, str(HERE / "_job.py"), json.dumps(spec)], capture_output=True, text=True
    )
    if done.returncode:
        raise SystemExit(f"{spec['kind']} job failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def median_of(runs: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "seconds": statistics.median(r["seconds"] for r in runs),
        "peak_rss_mib": max(r["peak_rss_mib"] for r in runs),
        "rows": runs[0]["rows"],
        "runs": [round(r["seconds"], 2) for r in runs],
    }


def csv_sources(manifest: Path, exclude: set[Path]) -> list[tuple[str, Path, str | None]]:
    """(dataset, file, encoding) of every CSV source of the city but the `exclude`d ones (the
    deliberately malformed files, which bare DuckDB and PostgreSQL COPY refuse outright)."""
    from cityhub.ingest import load_manifest
    from cityhub.ingest.decode import detect_encoding

    found: list[tuple[str, Path, str | None]] = []
    for s in load_manifest(manifest).sources:
        for p in s.paths:
            if p.suffix.lower() in {".csv", ".tsv", ".txt"} and p not in exclude:
                found.append((s.dataset, p, s.options.encoding or detect_encoding(p)))
    return found


def pg_columns(path: Path, encoding: str, scratch: Path) -> list[tuple[str, str]]:
    """Column names and types for PostgreSQL, as DuckDB's sniffer sees the file."""
    sample = path
    if encoding != "utf-8":  # DuckDB reads UTF-8 only: sniff a transcoded head
        sample = scratch / "sniff.csv"
        with path.open("rb") as f:
            head = f.read(4 << 20)
        sample.write_bytes(head[: head.rfind(b"\n") + 1].decode(encoding).encode())
    described = duckdb.connect().sql(f"DESCRIBE SELECT * FROM read_csv('{sample}')").fetchall()
    return [(name, PG_TYPES.get(str(dtype), "text")) for name, dtype, *_ in described]


def utf8_copies(files: list[tuple[str, Path, str | None]], scratch: Path) -> list[str]:
    """What bare DuckDB needs for a GBK file: a UTF-8 copy (iconv), made inside its timing."""
    out = []
    for _, p, enc in files:
        if enc in (None, "utf-8"):
            out.append(str(p))
            continue
        target = scratch / (p.stem + ".utf8.csv")
        with p.open("rb") as src, target.open("wb") as dst:
            subprocess.run(
                ["iconv", "-f", "GB18030", "-t", "UTF-8"], stdin=src, stdout=dst, check=True
            )
        out.append(str(target))
    return out


def bench_csv(manifest: Path, work: Path, repeat: int, exclude: set[Path]) -> dict[str, Any]:
    files = csv_sources(manifest, exclude)
    scratch = work / "scratch"
    scratch.mkdir(parents=True, exist_ok=True)
    pg_files = [
        {
            "path": str(p),
            "encoding": "UTF8" if enc == "utf-8" else "GB18030",
            "columns": pg_columns(p, enc or "utf-8", scratch),
        }
        for _, p, enc in files
    ]
    runs: dict[str, list[dict[str, Any]]] = {"cityhub": [], "duckdb": [], "postgres": []}
    for _ in range(repeat):
        shutil.rmtree(work / "home-csv", ignore_errors=True)
        runs["cityhub"].append(
            run_job(
                {
                    "kind": "cityhub",
                    "home": str(work / "home-csv"),
                    "manifest": str(manifest),
                    "only": [str(p) for _, p, _ in files],
                }
            )
        )
        began = time.perf_counter()
        copies = utf8_copies(files, scratch)
        iconv_seconds = time.perf_counter() - began
        duck = run_job({"kind": "duckdb", "files": copies, "out": str(scratch / "parquet")})
        duck["seconds"] += iconv_seconds
        runs["duckdb"].append(duck)
        runs["postgres"].append(run_job({"kind": "postgres", "url": PG_URL, "files": pg_files}))
    shutil.rmtree(scratch, ignore_errors=True)
    result: dict[str, Any] = {k: median_of(v) for k, v in runs.items()}
    result["files"] = [
        {"dataset": d, "file": p.name, "bytes": p.stat().st_size, "encoding": e}
        for d, p, e in files
    ]
    return result


def bench_gbk(manifest: Path, work: Path, repeat: int, exclude: set[Path]) -> dict[str, Any]:
    """The largest UTF-8 CSV dataset, delivered once as it is and once re-encoded in GBK."""
    files = [f for f in csv_sources(manifest, exclude) if f[2] == "utf-8"]
    dataset, path, _ = max(files, key=lambda f: f[1].stat().st_size)
    twin = work / (path.stem + ".gbk.csv")
    with path.open("rb") as src, twin.open("wb") as dst:
        subprocess.run(["iconv", "-f", "UTF-8", "-t", "GBK"], stdin=src, stdout=dst, check=True)
    runs: dict[str, list[dict[str, Any]]] = {"utf8": [], "gbk": []}
    for _ in range(repeat):
        for kind, file in (("utf8", path), ("gbk", twin)):
            mini = work / f"{kind}.toml"
            mini.write_text(_single_source(manifest, dataset, file), encoding="utf-8")
            shutil.rmtree(work / f"home-{kind}", ignore_errors=True)
            runs[kind].append(
                run_job(
                    {"kind": "cityhub", "home": str(work / f"home-{kind}"), "manifest": str(mini)}
                )
            )
    twin.unlink()
    result: dict[str, Any] = {k: median_of(v) for k, v in runs.items()}
    result["dataset"], result["bytes"] = dataset, path.stat().st_size
    return result


def _single_source(manifest: Path, dataset: str, file: Path) -> str:
    """A source file with the city's catalog and one source: `file` for `dataset`."""
    import tomllib

    raw = tomllib.loads(manifest.read_text(encoding="utf-8"))
    ds = next(d for d in raw["datasets"] if d["code"] == dataset)
    dept = next(d for d in raw["departments"] if d["code"] == ds["department"])
    lines = [
        "[[departments]]",
        f"code = {json.dumps(dept['code'])}",
        f"name = {json.dumps(dept['name'])}",
        "",
        "[[datasets]]",
        f"code = {json.dumps(dataset)}",
        f"department = {json.dumps(dept['code'])}",
        f"name = {json.dumps(ds['name'])}",
        "",
        "[[sources]]",
        f"dataset = {json.dumps(dataset)}",
        f"path = {json.dumps(str(file))}",
        "",
    ]
    return "\n".join(lines)


def bench_city(manifest: Path, work: Path) -> dict[str, Any]:
    shutil.rmtree(work / "home-city", ignore_errors=True)
    run = run_job({"kind": "cityhub", "home": str(work / "home-city"), "manifest": str(manifest)})
    run["rows_per_second"] = run["rows"] / run["seconds"]
    return run


def write_results(results: dict[str, Any]) -> None:
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "ingest.json").write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n")
    c, csv, gbk = results["city"], results["csv"], results["gbk"]
    r = results["ratios"]

    def verdict(ok: bool) -> str:
        return "met" if ok else "missed"

    md = [
        f"# Ingest benchmark (scale {results['scale']}, {results['machine']})",
        "",
        f"Whole demo city: {c['rows']:,} rows in {c['seconds']:.1f} s "
        f"({c['rows_per_second']:,.0f} rows/s), peak RSS {c['peak_rss_mib']:.0f} MiB.",
        "",
        f"Same CSV files ({len(csv['files'])} files, "
        f"{sum(f['bytes'] for f in csv['files']) / 2**30:.2f} GiB), median of "
        f"{len(csv['cityhub']['runs'])}:",
        "",
        "| job | seconds | peak RSS MiB | runs |",
        "|---|---|---|---|",
        *[
            f"| {k} | {csv[k]['seconds']:.1f} | {csv[k]['peak_rss_mib']:.0f} | {csv[k]['runs']} |"
            for k in ("cityhub", "duckdb", "postgres")
        ],
        "",
        f"Same dataset ({gbk['dataset']}, {gbk['bytes'] / 2**20:.0f} MiB) in UTF-8 and GBK: "
        f"{gbk['utf8']['seconds']:.1f} s and {gbk['gbk']['seconds']:.1f} s.",
        "",
        "| ratio | value | target | |",
        "|---|---|---|---|",
        f"| cityhub / bare DuckDB | {r['vs_duckdb']:.2f} | ≤ 1.3 | "
        f"{verdict(r['vs_duckdb'] <= TARGETS['vs_duckdb'])} |",
        f"| PostgreSQL COPY / cityhub | {1 / r['vs_postgres']:.2f} | ≥ 3 | "
        f"{verdict(r['vs_postgres'] <= TARGETS['vs_postgres'])} |",
        f"| GBK / UTF-8 | {r['gbk_vs_utf8']:.2f} | ≤ 1.2 | "
        f"{verdict(r['gbk_vs_utf8'] <= TARGETS['gbk_vs_utf8'])} |",
        f"| peak RSS (MiB) | {r['peak_rss_mib']:.0f} | ≤ 1536 | "
        f"{verdict(r['peak_rss_mib'] <= TARGETS['peak_rss_mib'])} |",
        "",
    ]
    (RESULTS / "ingest.md").write_text("\n".join(md))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=2017)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--work", type=Path, default=HERE / "data")
    args = parser.parse_args()
    city_dir = args.work / f"city-{args.scale:g}-{args.seed}"
    began = time.perf_counter()
    # Generated in a child process: the benchmark's own process stays small.
    made = subprocess.run(
        [sys.executable, "-c", GENERATE, str(city_dir), str(args.scale), str(args.seed)],
        check=True,
        capture_output=True,
        text=True,
    )
    generation = time.perf_counter() - began
    city = json.loads(made.stdout)
    manifest, malformed = Path(city["manifest"]), {Path(p) for p in city["malformed"]}
    csv = bench_csv(manifest, args.work, args.repeat, malformed)
    gbk = bench_gbk(manifest, args.work, args.repeat, malformed)
    whole = bench_city(manifest, args.work)
    results = {
        "scale": args.scale,
        "seed": args.seed,
        "generation_seconds": generation,
        "machine": f"{platform.machine()}, {os.cpu_count()} cores",
        "city": whole,
        "csv": csv,
        "gbk": gbk,
        "ratios": {
            "vs_duckdb": csv["cityhub"]["seconds"] / csv["duckdb"]["seconds"],
            "vs_postgres": csv["cityhub"]["seconds"] / csv["postgres"]["seconds"],
            "gbk_vs_utf8": gbk["gbk"]["seconds"] / gbk["utf8"]["seconds"],
            "peak_rss_mib": max(
                whole["peak_rss_mib"], csv["cityhub"]["peak_rss_mib"], gbk["gbk"]["peak_rss_mib"]
            ),
        },
    }
    write_results(results)
    print((RESULTS / "ingest.md").read_text())


if __name__ == "__main__":
    main()
