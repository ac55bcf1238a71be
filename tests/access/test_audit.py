"""The hash-chained audit log: appending, every kind of tampering, failures, races, search,
export and the CLI, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import csv
import fcntl
import io
import itertools
import json
import os
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

import cityhub.cli.audit  # noqa: F401  (registers `cityhub audit` on the app)
from cityhub.access import audit, audit_read
from cityhub.access.audit import GENESIS, TABLE, AuditEntry, AuditLog, record_hash
from cityhub.catalog.db import Database
from cityhub.cli.common import app
from cityhub.errors import InvalidInput, ServiceUnavailable

SM3_ABC = "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0"
SHA256_ABC = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"


def entry(i: int, **kw: Any) -> AuditEntry:
    values: dict[str, Any] = {
        "action": "read",
        "actor": f"user-{i}",
        "role": "member",
        "department": "330400-GA",
        "dataset": f"GA-{i % 3:03d}",
        "version": i,
        "fields": ["姓名", "性别"],
        "rows": 10 * i,
        "fingerprint": f"{i:064x}",
        "grant_id": i,
        "address": "10.1.2.3",
        "detail": {"route": "/api/v1/rows", "页": i},
    }
    values.update(kw)
    return AuditEntry(**values)


@pytest.fixture
def log6(db: Database) -> AuditLog:
    """A log of six records, verified by pages of two (so tampering falls on page edges)."""
    log = AuditLog(db)
    for i in range(1, 7):
        log.append(entry(i))
    assert log.verify(page=2).ok
    return log


def rows(db: Database) -> list[dict[str, Any]]:
    with db.engine.connect() as conn:
        return [dict(r) for r in conn.execute(sa.select(TABLE).order_by(TABLE.c.seq)).mappings()]


def sql(db: Database, *statements: Any) -> None:
    with db.engine.begin() as conn:
        for statement in statements:
            conn.execute(statement)


def update(seq: int, /, **values: Any) -> Any:
    return sa.update(TABLE).where(TABLE.c.seq == seq).values(**values)


def rehash(db: Database, *seqs: int) -> None:
    """What a careful attacker does after an edit: recompute the record's own hash."""
    by_seq = {r["seq"]: r for r in rows(db)}
    sql(db, *(update(s, hash=record_hash(by_seq[s])) for s in seqs))


# -- hashing --------------------------------------------------------------------------------------
def test_digests_match_the_published_test_vectors() -> None:
    assert audit.digest(b"abc", "sm3") == SM3_ABC  # GB/T 32905-2016, example 1
    assert audit.digest(b"abc", "sha256") == SHA256_ABC
    with pytest.raises(ValueError, match="unknown audit hash"):
        audit.digest(b"abc", "md5")
    with pytest.raises(ValueError, match="unknown audit hash"):
        AuditLog(Database("sqlite://"), "md5")  # type: ignore[arg-type]


RECORD: dict[str, Any] = {
    "seq": 7,
    "at": datetime(2024, 5, 1, 8, 30, 0, 5, tzinfo=UTC),
    "action": "read",
    "actor": "张三",
    "role": None,
    "department": "330400-GA",
    "dataset": "GA-001",
    "version": 3,
    "fields": ["b", "a"],
    "rows": 12,
    "fingerprint": None,
    "grant_id": None,
    "address": None,
    "detail": {"z": 1, "a": [1.5, "x"]},
    "algorithm": "sm3",
    "prev_hash": "ab" * 32,
    "hash": "ignored",
    "id": 99,
}


