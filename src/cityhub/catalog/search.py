"""Chinese full-text catalog search: jieba tokens in SQLite FTS5 or a PostgreSQL tsvector.

Chinese has no spaces, so neither database can find words in it by itself. We cut every text
with jieba's search mode (a long word also yields the dictionary words inside it, so 企业 finds
规模以上企业) and store the tokens separated by spaces; each database then only splits on spaces.
Queries are cut the same way and all their tokens must match (AND).

The dialect-specific parts (index table, match and rank, JSON list elements, name order) sit
behind `_Backend`; everything else is shared SQLAlchemy.
"""

from __future__ import annotations

import html
import logging
import re
import threading
import unicodedata
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import TSVECTOR
from sqlalchemy.orm import Session, selectinload
from sqlalchemy.sql.selectable import TableValuedAlias

from cityhub.catalog.models import Dataset, Department, FieldInfo
from cityhub.catalog.vocab import OpenType, ShareType
from cityhub.errors import InvalidInput

__all__ = ["FACETS", "SearchHit", "SearchResult", "index_dataset", "reindex_all"]
__all__ += ["remove_dataset", "search", "tokenize"]

FACETS = ("department", "theme", "share_type", "open_type", "format")

# --- tokens ----------------------------------------------------------------------------------

_WORD = re.compile(r"[^\W_]+")  # letters and digits of any script; the rest separates
# Particles that would make an AND query miss (公交的刷卡 should find 公交刷卡); dropped from
# queries only, and only when something else remains.
_QUERY_STOPWORDS = frozenset(["的", "了", "和", "与", "及", "之", "等", "或"])

_jieba: Any = None
_jieba_lock = threading.Lock()


def _segmenter() -> Any:
    """jieba, loaded on first use: loading costs ~1 s and it logs to stderr by default."""
    global _jieba
    if _jieba is None:
        with _jieba_lock:
            if _jieba is None:
                import jieba

                jieba.setLogLevel(logging.WARNING)
                jieba.initialize()
                _jieba = jieba
    return _jieba


def tokenize(text: str) -> list[str]:
    """jieba search-mode tokens of `text`, lowercased, without punctuation or spaces.

    Full-width forms (ＡＢＣ, ２０２４) are folded first (NFKC), so they match their ASCII twins.
    """
    text = unicodedata.normalize("NFKC", text).lower()
    tokens: list[str] = []
    for piece in _segmenter().cut_for_search(text):
        # jieba keeps runs like "pm2.5" or "user_id" whole; split them so that no token holds
        # a character either database (or FTS5's query syntax) would treat specially.
        tokens.extend(_WORD.findall(piece))
    return tokens


def _query_terms(q: str | None) -> list[str]:
    terms = list(dict.fromkeys(tokenize(q or "")))
    kept = [t for t in terms if t not in _QUERY_STOPWORDS]
    return kept or terms


def _joined(texts: Iterable[str | None]) -> str:
    """Texts as one space-separated token string; each text is cut on its own."""
    return " ".join(" ".join(tokenize(t)) for t in texts if t)


@dataclass(frozen=True)
class _Document:
    """One dataset's index entry, by weight: name > tags/themes/department > fields > summary."""

    name: str
    tags: str
    fields: str
    summary: str


# --- dialects --------------------------------------------------------------------------------

_meta = sa.MetaData()  # the index tables are owned by migration 0002, not by the ORM models
_fts = sa.Table(
    "catalog_fts",
    _meta,
    sa.Column("rowid", sa.Integer, primary_key=True),  # = datasets.id
    sa.Column("catalog_fts", sa.Text),  # FTS5's hidden column named after the table
    *(sa.Column(name, sa.Text) for name in ("name", "tags", "fields", "summary")),
)
_pg_index = sa.Table(
    "catalog_search",
    _meta,
    sa.Column("dataset_id", sa.Integer, primary_key=True),
    sa.Column("document", TSVECTOR),
)


class _Backend(Protocol):
    def clear(self, session: Session) -> None: ...
    def remove(self, session: Session, dataset_id: int) -> None: ...
    def add(self, session: Session, dataset_id: int, doc: _Document) -> None: ...

    def matches(self, terms: list[str]) -> sa.Subquery:
        """Datasets holding every term: columns `dataset_id` and `score` (higher is better)."""
        ...

    def json_values(self, column: Any) -> TableValuedAlias:
        """The elements of a JSON list of strings, as rows with a `value` column."""
        ...

    def name_order(self, column: Any) -> sa.ColumnElement[Any]: ...


