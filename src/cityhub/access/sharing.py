"""The sharing workflow (STANDARDS.md §2-3): request → decision → grant, and the working-day
calendar its deadline is counted on.

A department user requests a dataset of another department with a purpose, the fields wanted,
an optional row filter and a duration; a member of the public applies for a conditionally open
dataset the same way, accepting its terms. A steward of the providing department approves it
(possibly narrowing the fields, each clear, masked or pseudonymised, and the rows) or refuses
it with a reason, within `answer_working_days` working days; requests past that are overdue.
Grants expire and can be revoked. Every step is written to the audit log before it is kept:
if the audit cannot be written, the step fails.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, get_args
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.orm import Session, selectinload

from cityhub.access import policy
from cityhub.access.audit import AuditEntry, AuditLog
from cityhub.access.identity import Caller, Role, Scope
from cityhub.access.models import AccessRequest, CalendarDay, Grant
from cityhub.access.policy import Treatment, effective_grade, grade_rank
from cityhub.catalog.models import Dataset, FieldInfo, utcnow
from cityhub.catalog.service import get_dataset
from cityhub.catalog.vocab import Grade, OpenType, ShareType
from cityhub.config import Settings
from cityhub.errors import Conflict, Forbidden, InvalidInput, NotFound
from cityhub.query.spec import Op

LOCAL = ZoneInfo("Asia/Shanghai")  # deadlines are counted in the center's own days
FILTER_OPS = get_args(Op)  # the row filters a grant may hold are the API's filters


# -- the calendar ----------------------------------------------------------------------------------


def calendar(s: Session, start: date, end: date) -> dict[date, str]:
    """Exceptions to Monday-Friday between `start` and `end`: day -> holiday | workday."""
    rows = s.execute(
        sa.select(CalendarDay.day, CalendarDay.kind).where(CalendarDay.day.between(start, end))
    )
    return {day: kind for day, kind in rows}


def is_working_day(day: date, exceptions: Mapping[date, str]) -> bool:
    kind = exceptions.get(day)
    if kind is not None:
        return kind == "workday"
    return day.weekday() < 5


def add_working_days(start: date, days: int, exceptions: Mapping[date, str]) -> date:
    """The `days`-th working day after `start` (the day of submission does not count)."""
    day, left = start, days
    while left > 0:
        day += timedelta(days=1)
        if is_working_day(day, exceptions):
            left -= 1
    return day


def due_date(s: Session, start: date, days: int) -> date:
    # Holidays seldom run more than a couple of weeks: three times the span covers them.
    return add_working_days(start, days, calendar(s, start, start + timedelta(days=days * 3 + 30)))


def set_day(s: Session, day: date, kind: str, name: str | None = None) -> CalendarDay:
    if kind not in ("holiday", "workday"):
        raise InvalidInput(f"calendar day {day}: kind is holiday or workday, not {kind!r}")
    found = s.get(CalendarDay, day)
    if found is None:
        found = CalendarDay(day=day, kind=kind, name=name)
        s.add(found)
    else:
        found.kind, found.name = kind, name
    return found


def remove_day(s: Session, day: date) -> None:
    found = s.get(CalendarDay, day)
    if found is None:
        raise NotFound(f"{day} is not in the calendar")
    s.delete(found)


def list_days(s: Session, year: int | None = None) -> list[CalendarDay]:
    query = sa.select(CalendarDay).order_by(CalendarDay.day)
    if year is not None:
        query = query.where(CalendarDay.day.between(date(year, 1, 1), date(year, 12, 31)))
    return list(s.scalars(query))


def today() -> date:
    return datetime.now(LOCAL).date()


# -- requests --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Workflow:
    """The workflow over one home: its settings and its audit log."""

    settings: Settings
    audit: AuditLog

    def _audit(
        self, s: Session, who: Caller, action: str, ds: Dataset | None, **detail: Any
    ) -> None:
        dataset = ds.code if ds is not None else None
        self.audit.append(AuditEntry.by(who, action, dataset=dataset, **detail), s)

    def submit(
        self,
        s: Session,
        who: Caller,
        dataset: str,
        *,
        purpose: str,
        fields: list[str] | None = None,
        row_filter: list[Mapping[str, Any]] | None = None,
        days: int = 365,
        accept_terms: bool = False,
    ) -> AccessRequest:
        """A new request by `who` for `dataset`."""
        if who.user_id is None:
            raise Forbidden("requests are made by registered users: log in or register first")
        if not who.can(Scope.REQUEST):
            raise Forbidden("this token may not make requests (it lacks the request scope)")
        ds = _visible(s, who, dataset)
        if who.department_id is not None and who.department_id == ds.department_id:
            raise InvalidInput(f"dataset {ds.code!r} is your own department's: read it directly")
        if who.is_public:
            if ds.open_type != OpenType.CONDITIONAL.value:
                raise InvalidInput(
                    f"dataset {ds.code!r} is {OpenType(ds.open_type).zh}: "
                    + ("read it directly" if ds.open_type == "unconditional" else "not open")
                )
            if not accept_terms:
                terms = ds.open_condition or "the terms of use of open data"
                raise InvalidInput(f"accept the terms to apply for {ds.code!r}: {terms}")
        elif ds.share_type == ShareType.NOT_SHARED.value:
            basis = f" (legal basis: {ds.legal_basis})" if ds.legal_basis else ""
            raise Forbidden(f"dataset {ds.code!r} is not shared (不予共享){basis}")
        if not purpose.strip():
            raise InvalidInput("a request states its purpose (用途)")
        if not 1 <= days <= self.settings.grant_max_days:
            raise InvalidInput(f"days: from 1 to {self.settings.grant_max_days}")
        names = _field_names(ds, fields or [])
        filters = check_row_filter(ds, row_filter or [])
        submitted = today()
        request = AccessRequest(
            dataset_id=ds.id,
            requester_id=who.user_id,
            department_id=who.department_id,
            purpose=purpose.strip(),
            fields=names,
            row_filter=filters,
            days=days,
            terms_accepted=accept_terms,
            due_on=due_date(s, submitted, self.settings.answer_working_days),
        )
        s.add(request)
        s.flush()
        self._audit(
            s, who, "request.submit", ds, request=request.id, fields=names, row_filter=filters
        )
        return request

    def decide(
        self,
        s: Session,
        who: Caller,
        request_id: int,
        *,
        approve: bool,
        reason: str | None = None,
        fields: Mapping[str, str] | list[str] | None = None,
        row_filter: list[Mapping[str, Any]] | None = None,
        days: int | None = None,
    ) -> Grant | None:
        """Approve (a grant, possibly narrower than asked) or refuse (with a reason)."""
        request = _request(s, request_id)
        ds = request.dataset
        if not who.can(Scope.APPROVE) or not who.stewards(ds.department_id):
            raise Forbidden(
                f"request {request_id} is answered by a steward of {ds.department.name} "
                f"({ds.department.code})"
            )
        if request.status != "pending":
            raise Conflict(f"request {request_id} is {request.status} already")
        request.decided_at = utcnow()
        request.decided_by_id = who.user_id
        if not approve:
            if not reason or not reason.strip():
                raise InvalidInput("a refusal gives its reason (拒绝理由)")
            request.status, request.reason = "refused", reason.strip()
            s.flush()
            self._audit(s, who, "request.refuse", ds, request=request.id, reason=request.reason)
            return None
        treatments = _treatments(ds, request, fields)
        extra = check_row_filter(ds, row_filter or [])
        duration = request.days if days is None else days
        if not 1 <= duration <= request.days:
            raise InvalidInput(f"days: from 1 to the {request.days} asked for")
        request.status, request.reason = "approved", (reason or "").strip() or None
        grant = Grant(
            request_id=request.id,
            dataset_id=ds.id,
            department_id=request.department_id,
            user_id=request.requester_id if request.department_id is None else None,
            fields=treatments,
            row_filter=[*request.row_filter, *extra],  # the steward's filters narrow the asked
            purpose=request.purpose,
            granted_by_id=who.user_id,
            expires_at=utcnow() + timedelta(days=duration),
        )
        s.add(grant)
        s.flush()
        self._audit(
            s,
            who,
            "request.approve",
            ds,
            request=request.id,
            grant_id=grant.id,
            fields=sorted(treatments),
            treatments=treatments,
            row_filter=grant.row_filter,
            days=duration,
        )
        return grant

    def withdraw(self, s: Session, who: Caller, request_id: int) -> AccessRequest:
        request = _request(s, request_id)
        if request.requester_id != who.user_id:
            raise Forbidden(f"request {request_id} is not yours to withdraw")
        if request.status != "pending":
            raise Conflict(f"request {request_id} is {request.status} already")
        request.status = "withdrawn"
        s.flush()
        self._audit(s, who, "request.withdraw", request.dataset, request=request.id)
        return request

    def revoke(self, s: Session, who: Caller, grant_id: int, reason: str) -> Grant:
        """End a grant now: the next read under it is refused."""
        grant = s.get(Grant, grant_id, options=[selectinload(Grant.dataset)])
        if grant is None:
            raise NotFound(f"no grant {grant_id}")
        ds = grant.dataset
        if not who.stewards(ds.department_id) or not who.scopes & {Scope.APPROVE, Scope.ADMIN}:
            raise Forbidden(f"grant {grant_id} is revoked by a steward of {ds.department.code}")
        if grant.revoked_at is not None:
            raise Conflict(f"grant {grant_id} is revoked already")
        if not reason.strip():
            raise InvalidInput("a revocation gives its reason")
        grant.revoked_at, grant.revoked_by_id = utcnow(), who.user_id
        grant.revoke_reason = reason.strip()
        s.flush()
        self._audit(s, who, "grant.revoke", ds, grant_id=grant.id, reason=grant.revoke_reason)
        return grant


def requests_for(
    s: Session, who: Caller, *, box: str = "mine", status: str | None = None
) -> list[AccessRequest]:
    """`mine`: the caller's own requests; `inbox`: those the caller answers (a steward's
    department's datasets; all for admins and operators)."""
    query = (
        sa.select(AccessRequest)
        .options(
            selectinload(AccessRequest.dataset).selectinload(Dataset.department),
            selectinload(AccessRequest.requester),
            selectinload(AccessRequest.department),
        )
        .order_by(AccessRequest.id.desc())
    )
    if box == "mine":
        query = query.where(AccessRequest.requester_id == (who.user_id or -1))
    elif box == "inbox":
        if not who.is_operator and Role.ADMIN not in who.roles:
            if Role.STEWARD not in who.roles or who.department_id is None:
                raise Forbidden("only stewards (and the center's staff) have an inbox")
            query = query.join(Dataset).where(Dataset.department_id == who.department_id)
    else:
        raise InvalidInput(f"box {box!r}: mine or inbox")
    if status == "overdue":
        query = query.where(AccessRequest.status == "pending", AccessRequest.due_on < today())
    elif status is not None:
        query = query.where(AccessRequest.status == status)
    return list(s.scalars(query))


