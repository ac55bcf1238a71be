"""Read-only SQL from callers: parsed, checked, and rewritten so it reads only the caller's views.

A statement is accepted only when it is exactly one query (SELECT, set operations, CTEs) whose
tables are dataset codes (or its own CTEs) and whose functions are on the allowlist below;
everything else is refused with a message naming what was refused and where. Each dataset it
names becomes a CTE over the caller's `TableView` (only the columns the caller may read), so the
raw tables cannot be named at all. The engine itself runs with file and network access off
(`Engine`), which is the second lock on the same door.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError

from cityhub.access import TableView
from cityhub.errors import InvalidInput
from cityhub.query.build import ident, view_select
from cityhub.query.run import Engine, plain

DIALECT = "duckdb"

# sqlglot's classes for the functions a caller may use: aggregates, windows, text, numbers,
# dates, conditionals. Anything else (table functions, file readers, settings, system
# catalogs, extensions) is refused: deny by default.
ALLOWED_FUNCTIONS = frozenset(
    """
    Count CountIf Sum Avg Min Max Median PercentileCont PercentileDisc Quantile ApproxQuantile
    Stddev StddevPop StddevSamp Variance VariancePop Corr CovarPop CovarSamp GroupConcat
    ApproxDistinct First Last ArgMin ArgMax LogicalAnd LogicalOr ArrayAgg Mode AnyValue
    RowNumber Rank DenseRank Lag Lead Ntile PercentRank CumeDist FirstValue LastValue NthValue
    Abs Round Floor Ceil Pow Sqrt Ln Log Exp Sign Trunc Mod Greatest Least
    Coalesce Nullif If Case Cast TryCast
    Lower Upper Length BitLength Substring Trim Replace Concat ConcatWs Left Right StrPosition
    Contains StartsWith EndsWith RegexpLike RegexpReplace RegexpExtract RegexpFullMatch
    SplitPart Pad Reverse Repeat Format Initcap
    TimestampTrunc DateTrunc Extract Year Month Day Hour Minute Second Quarter Week DayOfWeek
    DayOfWeekIso DayOfYear LastDay Monthname Dayname TimeToStr StrToTime StrToDate DateDiff
    DateAdd DateSub DateFromParts TimeToUnix UnixToTime DateBin CurrentDate CurrentTimestamp
    MD5 SHA SHA2 Array Struct JSONExtract JSONExtractScalar
    """.split()  # noqa: SIM905 (a word list reads better than 120 quoted names)
)
# Functions sqlglot does not model, by their DuckDB names.
ALLOWED_NAMES = frozenset(
    {"date_part", "datepart", "strlen", "age", "printf", "list_value", "nullif", "ifnull"}
)

# Statement kinds that never belong in a read: writes, schema changes, settings, files,
# extensions, transactions. sqlglot turns what it cannot parse into Command, refused too.
_REFUSED_NODES: tuple[type[exp.Expr], ...] = tuple(
    getattr(exp, name)
    for name in (
        "DML",
        "DDL",
        "Insert",
        "Update",
        "Delete",
        "Merge",
        "Create",
        "Drop",
        "Alter",
        "Copy",
        "Attach",
        "Detach",
        "Pragma",
        "Set",
        "Use",
        "Command",
        "Transaction",
        "Commit",
        "Rollback",
        "Into",
        "Install",
        "Load",
        "Summarize",
        "Describe",
        "Placeholder",
        "Parameter",
    )
    if hasattr(exp, name)
)


class SqlRefused(InvalidInput):
    title = "SQL refused"


@dataclass
class Checked:
    """A query that passed the checks, and the caller's views of the datasets it reads."""

    query: exp.Query
    views: dict[str, TableView] = field(default_factory=dict)


@dataclass
class Answer:
    columns: list[dict[str, str]]  # name, type
    rows: list[dict[str, Any]]
    truncated: bool
    views: list[TableView]


