"""Where cityhub's ingest time goes: every file of the demo city synced once, step by step.

    .venv/bin/python bench/phases.py --scale 1                 # the seed-scale city
    .venv/bin/python bench/phases.py --scale 0.05 --only csv   # a quick look at the CSV files

Uses the city that bench/ingest.py generates (in --work, made here if missing) and each sync's
own step times (SyncResult.phases). Writes bench/results/ingest-phases.json and a Markdown table
sorted by the time each file took; a companion to the ratios of bench/ingest.py, not a
replacement (one run, no reference beside it).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import time
from pathlib import Path
from typing import Any

from cityhub.config import Settings
from cityhub.hub import Hub
from cityhub.ingest import apply_catalog, load_manifest, sync_file

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
PHASES = ["prepare", "plan", "write", "catalog", "rejects", "hash"]


def city_manifest(work: Path, scale: float, seed: int) -> Path:
    manifest = work / f"city-{scale:g}-{seed}" / "city.toml"
    if not manifest.exists():
        from cityhub.demo import generate

        generate(manifest.parent, scale=scale, seed=seed)
    return manifest


def measure(manifest: Path, home: Path, only: str | None) -> list[dict[str, Any]]:
    shutil.rmtree(home, ignore_errors=True)
    hub = Hub(Settings(home=home))
    hub.init()
    city = load_manifest(manifest)
    apply_catalog(hub, city)
    rows = []
    for job in city.jobs():
        if only and job.path.suffix.lower().lstrip(".") != only:
            continue
        began = time.perf_counter()
        try:
            result = sync_file(hub, job.dataset, job.path, job.options)
            status, phases = result.status, result.phases
        except Exception as exc:  # a deliberately malformed file of the city may fail
            status, phases = f"failed: {type(exc).__name__}", {}
        rows.append(
            {
                "file": job.path.name,
                "mib": job.path.stat().st_size / 2**20,
                "seconds": time.perf_counter() - began,
                "status": status,
                **{p: phases.get(p, 0.0) for p in PHASES},
            }
        )
    shutil.rmtree(home, ignore_errors=True)
    return rows


def write_results(meta: dict[str, Any], rows: list[dict[str, Any]]) -> None:
    RESULTS.mkdir(exist_ok=True)
    payload = {**meta, "files": rows}
    (RESULTS / "ingest-phases.json").write_text(json.dumps(payload, indent=2, ensure_ascii=False))
    total = {k: sum(r[k] for r in rows) for k in ["seconds", *PHASES]}
    md = [
        f"# Ingest, step by step (scale {meta['scale']:g}, {meta['machine']})",
        "",
        f"{len(rows)} files, {sum(r['mib'] for r in rows):,.0f} MiB, one run. Seconds per step:"
        " prepare (encoding, dialect, sample; a GBK file's first part decoded), plan (type"
        " inference on the sample), write (the engine's scan and conversion and the Delta"
        " commit, one stream), catalog (profile, fields, search index), rejects, hash (the"
        " source's SHA-256 beyond the load).",
        "",
        "| file | MiB | seconds | " + " | ".join(PHASES) + " | status |",
        "|---|---|---|" + "---|" * len(PHASES) + "---|",
        *[
            f"| {r['file']} | {r['mib']:.1f} | {r['seconds']:.2f} | "
            + " | ".join(f"{r[p]:.2f}" for p in PHASES)
            + f" | {r['status']} |"
            for r in sorted(rows, key=lambda r: -r["seconds"])
        ],
        f"| **all** | {sum(r['mib'] for r in rows):,.0f} | {total['seconds']:.2f} | "
        + " | ".join(f"{total[p]:.2f}" for p in PHASES)
        + " | |",
        "",
    ]
    (RESULTS / "ingest-phases.md").write_text("\n".join(md))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=2017)
    parser.add_argument("--work", type=Path, default=HERE / "data")
    parser.add_argument("--only", help="one kind of file: csv, xlsx, ndjson, geojson, parquet")
    args = parser.parse_args()
    manifest = city_manifest(args.work, args.scale, args.seed)
    rows = measure(manifest, args.work / "home-phases", args.only)
    meta = {
        "scale": args.scale,
        "seed": args.seed,
        "only": args.only,
        "machine": f"{platform.machine()}, {os.cpu_count()} cores",
    }
    write_results(meta, rows)
    print((RESULTS / "ingest-phases.md").read_text())


if __name__ == "__main__":
    main()
