"""Declarative source files (TOML or YAML): departments, datasets and the files that feed them.

[[departments]]
code = "JXJXJ"
name = "市经信局"

[[datasets]]
code = "JXJXJ-001"
department = "JXJXJ"
name = "规模以上工业企业名录"
share_type = "有条件共享"
fields = [{ title = "企业名称", type = "string" }]   # optional: catalog before data

[[sources]]
dataset = "JXJXJ-001"
path = "files/企业名录.xlsx"      # relative to this file; a glob loads files in turn
mode = "replace"
"""

from __future__ import annotations

import dataclasses
import glob
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from cityhub.catalog import service
from cityhub.errors import InvalidInput
from cityhub.hub import Hub
from cityhub.ingest.sync import SyncOptions

_OPTION_KEYS = {
    "mode",
    "format",
    "encoding",
    "delimiter",
    "sheet",
    "skip_rows",
    "nested",
    "geometry",
    "key",
    "allow_breaking",
    "max_reject_ratio",
}


@dataclass
class SourceSpec:
    dataset: str
    paths: list[Path]
    options: SyncOptions


@dataclass(frozen=True)
class Job:
    """One file to load into one dataset."""

    dataset: str
    path: Path
    options: SyncOptions


@dataclass
class Manifest:
    path: Path
    departments: list[dict[str, Any]] = field(default_factory=list)
    datasets: list[dict[str, Any]] = field(default_factory=list)
    sources: list[SourceSpec] = field(default_factory=list)

    def jobs(self) -> list[Job]:
        """Every file to load, in order; the files of a glob after its first append to it."""
        return [
            Job(s.dataset, p, dataclasses.replace(s.options, mode="append") if i else s.options)
            for s in self.sources
            for i, p in enumerate(s.paths)
        ]


def is_manifest(path: Path) -> bool:
    return path.suffix.lower() in {".toml", ".yaml", ".yml"}


def load_manifest(path: Path) -> Manifest:
    try:
        text = path.read_text(encoding="utf-8")
        raw = tomllib.loads(text) if path.suffix.lower() == ".toml" else yaml.safe_load(text)
    except (OSError, tomllib.TOMLDecodeError, yaml.YAMLError) as exc:
        raise InvalidInput(f"{path}: cannot read the source file: {exc}") from exc
    if not isinstance(raw, dict):
        raise InvalidInput(f"{path}: expected tables departments / datasets / sources")
    unknown = set(raw) - {"departments", "datasets", "sources"}
    if unknown:
        raise InvalidInput(
            f"{path}: unknown section(s) {', '.join(sorted(unknown))}; expected "
            "departments, datasets, sources"
        )
    manifest = Manifest(path, list(raw.get("departments", [])), list(raw.get("datasets", [])))
    for i, entry in enumerate(raw.get("sources", []), start=1):
        manifest.sources.append(_source(path, i, entry))
    return manifest


def _source(manifest: Path, index: int, entry: dict[str, Any]) -> SourceSpec:
    where = f"{manifest}: source #{index}"
    if "dataset" not in entry or "path" not in entry:
        raise InvalidInput(f"{where}: needs `dataset` and `path`")
    unknown = set(entry) - _OPTION_KEYS - {"dataset", "path"}
    if unknown:
        raise InvalidInput(f"{where}: unknown key(s) {', '.join(sorted(unknown))}")
    pattern = Path(entry["path"])
    if not pattern.is_absolute():
        pattern = manifest.parent / pattern
    paths = (
        sorted(Path(p) for p in glob.glob(str(pattern)))
        if glob.has_magic(str(pattern))
        else [pattern]
    )
    if not paths:
        raise InvalidInput(f"{where}: no file matches {entry['path']!r}")
    opts = {k: v for k, v in entry.items() if k in _OPTION_KEYS}
    if isinstance(opts.get("key"), str):
        opts["key"] = [opts["key"]]
    return SourceSpec(str(entry["dataset"]), paths, SyncOptions(**opts))


def apply_catalog(hub: Hub, manifest: Manifest) -> None:
    """Register the manifest's departments and datasets (and declared fields)."""
    with hub.db.session() as s:
        for d in manifest.departments:
            service.upsert_department(
                s,
                str(d["code"]),
                str(d["name"]),
                **{k: v for k, v in d.items() if k not in {"code", "name"}},
            )
        for d in manifest.datasets:
            attrs = {k: v for k, v in d.items() if k not in {"code", "department", "fields"}}
            ds = service.upsert_dataset(s, str(d["code"]), str(d.get("department", "")), **attrs)
            if d.get("fields"):
                service.declare_fields(s, ds, list(d["fields"]))