class _SQLite:
    weights = (10.0, 4.0, 2.0, 1.0)  # bm25() weights in column order: name, tags, fields, summary

    def clear(self, session: Session) -> None:
        session.execute(sa.delete(_fts))

    def remove(self, session: Session, dataset_id: int) -> None:
        session.execute(sa.delete(_fts).where(_fts.c.rowid == dataset_id))

    def add(self, session: Session, dataset_id: int, doc: _Document) -> None:
        row = {"rowid": dataset_id, **asdict(doc)}
        session.execute(sa.insert(_fts).values(row))

    def matches(self, terms: list[str]) -> sa.Subquery:
        # Every term as a quoted phrase, so AND/OR/NOT/NEAR, *, -, ^, : and ( ) stay text.
        expression = " ".join('"' + t.replace('"', '""') + '"' for t in terms)
        score = -sa.func.bm25(_fts.c.catalog_fts, *self.weights)  # bm25: lower is better
        match = _fts.c.catalog_fts.op("MATCH")(sa.bindparam("fts_query", expression))
        return (
            sa.select(_fts.c.rowid.label("dataset_id"), score.label("score"))
            .where(match)
            .subquery()
        )

    def json_values(self, column: Any) -> TableValuedAlias:
        return sa.func.json_each(column).table_valued("value")

    def name_order(self, column: Any) -> sa.ColumnElement[Any]:
        return column  # BINARY: code point order, as PostgreSQL's "C" below


class _PostgreSQL:
    # 'simple': no stemming, no stop words: our tokens as they are.
    config: sa.ColumnElement[Any] = sa.literal_column("'simple'::regconfig")
    # ts_rank_cd weights in PostgreSQL's order {D, C, B, A}: summary, fields, tags, name.
    weights: sa.ColumnElement[Any] = sa.literal_column("'{0.1, 0.2, 0.4, 1.0}'::float4[]")

    def clear(self, session: Session) -> None:
        session.execute(sa.delete(_pg_index))

    def remove(self, session: Session, dataset_id: int) -> None:
        session.execute(sa.delete(_pg_index).where(_pg_index.c.dataset_id == dataset_id))

    def _weighted(self, tokens: str, weight: str) -> sa.ColumnElement[Any]:
        vector = sa.func.to_tsvector(self.config, sa.cast(sa.literal(tokens), sa.Text))
        return sa.func.setweight(vector, sa.literal_column(f"'{weight}'"))  # weight: ours, A-D

    def add(self, session: Session, dataset_id: int, doc: _Document) -> None:
        document = (
            self._weighted(doc.name, "A")
            .op("||")(self._weighted(doc.tags, "B"))
            .op("||")(self._weighted(doc.fields, "C"))
            .op("||")(self._weighted(doc.summary, "D"))
        )
        session.execute(sa.insert(_pg_index).values(dataset_id=dataset_id, document=document))

    def matches(self, terms: list[str]) -> sa.Subquery:
        # Terms are letters/digits only, bound; plainto_tsquery ANDs them and knows no operators.
        text = sa.cast(sa.literal(" ".join(terms)), sa.Text)
        query = sa.func.plainto_tsquery(self.config, text)
        score = sa.func.ts_rank_cd(self.weights, _pg_index.c.document, query)
        match = _pg_index.c.document.op("@@")(query)
        return sa.select(_pg_index.c.dataset_id, score.label("score")).where(match).subquery()

    def json_values(self, column: Any) -> TableValuedAlias:
        # json_array_elements_text fails on a non-array (a JSON null); read that as empty.
        empty: sa.ColumnElement[Any] = sa.literal_column("'[]'::json")
        array = sa.case((sa.func.json_typeof(column) == "array", column), else_=empty)
        return sa.func.json_array_elements_text(array).table_valued("value")

    def name_order(self, column: Any) -> sa.ColumnElement[Any]:
        return column.collate("C")  # code point order whatever the DB locale, as on SQLite


