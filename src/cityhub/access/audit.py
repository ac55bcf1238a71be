"""The tamper-evident audit log (审计日志): every read, login and grant change, hash-chained.

Records are numbered 1, 2, 3… by `seq`. Each stores the hash of the record before it
(`prev_hash`, 64 zeros for the first) and its own hash::

    hash = H(canonical(record) + prev_hash)

where `canonical` is a JSON document, keys sorted, no spaces, of every column except `id` and
`hash` (so it covers `seq`, the time, who did what to which data, the algorithm and `prev_hash`),
and H is SM3 (国密, the default) or SHA-256, as the record's own `algorithm` column says. The
setting can change over the years without breaking the chain.

`AuditLog.verify` walks the chain in order and names the first record that breaks it:

- an edited record (any column) no longer matches its hash;
- a deleted record leaves a gap in `seq`; the first one is missing when `seq` does not start at 1;
- an inserted or moved record, even one rehashed for its own content, does not match the
  `prev_hash` the next record holds (and moving changes `seq`, which is hashed too).

What a chain alone cannot show: deleting the *last* records, or rewriting every record from the
edited one to the end. Both leave a shorter or different but consistent chain. Keep the head
(`Verdict.head_seq` and `head_hash`) somewhere the database's administrators cannot write, e.g.
printed into the operations log each day; a later head that does not extend it proves tampering.

Appends are short transactions of their own, apart from the caller's work, so that a read is
refused when its audit cannot be written (`ServiceUnavailable`). Concurrent appenders, threads or
server processes, never fork the chain: they take turns (a PostgreSQL advisory lock, SQLite's
write lock), and as `seq` is unique, one that still loses a race re-reads the tail and retries.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import logging
import math
import os
import random
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from functools import partial
from typing import Any, Literal

import sqlalchemy as sa
from cryptography.hazmat.primitives import hashes
from sqlalchemy.engine.interfaces import DBAPICursor
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from cityhub.access.identity import Caller
from cityhub.access.models import AuditRecord
from cityhub.catalog.db import Database, sqlite_file
from cityhub.errors import ServiceUnavailable

log = logging.getLogger("cityhub.audit")

Algorithm = Literal["sm3", "sha256"]
ALGORITHMS: dict[str, type[hashes.HashAlgorithm]] = {"sm3": hashes.SM3, "sha256": hashes.SHA256}
GENESIS = "0" * 64  # the prev_hash of record 1
PAGE = 10_000  # records per query when verifying or exporting
TABLE: sa.Table = AuditRecord.__table__  # type: ignore[assignment]
# Every column but id: hash included, so an export can be verified offline.
COLUMNS = [c.name for c in TABLE.columns if c.name != "id"]
HASHED = [c for c in COLUMNS if c != "hash"]
# Keyed by the table's oid: one queue per audit_log, readers not blocked.
_PG_TURN = f"SELECT pg_advisory_xact_lock('{TABLE.name}'::regclass::oid::bigint)"
_TAIL = f"SELECT seq, hash FROM {TABLE.name} ORDER BY seq DESC LIMIT 1"
_LIMITS = {
    c.name: c.type.length
    for c in TABLE.columns
    if isinstance(c.type, sa.String) and c.type.length and c.name in HASHED
}


_WHAT = ("dataset", "version", "fields", "rows", "fingerprint", "grant_id")


@dataclass(frozen=True)
class AuditEntry:
    """What happened: `action` ("read", "login", "token.create", "grant.revoke"…) by `actor`,
    and what it touched. The time, number and hashes are added by `AuditLog.append`."""

    action: str
    actor: str
    role: str | None = None
    department: str | None = None
    dataset: str | None = None
    version: int | None = None
    fields: list[str] = field(default_factory=list)
    rows: int | None = None
    fingerprint: str | None = None  # of the query's shape, never of its values
    grant_id: int | None = None
    address: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def by(cls, who: Caller, action: str, **what: Any) -> AuditEntry:
        """An entry for what `who` did: their name, role, department and address filled in;
        `what` names the other columns (dataset, version, fields, rows, grant_id…), and any
        other keyword goes to `detail`."""
        columns = {k: what.pop(k) for k in _WHAT if k in what}
        return cls(
            action=action,
            actor=who.name,
            role=who.role.value,
            department=who.department,
            address=who.address,
            detail=what,
            **columns,
        )

    def __post_init__(self) -> None:
        # Caught here: as a NOT NULL violation it would look like a lost race and be retried.
        for name in ("action", "actor"):
            if not isinstance(getattr(self, name), str) or not getattr(self, name):
                raise ValueError(f"an audit entry needs an {name}")


@dataclass(frozen=True)
class Verdict:
    """The outcome of `AuditLog.verify`. `checked` counts the records read, the bad one
    included; `head_seq`/`head_hash` are the last good record's, to keep elsewhere."""

    ok: bool
    checked: int
    first_bad: int | None = None  # seq of the first record that breaks the chain
    problem: str | None = None
    head_seq: int | None = None
    head_hash: str | None = None
    algorithms: list[str] = field(default_factory=list)  # those the records use


