"""The catalog's operations: departments, datasets, fields, statistics. Functions over a Session."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from cityhub.catalog.models import Dataset, Department, FieldInfo, SchemaChange, SyncRun
from cityhub.catalog.names import assign_names
from cityhub.catalog.search import index_dataset
from cityhub.catalog.vocab import DataType, Grade, OpenType, ShareType, UpdateCycle
from cityhub.errors import InvalidInput, NotFound

#: Catalog attributes a dataset may be given, and how each is checked.
_VOCAB = {"share_type": ShareType, "open_type": OpenType, "update_cycle": UpdateCycle}
DATASET_ATTRS = {
    "name",
    "name_en",
    "summary",
    "summary_en",
    "classification",
    "format",
    "share_type",
    "share_condition",
    "share_method",
    "open_type",
    "open_condition",
    "legal_basis",
    "data_level",
    "update_cycle",
    "publish_date",
    "related_codes",
    "themes",
    "tags",
    "key_fields",
}


def get_department(s: Session, code: str) -> Department:
    dept = s.scalar(select(Department).where(Department.code == code))
    if dept is None:
        raise NotFound(f"department {code!r} is not registered (see `cityhub department add`)")
    return dept


def upsert_department(s: Session, code: str, name: str, **attrs: Any) -> Department:
    dept = s.scalar(select(Department).where(Department.code == code))
    if dept is None:
        dept = Department(code=code, name=name)
        s.add(dept)
    dept.name = name
    for key in ("name_en", "kind", "description"):
        if attrs.get(key) is not None:
            setattr(dept, key, attrs[key])
    s.flush()
    return dept


def list_departments(s: Session) -> list[Department]:
    return list(s.scalars(select(Department).order_by(Department.code)))


def get_dataset(s: Session, code: str) -> Dataset:
    ds = s.scalar(
        select(Dataset)
        .where(Dataset.code == code)
        .options(selectinload(Dataset.fields), selectinload(Dataset.department))
    )
    if ds is None:
        raise NotFound(f"dataset {code!r} is not in the catalog (see `cityhub dataset add`)")
    return ds


def list_datasets(s: Session, department: str | None = None) -> list[Dataset]:
    q = select(Dataset).options(selectinload(Dataset.department)).order_by(Dataset.code)
    if department:
        q = q.join(Department).where(Department.code == department)
    return list(s.scalars(q))


def _check_attrs(attrs: dict[str, Any]) -> dict[str, Any]:
    unknown = set(attrs) - DATASET_ATTRS
    if unknown:
        raise InvalidInput(
            f"unknown dataset attribute(s): {', '.join(sorted(unknown))}; "
            f"known: {', '.join(sorted(DATASET_ATTRS))}"
        )
    clean = {k: v for k, v in attrs.items() if v is not None}
    for key, vocab in _VOCAB.items():
        if key in clean:
            clean[key] = vocab.parse(str(clean[key])).value
    if isinstance(clean.get("publish_date"), str):
        try:
            clean["publish_date"] = date.fromisoformat(clean["publish_date"])
        except ValueError as exc:
            raise InvalidInput(
                f"publish_date {clean['publish_date']!r} is not a date; expected YYYY-MM-DD"
            ) from exc
    for key in ("related_codes", "themes", "tags", "key_fields"):
        if isinstance(clean.get(key), str):
            clean[key] = [t.strip() for t in clean[key].split(",") if t.strip()]
    return clean


def upsert_dataset(s: Session, code: str, department: str, **attrs: Any) -> Dataset:
    """Create or update a dataset's catalog record; it may stay without data (cataloged only)."""
    clean = _check_attrs(attrs)
    ds = s.scalar(select(Dataset).where(Dataset.code == code))
    if ds is None:
        if "name" not in clean:
            raise InvalidInput(f"dataset {code!r} needs a name (资源名称)")
        ds = Dataset(code=code, department=get_department(s, department), fields=[])
        s.add(ds)
    elif department and ds.department.code != department:
        ds.department = get_department(s, department)
    for key, value in clean.items():
        setattr(ds, key, value)
    if ds.share_type == ShareType.NOT_SHARED and not ds.legal_basis:
        raise InvalidInput(
            f"dataset {code!r} is 不予共享 (not shared): it must cite its legal basis (legal_basis)"
        )
    s.flush()
    index_dataset(s, ds)
    return ds