def test_canonical_content_is_sorted_compact_json_of_all_columns_but_id_and_hash() -> None:
    assert audit.canonical(RECORD) == (
        '{"action":"read","actor":"张三","address":null,"algorithm":"sm3",'
        '"at":"2024-05-01T08:30:00.000005+00:00","dataset":"GA-001","department":"330400-GA",'
        '"detail":{"a":[1.5,"x"],"z":1},"fields":["b","a"],"fingerprint":null,"grant_id":null,"prev_hash":"'
        + "ab" * 32
        + '","role":null,"rows":12,"seq":7,"version":3}'
    )
    expected = audit.digest((audit.canonical(RECORD) + "ab" * 32).encode(), "sm3")
    assert record_hash(RECORD) == record_hash(RECORD, "sm3") == expected
    assert record_hash(RECORD, "sha256") != expected
    assert record_hash({**RECORD, "algorithm": "sha256"}) == audit.digest(
        (audit.canonical({**RECORD, "algorithm": "sha256"}) + "ab" * 32).encode(), "sha256"
    )


def test_the_same_instant_hashes_the_same_however_it_comes_back() -> None:
    at = RECORD["at"]
    shanghai = at.astimezone(timezone(timedelta(hours=8)))
    variants = [at, at.replace(tzinfo=None), shanghai, shanghai.isoformat(), at.isoformat()]
    assert {record_hash({**RECORD, "at": v}) for v in variants} == {record_hash(RECORD)}
    assert record_hash({**RECORD, "at": at + timedelta(microseconds=1)}) != record_hash(RECORD)


# -- appending and verifying ----------------------------------------------------------------------
def test_append_chains_records_and_verify_passes(db: Database) -> None:
    log = AuditLog(db)
    assert log.verify() == audit.Verdict(ok=True, checked=0)
    made = [log.append(entry(i)) for i in range(1, 4)]
    assert [r["seq"] for r in made] == [1, 2, 3]
    assert made[0]["prev_hash"] == GENESIS
    assert [r["prev_hash"] for r in made[1:]] == [r["hash"] for r in made[:-1]]
    stored = rows(db)
    for record, row in zip(made, stored, strict=True):
        assert len(row["hash"]) == 64 and int(row["hash"], 16) >= 0
        assert row["hash"] == record["hash"] == record_hash(row)  # recomputes after the round trip
        assert row["algorithm"] == "sm3"
    assert stored[1]["actor"] == "user-2" and stored[1]["detail"] == {
        "route": "/api/v1/rows",
        "页": 2,
    }
    assert stored[1]["fields"] == ["姓名", "性别"]
    verdict = log.verify()
    assert verdict.ok and verdict.checked == 3 and verdict.problem is None
    assert verdict.head_seq == 3 and verdict.head_hash == made[-1]["hash"]
    assert verdict.algorithms == ["sm3"]


def test_an_entry_needs_an_action_and_an_actor() -> None:
    with pytest.raises(ValueError, match="needs an action"):
        AuditEntry("", "alice")
    with pytest.raises(ValueError, match="needs an actor"):
        AuditEntry("read", None)  # type: ignore[arg-type]


def test_append_commits_on_its_own_whatever_the_caller_does(db: Database) -> None:
    log = AuditLog(db)
    with pytest.raises(RuntimeError), db.session():
        log.append(entry(1))
        raise RuntimeError("the read itself failed")  # rolls back the caller's session only
    assert [r["seq"] for r in rows(db)] == [1]


def test_sha256_and_sm3_both_chain_and_can_follow_each_other(db: Database) -> None:
    first = AuditLog(db, "sha256").append(entry(1))
    second = AuditLog(db, "sm3").append(entry(2))
    assert first["algorithm"] == "sha256" and second["algorithm"] == "sm3"
    assert first["hash"] == record_hash(first, "sha256") != record_hash(first, "sm3")
    assert second["hash"] == record_hash(second, "sm3") != record_hash(second, "sha256")
    assert second["prev_hash"] == first["hash"]
    verdict = AuditLog(db).verify()
    assert verdict.ok and verdict.checked == 2 and verdict.algorithms == ["sha256", "sm3"]