# -- hashing --------------------------------------------------------------------------------------
def digest(data: bytes, algorithm: str) -> str:
    """The SM3 or SHA-256 of `data`, as 64 hex characters."""
    try:
        h = hashes.Hash(ALGORITHMS[algorithm]())
    except KeyError:
        raise ValueError(f"unknown audit hash {algorithm!r}; use sm3 or sha256") from None
    h.update(data)
    return h.finalize().hex()


def utc(value: datetime | str) -> datetime:
    """The same instant in UTC. SQLite gives back naive datetimes, written as UTC; PostgreSQL
    gives them in the session's time zone; exports give ISO strings."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def _getter(record: AuditRecord | Mapping[str, Any]) -> Callable[[str], Any]:
    """How to read a column of `record`: a mapping's by key, an ORM record's by attribute."""
    return record.__getitem__ if isinstance(record, Mapping) else partial(getattr, record)


# The canonical form's encoder, made once (it is asked for every record written).
_CANONICAL = json.JSONEncoder(sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def canonical(record: AuditRecord | Mapping[str, Any]) -> str:
    """The hashed content of a record: its columns but id and hash as compact JSON, keys
    sorted, the time as ISO-8601 UTC with microseconds."""
    get = _getter(record)
    content = {name: get(name) for name in HASHED}
    content["at"] = utc(content["at"]).isoformat(timespec="microseconds")
    content["fields"] = list(content["fields"] or [])
    content["detail"] = dict(content["detail"] or {})
    return _CANONICAL.encode(content)


def record_hash(record: AuditRecord | Mapping[str, Any], algorithm: str | None = None) -> str:
    """The hash a record must carry: H(canonical content + prev_hash), H being `algorithm`,
    by default the record's own `algorithm` column. Takes a record, a row mapping or a line
    of a JSONL export."""
    get = _getter(record)
    algorithm = algorithm or get("algorithm")
    return digest((canonical(record) + get("prev_hash")).encode(), str(algorithm))


def as_dict(record: AuditRecord | Mapping[str, Any]) -> dict[str, Any]:
    """A record's columns (but id) as plain JSON values, the time as ISO-8601 UTC; what
    `record_hash` takes back to check it offline."""
    get = _getter(record)
    d = {name: get(name) for name in COLUMNS}
    d["at"] = utc(d["at"]).isoformat(timespec="microseconds")
    return d


def _plain(value: Any) -> Any:
    """`value` as plain JSON, identical once stored and read back on SQLite and PostgreSQL
    (PostgreSQL's JSON refuses NaN; datetimes and other objects have no JSON form)."""
    if isinstance(value, bool | int | str) or value is None:  # the most, and the cheapest
        return value
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_plain(v) for v in value]
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value)


def _clip(name: str, value: str | None) -> str | None:
    # PostgreSQL refuses an over-long value, which would refuse the read; SQLite would keep it
    # whole. Clipping before hashing keeps the stored and the hashed content the same.
    limit = _LIMITS.get(name)
    if value is None or limit is None:
        return value
    return value.replace("\x00", "")[:limit]  # PostgreSQL text cannot hold NUL either


def _reason(exc: BaseException) -> str:
    orig = getattr(exc, "orig", None) or exc  # the driver's message, without the SQL
    first_line = (str(orig).strip().splitlines() or [""])[0]
    return f"{type(orig).__name__}: {first_line}"


