"""The public part of the portal: home with the center's figures, catalog search with facets,
department pages, the language switch."""

from __future__ import annotations

import time
from typing import Annotated, Any
from urllib.parse import urlencode

import sqlalchemy as sa
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlalchemy.orm import Session

from cityhub.access import Caller, policy
from cityhub.access.models import AuditRecord
from cityhub.api.deps import Services, session
from cityhub.catalog import service
from cityhub.catalog.models import Dataset, Department
from cityhub.catalog.search import search as catalog_search
from cityhub.catalog.vocab import OpenType, ShareType
from cityhub.portal import i18n
from cityhub.portal.web import finish, render, services, who

router = APIRouter(include_in_schema=False)
Me = Annotated[Caller, Depends(who)]
Svc = Annotated[Services, Depends(services)]
Db = Annotated[Session, Depends(session)]
PAGE = 20
FACET_LABELS = {"department", "theme", "open_type", "format", "share_type"}


def vocab_label(lang: str, vocab: type, value: str | None) -> str:
    if not value:
        return ""
    try:
        member = vocab(value)
    except ValueError:
        return value
    return str(member.zh if lang == "zh" else member.en)


def labels(lang: str) -> dict[str, Any]:
    """Helpers templates use to show vocabulary values in the page's language."""
    return {
        "share_label": lambda v: vocab_label(lang, ShareType, v),
        "open_label": lambda v: vocab_label(lang, OpenType, v),
    }


@router.get("/", response_class=HTMLResponse)
def home(request: Request, me: Me, svc: Svc, db: Db) -> HTMLResponse:
    figures = svc.answers.get(db, ("stats",), lambda: service.stats(db))
    visible = svc.door.datasets(me)
    newest = list(
        db.scalars(visible.order_by(Dataset.created_at.desc(), Dataset.code).limit(8)).all()
    )
    largest = list(
        db.scalars(
            visible.where(Dataset.current_version.is_not(None))
            .order_by(Dataset.row_count.desc(), Dataset.code)
            .limit(8)
        ).all()
    )
    used = _most_used(db)  # then only what this caller may know of
    visible_codes = set(db.scalars(visible.with_only_columns(Dataset.code)))
    popular = [(code, n) for code, n in used if code in visible_codes][:8]
    wanted = [c for c, _ in popular]
    names = dict(
        db.execute(sa.select(Dataset.code, Dataset.name).where(Dataset.code.in_(wanted))).all()
    )
    themes: dict[str, int] = {}
    for themes_of in db.scalars(visible.with_only_columns(Dataset.themes)):
        for t in themes_of or []:
            themes[t] = themes.get(t, 0) + 1
    lang = i18n.pick(request)
    return render(
        request,
        "home.html",
        me=me,
        figures=figures,
        newest=newest,
        largest=largest,
        popular=[(code, names.get(code, code), n) for code, n in popular],
        themes=sorted(themes.items(), key=lambda kv: (-kv[1], kv[0]))[:16],
        **labels(lang),
    )


_USED_FOR = 60.0  # seconds a ranking is reused: it counts the whole audit log
_used: dict[str, tuple[float, list[tuple[str, int]]]] = {}  # by metadata DB


def _most_used(db: Session) -> list[tuple[str, int]]:
    """Datasets by the reads the audit log holds, most first, recounted once a minute at most
    (a ranking, not a live counter)."""
    key = str(db.get_bind().engine.url)
    at, ranking = _used.get(key, (0.0, []))
    if time.monotonic() - at < _USED_FOR:
        return ranking
    n = sa.func.count().label("n")
    found = db.execute(
        sa.select(AuditRecord.dataset, n)
        .where(AuditRecord.action == "read", AuditRecord.dataset.is_not(None))
        .group_by(AuditRecord.dataset)
        .order_by(n.desc(), AuditRecord.dataset)
        .limit(50)
    )
    ranking = [(str(code), int(count)) for code, count in found]
    _used[key] = (time.monotonic(), ranking)
    return ranking


@router.get("/datasets", response_class=HTMLResponse)
def search_page(
    request: Request,
    me: Me,
    svc: Svc,
    db: Db,
    q: str | None = None,
    department: str | None = None,
    theme: str | None = None,
    open_type: str | None = None,
    share_type: str | None = None,
    format: str | None = None,
    page: Annotated[int, Query(ge=1)] = 1,
) -> HTMLResponse:
    chosen = {
        "department": department,
        "theme": theme,
        "open_type": open_type,
        "share_type": share_type,
        "format": format,
    }
    found = catalog_search(
        db,
        q or None,
        **{k: v or None for k, v in chosen.items()},
        limit=PAGE,
        offset=(page - 1) * PAGE,
        where=policy.dataset_filter(me),
    )
    names = dict(db.execute(sa.select(Department.code, Department.name)).all())
    pages = max(1, -(-found.total // PAGE))
    lang = i18n.pick(request)
    return render(
        request,
        "search.html",
        me=me,
        q=q or "",
        found=found,
        chosen={k: v for k, v in chosen.items() if v},
        page=page,
        pages=pages,
        department_names=names,
        facet_label=lambda facet, value: (
            names.get(value, value)
            if facet == "department"
            else vocab_label(lang, OpenType, value)
            if facet == "open_type"
            else vocab_label(lang, ShareType, value)
            if facet == "share_type"
            else value
        ),
        link=lambda **change: _search_link(q, chosen, page, change),
    )


def _search_link(
    q: str | None, chosen: dict[str, str | None], page: int, change: dict[str, Any]
) -> str:
    params: dict[str, Any] = {"q": q, **chosen, "page": 1}
    params.update(change)
    return "/datasets?" + urlencode({k: v for k, v in params.items() if v not in (None, "", 1)})


@router.get("/departments", response_class=HTMLResponse)
def departments_page(request: Request, me: Me, svc: Svc, db: Db) -> HTMLResponse:
    visible = svc.door.datasets(me).subquery()
    counts = db.execute(
        sa.select(Department, sa.func.count(visible.c.id))
        .outerjoin(visible, visible.c.department_id == Department.id)
        .group_by(Department.id)
        .order_by(Department.code)
    ).all()
    return render(request, "departments.html", me=me, departments=counts)


@router.get("/departments/{code}", response_class=HTMLResponse)
def department_page(request: Request, code: str, me: Me, svc: Svc, db: Db) -> HTMLResponse:
    dept = service.get_department(db, code)
    found = db.scalars(
        svc.door.datasets(me).where(Dataset.department_id == dept.id).order_by(Dataset.code)
    ).all()
    return render(
        request,
        "department.html",
        me=me,
        department=dept,
        datasets=found,
        **labels(i18n.pick(request)),
    )


@router.get("/lang/{lang}")
def switch_language(request: Request, lang: str, next: str = "/") -> RedirectResponse:
    """The header's switch: remember the language, back to the page it was clicked on."""
    target = next if next.startswith("/") and not next.startswith("//") else "/"
    response = RedirectResponse(target, status_code=303)
    if lang in i18n.LANGUAGES:
        response.set_cookie(i18n.LANG_COOKIE, lang, max_age=365 * 86400, samesite="lax")
    finish(request, response)
    return response
