"""The audit log: audit verify / search / export."""

from __future__ import annotations

import sys
from contextlib import ExitStack
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from cityhub.access import audit, audit_read
from cityhub.cli.common import JsonOpt, app, command, err, open_hub, out, print_json
from cityhub.errors import InvalidInput

audit_app = typer.Typer(help="The tamper-evident audit log (审计日志)", no_args_is_help=True)
app.add_typer(audit_app, name="audit")


class ExportFormat(StrEnum):
    jsonl = "jsonl"
    csv = "csv"


ActorOpt = Annotated[str | None, typer.Option(help="Only this actor's records")]
DatasetOpt = Annotated[str | None, typer.Option(help="Only records of this dataset (its code)")]
ActionOpt = Annotated[str | None, typer.Option(help="Only this action: read, login, grant.revoke…")]
SinceOpt = Annotated[
    str | None, typer.Option(help="From this time on (ISO date or time; local time if no zone)")
]
UntilOpt = Annotated[
    str | None, typer.Option(help="Before this time (ISO date or time; local time if no zone)")
]


def _time(value: str | None, option: str) -> datetime | None:
    """An ISO date or date-time typed by a person; without a zone it is their local time."""
    if value is None:
        return None
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        raise InvalidInput(
            f"{option} {value!r} is not a date or time; write e.g. 2024-05-01 or "
            "2024-05-01T08:30+08:00"
        ) from None
    return when if when.tzinfo else when.astimezone()  # astimezone on naive: local time


def _filters(
    actor: str | None, dataset: str | None, action: str | None, since: str | None, until: str | None
) -> dict[str, Any]:
    return {
        "actor": actor,
        "dataset": dataset,
        "action": action,
        "since": _time(since, "--since"),
        "until": _time(until, "--until"),
    }


@command(audit_app, "verify")
def audit_verify(as_json: JsonOpt = False) -> None:
    """Check the hash chain: exit code 0 when intact, 1 when broken.

    A record edited, deleted, inserted or moved is named. Keep the printed head somewhere
    safe: deleting the newest records shows only against a head kept elsewhere."""
    hub = open_hub()
    try:
        verdict = audit.AuditLog(hub.db, hub.settings.audit_hash).verify()
    finally:
        hub.close()
    if as_json:
        print_json(verdict)
    elif verdict.ok:
        algorithms = ", ".join(verdict.algorithms) or hub.settings.audit_hash
        out.print(f"audit log intact: {verdict.checked:,} records ({algorithms})")
        if verdict.head_seq is not None:
            out.print(f"head: record {verdict.head_seq} {verdict.head_hash}")
    else:
        out.print(f"[red]audit log broken:[/] {verdict.problem}")
        good = f"; the chain holds up to record {verdict.head_seq}" if verdict.head_seq else ""
        out.print(f"checked {verdict.checked:,} record(s){good}")
    if not verdict.ok:
        raise typer.Exit(1)


@command(audit_app, "search")
def audit_search(
    actor: ActorOpt = None,
    dataset: DatasetOpt = None,
    action: ActionOpt = None,
    since: SinceOpt = None,
    until: UntilOpt = None,
    limit: Annotated[int, typer.Option(min=1, help="Records shown at most")] = 100,
    as_json: JsonOpt = False,
) -> None:
    """Find records, newest first."""
    filters = _filters(actor, dataset, action, since, until)
    hub = open_hub()
    try:
        with hub.db.session() as s:
            records = [audit.as_dict(r) for r in audit_read.search(s, **filters, limit=limit)]
    finally:
        hub.close()
    if as_json:
        return print_json(records)
    t = Table(title=f"audit log ({len(records)} record(s), newest first)")
    for name in ("seq", "at (UTC)", "action", "actor", "dataset", "fields", "rows"):
        # the time and the action unbroken; the free text folds
        t.add_column(name, no_wrap=name in ("seq", "at (UTC)", "action"), overflow="fold")
    for r in records:
        dataset = r["dataset"] and r["dataset"] + (f" v{r['version']}" if r["version"] else "")
        t.add_row(
            str(r["seq"]),
            r["at"][:19].replace("T", " "),
            r["action"],
            r["actor"],
            dataset or "",
            ", ".join(r["fields"]),
            "" if r["rows"] is None else f"{r['rows']:,}",
        )
    out.print(t)


@command(audit_app, "export")
def audit_export(
    fmt: Annotated[
        ExportFormat, typer.Option("--format", help="JSON lines or CSV")
    ] = ExportFormat.jsonl,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="File to write; default stdout")
    ] = None,
    actor: ActorOpt = None,
    dataset: DatasetOpt = None,
    action: ActionOpt = None,
    since: SinceOpt = None,
    until: UntilOpt = None,
) -> None:
    """Write matching records in seq order, with their hashes.

    Each line of a JSONL export can be checked offline with cityhub.access.audit.record_hash."""
    filters = _filters(actor, dataset, action, since, until)
    hub = open_hub()
    try:
        with ExitStack() as stack:
            stream = (
                stack.enter_context(output.open("w", encoding="utf-8", newline=""))
                if output
                else sys.stdout
            )
            session = stack.enter_context(hub.db.session())
            count = audit_read.export(session, stream, fmt.value, **filters)
    finally:
        hub.close()
    # On stderr, so that stdout holds only the export.
    err.print(f"exported {count:,} record(s)" + (f" to {output}" if output else ""))
