"""DCAT-AP 3.0.1 of the catalog (/catalog.ttl|.jsonld|.rdf, paged) and of one dataset, showing only
what the caller may see."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Literal

import sqlalchemy as sa
from fastapi import APIRouter, Depends, Query, Response
from sqlalchemy.orm import Session, selectinload

from cityhub.access import Caller, policy
from cityhub.api.deps import Services, caller, services, session
from cityhub.catalog import dcat
from cityhub.catalog.models import Dataset, FieldInfo

router = APIRouter(tags=["dcat"])
Fmt = Literal["ttl", "jsonld", "rdf"]
TITLE = {"zh": "嘉兴市公共数据目录", "en": "Jiaxing public data catalog"}
DESCRIPTION = {
    "zh": "城市大数据中心汇聚的各部门数据资源目录。",
    "en": "The data resources of the city's departments, gathered by its big data center.",
}
PUBLISHER = ("330400-DSJ", {"zh": "嘉兴市大数据中心", "en": "Jiaxing Big Data Center"})


@router.get("/catalog.{fmt}", summary="The catalog in DCAT-AP 3.0.1 (paged)")
def catalog(
    fmt: Fmt,
    svc: Annotated[Services, Depends(services)],
    who: Annotated[Caller, Depends(caller)],
    db: Annotated[Session, Depends(session)],
    page: Annotated[int, Query(ge=1)] = 1,
    page_size: Annotated[int, Query(ge=1, le=500)] = 100,
) -> Response:
    visible = svc.door.datasets(who).options(selectinload(Dataset.fields))
    total = db.scalar(sa.select(sa.func.count()).select_from(visible.subquery())) or 0
    found = db.scalars(
        visible.order_by(Dataset.code).limit(page_size).offset((page - 1) * page_size)
    )
    graph = dcat.catalog_graph(
        list(found.all()),
        base_url=svc.base_url,
        title=TITLE,
        description=DESCRIPTION,
        publisher=PUBLISHER,
        page=page,
        page_size=page_size,
        total=total,
        fields_visible=_listed(who),
        page_url=lambda n: f"{svc.base_url}/catalog.{fmt}?page={n}&page_size={page_size}",
    )
    body, media = dcat.serialize(graph, fmt)
    return Response(body, media_type=media)


@router.get("/dataset/{code}.{fmt}", summary="One dataset in DCAT-AP 3.0.1")
def dataset(
    code: str,
    fmt: Fmt,
    svc: Annotated[Services, Depends(services)],
    who: Annotated[Caller, Depends(caller)],
    db: Annotated[Session, Depends(session)],
) -> Response:
    ds = svc.door.dataset(db, who, code)
    graph = dcat.dataset_graph(
        ds,
        base_url=svc.base_url,
        fields_visible=lambda d: policy.visible_fields(who, d, policy.access(who, d, None)),
    )
    body, media = dcat.serialize(graph, fmt)
    return Response(body, media_type=media)


def _listed(who: Caller) -> Callable[[Dataset], list[FieldInfo]]:
    """The fields a catalog record lists for `who`: those of the dataset's open description
    (no grant: DCAT describes, it does not serve rows)."""
    return lambda ds: policy.visible_fields(who, ds, policy.access(who, ds, None))
