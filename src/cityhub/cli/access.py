"""Identities and sharing on the command line: `cityhub user|token|request|grant|calendar`.

Whoever runs these commands holds the home's database, so they act as the center's operator;
workflow steps name the user they are taken for (`--as`), and are checked and audited as that
user's.
"""

from __future__ import annotations

import csv
import json
import os
from datetime import date
from typing import Annotated, Any

import typer
from sqlalchemy.orm import Session

from cityhub.access import Caller, operator, sharing, users
from cityhub.access.audit import AuditEntry, AuditLog
from cityhub.access.models import AccessRequest
from cityhub.access.sharing import Workflow
from cityhub.cli.common import JsonOpt, app, command, err, open_hub, out, print_json, table
from cityhub.errors import InvalidInput
from cityhub.hub import Hub

user_app = typer.Typer(help="Users: departments' stewards and members, admins, the public")
token_app = typer.Typer(help="API tokens (shown once, stored hashed)")
request_app = typer.Typer(help="Sharing requests (共享申请): submit, answer, list")
grant_app = typer.Typer(help="Grants given by approved requests")
calendar_app = typer.Typer(help="Holidays and worked weekend days, for the 10-working-day limit")
for sub, name in (
    (user_app, "user"),
    (token_app, "token"),
    (request_app, "request"),
    (grant_app, "grant"),
    (calendar_app, "calendar"),
):
    app.add_typer(sub, name=name)

As = Annotated[str, typer.Option("--as", help="the user this step is taken for")]
CLI = operator("cli")


def _audit(hub: Hub) -> AuditLog:
    return AuditLog(hub.db, hub.settings.audit_hash)


def _record(hub: Hub, s: Session, action: str, **detail: Any) -> None:
    """Audit an action within the session that makes it: both are kept, or neither."""
    _audit(hub).append(AuditEntry(action=action, actor=hub.settings.operator, detail=detail), s)


def _as(s: Session, username: str) -> Caller:
    return users.caller_of(users.get_user(s, username))


def _password_from(env: str | None) -> str | None:
    if env is None:
        return None
    value = os.environ.get(env)
    if not value:
        raise InvalidInput(f"environment variable {env} is not set")
    return value


# -- users -----------------------------------------------------------------------------------------


@command(user_app, "add")
def user_add(
    username: str,
    department: Annotated[str | None, typer.Option(help="department code")] = None,
    role: Annotated[
        list[str] | None, typer.Option(help="admin operator steward member public")
    ] = None,
    email: Annotated[str | None, typer.Option()] = None,
    name: Annotated[str | None, typer.Option(help="display name")] = None,
    password_env: Annotated[
        str | None, typer.Option(help="read the password from this environment variable")
    ] = None,
    no_password: Annotated[bool, typer.Option(help="tokens only, no login")] = False,
) -> None:
    """Add a user; the password is asked for (hidden) unless given otherwise."""
    password = _password_from(password_env)
    if password is None and not no_password:
        password = typer.prompt("password", hide_input=True, confirmation_prompt=True)
    hub = open_hub()
    with hub.db.session() as s:
        user = users.create_user(
            s,
            username,
            password=password,
            department=department,
            roles=role or ["member"],
            email=email,
            display_name=name,
        )
        _record(hub, s, "user.add", user=user.username, roles=user.roles)
        out.print(f"user {user.username} ({', '.join(user.roles)}) added")


@command(user_app, "list")
def user_list(as_json: JsonOpt = False) -> None:
    """Every user, with department, roles and state."""
    with open_hub().db.session() as s:
        rows: list[dict[str, Any]] = [
            {
                "username": u.username,
                "department": u.department.code if u.department else None,
                "roles": u.roles,
                "email": u.email,
                "active": u.active,
                "last_login_at": u.last_login_at,
            }
            for u in users.list_users(s)
        ]
    if as_json:
        return print_json(rows)
    table(
        "users",
        ["username", "department", "roles", "email", "active", "last login"],
        [
            [
                r["username"],
                r["department"],
                ",".join(r["roles"]),
                r["email"],
                r["active"],
                r["last_login_at"],
            ]
            for r in rows
        ],
    )


@command(user_app, "set")
def user_set(
    username: str,
    role: Annotated[list[str] | None, typer.Option(help="the new roles (all of them)")] = None,
    active: Annotated[bool | None, typer.Option("--active/--inactive")] = None,
    password: Annotated[bool, typer.Option("--password", help="ask for a new password")] = False,
) -> None:
    """Change a user's roles, state or password. --inactive also revokes every token."""
    new_password = (
        typer.prompt("new password", hide_input=True, confirmation_prompt=True)
        if password
        else None
    )
    hub = open_hub()
    with hub.db.session() as s:
        user = users.get_user(s, username)
        changed = users.change_user(s, user, roles=role, active=active, password=new_password)
        _record(hub, s, "user.change", user=username, changed=changed)
    out.print(f"user {username}: {', '.join(changed) or 'nothing'} changed")


# -- tokens ----------------------------------------------------------------------------------------