def _backend(session: Session) -> _Backend:
    dialect = session.get_bind().dialect.name
    if dialect == "sqlite":
        return _SQLite()
    if dialect == "postgresql":
        return _PostgreSQL()
    raise InvalidInput(f"catalog search supports SQLite and PostgreSQL, not {dialect}")


# --- indexing --------------------------------------------------------------------------------


def index_dataset(session: Session, dataset: Dataset) -> None:
    """(Re)index one dataset: names, summaries, tags, themes, department, present fields."""
    session.flush()  # the dataset needs its id, and on PostgreSQL its row (foreign key)
    dept = dataset.department or session.get(Department, dataset.department_id)
    fields = [f for f in dataset.fields if f.present]
    doc = _Document(
        name=_joined([dataset.name, dataset.name_en]),
        tags=_joined(
            [*(dataset.tags or []), *(dataset.themes or [])]
            + ([dept.name, dept.name_en] if dept else [])
        ),
        fields=_joined(text for f in fields for text in (f.title, f.description)),
        summary=_joined([dataset.summary, dataset.summary_en]),
    )
    backend = _backend(session)
    backend.remove(session, dataset.id)
    backend.add(session, dataset.id, doc)


def remove_dataset(session: Session, dataset_id: int) -> None:
    """Drop a dataset from the index (deleting the dataset row does so too)."""
    _backend(session).remove(session, dataset_id)


def reindex_all(session: Session) -> int:
    """Rebuild the whole index (after an upgrade or a tokenizer change); returns the count."""
    _backend(session).clear(session)
    count = 0
    eager = (selectinload(Dataset.fields), selectinload(Dataset.department))
    for dataset in session.scalars(sa.select(Dataset).options(*eager).order_by(Dataset.id)):
        index_dataset(session, dataset)
        count += 1
    return count


# --- searching -------------------------------------------------------------------------------


@dataclass(frozen=True)
class SearchHit:
    dataset_id: int
    code: str
    name: str
    department_code: str
    department_name: str
    score: float  # higher is better; comparable within one result only; 0 without a query
    snippet: str  # HTML-safe excerpt: text escaped, matched terms in <mark>…</mark>


@dataclass
class SearchResult:
    total: int
    items: list[SearchHit]
    # facet name (FACETS) -> [(value, count)], most frequent first, over all matches.
    facets: dict[str, list[tuple[str, int]]] = field(default_factory=dict)
    terms: list[str] = field(default_factory=list)  # the query's tokens, for highlighting


def search(
    session: Session,
    q: str | None,
    *,
    department: str | None = None,
    theme: str | None = None,
    share_type: str | None = None,
    open_type: str | None = None,
    format: str | None = None,
    limit: int = 20,
    offset: int = 0,
    where: sa.ColumnElement[bool] | None = None,
) -> SearchResult:
    """Datasets matching every token of `q` and every given filter, best first, ties by name.

    No query (or one with nothing searchable, like "*()") lists all datasets by name.
    `department` is a department code; share and open types accept codes or labels (不予开放).
    `where` (a condition on Dataset) limits everything, facets included, to what a caller may see.
    """
    if limit < 0 or offset < 0:
        raise InvalidInput("limit and offset must not be negative", limit=limit, offset=offset)
    backend = _backend(session)
    terms = _query_terms(q)

    matched: sa.Select[int, float]
    if terms:
        hits = backend.matches(terms)
        matched = sa.select(Dataset.id.label("id"), hits.c.score)
        matched = matched.join(hits, hits.c.dataset_id == Dataset.id)
    else:
        matched = sa.select(Dataset.id.label("id"), sa.literal(0.0).label("score"))
    if where is not None:
        matched = matched.where(where)
    if department is not None:
        matched = matched.join(Department, Department.id == Dataset.department_id)
        matched = matched.where(Department.code == department)
    if theme is not None:
        themes = backend.json_values(Dataset.themes)  # correlated to the outer datasets row
        matched = matched.where(sa.exists().select_from(themes).where(themes.c.value == theme))
    if share_type is not None:
        matched = matched.where(Dataset.share_type == ShareType.parse(share_type).value)
    if open_type is not None:
        matched = matched.where(Dataset.open_type == OpenType.parse(open_type).value)
    if format is not None:
        matched = matched.where(Dataset.format == format)
    m = matched.subquery("matched")

    total = session.scalar(sa.select(sa.func.count()).select_from(m)) or 0
    if total == 0:
        return SearchResult(0, [], {name: [] for name in FACETS}, terms)
    page = session.execute(
        sa.select(Dataset.id, Dataset.code, Dataset.name, Department.code, Department.name)
        .add_columns(m.c.score, Dataset.summary)
        .join(m, m.c.id == Dataset.id)
        .join(Department, Department.id == Dataset.department_id)
        .order_by(m.c.score.desc(), backend.name_order(Dataset.name), Dataset.id)
        .limit(limit)
        .offset(offset)
    ).all()
    titles = _field_titles(session, [row[0] for row in page]) if terms and page else {}
    items = [
        SearchHit(
            dataset_id=ds_id,
            code=code,
            name=name,
            department_code=dept_code,
            department_name=dept_name,
            score=float(score),
            snippet=_snippet(terms, summary, titles.get(ds_id, []), name),
        )
        for ds_id, code, name, dept_code, dept_name, score, summary in page
    ]
    return SearchResult(total, items, _facets(session, backend, m), terms)


