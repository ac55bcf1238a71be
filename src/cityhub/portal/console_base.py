"""What the console's pages (account, requests, stewards) share: the caller and services as
dependencies, the posted form, reading form values, labels in the page's language, times in the
center's own zone, and where a login may send the browser back to."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Annotated, Any
from urllib.parse import urlsplit

from fastapi import Depends
from sqlalchemy.orm import Session
from starlette.datastructures import FormData

from cityhub.access import Caller
from cityhub.api.deps import Services, session
from cityhub.catalog.models import Dataset, FieldInfo
from cityhub.errors import InvalidInput
from cityhub.portal.web import form, services, who

Me = Annotated[Caller, Depends(who)]
Svc = Annotated[Services, Depends(services)]
Db = Annotated[Session, Depends(session)]
# The posted form, its CSRF token checked (`await form(request)`) before the page's code runs:
# a forged post never reaches it.
Posted = Annotated[FormData, Depends(form)]
Gettext = Callable[[str], str]


def text(data: FormData, name: str, limit: int = 10_000) -> str:
    """A posted text value, trimmed (a file or nothing reads as empty)."""
    value = data.get(name)
    return value.strip()[:limit] if isinstance(value, str) else ""


def whole(data: FormData, name: str, lo: int, hi: int, message: str) -> int:
    """A posted whole number from `lo` to `hi`; otherwise `message` as the form's error."""
    try:
        number = int(text(data, name))
    except ValueError:
        raise InvalidInput(message) from None
    if not lo <= number <= hi:
        raise InvalidInput(message)
    return number


def same_site(target: str | None) -> str:
    """Where to go after a login: a path of this site, never another site (an open redirect
    would lend the center's name to phishing). Browsers read a backslash as a slash."""
    if not target or not target.startswith("/") or target.startswith("//"):
        return "/"
    if "\\" in target or any(ord(c) < 32 for c in target):
        return "/"
    parts = urlsplit(target)
    return "/" if parts.scheme or parts.netloc else target


def words(_: Gettext) -> dict[str, dict[str, str]]:
    """The workflow's and tokens' codes in the page's language."""
    return {
        "status": {
            "pending": _("Pending"),
            "approved": _("Approved"),
            "refused": _("Refused"),
            "withdrawn": _("Withdrawn"),
        },
        "treatment": {
            "clear": _("Clear"),
            "mask": _("Masked"),
            "pseudonym": _("Pseudonymised"),
        },
        "scope": {
            "read": _("Read data"),
            "request": _("Request access"),
            "approve": _("Approve requests"),
            "admin": _("Administer"),
        },
        "state": {"active": _("Active"), "expired": _("Expired"), "revoked": _("Revoked")},
        "op": {
            "eq": _("equals"),
            "ne": _("is not"),
            "lt": _("less than"),
            "lte": _("at most"),
            "gt": _("greater than"),
            "gte": _("at least"),
            "in": _("one of (comma-separated)"),
            "like": _("matches (% any text)"),
            "contains": _("contains"),
            "startswith": _("starts with"),
            "isnull": _("is empty"),
        },
    }


def row_filter_of(data: FormData, prefix: str = "filter") -> list[Mapping[str, Any]]:
    """The one row filter a form may carry (field, operator, value), as the workflow takes it;
    none when no field is chosen. Checked against the dataset by the workflow."""
    field = text(data, f"{prefix}-field", 300)
    if not field:
        return []
    op = text(data, f"{prefix}-op", 20) or "eq"
    raw = text(data, f"{prefix}-value", 1000)
    value: Any = raw
    if op == "in":
        value = [v.strip() for v in raw.replace("，", ",").split(",") if v.strip()]
    elif op == "isnull":
        value = raw.lower() not in {"false", "0", "no", "否"}
    return [{"field": field, "op": op, "value": value}]


def describe_filters(
    ds: Dataset, filters: Iterable[Mapping[str, Any]], ops: Mapping[str, str]
) -> list[str]:
    """Row filters as a person reads them: 区县 equals 南湖区."""
    titles = {f.name: f.title for f in ds.fields}
    out = []
    for f in filters:
        value = f.get("value")
        shown = "、".join(map(str, value)) if isinstance(value, list) else value
        name = str(f.get("field"))
        op = str(f.get("op"))
        parts = [titles.get(name, name), ops.get(op, op)]
        if op != "isnull":
            parts.append(str(shown))
        out.append(" ".join(parts))
    return out


def present_fields(ds: Dataset) -> list[FieldInfo]:
    return [f for f in ds.fields if f.present]