@command(token_app, "new")
def token_new(
    username: str,
    name: Annotated[str, typer.Option(help="what the token is for")] = "cli",
    scope: Annotated[list[str] | None, typer.Option(help="read request approve admin")] = None,
    days: Annotated[float, typer.Option(help="lifetime in days; 0: never expires")] = 90,
) -> None:
    """A new token for USERNAME; printed once, on stdout alone (for scripts)."""
    hub = open_hub()
    with hub.db.session() as s:
        user = users.get_user(s, username)
        issued = users.issue_token(s, user, name, scopes=scope, days=days or None)
        _record(hub, s, "token.create", user=username, token=issued.token.prefix)
        err.print(
            f"token {issued.token.prefix}… for {username}: scopes {', '.join(issued.token.scopes)}"
            f"; expires {issued.token.expires_at or 'never'}. It is shown this once:"
        )
        print(issued.secret)


@command(token_app, "list")
def token_list(username: str, as_json: JsonOpt = False) -> None:
    """USERNAME's tokens (never the tokens themselves)."""
    with open_hub().db.session() as s:
        found = users.user_tokens(s, users.get_user(s, username))
        rows: list[dict[str, Any]] = [
            {
                "id": t.id,
                "prefix": t.prefix,
                "name": t.name,
                "kind": t.kind,
                "scopes": t.scopes,
                "state": users.token_state(t),
                "expires_at": t.expires_at,
                "last_used_at": t.last_used_at,
            }
            for t in found
        ]
    if as_json:
        return print_json(rows)
    table(
        f"tokens of {username}",
        ["id", "prefix", "name", "kind", "scopes", "state", "expires", "last used"],
        [[*list(r.values())[:4], ",".join(r["scopes"]), *list(r.values())[5:]] for r in rows],
    )


@command(token_app, "revoke")
def token_revoke(ident: Annotated[str, typer.Argument(help="token id or prefix")]) -> None:
    """Revoke a token: the next request with it is refused."""
    hub = open_hub()
    with hub.db.session() as s:
        token = users.find_token(s, ident)
        users.revoke_token(s, token)
        _record(hub, s, "token.revoke", user=token.user.username, token=token.prefix)
    out.print(f"token {token.prefix}… revoked")


# -- requests and grants ---------------------------------------------------------------------------


def _workflow(hub: Hub) -> Workflow:
    return Workflow(hub.settings, _audit(hub))


def _request_row(s: Session, r: AccessRequest) -> dict[str, Any]:
    return {
        "id": r.id,
        "dataset": r.dataset.code,
        "requester": r.requester.username,
        "purpose": r.purpose,
        "fields": r.fields,
        "status": r.status,
        "due_on": r.due_on,
        "overdue": sharing.is_overdue(r),
        "reason": r.reason,
    }


@command(request_app, "new")
def request_new(
    dataset: str,
    who: As,
    purpose: Annotated[str, typer.Option(help="what the data is for (用途)")],
    field: Annotated[list[str] | None, typer.Option(help="a wanted field (repeat)")] = None,
    where: Annotated[
        str | None, typer.Option(help='row filter as JSON: [{"field":…,"op":"eq","value":…}]')
    ] = None,
    days: Annotated[int, typer.Option()] = 365,
    accept_terms: Annotated[bool, typer.Option(help="the public: accept the terms")] = False,
) -> None:
    """Submit a request for DATASET as user --as."""
    row_filter = _json_list(where)
    hub = open_hub()
    with hub.db.session() as s:
        r = _workflow(hub).submit(
            s,
            _as(s, who),
            dataset,
            purpose=purpose,
            fields=field,
            row_filter=row_filter,
            days=days,
            accept_terms=accept_terms,
        )
        out.print(f"request {r.id} submitted; to be answered by {r.due_on} (working days)")