def test_awkward_values_are_stored_as_they_are_hashed(db: Database) -> None:
    log = AuditLog(db)
    when = datetime(2024, 5, 1, tzinfo=UTC)
    detail = {"nan": float("nan"), "when": when, "tuple": (1, 2), 3: {"嵌套": ["值"]}, "ok": True}
    record = log.append(entry(1, actor="x" * 150, address="\x00" + "9" * 70, detail=detail))
    assert record["actor"] == "x" * 100  # clipped to the column, as PostgreSQL would refuse it
    assert record["address"] == "9" * 64
    stored = rows(db)[0]
    assert stored["actor"] == "x" * 100
    assert stored["detail"] == {
        "nan": "nan",
        "when": "2024-05-01T00:00:00+00:00",
        "tuple": [1, 2],
        "3": {"嵌套": ["值"]},
        "ok": True,
    }
    assert log.verify().ok


# -- tampering ------------------------------------------------------------------------------------
EDITS: dict[str, Any] = {
    "action": "login",
    "actor": "mallory",
    "role": "admin",
    "department": "330400-JY",
    "dataset": "GA-999",
    "version": 99,
    "fields": ["姓名"],
    "rows": 0,
    "fingerprint": "0" * 64,
    "grant_id": None,
    "address": "10.9.9.9",
    "detail": {"route": "/api/v1/rows", "页": 4, "extra": 1},
    "algorithm": "sha256",
    "prev_hash": "1" * 64,
    "hash": "2" * 64,
}


@pytest.mark.parametrize("column", [*EDITS, "at"])
def test_an_edited_column_is_detected(log6: AuditLog, column: str) -> None:
    db = log6.db
    before = rows(db)[3]
    value = before["at"] + timedelta(microseconds=1) if column == "at" else EDITS[column]
    assert value != before[column]
    sql(db, update(4, **{column: value}))
    verdict = log6.verify(page=2)
    assert not verdict.ok
    assert verdict.first_bad == 4 and verdict.checked == 4
    assert verdict.head_seq == 3
    assert verdict.problem == "record 4: its content does not match its hash (edited)"


def test_an_edited_record_rehashed_breaks_the_next_link(log6: AuditLog) -> None:
    db = log6.db
    sql(db, update(4, rows=1_000_000))
    rehash(db, 4)
    verdict = log6.verify(page=2)
    assert verdict.first_bad == 5
    assert verdict.problem == (
        "record 5: prev_hash does not match record 4's hash (inserted or reordered)"
    )


def test_a_deleted_record_in_the_middle_is_detected(log6: AuditLog) -> None:
    sql(log6.db, sa.delete(TABLE).where(TABLE.c.seq == 3))
    verdict = log6.verify(page=2)
    assert (verdict.ok, verdict.first_bad) == (False, 4)
    assert verdict.problem == "record 4 follows record 2: record 3 is missing (deleted)"
    sql(log6.db, sa.delete(TABLE).where(TABLE.c.seq == 4))
    assert log6.verify(page=2).problem == (
        "record 5 follows record 2: records 3 to 4 are missing (deleted)"
    )


def test_the_first_record_deleted_is_detected(log6: AuditLog) -> None:
    sql(log6.db, sa.delete(TABLE).where(TABLE.c.seq == 1))
    verdict = log6.verify(page=2)
    assert (verdict.ok, verdict.first_bad, verdict.checked) == (False, 2, 1)
    assert verdict.problem == "record 2 is the first: record 1 is missing (deleted)"


def test_the_last_record_deleted_only_shows_against_a_kept_head(log6: AuditLog) -> None:
    kept = log6.verify()
    sql(log6.db, sa.delete(TABLE).where(TABLE.c.seq == 6))
    verdict = log6.verify(page=2)
    assert verdict.ok and verdict.checked == 5  # the documented limit of a chain alone
    assert (verdict.head_seq, kept.head_seq) == (5, 6)
    assert verdict.head_hash != kept.head_hash


