"""DCAT-AP 3.0.1 export of the catalog (STANDARDS.md §1, §3, §8).

Pure: the caller passes the datasets it may show, loaded with `.department` and `.fields`, and
a function telling which of a dataset's fields the reader may see; nothing here touches the
database or HTTP. The graphs conform to the official DCAT-AP shapes (`shapes.ttl` + `range.ttl`):
every value a range shape constrains to a class is typed in the graph itself.

URIs: `{base}/catalog`, `{base}/dataset/{code}`, `{base}/department/{code}`; a dataset's
distribution, rights statement and schema are fragments of its URI; the API is `{base}/api/v1`,
described as the DataService `{base}/catalog#api`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Literal as TypingLiteral
from urllib.parse import quote

from rdflib import BNode, Graph, Literal, URIRef
from rdflib.collection import Collection
from rdflib.namespace import CSVW, DCAT, DCTERMS, FOAF, RDF, RDFS, SKOS

from cityhub.catalog import dcat_vocab as voc
from cityhub.catalog.models import Dataset, Department, FieldInfo
from cityhub.catalog.vocab import OpenType, ShareType

Format = TypingLiteral["ttl", "jsonld", "rdf"]
FieldsVisible = Callable[[Dataset], list[FieldInfo]]

MEDIA_TYPES: dict[str, str] = {
    "ttl": "text/turtle",
    "jsonld": "application/ld+json",
    "rdf": "application/rdf+xml",
}
_RDFLIB_FORMATS = {"ttl": "turtle", "jsonld": "json-ld", "rdf": "xml"}

SERVICE_TITLE = {"zh": "数据接口 API v1", "en": "Data API v1"}
SERVICE_DESCRIPTION = {
    "zh": "按数据集读取数据行（JSON）或导出 CSV；访问受各数据集开放类型的约束。",
    "en": "Reads a dataset's rows (JSON) or exports them as CSV; access follows each "
    "dataset's open type.",
}
DISTRIBUTION_DESCRIPTION = {
    "zh": "通过数据接口分页读取数据行（JSON），或下载整表 CSV 文件。",
    "en": "Rows page by page through the data API (JSON), or the whole table as a CSV file.",
}
CLASSIFICATION_TITLE = {"zh": "政务信息资源分类", "en": "Government information resource classes"}


class Links:
    """Every URI the export mints, from the hub's public base URL."""

    def __init__(self, base_url: str) -> None:
        self.base = base_url.rstrip("/")
        if not self.base.startswith(("http://", "https://")):
            raise ValueError(f"base_url must be an absolute http(s) URL, not {base_url!r}")

    @staticmethod
    def _q(code: str) -> str:
        return quote(code, safe="")

    @property
    def catalog(self) -> URIRef:
        return URIRef(f"{self.base}/catalog")

    @property
    def service(self) -> URIRef:
        return URIRef(f"{self.base}/catalog#api")

    @property
    def api(self) -> URIRef:
        return URIRef(f"{self.base}/api/v1")

    @property
    def openapi(self) -> URIRef:
        return URIRef(f"{self.base}/openapi.json")

    @property
    def classification_scheme(self) -> URIRef:
        return URIRef(f"{self.base}/classification")

    def classification(self, code: str) -> URIRef:
        return URIRef(f"{self.base}/classification/{self._q(code)}")

    def dataset(self, code: str) -> URIRef:
        return URIRef(f"{self.base}/dataset/{self._q(code)}")

    def department(self, code: str) -> URIRef:
        return URIRef(f"{self.base}/department/{self._q(code)}")

    def rows(self, code: str) -> URIRef:
        return URIRef(f"{self.base}/api/v1/datasets/{self._q(code)}/rows")

    def export_csv(self, code: str) -> URIRef:
        return URIRef(f"{self.base}/api/v1/datasets/{self._q(code)}/export.csv")

    def catalog_page(self, page: int, page_size: int) -> str:
        return f"{self.base}/catalog?page={page}&page_size={page_size}"


# -- public API ---------------------------------------------------------------------------------