def is_overdue(request: AccessRequest, on: date | None = None) -> bool:
    return request.status == "pending" and (on or today()) > request.due_on


def working_days_left(s: Session, request: AccessRequest) -> int:
    """Working days from today to the deadline (negative when overdue)."""
    now, due = today(), request.due_on
    lo, hi = min(now, due), max(now, due)
    exceptions = calendar(s, lo, hi)
    count = sum(
        1
        for n in range(1, (hi - lo).days + 1)
        if is_working_day(lo + timedelta(days=n), exceptions)
    )
    return count if due >= now else -count


def grants_for(s: Session, who: Caller, *, live_only: bool = True) -> list[Grant]:
    """Grants the caller holds (or their department does); for stewards also those given on
    their department's datasets; for the center's staff all."""
    query = sa.select(Grant).options(
        selectinload(Grant.dataset).selectinload(Dataset.department),
        selectinload(Grant.department),
        selectinload(Grant.user),
    )
    if not who.is_operator:
        mine = [Grant.user_id == (who.user_id or -1)]
        if who.department_id is not None:
            mine.append(Grant.department_id == who.department_id)
            if Role.STEWARD in who.roles:
                query = query.join(Dataset)
                mine.append(Dataset.department_id == who.department_id)
        query = query.where(sa.or_(*mine))
    if live_only:
        query = query.where(Grant.revoked_at.is_(None), Grant.expires_at > utcnow())
    return list(s.scalars(query.order_by(Grant.id.desc())))


