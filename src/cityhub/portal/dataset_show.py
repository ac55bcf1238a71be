"""How the dataset page words things: the catalog record, the data dictionary, how the caller
reads the dataset, and copy-ready API examples. Nothing here reads data."""

from __future__ import annotations

import shlex
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from urllib.parse import quote

from cityhub.access import Caller
from cityhub.access.door import Column
from cityhub.access.identity import Scope
from cityhub.access.policy import Access, Treatment, effective_grade
from cityhub.catalog.models import Dataset, FieldInfo
from cityhub.catalog.vocab import DataLevel, DataType, Grade, OpenType, ShareType, UpdateCycle
from cityhub.portal.public import vocab_label
from cityhub.portal.web import local_day, local_time

Gettext = Callable[[str], str]
EXPORTS = {"csv": "CSV", "json": "JSON", "ndjson": "NDJSON", "parquet": "Parquet", "xlsx": "XLSX"}


def N_(message: str) -> str:
    """Mark a message for translation where no request is at hand yet (extracted by Babel,
    translated when the page is rendered)."""
    return message


SEMANTIC_LABELS = {
    "id_card": N_("ID number"),
    "credit_code": N_("Unified social credit code"),
    "bank_card": N_("Bank card number"),
    "email": N_("Email"),
    "plate": N_("Licence plate"),
    "mobile": N_("Mobile number"),
    "landline": N_("Landline number"),
    "postcode": N_("Postcode"),
    "longitude": N_("Longitude"),
    "latitude": N_("Latitude"),
    "date": N_("Date"),
    "address": N_("Address"),
    "person_name": N_("Personal name"),
}
# How a field is read: the label and the CSS badge (portal.css has clear, mask and none).
READING = {
    "clear": (N_("Clear"), "clear"),
    "mask": (N_("Masked"), "mask"),
    "pseudonym": (N_("Pseudonymised"), "mask"),
    "none": (N_("Not readable"), "none"),
}


def when(value: datetime | date | None) -> str:
    """A time as the page shows it: the center's wall-clock time, to the minute; a day as is."""
    if isinstance(value, datetime):
        return local_time(value)
    return local_day(value)


def figure(value: object) -> str:
    """A chart's figure as its table shows it: thousands separated, at most two decimals."""
    if isinstance(value, bool) or value is None:
        return "" if value is None else str(value)
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.2f}".rstrip("0").rstrip(".")
    return str(value)


@dataclass(frozen=True)
class Entry:
    """One line of the catalog record: a label, and text or links (label, href)."""

    label: str
    text: str = ""
    links: tuple[tuple[str, str], ...] = ()
    code: bool = False  # machine text (codes), shown in monospace


def record(ds: Dataset, lang: str, _: Gettext) -> list[Entry]:
    """The catalog record (STANDARDS.md §1) in the page's language; "—" where it is blank."""
    english = lang == "en"
    summary = (ds.summary_en if english and ds.summary_en else ds.summary) or ""
    out = [
        Entry(_("Code"), ds.code, code=True),
        Entry(
            _("Department"),
            links=(
                (
                    (ds.department.name_en if english and ds.department.name_en else None)
                    or ds.department.name,
                    f"/departments/{quote(ds.department.code)}",
                ),
            ),
        ),
        Entry(_("Summary"), summary),
        Entry(_("Classification"), ds.classification or "", code=True),
        Entry(_("Format"), ds.format or ""),
        Entry(_("Share type"), vocab_label(lang, ShareType, ds.share_type)),
        Entry(_("Share condition"), ds.share_condition or ""),
        Entry(_("Share method"), ds.share_method or ""),
        Entry(_("Open type"), vocab_label(lang, OpenType, ds.open_type)),
        Entry(_("Open condition"), ds.open_condition or ""),
    ]
    if ds.share_type == ShareType.NOT_SHARED.value or ds.open_type == OpenType.NOT_OPEN.value:
        out.append(Entry(_("Legal basis"), ds.legal_basis or ""))
    out += [
        Entry(_("Data level"), vocab_label(lang, DataLevel, ds.data_level)),
        Entry(_("Update cycle"), vocab_label(lang, UpdateCycle, ds.update_cycle)),
        Entry(_("Publish date"), when(ds.publish_date)),
        Entry(
            _("Themes"),
            links=tuple((t, f"/datasets?theme={quote(t)}") for t in ds.themes or []),
        ),
        Entry(_("Tags"), "、".join(ds.tags or []) if lang == "zh" else ", ".join(ds.tags or [])),
        Entry(
            _("Related datasets"),
            links=tuple((c, f"/datasets/{quote(c)}") for c in ds.related_codes or []),
        ),
        Entry(_("Key fields"), ", ".join(ds.key_fields or [])),
        Entry(_("Records"), f"{ds.row_count:,}" if ds.connected else ""),
        Entry(_("Last sync"), when(ds.last_sync_at)),
    ]
    return out