def catalog_graph(
    datasets: Sequence[Dataset],
    *,
    base_url: str,
    title: Mapping[str, str],
    description: Mapping[str, str],
    publisher: tuple[str, Mapping[str, str]],
    page: int | None = None,
    page_size: int | None = None,
    total: int | None = None,
    fields_visible: FieldsVisible | None = None,
    page_url: Callable[[int], str] | None = None,
) -> Graph:
    """The dcat:Catalog of `datasets` (one page of it when `page` and `page_size` are given).

    `title` and `description` map a language tag ("zh", "en") to text; `publisher` is the
    publishing body's code and its names by language. Paging adds a Hydra
    PartialCollectionView (first / previous / next / last) to the catalog; `page_url` builds a
    page's URL (default `{base}/catalog?page=N&page_size=M`). `fields_visible` returns the
    fields a reader may see; without it no field is described.
    """
    links = Links(base_url)
    publisher_code, publisher_names = publisher
    _require_text("title", title)
    _require_text("description", description)
    _require_text("publisher names", publisher_names)
    _check_paging(page, page_size, total)
    g = _new_graph()
    catalog = links.catalog
    g.add((catalog, RDF.type, DCAT.Catalog))
    _texts(g, catalog, DCTERMS.title, title)
    _texts(g, catalog, DCTERMS.description, description)
    agent = _agent(g, links.department(publisher_code), publisher_code, publisher_names)
    g.add((catalog, DCTERMS.publisher, agent))
    for language in (voc.LANGUAGE_ZH, voc.LANGUAGE_EN):
        g.add((catalog, DCTERMS.language, language.describe(g)))

    service = _service(g, links, publisher=agent)
    g.add((catalog, DCAT.service, service))
    for ds in datasets:
        g.add((catalog, DCAT.dataset, _dataset(g, ds, links, service, fields_visible)))
    g.add((catalog, DCAT.themeTaxonomy, voc.describe_scheme(g, voc.DATA_THEME_SCHEME)))
    if any(ds.classification for ds in datasets):
        g.add((catalog, DCAT.themeTaxonomy, links.classification_scheme))

    if page is not None and page_size is not None:
        make_url = page_url or (lambda n: links.catalog_page(n, page_size))
        _paging(g, catalog, page, page_size, total, len(datasets), make_url)
    return g


def dataset_graph(
    dataset: Dataset, *, base_url: str, fields_visible: FieldsVisible | None = None
) -> Graph:
    """One dataset on its own: its publisher, distribution and the API that serves it."""
    links = Links(base_url)
    g = _new_graph()
    service = _service(g, links, publisher=None)
    _dataset(g, dataset, links, service, fields_visible)
    return g


def serialize(graph: Graph, fmt: Format) -> tuple[bytes, str]:
    """The graph as Turtle, JSON-LD (compacted with the export's prefixes) or RDF/XML, UTF-8;
    returns (body, media type)."""
    if fmt not in _RDFLIB_FORMATS:
        raise ValueError(f"unknown format {fmt!r}; expected one of {', '.join(_RDFLIB_FORMATS)}")
    if fmt == "jsonld":
        body = graph.serialize(
            format="json-ld", context=dict(voc.PREFIXES), encoding="utf-8", ensure_ascii=False
        )
    else:
        body = graph.serialize(format=_RDFLIB_FORMATS[fmt], encoding="utf-8")
    return body, MEDIA_TYPES[fmt]


# -- building blocks ----------------------------------------------------------------------------


def _check_paging(page: int | None, page_size: int | None, total: int | None) -> None:
    if (page is None) != (page_size is None):
        raise ValueError("page and page_size go together")
    if (page is not None and page < 1) or (page_size is not None and page_size < 1):
        raise ValueError("page and page_size start at 1")
    if total is not None and total < 0:
        raise ValueError("total cannot be negative")


def _new_graph() -> Graph:
    g = Graph(bind_namespaces="core")
    for prefix, namespace in voc.PREFIXES.items():
        g.bind(prefix, namespace, replace=True)
    return g


