"""DCAT-AP 3.0.1 export: the mapping of the catalog's metadata, and conformance to the official
SHACL shapes (shapes.ttl + range.ttl, in the project's shared dcat-ap folder) in every format."""

from __future__ import annotations

import os
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from pyshacl import validate
from rdflib import Graph, Literal, Namespace, URIRef
from rdflib.collection import Collection
from rdflib.compare import isomorphic
from rdflib.namespace import CSVW, DCTERMS, FOAF, RDF, RDFS, SH, SKOS
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from cityhub.catalog.db import Database
from cityhub.catalog.dcat import Format, catalog_graph, dataset_graph, serialize
from cityhub.catalog.dcat_vocab import HYDRA
from cityhub.catalog.models import Dataset, Department, FieldInfo
from cityhub.catalog.vocab import UpdateCycle

# Plain namespaces: rdflib's closed DCAT / XSD warn when pytest probes module attributes.
DCAT = Namespace("http://www.w3.org/ns/dcat#")
XSD = Namespace("http://www.w3.org/2001/XMLSchema#")

# rdflib's own JSON-LD parser still builds a ConjunctiveGraph.
pytestmark = pytest.mark.filterwarnings("ignore:ConjunctiveGraph is deprecated:DeprecationWarning")

BASE = "https://data.jx.example.cn"
EU = "http://publications.europa.eu/resource/authority/"
SHARED_SHAPES = Path(__file__).resolve().parents[2].parent / "shared" / "dcat-ap"
FORMATS: list[Format] = ["ttl", "jsonld", "rdf"]
RDFLIB_FORMAT = {"ttl": "turtle", "jsonld": "json-ld", "rdf": "xml"}


def _shapes_dir() -> Path:
    """The official shapes, in the shared folder beside the checkout (CI has it too)."""
    if (SHARED_SHAPES / "shapes.ttl").is_file() and (SHARED_SHAPES / "range.ttl").is_file():
        return SHARED_SHAPES
    reason = f"the DCAT-AP shapes (shapes.ttl, range.ttl) are not in {SHARED_SHAPES}"
    if os.environ.get("CITYHUB_REQUIRE_SERVICES"):
        pytest.fail(reason)
    pytest.skip(reason)


@pytest.fixture(scope="module")
def shapes() -> Graph:
    """shapes.ttl (existence, cardinality) and range.ttl (classes of values) as one graph, as
    the shapes' README asks. Our graphs type every value themselves, so no vocabulary graph
    (ont_graph) and no inference are needed."""
    folder = _shapes_dir()
    graph = Graph()
    graph.parse(folder / "shapes.ttl", format="turtle")
    graph.parse(folder / "range.ttl", format="turtle")
    return graph


@pytest.fixture(scope="module")
def vocabulary_shapes() -> Graph:
    folder = _shapes_dir()
    path = folder / "mdr-vocabularies.shape.ttl"
    if not path.is_file():
        pytest.skip(f"{path} is missing")
    return Graph().parse(path, format="turtle")


def assert_conforms(data: Graph, shapes: Graph) -> None:
    conforms, _report, text = validate(data, shacl_graph=shapes, inference="none")
    assert conforms, text


# -- fixtures: a small realistic catalog, in memory ---------------------------------------------


def _field(
    position: int, name: str, title: str, data_type: str, grade: str, **kw: object
) -> FieldInfo:
    return FieldInfo(
        position=position, name=name, title=title, data_type=data_type, grade=grade, **kw
    )


