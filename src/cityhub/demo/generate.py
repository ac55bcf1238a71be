"""Writing the demo city: every feed's file, the ground truth and the source file (city.toml)."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa

from cityhub.demo import citytoml, writers
from cityhub.demo.catalog import CATALOGED, FEEDS, SEED_FIELDS, dataset_entries, field_count
from cityhub.demo.departments import DEPARTMENTS
from cityhub.demo.spec import FORMAT_LABEL, Ctx, Feed, allocate
from cityhub.demo.truth import TruthOut, write_masters

CHUNK_ROWS = 500_000  # records built and written at a time: bounds memory at any scale
Progress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class SeedFigures:
    """The real center's reported figures (the seed news): 接入19个部门, 编目49个部门,
    梳理7670个字段, 4659万条数据."""

    departments_connected: int = 19
    departments_cataloged: int = 49
    fields: int = SEED_FIELDS
    records: int = 46_590_000


SEED_FIGURES = SeedFigures()


@dataclass(frozen=True)
class DatasetFigures:
    code: str
    name: str
    department: str
    format: str
    fields: int
    rows: int  # records stored once loaded (planted bad rows not included)
    path: Path | None = None  # the delivered file (None: cataloged only)


@dataclass(frozen=True)
class Malformed:
    """A file delivered with rows its reader must reject, on top of its quota."""

    dataset: str
    path: Path
    rejects: int
    kinds: dict[str, int]


@dataclass
class City:
    root: Path
    manifest: Path
    truth: Path
    scale: float
    seed: int
    departments_connected: int
    departments_cataloged: int
    fields: int
    records: int
    datasets: list[DatasetFigures] = field(default_factory=list)
    malformed: list[Malformed] = field(default_factory=list)

    def dataset(self, code: str) -> DatasetFigures:
        return next(d for d in self.datasets if d.code == code)


def quotas(scale: float) -> dict[str, int]:
    """Records per connected dataset at `scale`: exact, at least one each."""
    if not scale > 0:
        raise ValueError(f"scale must be positive, not {scale}")
    total = round(SEED_FIGURES.records * scale)
    return allocate(total, {f.meta.code: f.weight for f in FEEDS})


def generate(
    out: Path, scale: float = 0.01, seed: int = 2017, progress: Progress | None = None
) -> City:
    """Write the demo city under `out`: files/ (what departments deliver), truth/ (who is who),
    city.toml (the source file `cityhub ingest` loads). Same seed, same bytes."""
    out = Path(out)
    quota = quotas(scale)
    ctx = Ctx(seed, quota)
    _check_out(out)
    for sub in ("files", "truth"):
        shutil.rmtree(out / sub, ignore_errors=True)
    (out / "files").mkdir(parents=True)
    truth = TruthOut(out / "truth")
    figures: list[DatasetFigures] = []
    malformed: list[Malformed] = []
    for f in FEEDS:
        path = out / "files" / f.file
        planted = _write(f, path, ctx, quota[f.meta.code], truth, progress)
        if planted and sum(planted.values()):
            malformed.append(Malformed(f.meta.code, path, sum(planted.values()), planted))
        figures.append(_figures(f, quota[f.meta.code], path))
    truth.close()
    if progress:
        progress("truth", 0, 1)
    write_masters(out / "truth", ctx.people, ctx.firms, ctx.places)
    if progress:
        progress("truth", 1, 1)
    figures += [
        DatasetFigures(c.meta.code, c.meta.name, c.meta.department, c.fmt, len(c.fields), 0)
        for c in CATALOGED
    ]
    manifest = out / "city.toml"
    citytoml.write(manifest, [d.entry() for d in DEPARTMENTS], dataset_entries(), _sources())
    return City(
        root=out,
        manifest=manifest,
        truth=out / "truth",
        scale=scale,
        seed=seed,
        departments_connected=len({f.meta.department for f in FEEDS}),
        departments_cataloged=len({d.department for d in figures}),
        fields=field_count(),
        records=sum(quota.values()),
        datasets=figures,
        malformed=malformed,
    )


def _check_out(out: Path) -> None:
    """Regenerating replaces files/ and truth/: only in a new folder or an earlier demo city."""
    manifest = out / "city.toml"
    ours = manifest.exists() and manifest.read_text(encoding="utf-8").startswith(citytoml.HEADER)
    if out.exists() and any(out.iterdir()) and not ours:
        raise ValueError(f"{out} is not empty and holds no demo city: choose a new or empty folder")


def _figures(f: Feed, rows: int, path: Path) -> DatasetFigures:
    label = FORMAT_LABEL[f.fmt]
    return DatasetFigures(
        f.meta.code, f.meta.name, f.meta.department, label, len(f.columns), rows, path
    )


def _sources() -> list[dict[str, object]]:
    sources: list[dict[str, object]] = []
    for f in FEEDS:
        # No encoding given for the GBK files: telling it from the bytes is the reader's job.
        sources.append({"dataset": f.meta.code, "path": f"files/{f.file}"})
    return sources


def _chunks(
    f: Feed, ctx: Ctx, quota: int, truth: TruthOut, progress: Progress | None
) -> Iterator[pa.Table]:
    # Fields the file's reader makes itself: Excel's row numbers are the writer's, longitude and
    # latitude of GeoJSON points come from the geometry.
    optional = {"xlsx": (writers.ROW_NUMBER,), "geojson": ("longitude", "latitude")}.get(f.fmt, ())
    for i, start in enumerate(range(0, quota, CHUNK_ROWS)):
        n = min(CHUNK_ROWS, quota - start)
        rows = f.build(ctx, ctx.rng(f.meta.code, i), start, n)
        table = writers.as_table(f, rows.columns, optional)
        if rows.links:
            if f.key is None:
                raise ValueError(f"{f.meta.code}: records link to entities but have no key")
            truth.add(f.meta.code, f.key, table.column(f.key).combine_chunks(), rows.links)
        if progress:
            progress(f.meta.code, start + n, quota)
        yield table


def _write(
    f: Feed, path: Path, ctx: Ctx, quota: int, truth: TruthOut, progress: Progress | None
) -> dict[str, int] | None:
    """Write one feed's file; returns the rows planted for its reader to reject."""
    chunks = _chunks(f, ctx, quota, truth, progress)
    if f.fmt == "xlsx":
        writers.write_xlsx(path, f, chunks)
    elif f.fmt == "geojson":
        writers.write_geojson(path, f, chunks)
    elif f.fmt == "parquet":
        out = writers.ParquetOut(path)
        for table in chunks:
            out.write(table)
        out.close()
    elif f.fmt == "ndjson":
        nd = writers.NdjsonOut(path)
        planted = _plant(f, quota, ctx, chunks, nd)
        nd.close()
        return planted
    else:
        csv = writers.CsvOut(path, gbk=f.fmt == "csv-gbk")
        planted = _plant(f, quota, ctx, chunks, csv)
        csv.close()
        return planted
    return None


