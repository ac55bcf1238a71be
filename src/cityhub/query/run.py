"""Running query specs on the embedded engine: pages of rows and aggregates, as plain values."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from cityhub.access import Column, TableView
from cityhub.config import Settings
from cityhub.errors import CityhubError, InvalidInput
from cityhub.query.build import (
    FILE,
    ROW,
    aggregate_sql,
    count_sql,
    decode_cursor,
    encode_cursor,
)
from cityhub.query.build import rows_sql as build_rows
from cityhub.query.lookup import Lookups
from cityhub.query.masking import register_pseudonyms
from cityhub.query.spec import AggregateQuery, RowsQuery


class Engine:
    """One embedded DuckDB database shared by all requests; each query runs on its own cursor
    (a cheap connection to the same database), so requests run side by side."""

    def __init__(self, settings: Settings, pseudonym_key: bytes | None = None) -> None:
        spill = settings.lake_path / "staging" / "duckdb"
        spill.parent.mkdir(parents=True, exist_ok=True)
        config: dict[str, Any] = {
            "memory_limit": settings.duckdb_memory_limit,
            # a sorted export bigger than the memory limit spills here, not into the cwd
            "temp_directory": str(spill),
            "preserve_insertion_order": True,  # unsorted exports rely on the files' row order
            "autoinstall_known_extensions": False,
            "autoload_known_extensions": False,
        }
        if settings.duckdb_threads:
            config["threads"] = settings.duckdb_threads
        self._db = duckdb.connect(config=config)
        # Keyed pseudonyms are computed in the engine, as every other mask; without a key a
        # pseudonymised column cannot be read at all (the function does not exist).
        if pseudonym_key is not None:
            register_pseudonyms(self._db, pseudonym_key)
        # Locked down before the first query: it reads the lake's files and nothing else (no
        # other file, no network, no extension), and no query may change that.
        lake = str(settings.lake_path / "tables") + "/"
        self._db.execute("SET allowed_directories = $dirs", {"dirs": [lake]})
        self._db.execute("SET enable_external_access = false")
        self._db.execute("SET lock_configuration = true")
        self._lock = threading.Lock()

    def _cursor(self, tables: dict[str, pa.Table] | None = None) -> duckdb.DuckDBPyConnection:
        """A cursor of its own for one query (requests run side by side); `tables` are Arrow
        tables that query may name, seen by it alone."""
        with self._lock:  # creating a cursor touches the shared connection
            cur = self._db.cursor()
        for name, table in (tables or {}).items():
            cur.register(name, table)
        return cur

    def table(self, sql: str, tables: dict[str, pa.Table] | None = None) -> pa.Table:
        """The rows of `sql`; `tables` are Arrow tables it may name (seen by this query only)."""
        cur = self._cursor(tables)
        try:
            return cur.sql(sql).to_arrow_table()
        except duckdb.ConversionException as exc:
            raise InvalidInput(f"a value does not fit its field: {exc}") from exc
        finally:
            cur.close()

    def records(
        self, sql: str, tables: dict[str, pa.Table] | None = None
    ) -> tuple[list[str], list[tuple[Any, ...]]]:
        """Column names and rows as Python values: for pages, where converting a few hundred
        rows directly costs a fraction of building Arrow first. Decimals come back as JSON
        carries them, as `plain` gives them."""
        cur = self._cursor(tables)
        try:
            result = cur.execute(sql)
            described = result.description or []  # (none left once the cursor is closed)
            rows = result.fetchall()
        except duckdb.ConversionException as exc:
            raise InvalidInput(f"a value does not fit its field: {exc}") from exc
        finally:
            cur.close()
        names = [d[0] for d in described]
        types = [str(d[1]) for d in described]  # DECIMAL(p,s): its scale says if it is whole
        scales = {
            i: int(t[:-1].rsplit(",", 1)[1])
            for i, t in enumerate(types)
            if t.startswith("DECIMAL(")
        }
        if scales and rows:
            rows = [_plain_decimals(row, scales) for row in rows]
        return names, rows

    def capped(self, sql: str, max_rows: int, timeout: float) -> tuple[pa.Table, bool]:
        """At most `max_rows` rows of `sql` and whether more were left; stopped after `timeout`
        seconds (the engine has no statement timeout of its own)."""
        cur = self._cursor()
        timer = threading.Timer(timeout, cur.interrupt)
        timer.start()
        try:
            reader = cur.sql(sql).to_arrow_reader(batch_size=min(max_rows + 1, 10_000))
            batches, count = [], 0
            for batch in reader:
                batches.append(batch)
                count += batch.num_rows
                if count > max_rows:
                    break
            table = pa.Table.from_batches(batches, schema=reader.schema)
            return table.slice(0, max_rows), count > max_rows
        except duckdb.InterruptException:
            raise QueryTimeout(
                f"the query ran longer than {timeout:g} s and was stopped; filter or aggregate "
                "more, or ask for fewer rows"
            ) from None
        except duckdb.Error as exc:
            raise InvalidInput(f"the engine refused the query: {exc}") from None
        finally:
            timer.cancel()
            cur.close()

    def batches(self, sql: str, rows_per_batch: int = 65_536) -> Batches:
        """The rows of `sql` as a stream of record batches, computed as they are read. The query
        is bound here, so a bad one fails before anything is sent."""
        cur = self._cursor()
        try:
            reader = cur.sql(sql).to_arrow_reader(rows_per_batch)
        except duckdb.ConversionException as exc:
            cur.close()
            raise InvalidInput(f"a value does not fit its field: {exc}") from exc
        except BaseException:
            cur.close()
            raise
        return Batches(cur, reader)

    def close(self) -> None:
        self._db.close()


class Batches:
    """A running query's record batches. Its cursor closes at the end of the rows, on `close()`
    or on leaving a `with` block, whichever comes first: a client that leaves mid-download must
    not keep a query running."""

    def __init__(self, cursor: duckdb.DuckDBPyConnection, reader: pa.RecordBatchReader) -> None:
        self._cursor: duckdb.DuckDBPyConnection | None = cursor
        self._reader = reader
        self.schema: pa.Schema = reader.schema

    def __iter__(self) -> Iterator[pa.RecordBatch]:
        try:
            while self._cursor is not None:
                try:
                    batch = self._reader.read_next_batch()
                except StopIteration:
                    return
                yield batch
        finally:
            self.close()

    @property
    def closed(self) -> bool:
        return self._cursor is None

    def close(self) -> None:
        if self._cursor is not None:
            cursor, self._cursor = self._cursor, None
            self._reader.close()
            cursor.close()

    def __enter__(self) -> Batches:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class QueryTimeout(CityhubError):
    status = 422
    title = "Query timed out"


def plain(table: pa.Table) -> pa.Table:
    """Columns JSON can carry as numbers: the engine's wide decimals (a SUM of integers is a
    128-bit integer) become int64 when whole and in range, float64 otherwise."""
    for i, field in enumerate(table.schema):
        if not pa.types.is_decimal(field.type):
            continue
        column = table.column(i)
        try:
            if field.type.scale != 0:
                raise pa.ArrowInvalid("fractional")
            cast = column.cast(pa.int64())
        except pa.ArrowInvalid:
            cast = column.cast(pa.float64())
        table = table.set_column(i, field.name, cast)
    return table


_INT64 = range(-(2**63), 2**63)


def _plain_decimals(row: tuple[Any, ...], scales: dict[int, int]) -> tuple[Any, ...]:
    """`plain` for one row: `scales` gives the row's decimal columns by position, with their
    scale; a value of scale 0 becomes an int when within int64's range, any other a float."""
    values = list(row)
    for i, scale in scales.items():
        v = values[i]
        if isinstance(v, Decimal):
            values[i] = int(v) if scale == 0 and int(v) in _INT64 else float(v)
    return tuple(values)


