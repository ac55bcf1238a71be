"""`cityhub demo`: generate the synthetic Jiaxing city, load it like `cityhub ingest` does, and
hold its figures against the seed's."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from cityhub.catalog import service
from cityhub.cli import catalog, data
from cityhub.cli.common import app, command, err, out
from cityhub.cli.serve import serve_demo
from cityhub.config import load_settings
from cityhub.demo import SEED_FIGURES, City, generate
from cityhub.demo.accounts import DEMO_PASSWORD, ensure_demo_users
from cityhub.errors import CityhubError
from cityhub.hub import Hub
from cityhub.ingest import apply_catalog, load_manifest


@command(app)
def demo(
    scale: Annotated[
        float, typer.Option(help="records as a share of the seed's 46,590,000 (1 = full size)")
    ] = 0.01,
    seed: Annotated[int, typer.Option(help="same seed, same files, byte for byte")] = 2017,
    out_dir: Annotated[
        Path | None, typer.Option("--out", help="where the city's files go (default: HOME/demo)")
    ] = None,
    no_serve: Annotated[
        bool,
        typer.Option(
            "--no-serve",
            help="stop after loading instead of serving the city (for scripts and benchmarks)",
        ),
    ] = False,
) -> None:
    """Generate the synthetic Jiaxing demo city (49 departments, 19 connected, 7,670 fields,
    46.59 million records × scale), load it into this home, show its figures and serve it at
    http://127.0.0.1:8000 (unless --no-serve)."""
    settings = load_settings()
    hub = Hub(settings)
    hub.init()
    began = time.perf_counter()
    city = _generate(out_dir or settings.home / "demo", scale, seed)
    made = time.perf_counter()
    err.print(f"generated {city.root} in {made - began:.1f}s; loading {city.manifest.name}")
    failures = _load(hub, city)
    err.print(f"loaded in {time.perf_counter() - made:.1f}s")
    catalog.stats(as_json=False)
    matches = _compare(hub, city)
    if failures or not matches:
        raise typer.Exit(1)
    people = ensure_demo_users(hub)
    err.print(f"demo users (password {DEMO_PASSWORD}; log in at /login):")
    for user in people:
        where = user.department.code if user.department else "-"
        err.print(f"  {user.username:<20} {', '.join(user.roles):<10} {where}")
    if not no_serve:
        hub.close()
        serve_demo(settings)


def _generate(root: Path, scale: float, seed: int) -> City:
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn())
    with Progress(*columns, TimeElapsedColumn(), console=err) as bar:
        task = bar.add_task("generating", total=None)
        done: dict[str, int] = {}

        def tick(label: str, rows: int, total: int) -> None:
            if label == "truth":
                bar.update(task, description="writing the ground truth")
                return
            if label not in done:
                bar.update(task, description=f"generating {label}")
            bar.advance(task, rows - done.get(label, 0))
            done[label] = rows

        try:
            return generate(root, scale=scale, seed=seed, progress=tick)
        except ValueError as exc:  # a scale too small to give each dataset a record
            raise CityhubError(str(exc)) from exc


def _load(hub: Hub, city: City) -> list[str]:
    """The source file's catalog and every source, through the same steps as `cityhub ingest`;
    returns the failures. Only syncs with rejects are reported in full."""
    manifest = load_manifest(city.manifest)
    apply_catalog(hub, manifest)
    results, failures = data.run_jobs(hub, manifest.jobs())
    planted = {m.dataset: m.rejects for m in city.malformed}
    for r in results:
        if r.rows_rejected:
            data.report(r)
            expected = planted.get(r.dataset, 0)
            note = "as planted" if r.rows_rejected == expected else f"{expected} were planted"
            err.print(f"  ({note}: the demo delivers some malformed files on purpose)")
    return failures


def _compare(hub: Hub, city: City) -> bool:
    """One line: the loaded figures beside the seed's (records scaled)."""
    with hub.db.session() as s:
        st = service.stats(s)
    seed = SEED_FIGURES
    got = (st.departments_connected, st.departments_cataloged, st.fields, st.records)
    want = (seed.departments_connected, seed.departments_cataloged, seed.fields, city.records)
    ok = got == want
    mark = "[green]matches[/]" if ok else "[red]differs from[/]"
    out.print(
        f"loaded {got[0]} connected / {got[1]} cataloged departments, {got[2]:,} fields, "
        f"{got[3]:,} records: {mark} the seed's {want[0]} / {want[1]} / {want[2]:,} / "
        f"{seed.records:,} × {city.scale:g} = {want[3]:,}"
    )
    return ok
