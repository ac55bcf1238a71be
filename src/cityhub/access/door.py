"""The one door to the data (DESIGN.md): every read of the catalog or of rows asks here first.

It answers which datasets a caller may know of, turns (caller, dataset, version) into a `TableView`
holding only the columns the caller may read, each with the masking rule the engine applies, and
the grant's row filter; and it writes each read to the audit log before the read is answered. A
dataset the caller may not know of is reported exactly like one that does not exist.

Grants are looked up on every read (one indexed query), so a revoked or expired grant stops the
next read at once; an older version is read under today's rules.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field

import pyarrow as pa
import sqlalchemy as sa
from sqlalchemy.orm import Session, selectinload

from cityhub.access import policy
from cityhub.access.audit import AuditEntry, AuditLog
from cityhub.access.identity import Caller, Scope
from cityhub.access.masking import MaskRule, parse_rule, rule_for
from cityhub.access.models import Grant
from cityhub.access.policy import Access, GrantTerms, Treatment
from cityhub.catalog.db import driver_rows
from cityhub.catalog.models import Dataset, Department, FieldInfo, utcnow
from cityhub.catalog.vocab import DataType, ShareType
from cityhub.errors import Forbidden, NotFound
from cityhub.lake import Lake

VERSIONS_KEPT = 512  # schemas and file lists of this many (dataset, version) pairs
VIEWS_KEPT = 2048  # column lists of this many (dataset, version, record, treatments)
_PSEUDONYM = parse_rule("pseudonym")
_REDACT = parse_rule("redact")
# Run on every read, on the driver's cursor (the SQLAlchemy way cost more than the query).
_STAMP = sa.select(Dataset.updated_at).where(Dataset.code == sa.bindparam("code"))


@dataclass(frozen=True)
class Column:
    name: str  # machine name in the lake
    title: str
    data_type: str  # DataType value, as the caller sees it (masked values are text)
    arrow_type: pa.DataType
    mask: MaskRule | None = None  # None: read in clear

    @property
    def masked(self) -> bool:
        return self.mask is not None


@dataclass(frozen=True)
class TableView:
    """What a caller may read of one version of a dataset: these columns of these files, masked
    as each column says, of the rows `row_filter` keeps (its filters name raw columns)."""

    code: str
    name: str
    version: int
    current_version: int
    columns: list[Column]
    files: list[str]
    key_field: str | None = None  # machine name of the lookup key, when read in clear
    raw: tuple[Column, ...] = ()  # the version's columns unmasked: what row filters refer to
    row_filter: tuple[Mapping[str, object], ...] = ()
    grant_id: int | None = None
    basis: str = ""
    pseudonym_context: str = ""  # whose pseudonyms: one grantee can join its own, no other

    @property
    def plain(self) -> bool:
        """Nothing to rewrite: every column in clear and every row readable."""
        return not self.row_filter and not any(c.masked for c in self.columns)

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


# A view's columns as read, the version's raw columns, and its lookup key when read in clear.
_Columns = tuple[tuple[Column, ...], tuple[Column, ...], str | None]


def _key_field(ds: Dataset, columns: list[Column]) -> str | None:
    """The first declared key field (by title or machine name) among the columns read in clear:
    the key index holds raw values, so a masked key must not be looked up by them."""
    if not ds.key_fields:
        return None
    first = ds.key_fields[0]
    return next((c.name for c in columns if first in (c.name, c.title) and not c.masked), None)


@dataclass(frozen=True)
class Masking:
    """The deployment's masking configuration (settings `masking_rules`, `masking_overrides`)."""

    rules: str = "A"
    overrides: Mapping[str, str] = field(default_factory=dict)

    def rule(self, info: FieldInfo, treatment: Treatment) -> MaskRule | None:
        """The rule the engine applies to a field read with `treatment` (None: clear). A field
        the policy masks is never shown in clear because a rule says "clear": that takes a
        lower grade, which is the steward's decision to record."""
        if treatment is Treatment.CLEAR:
            return None
        if treatment is Treatment.PSEUDONYM:
            return _PSEUDONYM
        rule = rule_for(info, self.rules, self.overrides)
        return _REDACT if rule.kind == "clear" else rule