def make_catalog() -> list[Dataset]:
    jtj = Department(
        code="330400-JTJ", name="交通运输局", name_en="Transport Bureau", kind="government"
    )
    sthj = Department(code="330400-STHJJ", name="生态环境局", name_en=None, kind="government")
    gas = Department(code="GDGS", name="港华燃气", name_en="Towngas", kind="enterprise")
    bus = Dataset(
        code="330400-JT-0001",
        name="公交刷卡记录",
        name_en="Bus card transactions",
        summary="乘客在公交车上刷卡的明细，含线路与时间。",
        summary_en="Every tap of a transit card on a city bus, with route and time.",
        department=jtj,
        classification="204",
        share_type="conditional",
        share_condition="仅限交通规划用途",
        open_type="conditional",
        open_condition="注册用户签署数据使用协议后开放",
        update_cycle="daily",
        publish_date=date(2024, 3, 1),
        themes=["交通"],
        tags=["公交", "GTFS"],
        current_version=4,
        updated_at=datetime(2024, 6, 1, 8, 0, tzinfo=UTC),
        last_sync_at=datetime(2024, 6, 2, 1, 30),  # naive, as SQLite hands it back
    )
    bus.fields = [
        _field(0, "card_no", "卡号", "string", "L3", present=True),
        _field(1, "id_number", "持卡人身份证号", "string", "L4", present=True),
        _field(2, "tap_time", "刷卡时间", "timestamp", "L1", present=True, description="刷卡时刻"),
        _field(3, "route", "线路编号", "string", "L1", present=True),
        _field(4, "fare_yuan", "票价", "decimal", "L1", present=False),  # dropped by a later sync
    ]
    air = Dataset(
        code="330400-HB/0002",  # a slash, to check the URIs are quoted
        name="空气质量监测",
        name_en=None,
        summary=None,
        summary_en=None,
        department=sthj,
        classification=None,
        share_type="unconditional",
        open_type="unconditional",
        update_cycle="hourly",
        publish_date=None,
        themes=["生态环境", "民生"],
        tags=[],
        current_version=1,
        updated_at=datetime(2024, 5, 1, tzinfo=UTC),
    )
    air.fields = [_field(0, "station", "站点名称", "string", "L1", present=True)]
    gas_users = Dataset(
        code="GDGS-0003",
        name="燃气用户信息",
        name_en="Gas customers",
        summary="居民燃气用户的开户信息。",
        department=gas,
        share_type="not_shared",
        open_type="not_open",
        legal_basis="《个人信息保护法》",
        update_cycle="irregular",
        themes=["能源"],
        tags=None,
        current_version=None,  # cataloged only: no data in the lake
    )
    gas_users.fields = [_field(0, "holder_name", "户主姓名", "string", "L3", present=True)]
    return [bus, air, gas_users]


def public_fields(dataset: Dataset) -> list[FieldInfo]:
    return [f for f in dataset.fields if f.grade == "L1"]


@pytest.fixture
def datasets() -> list[Dataset]:
    return make_catalog()


def build(datasets: list[Dataset], **kw: object) -> Graph:
    args: dict[str, object] = {
        "base_url": BASE + "/",
        "title": {"zh": "嘉兴市公共数据开放目录", "en": "Jiaxing open data catalog"},
        "description": {"zh": "全市各部门开放的数据资源。", "en": "Open data of the city."},
        "publisher": ("330400-DSJJ", {"zh": "大数据发展管理局", "en": "Big Data Bureau"}),
        "fields_visible": public_fields,
    }
    args.update(kw)
    return catalog_graph(datasets, **args)  # type: ignore[arg-type]


def ds_uri(code: str) -> URIRef:
    return URIRef(f"{BASE}/dataset/{code.replace('/', '%2F')}")


# -- conformance --------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", FORMATS)
def test_catalog_conforms_to_dcat_ap_in_every_format(
    datasets: list[Dataset], shapes: Graph, fmt: Format
) -> None:
    graph = build(datasets, page=1, page_size=3, total=7)
    body, _media_type = serialize(graph, fmt)
    parsed = Graph().parse(data=body, format=RDFLIB_FORMAT[fmt])
    assert isomorphic(parsed, graph)
    assert_conforms(parsed, shapes)


@pytest.mark.parametrize("fmt", FORMATS)
def test_single_dataset_conforms(datasets: list[Dataset], shapes: Graph, fmt: Format) -> None:
    for ds in datasets:
        graph = dataset_graph(ds, base_url=BASE, fields_visible=public_fields)
        body, _ = serialize(graph, fmt)
        assert_conforms(Graph().parse(data=body, format=RDFLIB_FORMAT[fmt]), shapes)


def test_empty_catalog_conforms(shapes: Graph) -> None:
    assert_conforms(build([], page=1, page_size=20, total=0), shapes)


def test_controlled_vocabularies_raise_no_violation(
    datasets: list[Dataset], vocabulary_shapes: Graph
) -> None:
    """The EU vocabulary shapes (mdr) too: only warnings remain (our departments are not EU
    corporate bodies; 资源分类 is not an EU data theme)."""
    _, report, text = validate(build(datasets), shacl_graph=vocabulary_shapes, inference="none")
    severities = {report.value(r, SH.resultSeverity) for r in report.objects(None, SH.result)}
    assert SH.Violation not in severities, text