@dataclass
class Page:
    version: int
    fields: list[Column]
    rows: list[dict[str, Any]]
    next_cursor: str | None
    total: int | None


@dataclass
class Aggregate:
    version: int
    columns: list[str]
    rows: list[dict[str, Any]]


CANDIDATES = "__candidates"


def rows(engine: Engine, view: TableView, q: RowsQuery, lookups: Lookups | None = None) -> Page:
    """A page of rows. With `lookups`, a filter on the key field reads only the rows the key
    index finds instead of scanning the version."""
    cursor = _cursor(view, q)
    found = lookups.candidates(view, view.key_field, q.filters) if lookups else None
    if found is not None and _index_alone(view, q):
        return _exact(view, q, found, cursor)
    tables = {CANDIDATES: found} if found is not None else None
    over = CANDIDATES if found is not None else None
    select, keys = build_rows(view, q, cursor, over)
    names, values = engine.records(select.sql(dialect="duckdb"), tables)
    more = len(values) > q.limit
    records = [dict(zip(names, row, strict=True)) for row in values[: q.limit]]
    next_cursor = encode_cursor(view.version, keys, records[-1]) if more and records else None
    for r in records:
        del r[FILE], r[ROW]
    total = None
    if q.include_total:
        _, counted = engine.records(count_sql(view, q.filters, over).sql(dialect="duckdb"), tables)
        total = int(counted[0][0])
    shown = [n for n in names if n not in (FILE, ROW)]
    return Page(view.version, [view.column(n) for n in shown], records, next_cursor, total)


