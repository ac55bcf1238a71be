"""The one door to the data (DESIGN.md): every read of the catalog or of rows asks here first.

It answers which datasets a caller may know of, turns (caller, dataset, version) into a `TableView`
holding only the columns the caller may read, and records each read. A dataset the caller may not
see is reported exactly like one that does not exist.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import pyarrow as pa
import sqlalchemy as sa
from sqlalchemy.orm import Session, selectinload

from cityhub.access import policy
from cityhub.access.policy import Caller
from cityhub.catalog import service
from cityhub.catalog.models import Dataset, Department, FieldInfo
from cityhub.errors import NotFound
from cityhub.lake import Lake

audit_log = logging.getLogger("cityhub.audit")


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


class Door:
    def __init__(self, lake: Lake) -> None:
        self.lake = lake

    def datasets(self, caller: Caller) -> sa.Select[Dataset]:
        """The datasets `caller` may know of, as a query to refine (order, filters, paging)."""
        query = sa.select(Dataset).join(Department).options(selectinload(Dataset.department))
        where = policy.dataset_filter(caller)
        return query if where is None else query.where(where)

    def dataset(self, s: Session, caller: Caller, code: str) -> Dataset:
        try:
            ds = service.get_dataset(s, code)
        except NotFound:
            ds = None
        if ds is None or not policy.may_see(caller, ds):
            raise NotFound(f"no dataset {code!r}", dataset=code)
        return ds

    def fields(self, caller: Caller, ds: Dataset) -> list[FieldInfo]:
        return policy.visible_fields(caller, ds)

    def table(self, s: Session, caller: Caller, code: str, version: int | None = None) -> TableView:
        """The readable view of `code` at `version` (default: current). Columns are those of that
        version's schema that today's rules let `caller` read."""
        ds = self.dataset(s, caller, code)
        if ds.current_version is None:
            raise NotFound(f"dataset {code!r} is cataloged but has no data yet", dataset=code)
        table = self.lake.table(code, version)
        schema = pa.schema(table.schema())
        by_name = {f.name: f for f in ds.fields}
        columns = []
        for arrow_field in schema:
            info = by_name.get(arrow_field.name)
            if info is not None and policy.field_allowed(caller, info):
                columns.append(Column(info.name, info.title, info.data_type, arrow_field.type))
        return TableView(
            code=ds.code,
            name=ds.name,
            version=table.version(),
            current_version=ds.current_version,
            columns=columns,
            files=list(table.file_uris()),
        )

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