class Door:
    """The door, with what it may remember between requests: a version's schema and files
    never change, and a dataset's catalog record is kept until its `updated_at` moves (any
    change to it or to its fields moves it, see catalog.models). The access decision is made
    on every read; the columns it leads to are remembered by that decision and that stamp."""

    def __init__(
        self, lake: Lake, audit: AuditLog | None = None, masking: Masking | None = None
    ) -> None:
        self.lake = lake
        self.audit = audit
        self.masking = masking or Masking()
        self._records: dict[str, tuple[object, Dataset]] = {}
        # For the callers who read in full: the record it was decided for, and the decision.
        self._in_full: dict[tuple[str, bool], tuple[Dataset, Access | None]] = {}
        self._versions: OrderedDict[tuple[str, int], tuple[pa.Schema, list[str]]] = OrderedDict()
        self._views: OrderedDict[tuple[object, ...], _Columns] = OrderedDict()
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
        found = driver_rows(s, _STAMP, code=code)
        if not found:
            return None
        stamp = found[0][0]  # as the driver gives it: compared only with what it gave before
        with self._lock:
            cached = self._records.get(code)
        if cached is not None and cached[0] == stamp:
            return cached[1]
        # Loaded in a session of its own and closed at once, so no rollback of the caller's
        # session can expire the snapshot other requests share; on the caller's connection, as
        # a second one from the pool could wait for connections held by requests waiting here.
        with Session(s.connection(), expire_on_commit=False) as own:
            ds = own.scalar(
                sa.select(Dataset)
                .where(Dataset.code == code)
                .options(selectinload(Dataset.fields), selectinload(Dataset.department))
            )
        if ds is not None:  # kept under the stamp read before it: a change between the two
            with self._lock:  # only makes the next read load the record again
                self._records[code] = (stamp, ds)
        return ds

    def grant(self, s: Session, caller: Caller, ds: Dataset) -> GrantTerms | None:
        """The caller's live grant on `ds` (their own first, then their department's; the
        newest of each), or None."""
        if policy.reads_in_full(caller, ds):
            return None  # nothing a grant could add: not worth a query
        if caller.user_id is None and caller.department_id is None:
            return None
        whose = []
        if caller.user_id is not None:
            whose.append(Grant.user_id == caller.user_id)
        if caller.department_id is not None:
            whose.append(Grant.department_id == caller.department_id)
        found = s.scalars(
            sa.select(Grant)
            .where(
                Grant.dataset_id == ds.id,
                Grant.revoked_at.is_(None),
                Grant.expires_at > utcnow(),
                sa.or_(*whose),
            )
            .order_by(Grant.user_id.is_(None), Grant.id.desc())
            .limit(1)
        ).first()
        if found is None:
            return None
        return GrantTerms(found.id, dict(found.fields), tuple(found.row_filter))

    def access(self, s: Session, caller: Caller, ds: Dataset) -> Access | None:
        return policy.access(caller, ds, self.grant(s, caller, ds))

    def fields(self, s: Session, caller: Caller, ds: Dataset) -> list[FieldInfo]:
        """The fields the catalog shows `caller` for `ds`."""
        return policy.visible_fields(caller, ds, self.access(s, caller, ds))

    def table(self, s: Session, caller: Caller, code: str, version: int | None = None) -> TableView:
        """The readable view of `code` at `version` (default: current). Columns are those of that
        version's schema that today's rules let `caller` read, masked as those rules say."""
        if not caller.can(Scope.READ):
            raise Forbidden("this token may not read data (it lacks the read scope)")
        ds = self.dataset(s, caller, code)
        allowed = self._remembered_access(s, caller, ds)
        if allowed is None:
            raise Forbidden(_refusal(caller, ds), dataset=code)
        if ds.current_version is None:
            raise NotFound(f"dataset {code!r} is cataloged but has no data yet", dataset=code)
        number = ds.current_version if version is None else version
        schema, files = self._version(code, number)
        columns, raw, key_field = self._columns(ds, number, schema, allowed)
        return TableView(
            code=ds.code,
            name=ds.name,
            version=number,
            current_version=ds.current_version,
            columns=list(columns),
            files=files,
            key_field=key_field,
            raw=raw,
            row_filter=allowed.row_filter,
            grant_id=allowed.grant_id,
            basis=allowed.basis,
            pseudonym_context=_context(caller),
        )

    def _remembered_access(self, s: Session, caller: Caller, ds: Dataset) -> Access | None:
        """`access` to a record of this door's memory. For the callers who read it in full (no
        grant to look up, and the same answer for every one of them) the decision is kept with
        the record it was made for, and made again for the next record (`_record` loads one
        whenever the dataset's stamp moves)."""
        if not policy.reads_in_full(caller, ds):
            return self.access(s, caller, ds)
        key = (ds.code, caller.is_operator)  # their basis: center staff or own department
        with self._lock:
            found = self._in_full.get(key)
        if found is not None and found[0] is ds:
            return found[1]
        allowed = self.access(s, caller, ds)
        with self._lock:
            self._in_full[key] = (ds, allowed)
        return allowed

    def _columns(self, ds: Dataset, number: int, schema: pa.Schema, allowed: Access) -> _Columns:
        """The columns of version `number` read with `allowed`'s treatments, and its raw ones.
        Remembered by everything they follow from: the version, the catalog record's stamp
        (grades, masking rules) and the treatments the access decision gave."""
        key = (ds.code, number, ds.updated_at, allowed.treatments)
        fields = allowed.fields
        with self._lock:
            found = self._views.get(key)
            if found is not None:
                self._views.move_to_end(key)
                return found
        by_name = {f.name: f for f in ds.fields}
        columns, raw = [], []
        for arrow_field in schema:
            info = by_name.get(arrow_field.name)
            if info is None:
                continue
            raw.append(Column(info.name, info.title, info.data_type, arrow_field.type))
            treatment = fields.get(info.name)
            if treatment is None:
                continue
            mask = self.masking.rule(info, treatment)
            if mask is None:
                columns.append(raw[-1])
            else:
                columns.append(
                    Column(info.name, info.title, DataType.STRING.value, pa.string(), mask)
                )
        found = (tuple(columns), tuple(raw), _key_field(ds, columns))
        with self._lock:
            self._views[key] = found
            while len(self._views) > VIEWS_KEPT:
                self._views.popitem(last=False)
        return found

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

    def record_read(
        self,
        caller: Caller,
        view: TableView,
        rows: int,
        what: str,
        fields: list[str] | None = None,
    ) -> None:
        """Write the read to the audit log; when that fails the read fails (ServiceUnavailable)
        before any row is sent. `what` describes the query: its fingerprint is recorded, not
        the text, which may hold the values looked for."""
        if self.audit is not None:
            self.audit.append(self.read_entry(caller, view, rows, what, fields))

    async def record_on_loop(self, entry: AuditEntry) -> None:
        """`record_read` of a `read_entry`, for a read answered on the event loop itself (see
        `AuditLog.append_on_loop`)."""
        if self.audit is not None:
            await self.audit.append_on_loop(entry)

    def read_entry(
        self,
        caller: Caller,
        view: TableView,
        rows: int,
        what: str,
        fields: list[str] | None = None,
    ) -> AuditEntry:
        """The audit entry `record_read` writes."""
        return AuditEntry.by(
            caller,
            "read",
            dataset=view.code,
            version=view.version,
            fields=fields if fields is not None else [c.name for c in view.columns],
            rows=rows,
            fingerprint=hashlib.sha256(what.encode()).hexdigest()[:32],
            grant_id=view.grant_id,
            kind=what.split(" ", 1)[0],
            basis=view.basis,
        )


def _context(caller: Caller) -> str:
    if caller.department is not None:
        return f"department:{caller.department}"
    if caller.user_id is not None:
        return f"user:{caller.user_id}"
    return "public"


def _refusal(caller: Caller, ds: Dataset) -> str:
    if not caller.is_public and ds.share_type == ShareType.NOT_SHARED.value:
        basis = f" (legal basis: {ds.legal_basis})" if ds.legal_basis else ""
        return f"dataset {ds.code!r} is not shared (不予共享){basis}; its rows are never read"
    how = "accept its terms and apply" if caller.is_public else "apply with a purpose"
    if caller.anonymous:
        how = "register, then accept its terms and apply"
    return (
        f"dataset {ds.code!r} needs a grant to be read: {how} "
        "(POST /api/v1/requests, or `cityhub request new`)"
    )
