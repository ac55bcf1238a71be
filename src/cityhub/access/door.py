"""The one door to the data (DESIGN.md): every read of the catalog or of rows asks here first.

It answers which datasets a caller may know of, turns (caller, dataset, version) into a `TableView`
holding only the columns the caller may read, and records each read. A dataset the caller may not
see is reported exactly like one that does not exist.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime

import pyarrow as pa
import sqlalchemy as sa
from sqlalchemy.orm import Session, selectinload

from cityhub.access import policy
from cityhub.access.policy import Caller
from cityhub.catalog.models import Dataset, Department, FieldInfo
from cityhub.errors import NotFound
from cityhub.lake import Lake

audit_log = logging.getLogger("cityhub.audit")
VERSIONS_KEPT = 512  # schemas and file lists of this many (dataset, version) pairs


@dataclass(frozen=True)
class Column:
    name: str  # machine name in the lake
    title: str
    data_type: str  # DataType value
    arrow_type: pa.DataType


@dataclass(frozen=True)
class TableView:
    """What a caller may read of one version of a dataset: these columns of these files."""

    code: str
    name: str
    version: int
    current_version: int
    columns: list[Column]
    files: list[str]
    key_field: str | None = None  # machine name of the lookup key, when the caller may read it

    def column(self, key: str) -> Column:
        """A column by machine name or title; unknown and withheld columns are both unknown."""
        for c in self.columns:
            if key in (c.name, c.title):
                return c
        names = ", ".join(c.name for c in self.columns)
        raise NotFound(
            f"dataset {self.code!r} has no field {key!r} that you may read; fields: {names}",
            field=key,
        )


def _key_field(ds: Dataset, columns: list[Column]) -> str | None:
    """The first declared key field (by title or machine name) among the readable columns."""
    if not ds.key_fields:
        return None
    first = ds.key_fields[0]
    return next((c.name for c in columns if first in (c.name, c.title)), None)


class Door:
    """The door, with what it may remember between requests: a version's schema and files
    never change, and a dataset's catalog record is kept until its `updated_at` moves (any
    change to it or to its fields moves it, see catalog.models)."""

    def __init__(self, lake: Lake) -> None:
        self.lake = lake
        self._records: dict[str, tuple[datetime, Dataset]] = {}
        self._versions: OrderedDict[tuple[str, int], tuple[pa.Schema, list[str]]] = OrderedDict()
        self._lock = threading.Lock()

    def datasets(self, caller: Caller) -> sa.Select[Dataset]:
        """The datasets `caller` may know of, as a query to refine (order, filters, paging)."""
        query = sa.select(Dataset).join(Department).options(selectinload(Dataset.department))
        where = policy.dataset_filter(caller)
        return query if where is None else query.where(where)

    def dataset(self, s: Session, caller: Caller, code: str) -> Dataset:
        """The catalog record of `code` if `caller` may see it (a read-only snapshot: it belongs
        to no session)."""
        ds = self._record(s, code)
        if ds is None or not policy.may_see(caller, ds):
            raise NotFound(f"no dataset {code!r}", dataset=code)
        return ds

    def _record(self, s: Session, code: str) -> Dataset | None:
        stamp = s.scalar(sa.select(Dataset.updated_at).where(Dataset.code == code))
        if stamp is None:
            return None
        with self._lock:
            cached = self._records.get(code)
        if cached is not None and cached[0] == stamp:
            return cached[1]
        # Loaded in a session of its own and closed at once, so no rollback of the caller's
        # session can expire the snapshot other requests share.
        with Session(s.get_bind(), expire_on_commit=False) as own:
            ds = own.scalar(
                sa.select(Dataset)
                .where(Dataset.code == code)
                .options(selectinload(Dataset.fields), selectinload(Dataset.department))
            )
        if ds is not None:
            with self._lock:
                self._records[code] = (ds.updated_at, ds)
        return ds

    def fields(self, caller: Caller, ds: Dataset) -> list[FieldInfo]:
        return policy.visible_fields(caller, ds)

    def table(self, s: Session, caller: Caller, code: str, version: int | None = None) -> TableView:
        """The readable view of `code` at `version` (default: current). Columns are those of that
        version's schema that today's rules let `caller` read."""
        ds = self.dataset(s, caller, code)
        if ds.current_version is None:
            raise NotFound(f"dataset {code!r} is cataloged but has no data yet", dataset=code)
        number = ds.current_version if version is None else version
        schema, files = self._version(code, number)
        by_name = {f.name: f for f in ds.fields}
        columns = []
        for arrow_field in schema:
            info = by_name.get(arrow_field.name)
            if info is not None and policy.field_allowed(caller, info):
                columns.append(Column(info.name, info.title, info.data_type, arrow_field.type))
        return TableView(
            code=ds.code,
            name=ds.name,
            version=number,
            current_version=ds.current_version,
            columns=columns,
            files=files,
            key_field=_key_field(ds, columns),
        )

    def _version(self, code: str, version: int) -> tuple[pa.Schema, list[str]]:
        with self._lock:
            found = self._versions.get((code, version))
            if found is not None:
                self._versions.move_to_end((code, version))
                return found
        table = self.lake.table(code, version)  # says which versions exist when it is not one
        found = (pa.schema(table.schema()), list(table.file_uris()))
        with self._lock:
            self._versions[(code, version)] = found
            while len(self._versions) > VERSIONS_KEPT:
                self._versions.popitem(last=False)
        return found

    def record_read(self, caller: Caller, view: TableView, rows: int, what: str) -> None:
        """One line per data read; the sharing issue makes this a hash-chained audit record
        whose failure fails the read."""
        audit_log.info(
            "read %s v%d by %s (%s) from %s: %d rows; %s",
            view.code,
            view.version,
            caller.name,
            caller.role.value,
            caller.address or "-",
            rows,
            what,
        )