def _require_text(what: str, texts: Mapping[str, str]) -> None:
    if not any(text and text.strip() for text in texts.values()):
        raise ValueError(f"the catalog needs a non-empty {what}")


def _texts(g: Graph, subject: URIRef, predicate: URIRef, texts: Mapping[str, str | None]) -> None:
    """Language-tagged literals, skipping empty ones."""
    for lang, text in texts.items():
        if text and text.strip():
            g.add((subject, predicate, Literal(text.strip(), lang=lang)))


def _agent(
    g: Graph,
    uri: URIRef,
    code: str,
    names: Mapping[str, str | None],
    kind: str | None = None,
) -> URIRef:
    g.add((uri, RDF.type, FOAF.Agent))
    g.add((uri, RDF.type, FOAF.Organization))
    _texts(g, uri, FOAF.name, names)
    g.add((uri, DCTERMS.identifier, Literal(code)))
    publisher_type = voc.PUBLISHER_TYPES.get(kind or "")
    if publisher_type is not None and (uri, DCTERMS.type, None) not in g:
        g.add((uri, DCTERMS.type, publisher_type.describe(g)))
    return uri


def _department(g: Graph, department: Department, links: Links) -> URIRef:
    names = {"zh": department.name, "en": department.name_en}
    if not any(names.values()):  # foaf:name is mandatory
        names = {"zh": department.code}
    uri = links.department(department.code)
    return _agent(g, uri, department.code, names, department.kind)


def _service(g: Graph, links: Links, *, publisher: URIRef | None) -> URIRef:
    service = links.service
    g.add((service, RDF.type, DCAT.DataService))
    _texts(g, service, DCTERMS.title, SERVICE_TITLE)
    _texts(g, service, DCTERMS.description, SERVICE_DESCRIPTION)
    g.add((service, DCAT.endpointURL, links.api))
    g.add((service, DCAT.endpointDescription, links.openapi))
    for fmt in (voc.FORMAT_JSON, voc.FORMAT_CSV):
        g.add((service, DCTERMS.format, fmt.describe(g)))
    if publisher is not None:
        g.add((service, DCTERMS.publisher, publisher))
    return service


def _dataset(
    g: Graph,
    ds: Dataset,
    links: Links,
    service: URIRef,
    fields_visible: FieldsVisible | None,
) -> URIRef:
    uri = links.dataset(ds.code)
    g.add((uri, RDF.type, DCAT.Dataset))
    _texts(g, uri, DCTERMS.title, {"zh": ds.name, "en": ds.name_en})
    _texts(g, uri, DCTERMS.description, dataset_descriptions(ds))
    g.add((uri, DCTERMS.identifier, Literal(ds.code)))
    g.add((uri, DCTERMS.publisher, _department(g, ds.department, links)))
    g.add((uri, DCTERMS.language, voc.LANGUAGE_ZH.describe(g)))

    freq = voc.frequency(ds.update_cycle)
    if freq is not None:
        g.add((uri, DCTERMS.accrualPeriodicity, freq.describe(g)))
    if ds.publish_date is not None:
        issued = ds.publish_date
        if isinstance(issued, datetime):
            issued = issued.date()
        g.add((uri, DCTERMS.issued, Literal(issued)))
    modified = _modified(ds)
    if modified is not None:
        g.add((uri, DCTERMS.modified, Literal(modified)))

    g.add((uri, DCTERMS.accessRights, voc.access_right(ds.open_type).describe(g)))
    rights = _rights(g, uri, ds)
    g.add((uri, DCTERMS.rights, rights))

    for keyword in _keywords(ds):
        g.add((uri, DCAT.keyword, keyword))
    for theme in voc.data_themes(list(ds.themes or [])):
        g.add((uri, DCAT.theme, theme.describe(g)))
    if ds.classification:
        g.add((uri, DCAT.theme, _classification(g, links, ds.classification)))

    schema = _schema(g, uri, ds, fields_visible(ds)) if fields_visible is not None else None
    if schema is not None:
        g.add((uri, DCTERMS.conformsTo, schema))

    if ds.connected:
        distribution = _distribution(g, uri, ds, links, service, rights, schema)
        g.add((uri, DCAT.distribution, distribution))
        g.add((service, DCAT.servesDataset, uri))
    return uri