def grant_state(grant: Grant) -> str:
    if grant.revoked_at is not None:
        return "revoked"
    expires = grant.expires_at
    if expires.tzinfo is None:
        expires = expires.replace(tzinfo=utcnow().tzinfo)
    return "expired" if expires <= utcnow() else "active"


# -- checks ----------------------------------------------------------------------------------------


def _visible(s: Session, who: Caller, code: str) -> Dataset:
    ds = get_dataset(s, code)
    if not policy.may_see(who, ds):
        raise NotFound(f"no dataset {code!r}", dataset=code)
    return ds


def _request(s: Session, request_id: int) -> AccessRequest:
    request = s.get(
        AccessRequest,
        request_id,
        options=[selectinload(AccessRequest.dataset).selectinload(Dataset.department)],
    )
    if request is None:
        raise NotFound(f"no request {request_id}")
    return request


def _present(ds: Dataset) -> dict[str, FieldInfo]:
    return {f.name: f for f in ds.fields if f.present}


def _field_names(ds: Dataset, wanted: Iterable[str]) -> list[str]:
    """Machine names of the wanted fields (by name or title); unknown ones are an error."""
    present = _present(ds)
    by_title = {f.title: f.name for f in present.values()}
    names: list[str] = []
    for key in wanted:
        name = key if key in present else by_title.get(key)
        if name is None:
            raise InvalidInput(
                f"dataset {ds.code!r} has no field {key!r}; fields: {', '.join(present)}",
                field=key,
            )
        if name not in names:
            names.append(name)
    return names