def test_rows_loaded_from_the_database_conform(db: Database, shapes: Graph) -> None:
    """Real rows: column defaults applied, timestamps back from the database, lazy lists."""
    rows = make_catalog()
    rows[0].last_sync_at = datetime(2024, 6, 2, 1, 30, tzinfo=UTC)  # PostgreSQL's zone may vary
    with db.session() as s:
        s.add_all(rows)
    with db.session() as s:
        loaded = (
            s.execute(
                select(Dataset)
                .options(selectinload(Dataset.department), selectinload(Dataset.fields))
                .order_by(Dataset.code)
            )
            .scalars()
            .all()
        )
        graph = build(list(loaded), page=1, page_size=10, total=len(loaded))
    body, _ = serialize(graph, "ttl")
    parsed = Graph().parse(data=body, format="turtle")
    assert_conforms(parsed, shapes)
    assert len(set(parsed.subjects(RDF.type, DCAT.Dataset))) == 3
    assert "持卡人身份证号" not in body.decode()
    modified = parsed.value(ds_uri("330400-JT-0001"), DCTERMS.modified)
    assert isinstance(modified, Literal)
    assert modified.toPython() == datetime(2024, 6, 2, 1, 30, tzinfo=UTC)


# -- mapping ------------------------------------------------------------------------------------


def test_titles_and_descriptions_carry_language_tags(datasets: list[Dataset]) -> None:
    g = build(datasets)
    bus, air = ds_uri("330400-JT-0001"), ds_uri("330400-HB/0002")
    assert set(g.objects(bus, DCTERMS.title)) == {
        Literal("公交刷卡记录", lang="zh"),
        Literal("Bus card transactions", lang="en"),
    }
    assert Literal(
        "Every tap of a transit card on a city bus, with route and time.", lang="en"
    ) in set(g.objects(bus, DCTERMS.description))
    # No English and no summary: a Chinese title, and a description built from the names.
    assert set(g.objects(air, DCTERMS.title)) == {Literal("空气质量监测", lang="zh")}
    (description,) = g.objects(air, DCTERMS.description)
    assert isinstance(description, Literal) and description.language == "zh"
    assert "空气质量监测" in description and "生态环境局" in description
    # Every literal title and description in the graph has a language tag.
    for predicate in (DCTERMS.title, DCTERMS.description, FOAF.name, SKOS.prefLabel, RDFS.label):
        for value in g.objects(None, predicate):
            assert isinstance(value, Literal) and value.language in {"zh", "en"}, value
    catalog = URIRef(f"{BASE}/catalog")
    assert Literal("Jiaxing open data catalog", lang="en") in set(g.objects(catalog, DCTERMS.title))
    assert set(g.objects(catalog, DCTERMS.language)) == {
        URIRef(EU + "language/ZHO"),
        URIRef(EU + "language/ENG"),
    }


def test_identifiers_and_publishers(datasets: list[Dataset]) -> None:
    g = build(datasets)
    air = ds_uri("330400-HB/0002")
    assert (URIRef(f"{BASE}/catalog"), DCAT.dataset, air) in g
    assert g.value(air, DCTERMS.identifier) == Literal("330400-HB/0002")
    dept = g.value(air, DCTERMS.publisher)
    assert dept == URIRef(f"{BASE}/department/330400-STHJJ")
    assert (dept, RDF.type, FOAF.Agent) in g
    assert g.value(dept, DCTERMS.identifier) == Literal("330400-STHJJ")
    assert set(g.objects(dept, FOAF.name)) == {Literal("生态环境局", lang="zh")}
    jtj = URIRef(f"{BASE}/department/330400-JTJ")
    assert Literal("Transport Bureau", lang="en") in set(g.objects(jtj, FOAF.name))
    assert g.value(jtj, DCTERMS.type) == URIRef("http://purl.org/adms/publishertype/LocalAuthority")
    catalog_publisher = g.value(URIRef(f"{BASE}/catalog"), DCTERMS.publisher)
    assert g.value(catalog_publisher, DCTERMS.identifier) == Literal("330400-DSJJ")


@pytest.mark.parametrize(
    ("code", "access_right", "label_zh"),
    [
        ("330400-HB/0002", "PUBLIC", "无条件开放"),
        ("330400-JT-0001", "RESTRICTED", "有条件开放"),
        ("GDGS-0003", "NON_PUBLIC", "不予开放"),
    ],
)
def test_access_rights_follow_the_open_type(
    datasets: list[Dataset], code: str, access_right: str, label_zh: str
) -> None:
    g = build(datasets)
    uri = ds_uri(code)
    right = g.value(uri, DCTERMS.accessRights)
    assert right == URIRef(f"{EU}access-right/{access_right}")
    assert (right, RDF.type, DCTERMS.RightsStatement) in g
    rights = g.value(uri, DCTERMS.rights)
    assert (rights, RDF.type, DCTERMS.RightsStatement) in g
    assert Literal(label_zh, lang="zh") in set(g.objects(rights, RDFS.label))
    text = " ".join(str(d) for d in g.objects(rights, DCTERMS.description))
    assert label_zh in text and "共享类型" in text