# -- the log --------------------------------------------------------------------------------------
class _FileTurn:
    """Processes appending to one SQLite log take turns on a lock file before they ask for the
    database's write lock. SQLite's own wait for that lock is a sleep of 1, 2, 5, 10… ms between
    tries, so with two server processes appending a few hundred times a second, each often slept
    past the moment the other was done; a waiter on `flock` is woken as the lock is released.
    The write lock is still taken (BEGIN IMMEDIATE), so the turn only saves time: where the
    lock file cannot be opened, appends go on without it."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._fd: int | None = None
        self._pid = 0

    def __enter__(self) -> None:
        if self._pid != os.getpid():  # a descriptor of each process's own, never inherited
            self._pid = os.getpid()
            try:
                self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
            except OSError as exc:
                self._fd = None
                log.warning("audit appends go without their lock file %s: %s", self.path, exc)
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_EX)

    def __exit__(self, *_exc: object) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)


def _turn_for(db: Database) -> contextlib.AbstractContextManager[None]:
    """The file turn of a SQLite database on disk; nothing for the others (PostgreSQL queues
    appenders on its advisory lock, an in-memory database has one process)."""
    path = sqlite_file(db.url)
    return contextlib.nullcontext() if path is None else _FileTurn(f"{path}-audit.lock")


@dataclass(frozen=True)
class _Insert:
    """The INSERT of records, compiled once for the database's dialect and run on its driver's
    own cursor: an append runs on every read, and SQLAlchemy's execution layer (and an ORM
    object per record) cost more than the database's own work. The columns' types still
    convert the values (JSON to text, datetimes to SQLite's text), as SQLAlchemy would."""

    sql: str
    order: tuple[str, ...] | None  # the parameters' names in order, for a positional paramstyle
    converters: tuple[tuple[str, Callable[[Any], Any]], ...]

    @classmethod
    def compile(cls, dialect: sa.Dialect) -> _Insert:
        compiled = sa.insert(TABLE).compile(
            dialect=dialect, column_keys=COLUMNS, for_executemany=True
        )
        converters = []
        for column in TABLE.columns:
            convert = column.type.dialect_impl(dialect).bind_processor(dialect)
            if column.name in COLUMNS and convert is not None:
                converters.append((column.name, convert))
        order = tuple(compiled.positiontup) if compiled.positiontup else None
        return cls(compiled.string, order, tuple(converters))

    def params(self, records: list[dict[str, Any]]) -> list[Any]:
        """The records as the driver's parameters: mappings, or sequences in `order`."""
        converted = []
        for record in records:
            values = dict(record)
            for name, convert in self.converters:
                values[name] = convert(values[name])
            converted.append(values if self.order is None else [values[n] for n in self.order])
        return converted


@dataclass
class _Ticket:
    """An entry waiting to be written, and then its record or why it could not be."""

    entry: AuditEntry
    outcome: dict[str, Any] | BaseException | None = None

    def record(self) -> dict[str, Any]:
        """The record written, or the reason it was not, raised."""
        if isinstance(self.outcome, BaseException):
            raise self.outcome
        assert self.outcome is not None
        return self.outcome


_Waiting = tuple[_Ticket, "asyncio.Future[dict[str, Any]]"]  # a ticket, and the read awaiting it


class AuditLog:
    """The audit log of one metadata DB. Safe to share between threads."""

    def __init__(self, db: Database, algorithm: Algorithm = "sm3", *, max_tries: int = 30) -> None:
        if algorithm not in ALGORITHMS:
            raise ValueError(f"unknown audit hash {algorithm!r}; use sm3 or sha256")
        self.db = db
        self.algorithm = algorithm
        self.max_tries = max_tries
        # Threads of one process queue here, not each holding a connection in the DB's queue;
        # entries wait in `_queue` for whoever writes next (see `append`).
        self._lock = threading.Lock()
        self._queue_lock = threading.Lock()
        self._queue: list[_Ticket] = []
        # Entries of reads answered on an event loop, until the loop's next turn writes them.
        self._on_loop: dict[asyncio.AbstractEventLoop, list[_Waiting]] = {}
        self._turn = _turn_for(db)
        dialect = db.engine.dialect
        self._insert = _Insert.compile(dialect)
        # The driver's own errors: past SQLAlchemy, they arrive unwrapped.
        self._errors: tuple[type[Exception], ...] = (SQLAlchemyError, dialect.loaded_dbapi.Error)
        self._lost_race: type[Exception] = dialect.loaded_dbapi.IntegrityError

    def _take_turn(self, cur: DBAPICursor) -> None:
        """Make other appenders wait until this transaction ends, before the tail is read.

        Without it, appenders racing for the same seq only retry, and under load (a dozen
        server processes) some lose every time. The unique seq still guards the chain should
        this be skipped (another database, or an older cityhub)."""
        dialect = self.db.engine.dialect.name
        if dialect == "postgresql":
            cur.execute(_PG_TURN)
        elif dialect == "sqlite" and not cur.connection.in_transaction:
            # pysqlite begins only at the INSERT, so the tail would be read outside the write
            # lock; BEGIN IMMEDIATE takes that lock first (waiting up to the busy timeout).
            cur.execute("BEGIN IMMEDIATE")

    def _tail(self, cur: DBAPICursor) -> tuple[int, str]:
        """The last record's seq and hash, (0, GENESIS) when the log is empty."""
        cur.execute(_TAIL)
        row = cur.fetchone()
        return (0, GENESIS) if row is None else (int(row[0]), str(row[1]))

    def _record(self, entry: AuditEntry, seq: int, prev_hash: str) -> dict[str, Any]:
        record: dict[str, Any] = {
            "seq": seq,
            "at": datetime.now(UTC),
            "action": _clip("action", entry.action),
            "actor": _clip("actor", entry.actor),
            "role": _clip("role", entry.role),
            "department": _clip("department", entry.department),
            "dataset": _clip("dataset", entry.dataset),
            "version": entry.version,
            "fields": [str(f) for f in entry.fields],
            "rows": entry.rows,
            "fingerprint": _clip("fingerprint", entry.fingerprint),
            "grant_id": entry.grant_id,
            "address": _clip("address", entry.address),
            "detail": _plain(entry.detail),
            "algorithm": self.algorithm,
            "prev_hash": prev_hash,
        }
        record["hash"] = record_hash(record, self.algorithm)
        return record

    def _chain(self, cur: DBAPICursor, entries: list[AuditEntry]) -> list[dict[str, Any]]:
        """Write `entries` as the records after the tail, in the transaction `cur` is in."""
        self._take_turn(cur)
        seq, prev_hash = self._tail(cur)
        records = []
        for entry in entries:
            seq += 1
            records.append(self._record(entry, seq, prev_hash))
            prev_hash = records[-1]["hash"]
        cur.executemany(self._insert.sql, self._insert.params(records))
        return records

    def append(self, entry: AuditEntry, session: Session | None = None) -> dict[str, Any]:
        """Write `entry` as the next record, committed before returning; or, given `session`,
        as part of that session's unit of work, kept or undone with the change it records
        (what administrative and workflow actions do: no change without its record). Returns
        the record as written: its columns but id.

        Raises `ServiceUnavailable` when it cannot be written, so that the read (or login…)
        it records is refused rather than left unaudited. On SQLite, a write transaction of
        your own must be passed as `session`: a separate one would wait for it."""
        if session is not None:
            return self._append_in(session, entry)
        ticket = _Ticket(entry)
        self._write_queued([ticket])
        return ticket.record()

    async def append_on_loop(self, entry: AuditEntry) -> dict[str, Any]:
        """`append`, for a read answered on the event loop itself. The entries of the requests
        that get this far in one turn of the loop are written together when it comes round
        (each answer waits for that commit), rather than in a transaction each, which cost the
        lookup it recorded more than its own work."""
        loop = asyncio.get_running_loop()
        waiting: asyncio.Future[dict[str, Any]] = loop.create_future()
        pending = self._on_loop.setdefault(loop, [])
        pending.append((_Ticket(entry), waiting))
        if len(pending) == 1:
            loop.call_soon(self._write_loop, loop)
        return await waiting

    def _write_loop(self, loop: asyncio.AbstractEventLoop) -> None:
        pending = self._on_loop.pop(loop)
        self._write_queued([ticket for ticket, _ in pending])
        for ticket, waiting in pending:
            if waiting.done():
                continue  # the request is gone (its record is written all the same)
            if isinstance(ticket.outcome, BaseException):
                waiting.set_exception(ticket.outcome)
            else:
                waiting.set_result(ticket.record())

    def _write_queued(self, tickets: list[_Ticket]) -> None:
        """Give each ticket its outcome: queue them, then, when it is this thread's turn, write
        every entry queued by then in one transaction (one lock, one tail read, one commit for
        them all), unless an appender whose turn came first has written them already."""
        with self._queue_lock:
            self._queue.extend(tickets)
        with self._lock:
            if tickets[0].outcome is None:  # tickets queued together are written together
                with self._queue_lock:
                    batch, self._queue = self._queue, []
                try:
                    self._write(batch)
                except BaseException as exc:  # no ticket may be left without an answer
                    for t in batch:
                        if t.outcome is None:
                            t.outcome = exc

    def _write(self, batch: list[_Ticket]) -> None:
        """The batch's records, chained in queue order after the tail, committed together."""
        for attempt in range(1, self.max_tries + 1):
            try:
                with self._turn:
                    records = self._commit([t.entry for t in batch])
                for t, r in zip(batch, records, strict=True):
                    t.outcome = r
                return
            except self._lost_race as exc:  # another appender took this seq: try the next
                if attempt == self.max_tries:
                    why = f"still losing the race for the next seq after {attempt} tries"
                    for t in batch:
                        t.outcome = self._refuse(t.entry, exc, why)
                    return
                time.sleep(random.uniform(0, 0.002 * attempt))  # jitter breaks lockstep
            except self._errors as exc:
                for t in batch:
                    t.outcome = self._refuse(t.entry, exc)
                return

    def _commit(self, entries: list[AuditEntry]) -> list[dict[str, Any]]:
        """`entries` chained and committed in a transaction of their own."""
        conn = self.db.engine.raw_connection()
        try:
            with contextlib.closing(conn.cursor()) as cur:
                records = self._chain(cur, entries)
            conn.commit()
            return records
        finally:
            conn.close()  # back to the pool, which rolls back what was not committed

    def _append_in(self, session: Session, entry: AuditEntry) -> dict[str, Any]:
        try:
            session.flush()  # the caller's own changes first (on SQLite: the write lock)
            # on the session's own connection, so the turn is held until its transaction ends
            with contextlib.closing(session.connection().connection.cursor()) as cur:
                (record,) = self._chain(cur, [entry])
        except self._errors as exc:
            raise self._refuse(entry, exc) from exc
        return record

    def _refuse(
        self, entry: AuditEntry, exc: BaseException, why: str | None = None
    ) -> ServiceUnavailable:
        reason = why or _reason(exc)
        log.error("audit record of %s by %s not written: %s", entry.action, entry.actor, reason)
        return ServiceUnavailable(
            f"the audit log cannot be written, so the read is refused: {reason}",
            action=entry.action,
        )

    def verify(self, *, page: int = PAGE) -> Verdict:
        """Walk the whole chain, `page` records per query; the verdict names the first record
        that breaks it. Raises `ServiceUnavailable` when the log cannot be read."""
        checked = 0
        prev: Mapping[str, Any] | None = None
        algorithms: set[str] = set()
        try:
            with self.db.session() as session:
                for row in pages(session, [], page):
                    checked += 1
                    problem = _check(row, prev)
                    if problem:
                        return Verdict(
                            ok=False,
                            checked=checked,
                            first_bad=int(row["seq"]),
                            problem=problem,
                            head_seq=prev["seq"] if prev else None,
                            head_hash=prev["hash"] if prev else None,
                            algorithms=sorted(algorithms),
                        )
                    algorithms.add(row["algorithm"])
                    prev = row
        except SQLAlchemyError as exc:
            raise ServiceUnavailable(f"the audit log cannot be read: {_reason(exc)}") from exc
        return Verdict(
            ok=True,
            checked=checked,
            head_seq=prev["seq"] if prev else None,
            head_hash=prev["hash"] if prev else None,
            algorithms=sorted(algorithms),
        )


def pages(session: Session, where: list[Any], page: int = PAGE) -> Iterator[Mapping[Any, Any]]:
    """Matching rows in seq order, `page` at a time (keyset paging: each page one index
    range scan, memory bounded whatever the log's size)."""
    last: int | None = None
    while True:
        query = sa.select(TABLE).where(*where).order_by(TABLE.c.seq).limit(page)
        if last is not None:
            query = query.where(TABLE.c.seq > last)
        rows = session.execute(query).mappings().all()
        yield from rows
        if len(rows) < page:
            return
        last = int(rows[-1]["seq"])


def _check(row: Mapping[str, Any], prev: Mapping[str, Any] | None) -> str | None:
    """What is wrong with `row` coming after `prev` (None: it is the first), or None."""
    seq = row["seq"]
    expected = prev["seq"] + 1 if prev else 1
    if seq != expected:  # rows come in seq order and seq is unique: here seq > expected
        if prev is None:
            if seq < 1:
                return f"record {seq}: seq must start at 1 (inserted)"
            missing = "record 1 is" if seq == 2 else f"records 1 to {seq - 1} are"
            return f"record {seq} is the first: {missing} missing (deleted)"
        gap = (
            f"record {expected} is"
            if seq == expected + 1
            else f"records {expected} to {seq - 1} are"
        )
        return f"record {seq} follows record {prev['seq']}: {gap} missing (deleted)"
    if row["algorithm"] not in ALGORITHMS:
        return f"record {seq}: unknown hash algorithm {row['algorithm']!r} (edited)"
    if record_hash(row) != row["hash"]:
        return f"record {seq}: its content does not match its hash (edited)"
    if row["prev_hash"] != (prev["hash"] if prev else GENESIS):
        before = f"record {prev['seq']}'s hash" if prev else "the start of the chain"
        return f"record {seq}: prev_hash does not match {before} (inserted or reordered)"
    return None