def _forge(db: Database, seq: int, prev_hash: str) -> None:
    forged: dict[str, Any] = {
        **rows(db)[0],
        "seq": seq,
        "actor": "nobody",
        "at": datetime.now(UTC),
        "prev_hash": prev_hash,
    }
    del forged["id"]
    forged["hash"] = record_hash(forged)  # correct for its own content
    sql(db, sa.insert(TABLE).values(**forged))


@pytest.mark.parametrize("rehashed", [False, True], ids=["plain", "rehashed"])
def test_an_inserted_record_is_detected(log6: AuditLog, rehashed: bool) -> None:
    """Records 3–6 moved up one, a forged record 3 linked to record 2 put in their place."""
    db = log6.db
    hash2 = rows(db)[1]["hash"]
    sql(db, *(update(s, seq=s + 1) for s in (6, 5, 4, 3)))  # from the top: seq is unique
    _forge(db, 3, hash2)
    if rehashed:  # the moved records made consistent with their new seq
        rehash(db, 4, 5, 6, 7)
    verdict = log6.verify(page=2)
    assert (verdict.ok, verdict.first_bad, verdict.head_seq) == (False, 4, 3)
    assert verdict.problem == (
        "record 4: prev_hash does not match record 3's hash (inserted or reordered)"
        if rehashed
        else "record 4: its content does not match its hash (edited)"
    )


def test_a_record_inserted_before_the_first_or_off_the_chain_is_detected(log6: AuditLog) -> None:
    db = log6.db
    _forge(db, 7, rows(db)[2]["hash"])  # appended, but linked to record 3
    verdict = log6.verify(page=2)
    assert verdict.first_bad == 7
    assert verdict.problem == (
        "record 7: prev_hash does not match record 6's hash (inserted or reordered)"
    )
    _forge(db, 0, GENESIS)
    verdict = log6.verify(page=2)
    assert (verdict.first_bad, verdict.problem) == (0, "record 0: seq must start at 1 (inserted)")


def test_a_first_record_not_starting_the_chain_is_detected(db: Database) -> None:
    log = AuditLog(db)
    log.append(entry(1))
    sql(db, update(1, prev_hash="f" * 64))
    rehash(db, 1)
    verdict = log.verify()
    assert verdict.first_bad == 1
    assert verdict.problem == (
        "record 1: prev_hash does not match the start of the chain (inserted or reordered)"
    )


@pytest.mark.parametrize("rehashed", [False, True], ids=["plain", "rehashed"])
def test_reordered_records_are_detected(log6: AuditLog, rehashed: bool) -> None:
    db = log6.db
    sql(db, update(2, seq=-1), update(5, seq=2), update(-1, seq=5))
    if rehashed:
        rehash(db, 2, 5)
    verdict = log6.verify(page=2)
    assert (verdict.ok, verdict.first_bad) == (False, 2)
    assert verdict.problem == (
        "record 2: prev_hash does not match record 1's hash (inserted or reordered)"
        if rehashed
        else "record 2: its content does not match its hash (edited)"
    )


def test_an_unknown_algorithm_is_reported_not_raised(log6: AuditLog) -> None:
    sql(log6.db, update(2, algorithm="md5"))
    verdict = log6.verify()
    assert verdict.first_bad == 2
    assert verdict.problem == "record 2: unknown hash algorithm 'md5' (edited)"


# -- failures and races ---------------------------------------------------------------------------
REFUSED = "the audit log cannot be written, so the read is refused: "


def test_append_refuses_when_the_table_is_gone(db: Database) -> None:
    log = AuditLog(db)
    log.append(entry(1))
    sql(db, sa.text("DROP TABLE audit_log"))
    db.dispose()
    with pytest.raises(ServiceUnavailable, match=REFUSED) as caught:
        log.append(entry(2))
    assert caught.value.status == 503 and "audit_log" in caught.value.message
    with pytest.raises(ServiceUnavailable, match="the audit log cannot be read"):
        log.verify()