def _facets(
    session: Session, backend: _Backend, m: sa.Subquery
) -> dict[str, list[tuple[str, int]]]:
    """All facet counts over the matched set, in one round trip."""

    def counts(facet: str, value: Any, *join: Any) -> sa.Select[Any]:
        label = sa.cast(sa.literal(facet), sa.String).label("facet")
        stmt = sa.select(label, value.label("value"), sa.func.count().label("n")).select_from(m)
        stmt = stmt.join(Dataset, Dataset.id == m.c.id)
        return (stmt.join(*join) if join else stmt).group_by(value)

    themes = backend.json_values(Dataset.themes)
    stmt = sa.union_all(
        counts("department", Department.code, Department, Department.id == Dataset.department_id),
        counts("theme", sa.cast(themes.c.value, sa.String), themes, sa.true()),
        counts("share_type", Dataset.share_type),
        counts("open_type", Dataset.open_type),
        counts("format", Dataset.format),
    )
    facets: dict[str, list[tuple[str, int]]] = {name: [] for name in FACETS}
    for facet, value, n in session.execute(stmt):
        if value:  # a dataset without a format (or an empty theme) is no facet value
            facets[facet].append((value, int(n)))
    for values in facets.values():
        values.sort(key=lambda vc: (-vc[1], vc[0]))
    return facets


def _field_titles(session: Session, dataset_ids: list[int]) -> dict[int, list[str]]:
    rows = session.execute(
        sa.select(FieldInfo.dataset_id, FieldInfo.title)
        .where(FieldInfo.dataset_id.in_(dataset_ids), FieldInfo.present.is_(True))
        .order_by(FieldInfo.dataset_id, FieldInfo.position)
    )
    titles: dict[int, list[str]] = {}
    for dataset_id, title in rows:
        titles.setdefault(dataset_id, []).append(title)
    return titles


_SNIPPET_CHARS = 80


def _snippet(terms: list[str], summary: str | None, titles: list[str], name: str) -> str:
    """An excerpt showing why a dataset matched: its summary, else matching fields, else name."""
    if not terms:
        return _excerpt(summary or "", None)
    alternatives = "|".join(re.escape(t) for t in sorted(terms, key=len, reverse=True))
    pattern = re.compile(alternatives, re.IGNORECASE)
    matching_titles = "、".join(t for t in titles if pattern.search(t))
    for text in (summary or "", matching_titles, name):
        if pattern.search(text):
            return _excerpt(text, pattern)
    return _excerpt(summary or "", None)


def _excerpt(text: str, pattern: re.Pattern[str] | None) -> str:
    first = pattern.search(text) if pattern else None
    start = max(0, first.start() - _SNIPPET_CHARS // 4) if first else 0
    window = text[start : start + _SNIPPET_CHARS]
    out = ["…"] if start > 0 else []
    pos = 0
    for hit in pattern.finditer(window) if pattern else ():
        out += [html.escape(window[pos : hit.start()]), f"<mark>{html.escape(hit.group())}</mark>"]
        pos = hit.end()
    out.append(html.escape(window[pos:]))
    if start + _SNIPPET_CHARS < len(text):
        out.append("…")
    return "".join(out)
