"""Downloads (/api/v1/datasets/{code}/export.{fmt}): a dataset or a filtered query as CSV, JSON,
NDJSON, Parquet or XLSX, streamed, through the access door like every read."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response, StreamingResponse
from starlette.concurrency import iterate_in_threadpool
from starlette.types import Receive, Scope, Send

from cityhub.access import Caller
from cityhub.api.deps import FilterParam, SelectParam, Services, SortParam, caller, services
from cityhub.query import export
from cityhub.query.export import ExportQuery, FormatName
from cityhub.query.spec import parse_filter, split_list

router = APIRouter(prefix="/api/v1", tags=["export"])
Svc = Annotated[Services, Depends(services)]
Who = Annotated[Caller, Depends(caller)]
Bom = Annotated[bool, Query(description="csv only: start with a UTF-8 byte-order mark, for Excel")]
_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "the rows, as a file to save",
        "content": {f.media_type: {} for f in export.FORMATS.values()},
    }
}


def content_disposition(filename: str) -> str:
    """An attachment header every browser reads: an ASCII fallback, then the UTF-8 name in
    RFC 5987 form (dataset codes and names may be Chinese)."""
    fallback = "".join(
        c if c.isascii() and c.isprintable() and c not in '"\\' else "_" for c in filename
    )
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"


class Download(StreamingResponse):
    """An export sent chunk by chunk from a worker thread. However the response ends (done,
    failed, or the client gone), the export is closed so its engine cursor is freed."""

    def __init__(self, started: export.Export) -> None:
        self.export = started
        super().__init__(
            iterate_in_threadpool(started.chunks),
            media_type=started.format.media_type,
            headers={
                "Content-Disposition": content_disposition(started.filename),
                "X-Row-Count": str(started.rows),
            },
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            # synchronous on purpose: an await here could itself be cancelled and skip it;
            # nothing is reading the chunks any more, and closing a cursor is quick
            self.export.close()


def _download(
    svc: Services, who: Caller, code: str, fmt: str, q: ExportQuery, bom: bool
) -> Response:
    # The view is resolved in a session of its own, closed before the first byte: a long
    # download holds no metadata-DB connection.
    with svc.hub.db.session() as s:
        view = svc.door.table(s, who, code, q.version)
    started = export.start(svc.engine, view, q, fmt, bom=bom)
    try:
        svc.door.record_read(
            who,
            view,
            started.rows,
            f"export {fmt} (streamed) {q.model_dump_json(exclude_none=True)}",
        )
    except BaseException:
        started.close()
        raise
    return Download(started)


@router.get(
    "/datasets/{code}/export.{fmt}",
    summary="Download rows as csv, json, ndjson, parquet or xlsx (select, filter, sort)",
    response_class=StreamingResponse,
    responses=_RESPONSES,
)
def export_rows(
    code: str,
    fmt: FormatName,
    svc: Svc,
    who: Who,
    select: SelectParam = None,
    filter: FilterParam = None,
    sort: SortParam = None,
    limit: Annotated[int | None, Query(ge=1, description="at most this many rows")] = None,
    version: Annotated[int | None, Query(ge=0)] = None,
    bom: Bom = False,
) -> Response:
    q = ExportQuery(
        select=split_list(select) or None,
        filters=[parse_filter(f) for f in filter or []],
        sort=split_list(sort),
        limit=limit,
        version=version,
    )
    return _download(svc, who, code, fmt, q, bom)


@router.post(
    "/datasets/{code}/export.{fmt}",
    summary="Download rows asked with a JSON body (that of POST .../query, not paged)",
    response_class=StreamingResponse,
    responses=_RESPONSES,
)
def export_query(
    code: str, fmt: FormatName, q: ExportQuery, svc: Svc, who: Who, bom: Bom = False
) -> Response:
    return _download(svc, who, code, fmt, q, bom)