def _plant(
    f: Feed,
    quota: int,
    ctx: Ctx,
    chunks: Iterator[pa.Table],
    out: writers.CsvOut | writers.NdjsonOut,
) -> dict[str, int]:
    """Stream the chunks, slipping the feed's planted bad lines in between records."""
    counts = f.malformed.counts(f.fmt, quota) if f.malformed else {}
    kinds = [k for k, c in counts.items() for _ in range(c)]
    rng = ctx.rng("plant:" + f.meta.code)
    lo = min(100, quota // 2)
    at: list[int] = (
        rng.choice(np.arange(lo, quota), size=len(kinds), replace=False).tolist() if kinds else []
    )
    plan = sorted(zip(at, kinds, strict=True))
    done = 0
    for table in chunks:
        cut = 0
        while plan and plan[0][0] < done + len(table):
            pos, kind = plan.pop(0)
            i = pos - done
            out.write(table.slice(cut, i - cut))
            out.line(_bad_line(f, table.slice(i, 1), kind, len(plan)))
            cut = i
        out.write(table.slice(cut))
        done += len(table)
    return counts


def _bad_line(f: Feed, row: pa.Table, kind: str, k: int) -> str:
    """A line made from a real record the way files really break."""
    if kind == "truncated":  # an API response cut off mid-record
        line = writers.json_objects(row, row.column_names)[0].as_py()
        return line[: len(line) * 3 // 5]
    values = writers.csv_bytes(row, header=False).decode().rstrip("\n").split(",")
    if kind == "ragged" and k % 2 == 0:  # a stray comma inside a free-text field
        values.insert(len(values) // 2, "补录")
    elif kind == "ragged":  # a line cut short
        values = values[:-2]
    else:  # a value that does not fit its column
        assert f.malformed is not None
        column, value = f.malformed.misfits[k % len(f.malformed.misfits)]
        values[f.columns.index(column)] = value
    return ",".join(values)