def exact_rows(view: TableView, q: RowsQuery, lookups: Lookups) -> Page | None:
    """The page of `rows` when a key index already open answers the question alone, without
    the engine or a file to open; None when there is more to do (then ask `rows`)."""
    if not _index_alone(view, q):
        return None
    found = lookups.candidates(view, view.key_field, q.filters, opening=False)
    return None if found is None else _exact(view, q, found, _cursor(view, q))


def _cursor(view: TableView, q: RowsQuery) -> dict[str, Any] | None:
    cursor = decode_cursor(q.cursor) if q.cursor else None
    if cursor is not None and cursor["v"] != view.version:
        raise InvalidInput(
            f"cursor: it pages version {cursor['v']}; ask for version={cursor['v']} or start again"
        )
    return cursor


def _index_alone(view: TableView, q: RowsQuery) -> bool:
    """Whether the rows a key index finds for the query's filter are the whole answer: it is
    the only filter, nothing is sorted, masked or left out by a grant's row filter."""
    return len(q.filters) == 1 and not q.sort and view.plain


def _exact(view: TableView, q: RowsQuery, found: pa.Table, cursor: dict[str, Any] | None) -> Page:
    """The page when the key index has answered the whole question (one filter, on the key; no
    sort): the rows it found are exactly the answer, in their place order, so the engine has
    nothing left to do and is skipped (it would cost more than the rest of the request)."""
    if cursor is not None and cursor["s"]:
        raise InvalidInput("cursor: it was made for another sort order; start again without it")
    columns = [view.column(s) for s in q.select] if q.select else view.columns
    rows = found  # in place order, as the index gives them
    if cursor is not None:
        file, row = cursor["p"]
        after = pc.or_(
            pc.greater(rows[FILE], file),
            pc.and_(pc.equal(rows[FILE], file), pc.greater(rows[ROW], int(row))),
        )
        rows = rows.filter(after)
    page = rows.slice(0, q.limit)
    names = [c.name for c in columns]
    shown = page.select(names)
    # The view's types are the index's (a plain view reads every column in clear, as stored).
    if any(pa.types.is_decimal(c.arrow_type) for c in columns):
        shown = plain(shown)
    # Column by column: a table's to_pylist costs more, even for the rows of one key.
    values = [column.to_pylist() for column in shown.columns]
    records = [dict(zip(names, row, strict=True)) for row in zip(*values, strict=True)]
    next_cursor = None
    if rows.num_rows > q.limit and page.num_rows:
        last = page.slice(page.num_rows - 1).select([FILE, ROW]).to_pylist()[0]
        next_cursor = encode_cursor(view.version, [], last)
    total = found.num_rows if q.include_total else None
    return Page(view.version, list(columns), records, next_cursor, total)


def aggregate(engine: Engine, view: TableView, q: AggregateQuery) -> Aggregate:
    table = plain(engine.table(aggregate_sql(view, q).sql(dialect="duckdb")))
    return Aggregate(view.version, table.schema.names, table.to_pylist())