@dataclass(frozen=True)
class FieldRow:
    name: str
    title: str
    description: str
    data_type: str
    semantic: str
    grade: str
    grade_label: str
    reading: str  # clear, mask, pseudonym or none
    reading_label: str
    badge: str


def dictionary(
    fields: list[FieldInfo], allowed: Access | None, lang: str, _: Gettext
) -> list[FieldRow]:
    """The fields the catalog lists for the caller, each with how the caller reads it."""
    treatments = allowed.fields if allowed is not None else {}
    out = []
    for f in fields:
        treatment = treatments.get(f.name)
        reading = treatment.value if isinstance(treatment, Treatment) else "none"
        label, badge = READING[reading]
        grade = effective_grade(f)
        semantic = SEMANTIC_LABELS.get(f.semantic_type or "")
        out.append(
            FieldRow(
                name=f.name,
                title=f.title,
                description=f.description or "",
                data_type=vocab_label(lang, DataType, f.data_type),
                semantic=_(semantic) if semantic else (f.semantic_type or ""),
                grade=grade,
                grade_label=vocab_label(lang, Grade, grade),
                reading=reading,
                reading_label=_(label),
                badge=badge,
            )
        )
    return out


def basis_text(allowed: Access, _: Gettext) -> str:
    """Why the caller reads what it reads, in words (Access.basis is for the audit)."""
    if allowed.basis == "center staff":
        return _("As the center's staff you read every field in clear.")
    if allowed.basis == "own department":
        return _("This is your department's dataset: you read every field in clear.")
    if allowed.basis == "unconditional sharing":
        return _(
            "Shared with every department: sensitive fields (L3) are masked and highly "
            "sensitive ones (L4) withheld."
        )
    if allowed.basis == "open data":
        return _(
            "Open to all: sensitive fields (L3) are masked and highly sensitive ones (L4) withheld."
        )
    if allowed.grant_id is not None:
        return _("You read this dataset under grant %(grant)s: the fields and rows it names.") % {
            "grant": allowed.grant_id
        }
    return ""


def may_ask_more(who: Caller, allowed: Access | None) -> bool:
    """Whether a grant could give a reader more than the defaults do: a department's user who
    reads by unconditional sharing or as open data (masked L3, no L4). A grant never lifts
    the public's limits, and staff and the owner read everything already."""
    if allowed is None or who.anonymous or who.is_public or not who.can(Scope.REQUEST):
        return False
    return allowed.basis in ("unconditional sharing", "open data")


@dataclass(frozen=True)
class Refusal:
    """Why the caller may not read rows, and whether asking for access can help."""

    reason: str
    detail: str  # the door's own message
    may_request: bool


