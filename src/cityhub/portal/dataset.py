"""The dataset page (/datasets/{code}): the catalog record, the data dictionary, a preview of the
rows as the caller may read them, a quick chart, a map, the version history, downloads, API
examples, DCAT links and usage figures.

Everything is read through the access door, as the API reads it: a dataset the caller may not
know of is the 404 page, one they may not read shows why and how to ask. The page works with
JavaScript off; static/plots.js only draws what the page already holds (as
JSON in `<script type="application/json">` elements, which never run).
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse
from sqlalchemy.orm import Session

from cityhub.access import Caller, policy
from cityhub.api.deps import Services, session
from cityhub.portal import dataset_data as data
from cityhub.portal import dataset_show as show
from cityhub.portal import i18n
from cityhub.portal.public import labels
from cityhub.portal.web import gettext_for, render, services, who

router = APIRouter(include_in_schema=False)
Me = Annotated[Caller, Depends(who)]
Svc = Annotated[Services, Depends(services)]
Db = Annotated[Session, Depends(session)]
VERSIONS_SHOWN = 50


def _version(text: str | None) -> int | None:
    """`?version=N` when it is a version number; anything else means the current one."""
    return int(text) if text is not None and text.isdigit() else None


def _missing(reading: data.Reading, wanted: int | None, _: show.Gettext) -> str | None:
    """Why a dataset with data that the caller may read shows no rows: the version asked for
    is not one of its own (the door's NotFound once the dataset itself was found)."""
    if reading.refused or reading.problem is None:
        return None
    if wanted is not None:
        return _("This dataset has no version %(version)s.") % {"version": wanted}
    return reading.problem


@router.get("/datasets/{code}", response_class=HTMLResponse)
def dataset_page(
    request: Request,
    code: str,
    me: Me,
    svc: Svc,
    db: Db,
    version: str | None = None,
    by: str | None = None,
    metric: str | None = None,
) -> HTMLResponse:
    _ = gettext_for(request)
    lang = i18n.pick(request)
    ds = svc.door.dataset(db, me, code)  # NotFound: the 404 page, known or not
    allowed = svc.door.access(db, me, ds)
    wanted = _version(version)
    reading = data.open_view(svc, db, me, ds.code, wanted) if ds.connected else data.Reading(None)
    problem = _missing(reading, wanted, _)
    if reading.view is not None and not reading.view.columns:  # a grant naming no field left
        reading = data.Reading(None)
        problem = _("You may read none of this dataset's fields.")
    view = reading.view

    preview = chart_form = chart = map_data = None
    if view is not None:
        preview = data.preview(svc, me, view, _)
        chart_form = data.chart_form(view, by, metric, _)
        if by:
            chart = data.chart(svc, me, view, chart_form, _)
        # the map shows the version previewed, like the rest of the page
        map_data = data.map_points(svc, me, ds, allowed, view, _)

    refusal = show.refusal(me, ds, reading.problem or "", _) if reading.refused else None
    history = svc.hub.lake.history(ds.code)[:VERSIONS_SHOWN] if ds.connected else []
    older = view is not None and view.version != view.current_version
    here = f"/datasets/{quote(ds.code)}"
    return render(
        request,
        "dataset/page.html",
        me=me,
        ds=ds,
        title=(ds.name_en if lang == "en" and ds.name_en else None) or ds.name,
        here_path=here,
        record=show.record(ds, lang, _),
        fields=show.dictionary(policy.visible_fields(me, ds, allowed), allowed, lang, _),
        basis=show.basis_text(allowed, _) if allowed is not None and view is not None else "",
        offer_more=show.may_ask_more(me, allowed),
        view=view,
        problem=problem,
        refusal=refusal,
        request_href=f"{here}/request",
        login_href="/login?next=" + quote(f"{here}/request"),
        preview=preview,
        older=older,
        chart_form=chart_form,
        chart=chart,
        map=map_data,
        history=history,
        version_href=lambda n: here if n == ds.current_version else f"{here}?version={n}",
        version_hidden=wanted if older else None,
        asked_version=wanted,
        downloads=show.downloads(ds.code, view.version if older else None, _) if view else [],
        examples=show.examples(
            svc.base_url,
            ds.code,
            view.columns if view is not None else [],
            preview.raw[0] if preview is not None and preview.raw else None,
            _,
        ),
        dcat=[(fmt, f"/dataset/{quote(ds.code)}.{fmt}") for fmt in ("ttl", "jsonld", "rdf")],
        usage=data.usage(db, ds.code),
        draws=bool(chart is not None and chart.chart is not None) or map_data is not None,
        when=show.when,
        figure=show.figure,
        map_limit=data.MAP_POINTS,
        **labels(lang),
    )