def test_rights_statement_carries_conditions(datasets: list[Dataset]) -> None:
    g = build(datasets)
    bus = " ".join(map(str, g.objects(g.value(ds_uri("330400-JT-0001"), DCTERMS.rights), None)))
    assert "注册用户签署数据使用协议后开放" in bus and "仅限交通规划用途" in bus
    gas = " ".join(map(str, g.objects(g.value(ds_uri("GDGS-0003"), DCTERMS.rights), None)))
    assert "《个人信息保护法》" in gas and "不予共享" in gas


@pytest.mark.parametrize(
    ("cycle", "expected"),
    [
        (UpdateCycle.REALTIME, "UPDATE_CONT"),
        (UpdateCycle.HOURLY, "HOURLY"),
        (UpdateCycle.DAILY, "DAILY"),
        (UpdateCycle.WEEKLY, "WEEKLY"),
        (UpdateCycle.MONTHLY, "MONTHLY"),
        (UpdateCycle.QUARTERLY, "QUARTERLY"),
        (UpdateCycle.YEARLY, "ANNUAL"),
        (UpdateCycle.IRREGULAR, "IRREG"),
        ("fortnightly", "UNKNOWN"),
    ],
)
def test_update_cycle_maps_to_eu_frequency(
    datasets: list[Dataset], shapes: Graph, cycle: str, expected: str
) -> None:
    ds = datasets[0]
    ds.update_cycle = str(cycle)
    g = dataset_graph(ds, base_url=BASE)
    frequency = g.value(ds_uri(ds.code), DCTERMS.accrualPeriodicity)
    assert frequency == URIRef(f"{EU}frequency/{expected}")
    assert (frequency, RDF.type, DCTERMS.Frequency) in g
    assert_conforms(g, shapes)


def test_no_update_cycle_no_frequency(datasets: list[Dataset]) -> None:
    ds = datasets[0]
    ds.update_cycle = None
    assert (
        dataset_graph(ds, base_url=BASE).value(ds_uri(ds.code), DCTERMS.accrualPeriodicity) is None
    )


def test_dates(datasets: list[Dataset]) -> None:
    g = build(datasets)
    bus = ds_uri("330400-JT-0001")
    issued = g.value(bus, DCTERMS.issued)
    assert isinstance(issued, Literal) and issued.datatype == XSD.date
    assert issued.toPython() == date(2024, 3, 1)
    modified = g.value(bus, DCTERMS.modified)  # the later of updated_at and last_sync_at
    assert isinstance(modified, Literal) and modified.datatype == XSD.dateTime
    assert modified.toPython() == datetime(2024, 6, 2, 1, 30, tzinfo=UTC)
    assert g.value(ds_uri("330400-HB/0002"), DCTERMS.issued) is None


def test_keywords_and_themes(datasets: list[Dataset]) -> None:
    g = build(datasets)
    bus = ds_uri("330400-JT-0001")
    assert set(g.objects(bus, DCAT.keyword)) == {
        Literal("交通", lang="zh"),
        Literal("公交", lang="zh"),
        Literal("GTFS"),
    }
    themes = set(g.objects(bus, DCAT.theme))
    assert URIRef(f"{EU}data-theme/TRAN") in themes
    assert URIRef(f"{BASE}/classification/204") in themes
    air_themes = set(g.objects(ds_uri("330400-HB/0002"), DCAT.theme))
    assert air_themes == {URIRef(f"{EU}data-theme/ENVI"), URIRef(f"{EU}data-theme/SOCI")}


def test_distribution_only_for_connected_datasets(datasets: list[Dataset]) -> None:
    g = build(datasets)
    service = g.value(URIRef(f"{BASE}/catalog"), DCAT.service)
    assert g.value(service, DCAT.endpointURL) == URIRef(f"{BASE}/api/v1")
    assert g.value(service, DCAT.endpointDescription) == URIRef(f"{BASE}/openapi.json")
    served = set(g.objects(service, DCAT.servesDataset))
    assert served == {ds_uri("330400-JT-0001"), ds_uri("330400-HB/0002")}

    air = ds_uri("330400-HB/0002")
    (distribution,) = g.objects(air, DCAT.distribution)
    code = "330400-HB%2F0002"
    assert g.value(distribution, DCAT.accessURL) == URIRef(f"{BASE}/api/v1/datasets/{code}/rows")
    assert g.value(distribution, DCAT.downloadURL) == URIRef(
        f"{BASE}/api/v1/datasets/{code}/export.csv"
    )
    assert g.value(distribution, DCAT.accessService) == service
    assert g.value(distribution, DCTERMS.format) == URIRef(f"{EU}file-type/CSV")
    assert g.value(distribution, DCAT.mediaType) == URIRef(
        "https://www.iana.org/assignments/media-types/text/csv"
    )
    assert list(g.objects(ds_uri("GDGS-0003"), DCAT.distribution)) == []