def run(
    engine: Engine,
    sql: str,
    resolve: Callable[[str], TableView | None],
    *,
    max_rows: int,
    timeout: float,
    max_length: int = 20_000,
) -> Answer:
    """Check `sql`, point its tables at the caller's views (`resolve(name)`: the view of the
    dataset a table name stands for, None if there is none the caller may see), and run it
    with a row cap and a time limit."""
    if len(sql) > max_length:
        raise SqlRefused(f"the SQL is {len(sql):,} characters long; at most {max_length:,}")
    checked = check(sql, resolve)
    text = rewrite(checked).sql(dialect=DIALECT)
    table, truncated = engine.capped(text, max_rows, timeout)
    table = plain(_unique_names(table))
    columns = [{"name": f.name, "type": str(f.type)} for f in table.schema]
    return Answer(columns, table.to_pylist(), truncated, list(checked.views.values()))


def _unique_names(table: pa.Table) -> pa.Table:
    """`SELECT a, a` names two columns alike; rows as objects need them apart (a, a_2)."""
    seen: dict[str, int] = {}
    names = []
    for name in table.schema.names:
        seen[name] = seen.get(name, 0) + 1
        names.append(name if seen[name] == 1 else f"{name}_{seen[name]}")
    return table.rename_columns(names)


def check(sql: str, resolve: Callable[[str], TableView | None]) -> Checked:
    """Parse `sql` and refuse anything but one read-only query over datasets the caller may
    read; the tables it names are replaced by the codes of those datasets."""
    try:
        statements = [s for s in sqlglot.parse(sql, read=DIALECT) if s is not None]
    except ParseError as exc:
        first = exc.errors[0] if exc.errors else {}
        where = f" (line {first.get('line')}, column {first.get('col')})" if first else ""
        problem = first.get("description", exc)
        raise SqlRefused(f"the SQL does not parse{where}: {problem}") from None
    if len(statements) != 1:
        raise SqlRefused(
            f"send exactly one SELECT statement; found {len(statements)} statements"
            + (" (a ';' or a comment may hide another)" if len(statements) > 1 else "")
        )
    query = statements[0]
    if not isinstance(query, exp.Query) or isinstance(query, exp.Values):
        raise SqlRefused(f"only SELECT queries are allowed; this is {_kind(query)}")
    for node in query.walk():
        if isinstance(node, _REFUSED_NODES):
            raise SqlRefused(f"only reads are allowed; {_kind(node)} is not")
        if isinstance(node, exp.Func):
            _check_function(node)
    own = {cte.alias_or_name.lower() for cte in query.find_all(exp.CTE)}
    views: dict[str, TableView] = {}
    for table in query.find_all(exp.Table):
        if not isinstance(table.this, exp.Identifier):
            raise SqlRefused(
                f"{table.this.sql(DIALECT)[:60]}: table functions and file reads are not allowed; "
                "name datasets by their codes"
            )
        if table.args.get("db") or table.args.get("catalog"):
            raise SqlRefused(f"{table.sql(DIALECT)}: name datasets by their codes alone")
        if table.name.lower() in own:
            continue
        view = next((v for c, v in views.items() if c.lower() == table.name.lower()), None)
        view = view or resolve(table.name)
        if view is None:
            raise SqlRefused(
                f'unknown table "{table.name}": tables are dataset codes you may read, '
                'quoted when they hold a hyphen, e.g. "330400-GA-0001"',
                table=table.name,
            )
        table.set("this", ident(view.code))
        views[view.code] = view
    if not views:
        raise SqlRefused("the query reads no dataset; name one by its code in FROM")
    return Checked(query, views)


def _kind(node: exp.Expr) -> str:
    return f"{type(node).__name__.upper()} ({node.sql(DIALECT)[:60]!r})"


def _check_function(node: exp.Func) -> None:
    if isinstance(node, exp.Anonymous):
        name = node.name.lower()
        if name in ALLOWED_NAMES:
            return
    else:
        name = node.sql_name().lower()
        if type(node).__name__ in ALLOWED_FUNCTIONS:
            return
    raise SqlRefused(f"function {name}() is not allowed in SQL here", function=name)


def rewrite(checked: Checked) -> exp.Query:
    """The query with each dataset it reads defined first as a CTE over the caller's view, so
    its name means what the caller may see and nothing else."""
    query = checked.query.copy()
    existing = query.args.get("with_")
    ours = [
        exp.CTE(this=view_select(view), alias=exp.TableAlias(this=ident(code)))
        for code, view in checked.views.items()
    ]
    theirs = list(existing.expressions) if existing else []
    recursive = bool(existing and existing.args.get("recursive"))
    query.set("with_", exp.With(expressions=ours + theirs, recursive=recursive))
    return query