def dataset_descriptions(ds: Dataset) -> dict[str, str]:
    """dct:description by language: the summaries, or a sentence built from the names (the
    property is mandatory in DCAT-AP)."""
    dept = ds.department
    out: dict[str, str] = {}
    summary = (ds.summary or "").strip()
    out["zh"] = summary or f"{dept.name}提供的数据资源：{ds.name}。"
    summary_en = (ds.summary_en or "").strip()
    if summary_en:
        out["en"] = summary_en
    elif ds.name_en:
        out["en"] = f"{ds.name_en}: a dataset provided by {dept.name_en or dept.name}."
    return out


def _modified(ds: Dataset) -> datetime | None:
    stamps = [_aware(t) for t in (ds.updated_at, ds.last_sync_at) if t is not None]
    return max(stamps) if stamps else None


def _aware(moment: datetime) -> datetime:
    # SQLite hands timestamps back without their zone; the catalog writes them in UTC.
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _label(vocabulary: type[OpenType] | type[ShareType], value: str | None) -> tuple[str, str]:
    try:
        member = vocabulary(value or "")
    except ValueError:
        return (value or "未知", value or "unknown")
    return member.zh, member.en


def _rights(g: Graph, dataset_uri: URIRef, ds: Dataset) -> URIRef:
    """The open and sharing types in words (zh / en), with their conditions and legal basis."""
    uri = URIRef(f"{dataset_uri}#rights")
    open_zh, open_en = _label(OpenType, ds.open_type)
    share_zh, share_en = _label(ShareType, ds.share_type)
    g.add((uri, RDF.type, DCTERMS.RightsStatement))
    g.add((uri, RDFS.label, Literal(open_zh, lang="zh")))
    g.add((uri, RDFS.label, Literal(open_en, lang="en")))
    zh = [f"开放类型：{open_zh}", f"共享类型：{share_zh}"]
    for caption, text in (
        ("开放条件", ds.open_condition),
        ("共享条件", ds.share_condition),
        ("共享方式", ds.share_method),
        ("依据", ds.legal_basis),
    ):
        if text and text.strip():
            zh.append(f"{caption}：{text.strip()}")
    g.add((uri, DCTERMS.description, Literal("；".join(zh) + "。", lang="zh")))
    en = f"Open type: {open_en}; sharing type: {share_en}."
    g.add((uri, DCTERMS.description, Literal(en, lang="en")))
    return uri


def _keywords(ds: Dataset) -> list[Literal]:
    seen: set[str] = set()
    out: list[Literal] = []
    for word in [*(ds.themes or []), *(ds.tags or [])]:
        word = str(word).strip()
        if word and word not in seen:
            seen.add(word)
            # Free text carries a language tag; words without any Han character keep none.
            has_han = any("\u4e00" <= ch <= "\u9fff" or "\u3400" <= ch <= "\u4dbf" for ch in word)
            out.append(Literal(word, lang="zh") if has_han else Literal(word))
    return out


def _classification(g: Graph, links: Links, code: str) -> URIRef:
    """资源分类 as a concept of the hub's own scheme (no EU table has it)."""
    scheme = links.classification_scheme
    g.add((scheme, RDF.type, SKOS.ConceptScheme))
    _texts(g, scheme, DCTERMS.title, CLASSIFICATION_TITLE)
    concept = links.classification(code)
    g.add((concept, RDF.type, SKOS.Concept))
    g.add((concept, SKOS.inScheme, scheme))
    g.add((concept, SKOS.notation, Literal(code)))
    g.add((concept, SKOS.prefLabel, Literal(f"资源分类 {code}", lang="zh")))
    g.add((concept, SKOS.prefLabel, Literal(f"Resource class {code}", lang="en")))
    return concept


