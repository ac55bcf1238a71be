"""A sync killed mid-write leaves no partial version; large files stream in bounded batches."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pytest

from cityhub.hub import Hub
from cityhub.ingest import SyncOptions, sync_file

from .helpers import register, write_csv


def big_csv(path: Path, rows: int) -> Path:
    """`rows` rows of ID-like codes, names, amounts and dates, written without a Python loop."""
    rng = np.random.default_rng(7)
    n = np.arange(rows)
    table = pa.table(
        {
            "编号": pa.array(np.char.add("E", np.char.zfill(n.astype(str), 9))),
            "名称": pa.array(np.char.add("企业", n.astype(str))),
            "金额": pa.array(np.round(rng.random(rows) * 1e6, 2)),
            "数量": pa.array(rng.integers(0, 10_000, rows)),
            "日期": pa.array(np.datetime64("2020-01-01") + (n % 1500).astype("timedelta64[D]")),
        }
    )
    pacsv.write_csv(table, path, pacsv.WriteOptions(quoting_style="none"))
    return path


# Syncs a file in a child process that reports every batch it has passed to the lake writer.
SCRIPT = """
import sys
from pathlib import Path
from cityhub.config import Settings
from cityhub.hub import Hub
from cityhub.ingest import sync_file

class Report:
    def start(self, label, total_bytes): pass
    def update(self, *, bytes_done=None, rows=None):
        if rows is not None:
            print(rows, flush=True)

hub = Hub.open(Settings(home=Path(sys.argv[1]), batch_rows=8192))
sync_file(hub, "DS1", Path(sys.argv[2]), progress=Report())
"""


def test_kill_mid_write_keeps_last_good_version(sqlite_hub: Hub, tmp_path: Path) -> None:
    register(sqlite_hub)
    sync_file(
        sqlite_hub,
        "DS1",
        write_csv(tmp_path / "small.csv", "编号,名称,金额,数量,日期\nE1,甲,1.5,2,2020-01-01\n"),
    )
    big = big_csv(tmp_path / "big.csv", 1_500_000)
    proc = subprocess.Popen(
        [sys.executable, "-c", SCRIPT, str(sqlite_hub.home), str(big)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    try:
        for line in proc.stdout:  # kill once most rows are in the writer, before its commit
            if int(line) >= 1_000_000:
                os.kill(proc.pid, signal.SIGKILL)
                break
    finally:
        proc.wait()
    assert proc.returncode == -signal.SIGKILL
    assert sqlite_hub.lake.version("DS1") == 0
    assert sqlite_hub.lake.read("DS1").num_rows == 1
    # The next sync works and sees a clean table.
    result = sync_file(
        sqlite_hub,
        "DS1",
        write_csv(tmp_path / "next.csv", "编号,名称,金额,数量,日期\nE2,乙,2.5,3,2020-01-02\n"),
    )
    assert result.version == 1
    assert sqlite_hub.lake.read("DS1").column("bian_hao").to_pylist() == ["E2"]


class Recorder:
    def __init__(self) -> None:
        self.rows: list[int] = []

    def start(self, label: str, total_bytes: int | None) -> None:
        self.total = total_bytes

    def update(self, *, bytes_done: int | None = None, rows: int | None = None) -> None:
        if rows is not None:
            self.rows.append(rows)


@pytest.mark.slow
def test_million_rows_stream_in_bounded_batches(sqlite_hub: Hub, tmp_path: Path) -> None:
    register(sqlite_hub)
    path = big_csv(tmp_path / "million.csv", 1_000_000)
    progress = Recorder()
    result = sync_file(sqlite_hub, "DS1", path, SyncOptions(), progress)
    assert (result.rows_written, result.rows_rejected) == (1_000_000, 0)
    steps = [b - a for a, b in zip([0, *progress.rows], progress.rows, strict=False)]
    # Batches flowed one after another, none bigger than the configured batch size.
    assert len(steps) >= 1_000_000 // sqlite_hub.settings.batch_rows
    assert max(steps) <= sqlite_hub.settings.batch_rows
    assert sqlite_hub.lake.table("DS1").count() == 1_000_000


PEAK_OF_CLI = """
import runpy, sys
sys.argv = ["cityhub", *sys.argv[1:]]
try:
    runpy.run_module("cityhub.cli", run_name="__main__")
finally:
    status = open("/proc/self/status").read().splitlines()
    print(next(line for line in status if line.startswith("VmHWM:")), file=sys.stderr)
"""


@pytest.mark.slow
def test_cli_ingest_of_a_large_file_stays_in_bounded_memory(tmp_path: Path) -> None:
    path = big_csv(tmp_path / "large.csv", 2_000_000)  # about 110 MB
    env = {**os.environ, "CITYHUB_HOME": str(tmp_path / "home")}
    env.pop("CITYHUB_DATABASE_URL", None)
    cli = [sys.executable, "-m", "cityhub.cli"]
    for args in (
        ["init"],
        ["department", "add", "D", "某局"],
        ["dataset", "add", "DS1", "--department", "D", "--name", "大表"],
    ):
        subprocess.run([*cli, *args], env=env, check=True, capture_output=True)
    # The ingest's own peak (VmHWM), read by the process itself as it exits: the children's
    # rusage would report the largest child this test session ever waited for.
    measured = subprocess.run(
        [sys.executable, "-c", PEAK_OF_CLI, "ingest", str(path), "--dataset", "DS1"],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    peak_kib = int(measured.stderr.strip().splitlines()[-1].split()[1])
    # The file as one Arrow table would need well over its own size; streaming stays far below.
    assert 0 < peak_kib * 1024 < 1.5 * 2**30