def check_row_filter(ds: Dataset, filters: list[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Row filters as stored on a grant: {field (machine name), op, value}, checked here so a
    grant never holds one the engine would refuse."""
    present = _present(ds)
    out = []
    for f in filters:
        if not isinstance(f, Mapping) or "field" not in f or "op" not in f:
            raise InvalidInput(f"row filter {f!r}: write it as {{field, op, value}}")
        name = _field_names(ds, [str(f["field"])])[0]
        op = str(f["op"])
        if op not in FILTER_OPS:
            raise InvalidInput(f"row filter on {name}: op {op!r} is not one of {FILTER_OPS}")
        if op in ("like", "contains", "startswith") and present[name].data_type != "string":
            raise InvalidInput(f"row filter on {name}: {op} works on text fields only")
        out.append({"field": name, "op": op, "value": f.get("value")})
    return out


def default_treatment(field: FieldInfo) -> Treatment:
    """What an approval gives a field unless the steward says otherwise: L1-L2 clear, masked
    from L3 on (a steward may still grant it clear or pseudonymised)."""
    if grade_rank(effective_grade(field)) < grade_rank(Grade.L3.value):
        return Treatment.CLEAR
    return Treatment.MASK


def _treatments(
    ds: Dataset, request: AccessRequest, given: Mapping[str, str] | list[str] | None
) -> dict[str, str]:
    present = _present(ds)
    asked = request.fields or list(present)
    if given is None:
        chosen: dict[str, str | None] = dict.fromkeys(asked)
    elif isinstance(given, Mapping):
        chosen = {_field_names(ds, [k])[0]: v for k, v in given.items()}
    else:
        chosen = dict.fromkeys(_field_names(ds, given))
    beyond = [n for n in chosen if n not in asked]
    if beyond:
        raise InvalidInput(f"an approval may narrow the fields asked, not add {beyond}")
    out = {}
    for name, wanted in chosen.items():
        if name not in present:
            continue  # dropped by a sync since the request
        try:
            treatment = Treatment(wanted) if wanted else default_treatment(present[name])
        except ValueError:
            raise InvalidInput(
                f"field {name}: treatment {wanted!r} is not one of clear, mask, pseudonym"
            ) from None
        out[name] = treatment.value
    if not out:
        raise InvalidInput("an approval grants at least one field; refuse the request instead")
    return out