def _schema(
    g: Graph, dataset_uri: URIRef, ds: Dataset, fields: Sequence[FieldInfo]
) -> URIRef | None:
    """The visible fields as a CSVW table schema (a dct:Standard the data conforms to).

    Only what the caller's `fields_visible` returned, and only fields still present."""
    shown = sorted((f for f in fields if f.present), key=lambda f: f.position)
    if not shown:
        return None
    uri = URIRef(f"{dataset_uri}#schema")
    g.add((uri, RDF.type, DCTERMS.Standard))
    g.add((uri, RDF.type, CSVW.Schema))
    _texts(
        g,
        uri,
        DCTERMS.title,
        {"zh": f"{ds.name} 数据结构", "en": f"Schema of {ds.name_en}" if ds.name_en else None},
    )
    columns: list[URIRef] = []
    for f in shown:
        column = URIRef(f"{dataset_uri}#field-{quote(f.name, safe='')}")
        g.add((column, RDF.type, CSVW.Column))
        g.add((column, CSVW.name, Literal(f.name)))
        if f.title:
            g.add((column, CSVW.title, Literal(f.title, lang="zh")))
        if f.description:
            g.add((column, DCTERMS.description, Literal(f.description, lang="zh")))
        datatype = voc.COLUMN_DATATYPES.get(f.data_type)
        if datatype is not None:
            g.add((column, CSVW.datatype, datatype))
        columns.append(column)
    head = BNode()
    Collection(g, head, list(columns))
    g.add((uri, CSVW.column, head))
    return uri


def _distribution(
    g: Graph,
    dataset_uri: URIRef,
    ds: Dataset,
    links: Links,
    service: URIRef,
    rights: URIRef,
    schema: URIRef | None,
) -> URIRef:
    """The connected dataset's data: rows through the API, the whole table as a CSV file."""
    uri = URIRef(f"{dataset_uri}#distribution")
    g.add((uri, RDF.type, DCAT.Distribution))
    titles = {"zh": f"{ds.name}（接口与 CSV 下载）"}
    if ds.name_en:
        titles["en"] = f"{ds.name_en} (API and CSV download)"
    _texts(g, uri, DCTERMS.title, titles)
    _texts(g, uri, DCTERMS.description, DISTRIBUTION_DESCRIPTION)
    g.add((uri, DCAT.accessURL, links.rows(ds.code)))
    g.add((uri, DCAT.downloadURL, links.export_csv(ds.code)))
    g.add((uri, DCAT.accessService, service))
    g.add((uri, DCTERMS.format, voc.FORMAT_CSV.describe(g)))
    g.add((voc.MEDIA_TYPE_CSV, RDF.type, DCTERMS.MediaType))
    g.add((uri, DCAT.mediaType, voc.MEDIA_TYPE_CSV))
    g.add((uri, DCTERMS.rights, rights))
    if schema is not None:
        g.add((uri, DCTERMS.conformsTo, schema))
    if ds.last_sync_at is not None:
        g.add((uri, DCTERMS.modified, Literal(_aware(ds.last_sync_at))))
    return uri


def _paging(
    g: Graph,
    catalog: URIRef,
    page: int,
    page_size: int,
    total: int | None,
    count: int,
    page_url: Callable[[int], str],
) -> None:
    """Hydra paging: the catalog is the collection, this page its PartialCollectionView."""
    last: int | None = None
    if total is not None:
        g.add((catalog, voc.HYDRA.totalItems, Literal(total)))
        last = max(1, math.ceil(total / page_size))
    view = URIRef(page_url(page))
    g.add((catalog, voc.HYDRA.view, view))
    g.add((view, RDF.type, voc.HYDRA.PartialCollectionView))
    g.add((view, voc.HYDRA.first, URIRef(page_url(1))))
    if page > 1:
        g.add((view, voc.HYDRA.previous, URIRef(page_url(min(page - 1, last or page - 1)))))
    has_next = page < last if last is not None else count >= page_size
    if has_next:
        g.add((view, voc.HYDRA.next, URIRef(page_url(page + 1))))
    if last is not None:
        g.add((view, voc.HYDRA.last, URIRef(page_url(last))))