@command(request_app, "list")
def request_list(
    who: Annotated[str | None, typer.Option("--as", help="this user's requests/inbox")] = None,
    inbox: Annotated[bool, typer.Option(help="those the user answers")] = False,
    status: Annotated[str | None, typer.Option(help="pending approved refused overdue")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Requests: by default every one (the center's view); --as USER [--inbox] narrows."""
    with open_hub().db.session() as s:
        caller = _as(s, who) if who else CLI
        box = "inbox" if inbox or who is None else "mine"
        rows = [_request_row(s, r) for r in sharing.requests_for(s, caller, box=box, status=status)]
    if as_json:
        return print_json(rows)
    table(
        "requests",
        ["id", "dataset", "requester", "status", "due", "overdue", "purpose"],
        [
            [
                r["id"],
                r["dataset"],
                r["requester"],
                r["status"],
                r["due_on"],
                "OVERDUE" if r["overdue"] else "",
                r["purpose"],
            ]
            for r in rows
        ],
    )


@command(request_app, "approve")
def request_approve(
    request_id: int,
    who: As,
    field: Annotated[
        list[str] | None, typer.Option(help="grant only these: name or name=clear|mask|pseudonym")
    ] = None,
    where: Annotated[str | None, typer.Option(help="extra row filter (JSON list)")] = None,
    days: Annotated[int | None, typer.Option()] = None,
    note: Annotated[str | None, typer.Option()] = None,
) -> None:
    """Approve request REQUEST_ID as steward --as."""
    fields: dict[str, str] | None = None
    if field:
        fields = {}
        for item in field:
            name, _, treatment = item.partition("=")
            fields[name] = treatment or ""
    hub = open_hub()
    with hub.db.session() as s:
        grant = _workflow(hub).decide(
            s,
            _as(s, who),
            request_id,
            approve=True,
            reason=note,
            fields=fields,  # a name without a treatment gets the default of its grade
            row_filter=_json_list(where),
            days=days,
        )
        assert grant is not None
        out.print(f"request {request_id} approved: grant {grant.id} until {grant.expires_at}")


@command(request_app, "refuse")
def request_refuse(
    request_id: int, who: As, reason: Annotated[str, typer.Option(help="why (拒绝理由)")]
) -> None:
    """Refuse request REQUEST_ID as steward --as, with the reason."""
    hub = open_hub()
    with hub.db.session() as s:
        _workflow(hub).decide(s, _as(s, who), request_id, approve=False, reason=reason)
    out.print(f"request {request_id} refused")


@command(grant_app, "list")
def grant_list(
    all_: Annotated[bool, typer.Option("--all", help="also expired and revoked")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Grants (live ones unless --all)."""
    with open_hub().db.session() as s:
        rows: list[dict[str, Any]] = [
            {
                "id": g.id,
                "dataset": g.dataset.code,
                "to": g.department.code if g.department else (g.user.username if g.user else ""),
                "fields": g.fields,
                "row_filter": g.row_filter,
                "expires_at": g.expires_at,
                "state": sharing.grant_state(g),
            }
            for g in sharing.grants_for(s, CLI, live_only=not all_)
        ]
    if as_json:
        return print_json(rows)
    table(
        "grants",
        ["id", "dataset", "to", "fields", "rows", "expires", "state"],
        [
            [
                r["id"],
                r["dataset"],
                r["to"],
                ", ".join(f"{k}:{v}" for k, v in r["fields"].items()),
                json.dumps(r["row_filter"], ensure_ascii=False) if r["row_filter"] else "all",
                r["expires_at"],
                r["state"],
            ]
            for r in rows
        ],
    )


@command(grant_app, "revoke")
def grant_revoke(grant_id: int, who: As, reason: Annotated[str, typer.Option(help="why")]) -> None:
    """Revoke grant GRANT_ID as steward (or admin) --as: reads under it stop at once."""
    hub = open_hub()
    with hub.db.session() as s:
        _workflow(hub).revoke(s, _as(s, who), grant_id, reason)
    out.print(f"grant {grant_id} revoked")


# -- calendar --------------------------------------------------------------------------------------


@command(calendar_app, "set")
def calendar_set(
    day: Annotated[str, typer.Argument(help="YYYY-MM-DD")],
    workday: Annotated[bool, typer.Option("--workday", help="a weekend day worked (调休)")] = False,
    name: Annotated[str | None, typer.Option(help="e.g. 国庆节")] = None,
) -> None:
    """Mark DAY a holiday (default) or a working day."""
    when = _day(day)
    hub = open_hub()
    kind = "workday" if workday else "holiday"
    with hub.db.session() as s:
        sharing.set_day(s, when, kind, name)
        _record(hub, s, "calendar.set", day=day, kind=kind, name=name)
    out.print(f"{day}: {kind}" + (f" ({name})" if name else ""))


@command(calendar_app, "import")
def calendar_import(
    path: Annotated[str, typer.Argument(help="CSV: day,kind,name (kind: holiday|workday)")],
) -> None:
    """Load a year's holidays and worked weekend days from a CSV file."""
    hub = open_hub()
    count = 0
    with open(path, encoding="utf-8-sig", newline="") as f, hub.db.session() as s:
        for n, row in enumerate(csv.reader(f), start=1):
            if not row or row[0].strip().lower() in ("day", "date", "日期"):
                continue
            if len(row) < 2:
                raise InvalidInput(f"{path}, line {n}: expected day,kind[,name]")
            sharing.set_day(
                s, _day(row[0].strip()), row[1].strip(), row[2] if len(row) > 2 else None
            )
            count += 1
        _record(hub, s, "calendar.import", file=path, days=count)
    out.print(f"{count} calendar days loaded")


@command(calendar_app, "list")
def calendar_list(
    year: Annotated[int | None, typer.Option()] = None, as_json: JsonOpt = False
) -> None:
    """Holidays and worked weekend days."""
    with open_hub().db.session() as s:
        rows = [{"day": d.day, "kind": d.kind, "name": d.name} for d in sharing.list_days(s, year)]
    if as_json:
        return print_json(rows)
    table("calendar", ["day", "kind", "name"], [list(r.values()) for r in rows])


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise InvalidInput(f"{text!r} is not a day (YYYY-MM-DD)") from None


def _json_list(text: str | None) -> list[Any]:
    if not text:
        return []
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidInput(f"--where is not JSON: {exc}") from None
    if not isinstance(value, list):
        raise InvalidInput('--where is a JSON list: [{"field": …, "op": "eq", "value": …}]')
    return value
