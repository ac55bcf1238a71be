"""Running query specs on the embedded engine: pages of rows and aggregates, as plain values."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

import duckdb
import pyarrow as pa

from cityhub.access import Column, TableView
from cityhub.config import Settings
from cityhub.errors import CityhubError, InvalidInput
from cityhub.query.build import FILE, ROW, aggregate_sql, count_sql, decode_cursor, encode_cursor
from cityhub.query.build import rows_sql as build_rows
from cityhub.query.spec import AggregateQuery, RowsQuery


class Engine:
    """One embedded DuckDB database shared by all requests; each query runs on its own cursor
    (a cheap connection to the same database), so requests run side by side."""

    def __init__(self, settings: Settings) -> None:
        config: dict[str, Any] = {
            "memory_limit": settings.duckdb_memory_limit,
            "autoinstall_known_extensions": False,
            "autoload_known_extensions": False,
        }
        if settings.duckdb_threads:
            config["threads"] = settings.duckdb_threads
        self._db = duckdb.connect(config=config)
        # Locked down before the first query: it reads the lake's files and nothing else (no
        # other file, no network, no extension), and no query may change that.
        lake = str(settings.lake_path / "tables") + "/"
        self._db.execute("SET allowed_directories = $dirs", {"dirs": [lake]})
        self._db.execute("SET enable_external_access = false")
        self._db.execute("SET lock_configuration = true")
        self._lock = threading.Lock()

    def table(self, sql: str) -> pa.Table:
        with self._lock:  # creating a cursor touches the shared connection
            cur = self._db.cursor()
        try:
            return cur.sql(sql).to_arrow_table()
        except duckdb.ConversionException as exc:
            raise InvalidInput(f"a value does not fit its field: {exc}") from exc
        finally:
            cur.close()

    def capped(self, sql: str, max_rows: int, timeout: float) -> tuple[pa.Table, bool]:
        """At most `max_rows` rows of `sql` and whether more were left; stopped after `timeout`
        seconds (the engine has no statement timeout of its own)."""
        with self._lock:
            cur = self._db.cursor()
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

    def close(self) -> None:
        self._db.close()


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


def rows(engine: Engine, view: TableView, q: RowsQuery) -> Page:
    cursor = decode_cursor(q.cursor) if q.cursor else None
    if cursor is not None and cursor["v"] != view.version:
        raise InvalidInput(
            f"cursor: it pages version {cursor['v']}; ask for version={cursor['v']} or start again"
        )
    select, keys = build_rows(view, q, cursor)
    table = engine.table(select.sql(dialect="duckdb"))
    more = table.num_rows > q.limit
    page = plain(table.slice(0, q.limit))
    records = page.to_pylist()
    next_cursor = encode_cursor(view.version, keys, records[-1]) if more and records else None
    for r in records:
        del r[FILE], r[ROW]
    total = None
    if q.include_total:
        total = int(
            engine.table(count_sql(view, q.filters).sql(dialect="duckdb")).column(0)[0].as_py()
        )
    names = [c for c in page.schema.names if c not in (FILE, ROW)]
    return Page(view.version, [view.column(n) for n in names], records, next_cursor, total)


def aggregate(engine: Engine, view: TableView, q: AggregateQuery) -> Aggregate:
    table = plain(engine.table(aggregate_sql(view, q).sql(dialect="duckdb")))
    return Aggregate(view.version, table.schema.names, table.to_pylist())