def test_append_refuses_on_a_read_only_sqlite_file(tmp_path: Path) -> None:
    path = tmp_path / "catalog.db"
    writable = Database(f"sqlite:///{path}")
    writable.upgrade()
    AuditLog(writable).append(entry(1))
    writable.dispose()
    read_only = Database(f"sqlite:///file:{path}?mode=ro&uri=true")
    try:
        log = AuditLog(read_only)
        assert log.verify().ok  # reading still works
        with pytest.raises(ServiceUnavailable, match=REFUSED + ".*readonly"):
            log.append(entry(2))
    finally:
        read_only.dispose()


def test_append_refuses_when_the_server_is_down() -> None:
    down = Database("postgresql+psycopg://postgres@127.0.0.1:1/none?connect_timeout=2")
    try:
        with pytest.raises(ServiceUnavailable, match=REFUSED + "OperationalError"):
            AuditLog(down).append(entry(1))
    finally:
        down.dispose()


def test_a_lost_race_rereads_the_tail_and_retries(db: Database) -> None:
    log = AuditLog(db)
    log.append(entry(1))
    real = log._tail
    calls: list[int] = []

    def stale_once(cur: Any) -> tuple[int, str]:
        calls.append(1)
        return (0, GENESIS) if len(calls) == 1 else real(cur)  # as if 1 were not yet there

    log._tail = stale_once  # type: ignore[method-assign]
    record = log.append(entry(2))
    assert len(calls) == 2 and record["seq"] == 2 and record["prev_hash"] == rows(db)[0]["hash"]
    assert log.verify().checked == 2


def test_a_race_lost_every_time_gives_up(db: Database) -> None:
    log = AuditLog(db, max_tries=3)
    log.append(entry(1))
    calls: list[int] = []

    def always_stale(cur: Any) -> tuple[int, str]:
        calls.append(1)
        return (0, GENESIS)

    log._tail = always_stale  # type: ignore[method-assign]
    with pytest.raises(ServiceUnavailable, match=REFUSED + "still losing the race .* 3 tries"):
        log.append(entry(2))
    assert len(calls) == 3
    assert [r["seq"] for r in rows(db)] == [1]