def refusal(who: Caller, ds: Dataset, message: str, _: Gettext) -> Refusal:
    if not who.can(Scope.READ):
        return Refusal(_("This key may not read data (it lacks the read scope)."), message, False)
    if not who.is_public and ds.share_type == ShareType.NOT_SHARED.value:
        return Refusal(
            _(
                "This dataset is not shared (不予共享): its rows are never read; "
                "see its legal basis."
            ),
            message,
            False,
        )
    if who.is_public:
        reason = _(
            "This dataset is open on conditions: registered users who accept its terms may apply "
            "to use it."
        )
    else:
        reason = _(
            "This dataset is shared on conditions: apply with a purpose; its department answers "
            "within 10 working days."
        )
    return Refusal(reason, message, True)


@dataclass(frozen=True)
class Download:
    label: str
    href: str
    hint: str = ""


def downloads(code: str, version: int | None, _: Gettext) -> list[Download]:
    """Export links of the version shown (the API streams them, through the door)."""
    base = f"/api/v1/datasets/{quote(code)}/export"
    at = f"version={version}" if version is not None else ""
    out = []
    for fmt, name in EXPORTS.items():
        out.append(Download(name, f"{base}.{fmt}" + (f"?{at}" if at else "")))
        if fmt == "csv":
            out.append(
                Download(
                    _("CSV for Excel"),
                    f"{base}.csv?bom=true" + (f"&{at}" if at else ""),
                    _("with a byte-order mark, so Excel reads Chinese text"),
                )
            )
    return out


@dataclass(frozen=True)
class Example:
    id: str
    title: str
    code: str


def _sample(columns: list[Column], first: dict[str, Any] | None) -> tuple[str, str] | None:
    """A (field, value) to filter on in the examples: a text field read in clear, with the
    value of the preview's first row (the caller reads it there too)."""
    if first is None:
        return None
    for c in columns:
        value = first.get(c.name)
        text = value if isinstance(value, str) else ""
        short = 0 < len(text) <= 40 and "\n" not in text
        if short and not c.masked and c.data_type == DataType.STRING.value:
            return c.name, text
    return None


def examples(
    base: str, code: str, columns: list[Column], first: dict[str, Any] | None, _: Gettext
) -> list[Example]:
    """curl, Python (httpx) and ckanapi reading this dataset's rows. The key is a placeholder:
    no page ever prints a real token."""
    key = _("<your key>")
    sample = _sample(columns, first)
    url = f"{base}/api/v1/datasets/{quote(code)}/rows"
    curl = [f"curl -G {shlex.quote(url)} \\", f'  -H "Authorization: Bearer {key}" \\']
    if sample is not None:
        curl.append(f"  --data-urlencode {shlex.quote(f'filter={sample[0]}:eq:{sample[1]}')} \\")
    curl.append("  --data-urlencode 'limit=100'")
    params: dict[str, object] = {"limit": 100}
    if sample is not None:
        params = {"filter": f"{sample[0]}:eq:{sample[1]}", "limit": 100}
    items = ", ".join(f"{k!r}: {v!r}" for k, v in params.items())
    python = "\n".join(
        [
            "import httpx",
            "",
            f"BASE = {base!r}",
            f'headers = {{"Authorization": "Bearer {key}"}}  # ' + _("your API key"),
            "response = httpx.get(",
            f'    f"{{BASE}}/api/v1/datasets/{code}/rows",',
            f"    params={{{items}}},",
            "    headers=headers,",
            ")",
            "response.raise_for_status()",
            'for row in response.json()["rows"]:',
            "    print(row)",
        ]
    )
    filters = f", filters={{{sample[0]!r}: {sample[1]!r}}}" if sample is not None else ""
    ckan = "\n".join(
        [
            "from ckanapi import RemoteCKAN",
            "",
            f"ckan = RemoteCKAN({base!r}, apikey={key!r})",
            f"result = ckan.action.datastore_search(resource_id={code!r}{filters}, limit=100)",
            'print(result["total"], result["records"][:3])',
        ]
    )
    return [
        Example("curl", "curl", "\n".join(curl)),
        Example("python", _("Python (httpx)"), python),
        Example("ckanapi", "ckanapi", ckan),
    ]