def test_graded_out_fields_never_appear(datasets: list[Dataset]) -> None:
    graph = build(datasets)
    for fmt in FORMATS:
        body = serialize(graph, fmt)[0].decode()
        for hidden in ("card_no", "卡号", "id_number", "持卡人身份证号", "holder_name", "户主姓名"):
            assert hidden not in body, (fmt, hidden)
        assert "fare_yuan" not in body and "票价" not in body  # no longer present in the data
    schema = graph.value(ds_uri("330400-JT-0001"), DCTERMS.conformsTo)
    assert (schema, RDF.type, DCTERMS.Standard) in graph
    head = graph.value(schema, CSVW.column)
    assert head is not None
    columns = list(Collection(graph, head))
    assert [graph.value(c, CSVW.name) for c in columns] == [Literal("tap_time"), Literal("route")]
    assert graph.value(columns[0], CSVW.datatype) == XSD.dateTime
    assert graph.value(columns[0], CSVW.title) == Literal("刷卡时间", lang="zh")


def test_without_fields_visible_no_field_is_described(datasets: list[Dataset]) -> None:
    graph = build(datasets, fields_visible=None)
    assert list(graph.subjects(RDF.type, CSVW.Column)) == []
    body = serialize(graph, "ttl")[0].decode()
    assert "tap_time" not in body and "卡号" not in body


# -- paging -------------------------------------------------------------------------------------


def _page_links(g: Graph) -> dict[str, str]:
    view = g.value(URIRef(f"{BASE}/catalog"), HYDRA.view)
    assert (view, RDF.type, HYDRA.PartialCollectionView) in g
    links = {"self": str(view)}
    for name in ("first", "previous", "next", "last"):
        target = g.value(view, HYDRA[name])
        if target is not None:
            links[name] = str(target)
    return links


def test_paging_links(datasets: list[Dataset]) -> None:
    page = f"{BASE}/catalog?page={{}}&page_size=3"
    g = build(datasets, page=2, page_size=3, total=8)
    assert g.value(URIRef(f"{BASE}/catalog"), HYDRA.totalItems) == Literal(8)
    assert _page_links(g) == {
        "self": page.format(2),
        "first": page.format(1),
        "previous": page.format(1),
        "next": page.format(3),
        "last": page.format(3),
    }
    first = _page_links(build(datasets, page=1, page_size=3, total=8))
    assert "previous" not in first and first["next"] == page.format(2)
    last = _page_links(build(datasets[:2], page=3, page_size=3, total=8))
    assert "next" not in last and last["last"] == page.format(3)


def test_paging_without_total_and_custom_urls(datasets: list[Dataset]) -> None:
    def url(n: int) -> str:
        return f"{BASE}/api/v1/dcat/catalog.ttl?page={n}"

    full = _page_links(build(datasets, page=1, page_size=3, page_url=url))
    assert full == {"self": url(1), "first": url(1), "next": url(2)}
    short = _page_links(build(datasets[:1], page=2, page_size=3, page_url=url))
    assert short == {"self": url(2), "first": url(1), "previous": url(1)}


def test_no_paging_no_hydra(datasets: list[Dataset]) -> None:
    g = build(datasets)
    assert g.value(URIRef(f"{BASE}/catalog"), HYDRA.view) is None


# -- arguments and formats ----------------------------------------------------------------------


def test_serialize_media_types(datasets: list[Dataset]) -> None:
    graph = build(datasets)
    assert serialize(graph, "ttl")[1] == "text/turtle"
    assert serialize(graph, "jsonld")[1] == "application/ld+json"
    assert serialize(graph, "rdf")[1] == "application/rdf+xml"
    assert "公交刷卡记录" in serialize(graph, "jsonld")[0].decode("utf-8")
    with pytest.raises(ValueError, match="unknown format"):
        serialize(graph, "csv")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "kw",
    [
        {"base_url": "data.example.cn"},
        {"title": {"zh": " "}},
        {"description": {}},
        {"page": 0, "page_size": 10},
        {"page": 1},
        {"page": 1, "page_size": 10, "total": -1},
    ],
)
def test_bad_arguments(datasets: list[Dataset], kw: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        build(datasets, **kw)