@pytest.mark.parametrize("mode", ["one-log", "a-log-per-process", "retries-only"])
def test_concurrent_appends_never_fork_the_chain(
    db: Database, mode: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """4 threads x 50 records: sharing one AuditLog; or each with its own engine and log, as
    server processes are; or so, without taking turns, so only the unique seq and the retries
    keep the chain whole."""
    threads_n, each = 4, 50
    if mode == "retries-only":
        monkeypatch.setattr(AuditLog, "_take_turn", lambda self, cur: None)
    shared_log = AuditLog(db)
    own = [Database(db.url) for _ in range(threads_n)] if mode != "one-log" else []
    errors: list[BaseException] = []
    start = threading.Barrier(threads_n)

    def work(t: int) -> None:
        # 100 tries: four appenders each losing 100 races in a row does not happen
        log = AuditLog(own[t], max_tries=100) if own else shared_log
        try:
            start.wait()
            for i in range(each):
                log.append(entry(i, actor=f"thread-{t}"))
        except BaseException as exc:
            errors.append(exc)

    workers = [threading.Thread(target=work, args=(t,)) for t in range(threads_n)]
    try:
        for w in workers:
            w.start()
        for w in workers:
            w.join()
    finally:
        for d in own:
            d.dispose()
    assert errors == []
    stored = rows(db)
    assert [r["seq"] for r in stored] == list(range(1, threads_n * each + 1))
    assert all(sum(r["actor"] == f"thread-{t}" for r in stored) == each for t in range(threads_n))
    verdict = shared_log.verify(page=64)
    assert verdict.ok and verdict.checked == threads_n * each


def test_sqlite_appenders_take_turns_on_a_lock_file(tmp_path: Path) -> None:
    """Server processes queue on a lock file beside the database before its write lock, so a
    waiter is woken when the turn is free instead of polling for it (PostgreSQL's appenders
    queue on an advisory lock)."""
    db = Database(f"sqlite:///{tmp_path / 'catalog.db'}")
    db.upgrade()
    log = AuditLog(db)
    other = os.open(f"{sa.make_url(db.url).database}-audit.lock", os.O_RDWR | os.O_CREAT)
    written = threading.Event()

    def append() -> None:
        log.append(entry(1))
        written.set()

    try:
        fcntl.flock(other, fcntl.LOCK_EX)  # another process's turn
        appender = threading.Thread(target=append)
        appender.start()
        assert not written.wait(0.5)
        assert rows(db) == []
        fcntl.flock(other, fcntl.LOCK_UN)
        assert written.wait(30)
        appender.join()
    finally:
        os.close(other)
    assert [r["seq"] for r in rows(db)] == [1]
    db.dispose()


def test_appends_waiting_together_are_written_in_one_transaction(db: Database) -> None:
    """Group commit: entries that queue while another append holds the turn are all written by
    the next one to get it, in one commit, in queue order, and each caller gets its record; a
    failure of that commit refuses every one of them."""
    log = AuditLog(db)
    commits: list[int] = []  # how many records each transaction wrote
    commit = log._commit

    def counted(entries: list[AuditEntry]) -> list[dict[str, Any]]:
        commits.append(len(entries))
        return commit(entries)

    log._commit = counted  # type: ignore[method-assign]
    n = 8

    def queued(make: Callable[[int], AuditEntry]) -> list[Any]:
        answers: list[Any] = [None] * n

        def work(i: int) -> None:
            try:
                answers[i] = log.append(make(i))
            except BaseException as exc:
                answers[i] = exc

        with log._lock:  # as if an append were being written meanwhile
            workers = [threading.Thread(target=work, args=(i,)) for i in range(n)]
            for w in workers:
                w.start()
            deadline = time.monotonic() + 10
            while len(log._queue) < n and time.monotonic() < deadline:
                time.sleep(0.01)
        for w in workers:
            w.join()
        return answers

    records = queued(lambda i: entry(i, actor=f"caller-{i}"))
    assert commits == [n]
    stored = rows(db)
    assert [r["seq"] for r in stored] == list(range(1, n + 1))
    assert sorted(r["actor"] for r in records) == sorted(r["actor"] for r in stored)
    assert {r["seq"]: r["hash"] for r in records} == {r["seq"]: r["hash"] for r in stored}
    assert log.verify().ok

    sql(db, sa.text("DROP TABLE audit_log"))
    db.dispose()
    refused = queued(entry)
    assert all(isinstance(r, ServiceUnavailable) and "audit_log" in r.message for r in refused)


def test_appends_on_an_event_loop_in_one_turn_are_written_in_one_transaction(
    db: Database,
) -> None:
    """Reads answered on the event loop: the entries of every request that gets to its append in
    one turn of the loop are written by one transaction when the loop comes round, each request
    gets its own record (a sequential append after them follows on the chain), and a failure
    refuses every one of them."""
    log = AuditLog(db)
    commits: list[int] = []
    commit = log._commit

    def counted(entries: list[AuditEntry]) -> list[dict[str, Any]]:
        commits.append(len(entries))
        return commit(entries)

    log._commit = counted  # type: ignore[method-assign]

    async def together(n: int) -> list[Any]:
        return await asyncio.gather(
            *(log.append_on_loop(entry(i, actor=f"caller-{i}")) for i in range(n)),
            return_exceptions=True,
        )

    records = asyncio.run(together(5))
    assert commits == [5]
    assert [r["actor"] for r in records] == [f"caller-{i}" for i in range(5)]
    assert [r["seq"] for r in records] == [1, 2, 3, 4, 5]
    assert log.append(entry(9))["seq"] == 6 and commits == [5, 1]
    assert [r["seq"] for r in rows(db)] == list(range(1, 7))
    assert log.verify().ok

    sql(db, sa.text("DROP TABLE audit_log"))
    db.dispose()
    refused = asyncio.run(together(3))
    assert all(isinstance(r, ServiceUnavailable) and "audit_log" in r.message for r in refused)
    assert log._on_loop == {}  # nothing left waiting for a loop that is gone


# -- search and export ----------------------------------------------------------------------------
@pytest.fixture
def mixed(db: Database) -> tuple[AuditLog, datetime]:
    """Five records; the returned time falls between the third and the fourth."""
    log = AuditLog(db)
    log.append(AuditEntry("login", "alice"))
    log.append(AuditEntry("read", "alice", dataset="GA-001", fields=["姓名"], rows=5))
    log.append(AuditEntry("read", "bob", dataset="GA-002"))
    time.sleep(0.01)
    middle = datetime.now(UTC)
    time.sleep(0.01)
    log.append(AuditEntry("read", "alice", dataset="GA-002"))
    log.append(AuditEntry("grant.revoke", "carol", grant_id=4, detail={"reason": "到期"}))
    return log, middle


def _seqs(records: list[Any]) -> list[int]:
    return [r.seq for r in records]


def test_search_filters_newest_first(mixed: tuple[AuditLog, datetime]) -> None:
    log, middle = mixed
    with log.db.session() as s:
        assert _seqs(audit_read.search(s)) == [5, 4, 3, 2, 1]
        assert _seqs(audit_read.search(s, limit=2)) == [5, 4]
        assert _seqs(audit_read.search(s, actor="alice")) == [4, 2, 1]
        assert _seqs(audit_read.search(s, dataset="GA-002")) == [4, 3]
        assert _seqs(audit_read.search(s, action="read", actor="alice")) == [4, 2]
        assert _seqs(audit_read.search(s, action="grant.revoke")) == [5]
        assert _seqs(audit_read.search(s, actor="nobody")) == []
        assert _seqs(audit_read.search(s, since=middle)) == [5, 4]
        assert _seqs(audit_read.search(s, until=middle)) == [3, 2, 1]
        # the same instant in another zone, or naive (UTC), selects the same records
        shanghai = middle.astimezone(timezone(timedelta(hours=8)))
        assert _seqs(audit_read.search(s, since=shanghai)) == [5, 4]
        assert _seqs(audit_read.search(s, until=middle.replace(tzinfo=None))) == [3, 2, 1]
        assert _seqs(audit_read.search(s, since=middle, until=middle + timedelta(days=1))) == [5, 4]


def test_export_jsonl_round_trips_and_can_be_verified_offline(
    mixed: tuple[AuditLog, datetime], monkeypatch: pytest.MonkeyPatch
) -> None:
    log, middle = mixed
    monkeypatch.setattr(audit, "PAGE", 2)  # several pages
    buffer = io.StringIO()
    with log.db.session() as s:
        assert audit_read.export(s, buffer, "jsonl") == 5
    lines = [json.loads(line) for line in buffer.getvalue().splitlines()]
    assert [d["seq"] for d in lines] == [1, 2, 3, 4, 5]
    assert set(lines[0]) == set(audit.COLUMNS) and "id" not in lines[0]
    assert lines[4]["detail"] == {"reason": "到期"} and lines[1]["fields"] == ["姓名"]
    assert all(record_hash(d) == d["hash"] for d in lines)
    assert all(d["prev_hash"] == p["hash"] for p, d in itertools.pairwise(lines))
    with log.db.session() as s:
        assert audit_read.export(s, io.StringIO(), "jsonl", actor="alice") == 3
        assert audit_read.export(s, io.StringIO(), "jsonl", since=middle, dataset="GA-002") == 1


def test_export_csv_round_trips(mixed: tuple[AuditLog, datetime]) -> None:
    log, _ = mixed
    buffer = io.StringIO()
    with log.db.session() as s:
        assert audit_read.export(s, buffer, "csv", action="read") == 3
        with pytest.raises(InvalidInput, match="unknown export format"):
            audit_read.export(s, io.StringIO(), "xml")  # type: ignore[arg-type]
    reader = csv.DictReader(io.StringIO(buffer.getvalue()))
    assert reader.fieldnames == audit.COLUMNS
    read = list(reader)
    assert [int(r["seq"]) for r in read] == [2, 3, 4]
    assert json.loads(read[0]["fields"]) == ["姓名"] and read[0]["rows"] == "5"
    assert read[1]["rows"] == "" and json.loads(read[1]["detail"]) == {}
    empty = io.StringIO()
    with log.db.session() as s:
        assert audit_read.export(s, empty, "csv", actor="nobody") == 0
    assert empty.getvalue().strip() == ",".join(audit.COLUMNS)


# -- the CLI --------------------------------------------------------------------------------------
@pytest.fixture
def cli(db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[..., Any]:
    monkeypatch.setenv("CITYHUB_CONFIG", str(tmp_path / "absent.toml"))
    monkeypatch.setenv("CITYHUB_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("CITYHUB_DATABASE_URL", db.url)
    monkeypatch.setenv("CITYHUB_AUDIT_HASH", "sm3")
    monkeypatch.setenv("COLUMNS", "200")  # rich tables unwrapped
    runner = CliRunner()

    def run(*args: str, code: int = 0) -> Any:
        result = runner.invoke(app, ["audit", *args])
        assert result.exit_code == code, result.output
        return result

    return run


def test_cli_verify_exit_codes(cli: Callable[..., Any], db: Database) -> None:
    assert "audit log intact: 0 records (sm3)" in cli("verify").stdout
    log = AuditLog(db)
    last = [log.append(entry(i)) for i in range(1, 4)][-1]
    output = cli("verify").stdout
    assert "audit log intact: 3 records (sm3)" in output
    assert f"head: record 3 {last['hash']}" in output
    sql(db, update(2, actor="mallory"))
    broken = cli("verify", code=1).stdout
    assert "record 2: its content does not match its hash (edited)" in broken
    verdict = json.loads(cli("verify", "--json", code=1).stdout)
    assert (verdict["ok"], verdict["first_bad"], verdict["head_seq"]) == (False, 2, 1)


def test_cli_search(cli: Callable[..., Any], mixed: tuple[AuditLog, datetime]) -> None:
    output = cli("search", "--actor", "alice").stdout
    assert "alice" in output and "bob" not in output and "carol" not in output
    assert "GA-001" in output and "login" in output and "姓名" in output
    found = json.loads(cli("search", "--dataset", "GA-002", "--json").stdout)
    assert [(r["seq"], r["actor"]) for r in found] == [(4, "alice"), (3, "bob")]
    assert all(record_hash(r) == r["hash"] for r in found)
    limited = json.loads(cli("search", "--limit", "1", "--action", "read", "--json").stdout)
    assert [r["seq"] for r in limited] == [4]
    _, middle = mixed
    since = json.loads(cli("search", "--since", middle.isoformat(), "--json").stdout)
    assert [r["seq"] for r in since] == [5, 4]
    bad = cli("search", "--since", "yesterday", code=2)
    assert "--since 'yesterday' is not a date or time" in bad.output


def test_cli_export(
    cli: Callable[..., Any], mixed: tuple[AuditLog, datetime], tmp_path: Path
) -> None:
    result = cli("export")
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [d["seq"] for d in lines] == [1, 2, 3, 4, 5]
    assert "exported 5 record(s)" in result.stderr
    target = tmp_path / "audit.csv"
    result = cli("export", "--format", "csv", "--output", str(target), "--actor", "alice")
    assert f"exported 3 record(s) to {target}" in result.stderr
    read = list(csv.DictReader(target.open(encoding="utf-8", newline="")))
    assert [int(r["seq"]) for r in read] == [1, 2, 4]
    cli("export", "--format", "xml", code=2)