def declare_fields(s: Session, ds: Dataset, fields: list[dict[str, Any]]) -> None:
    """Catalog a dataset's fields before it has data: title, type, description, grade."""
    known = {f.title: f.name for f in ds.fields}
    names = assign_names([str(f["title"]) for f in fields], known)
    by_title = {f.title: f for f in ds.fields}
    for pos, spec in enumerate(fields):
        title = str(spec["title"])
        info = by_title.get(title)
        if info is None:
            info = FieldInfo(name=names[title], title=title, position=pos, present=True, profile={})
            ds.fields.append(info)
        if spec.get("type"):
            info.data_type = DataType.parse(str(spec["type"])).value
        if spec.get("description"):
            info.description = str(spec["description"])
        if spec.get("grade"):
            info.grade_override = info.grade = Grade.parse(str(spec["grade"])).value
    s.flush()
    index_dataset(s, ds)


def find_field(ds: Dataset, key: str) -> FieldInfo:
    for f in ds.fields:
        if key in (f.name, f.title):
            return f
    raise NotFound(
        f"dataset {ds.code!r} has no field {key!r}; fields: "
        + ", ".join(f"{f.title} ({f.name})" for f in ds.fields)
    )


def set_field(
    s: Session,
    dataset: str,
    key: str,
    *,
    grade: str | None = None,
    title: str | None = None,
    description: str | None = None,
    masking: str | None = None,
) -> FieldInfo:
    """A steward's edits to a field. A grade set here overrides detection, now and later; a
    masking rule overrides the one of the field's semantic type ("default" drops it)."""
    info = find_field(get_dataset(s, dataset), key)
    if masking is not None:
        from cityhub.access.masking import parse_rule  # the access layer builds on the catalog

        info.masking = None if masking.strip() == "default" else parse_rule(masking).text
    if grade is not None:
        info.grade_override = info.grade = Grade.parse(grade).value
    if title is not None:
        info.title = title
    if description is not None:
        info.description = description
    s.flush()
    index_dataset(s, info.dataset)
    return info


@dataclass
class Stats:
    """The seed's headline figures (部门接入, 部门编目, 数据集, 信息项, 记录数), live."""

    departments_connected: int
    departments_cataloged: int
    datasets: int
    datasets_connected: int
    fields: int
    records: int
    per_department: list[dict[str, Any]] = field(default_factory=list)


def stats(s: Session) -> Stats:
    field_counts: dict[int, int] = {
        ds_id: n
        for ds_id, n in s.execute(
            select(FieldInfo.dataset_id, func.count())
            .where(FieldInfo.present)
            .group_by(FieldInfo.dataset_id)
        )
    }
    per: dict[str, dict[str, Any]] = {}
    for d in list_departments(s):
        per[d.code] = {
            "code": d.code,
            "name": d.name,
            "datasets": 0,
            "connected": 0,
            "fields": 0,
            "records": 0,
        }
    for ds in s.scalars(select(Dataset).options(selectinload(Dataset.department))):
        row = per[ds.department.code]
        row["datasets"] += 1
        row["connected"] += ds.connected
        row["fields"] += field_counts.get(ds.id, 0)
        row["records"] += ds.row_count if ds.connected else 0
    rows = list(per.values())
    return Stats(
        departments_connected=sum(1 for r in rows if r["connected"]),
        departments_cataloged=sum(1 for r in rows if r["datasets"]),
        datasets=sum(r["datasets"] for r in rows),
        datasets_connected=sum(r["connected"] for r in rows),
        fields=sum(r["fields"] for r in rows),
        records=sum(r["records"] for r in rows),
        per_department=rows,
    )


def sync_runs(s: Session, dataset: str | None = None, limit: int | None = 50) -> list[SyncRun]:
    q = select(SyncRun).order_by(SyncRun.id.desc()).limit(limit)
    if dataset:
        q = q.where(SyncRun.dataset_id == get_dataset(s, dataset).id)
    return list(s.scalars(q))


def schema_changes(s: Session, dataset: str) -> list[SchemaChange]:
    ds = get_dataset(s, dataset)
    return list(
        s.scalars(
            select(SchemaChange).where(SchemaChange.dataset_id == ds.id).order_by(SchemaChange.id)
        )
    )
