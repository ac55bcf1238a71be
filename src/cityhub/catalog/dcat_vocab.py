"""Vocabularies behind the DCAT-AP export (`cityhub.catalog.dcat`).

The catalog's own codes (vocab.py) mapped to the EU controlled vocabularies DCAT-AP 3.0.1 expects
(EU Publications Office authority tables, IANA media types, ADMS publisher types), and the way a
concept from one of them is described in our graphs: typed with the class the DCAT-AP range shapes
ask for, as a skos:Concept of its scheme, with its English label (and ours in Chinese where the
two mean the same thing).
"""

from __future__ import annotations

from dataclasses import dataclass

from rdflib import Graph, Literal, Namespace, URIRef
from rdflib.namespace import DCTERMS, RDF, SKOS

from cityhub.catalog.vocab import OpenType, UpdateCycle

HYDRA = Namespace("http://www.w3.org/ns/hydra/core#")
DCATAP = Namespace("http://data.europa.eu/r5r/")

_EU = "http://publications.europa.eu/resource/authority/"
FREQUENCY_SCHEME = URIRef(_EU + "frequency")
ACCESS_RIGHT_SCHEME = URIRef(_EU + "access-right")
FILE_TYPE_SCHEME = URIRef(_EU + "file-type")
LANGUAGE_SCHEME = URIRef(_EU + "language")
DATA_THEME_SCHEME = URIRef(_EU + "data-theme")
PUBLISHER_TYPE_SCHEME = URIRef("http://purl.org/adms/publishertype/1.0")
SCHEME_TITLES: dict[URIRef, str] = {
    FREQUENCY_SCHEME: "Frequency",
    ACCESS_RIGHT_SCHEME: "Access right",
    FILE_TYPE_SCHEME: "File type",
    LANGUAGE_SCHEME: "Language",
    DATA_THEME_SCHEME: "Data theme",
    PUBLISHER_TYPE_SCHEME: "Publisher type",
}
IANA_MEDIA_TYPES = "https://www.iana.org/assignments/media-types/"


@dataclass(frozen=True)
class Concept:
    """One concept of a controlled vocabulary, as it is stated in an export."""

    iri: URIRef
    scheme: URIRef
    rdf_class: URIRef  # what DCAT-AP's range.ttl wants the value of the property to be
    labels: tuple[tuple[str, str], ...]  # (language, label)

    def describe(self, graph: Graph) -> URIRef:
        """Add the concept's typing, scheme and labels to `graph`; return its IRI."""
        graph.add((self.iri, RDF.type, self.rdf_class))
        graph.add((self.iri, RDF.type, SKOS.Concept))
        graph.add((self.iri, SKOS.inScheme, self.scheme))
        describe_scheme(graph, self.scheme)
        for lang, label in self.labels:
            graph.add((self.iri, SKOS.prefLabel, Literal(label, lang=lang)))
        return self.iri


def describe_scheme(graph: Graph, scheme: URIRef) -> URIRef:
    graph.add((scheme, RDF.type, SKOS.ConceptScheme))
    graph.add((scheme, DCTERMS.title, Literal(SCHEME_TITLES[scheme], lang="en")))
    return scheme


def _frequency(code: str, en: str, zh: str | None = None) -> Concept:
    labels = (("en", en),) if zh is None else (("en", en), ("zh", zh))
    return Concept(URIRef(f"{_EU}frequency/{code}"), FREQUENCY_SCHEME, DCTERMS.Frequency, labels)


# 更新周期 → EU frequency table. 实时 is "continuously updated" (UPDATE_CONT), not CONT, which
# the table reserves for a resource that is itself continuous.
FREQUENCIES: dict[str, Concept] = {
    UpdateCycle.REALTIME.value: _frequency("UPDATE_CONT", "continuously updated", "实时"),
    UpdateCycle.HOURLY.value: _frequency("HOURLY", "hourly", "每小时"),
    UpdateCycle.DAILY.value: _frequency("DAILY", "daily", "每日"),
    UpdateCycle.WEEKLY.value: _frequency("WEEKLY", "weekly", "每周"),
    UpdateCycle.MONTHLY.value: _frequency("MONTHLY", "monthly", "每月"),
    UpdateCycle.QUARTERLY.value: _frequency("QUARTERLY", "quarterly", "每季度"),
    UpdateCycle.YEARLY.value: _frequency("ANNUAL", "annual", "每年"),
    UpdateCycle.IRREGULAR.value: _frequency("IRREG", "irregular", "不定期"),
}
FREQUENCY_UNKNOWN = _frequency("UNKNOWN", "unknown")


def _access_right(code: str, en: str) -> Concept:
    iri = URIRef(f"{_EU}access-right/{code}")
    return Concept(iri, ACCESS_RIGHT_SCHEME, DCTERMS.RightsStatement, (("en", en),))


# 开放类型 → EU access-right table (STANDARDS.md §3). The Chinese terms are not translations of
# the EU labels, so they are stated on a rights statement of our own (see dcat.py), not here.
ACCESS_RIGHTS: dict[str, Concept] = {
    OpenType.UNCONDITIONAL.value: _access_right("PUBLIC", "public"),
    OpenType.CONDITIONAL.value: _access_right("RESTRICTED", "restricted"),
    OpenType.NOT_OPEN.value: _access_right("NON_PUBLIC", "non-public"),
}


def access_right(open_type: str | None) -> Concept:
    """The EU access right of an open type; anything unrecognised is treated as not open."""
    return ACCESS_RIGHTS.get(open_type or "", ACCESS_RIGHTS[OpenType.NOT_OPEN.value])


def frequency(update_cycle: str | None) -> Concept | None:
    """The EU frequency of an update cycle; None when the cycle is unset."""
    if not update_cycle:
        return None
    return FREQUENCIES.get(update_cycle, FREQUENCY_UNKNOWN)


LANGUAGE_ZH = Concept(
    URIRef(f"{_EU}language/ZHO"),
    LANGUAGE_SCHEME,
    DCTERMS.LinguisticSystem,
    (("en", "Chinese"), ("zh", "中文")),
)
LANGUAGE_EN = Concept(
    URIRef(f"{_EU}language/ENG"),
    LANGUAGE_SCHEME,
    DCTERMS.LinguisticSystem,
    (("en", "English"), ("zh", "英语")),
)

FORMAT_CSV = Concept(
    URIRef(f"{_EU}file-type/CSV"), FILE_TYPE_SCHEME, DCTERMS.MediaTypeOrExtent, (("en", "CSV"),)
)
FORMAT_JSON = Concept(
    URIRef(f"{_EU}file-type/JSON"), FILE_TYPE_SCHEME, DCTERMS.MediaTypeOrExtent, (("en", "JSON"),)
)
MEDIA_TYPE_CSV = URIRef(IANA_MEDIA_TYPES + "text/csv")


def _publisher_type(code: str, en: str, zh: str) -> Concept:
    iri = URIRef(f"http://purl.org/adms/publishertype/{code}")
    return Concept(iri, PUBLISHER_TYPE_SCHEME, SKOS.Concept, (("en", en), ("zh", zh)))


# Department.kind → ADMS publisher type: a city's 委办局 is a local authority.
PUBLISHER_TYPES: dict[str, Concept] = {
    "government": _publisher_type("LocalAuthority", "Local Authority", "地方政府部门"),
    "enterprise": _publisher_type("Company", "Company", "企业"),
}


def _theme(code: str, en: str, zh: str) -> Concept:
    iri = URIRef(f"{_EU}data-theme/{code}")
    return Concept(iri, DATA_THEME_SCHEME, SKOS.Concept, (("en", en), ("zh", zh)))


_THEMES = {
    "AGRI": _theme("AGRI", "Agriculture, fisheries, forestry and food", "农业、渔业、林业与食品"),
    "ECON": _theme("ECON", "Economy and finance", "经济与金融"),
    "EDUC": _theme("EDUC", "Education, culture and sport", "教育、文化与体育"),
    "ENER": _theme("ENER", "Energy", "能源"),
    "ENVI": _theme("ENVI", "Environment", "环境"),
    "GOVE": _theme("GOVE", "Government and public sector", "政府与公共部门"),
    "HEAL": _theme("HEAL", "Health", "卫生健康"),
    "JUST": _theme("JUST", "Justice, legal system and public safety", "司法与公共安全"),
    "REGI": _theme("REGI", "Regions and cities", "区域与城市"),
    "SOCI": _theme("SOCI", "Population and society", "人口与社会"),
    "TECH": _theme("TECH", "Science and technology", "科学技术"),
    "TRAN": _theme("TRAN", "Transport", "交通运输"),
}

# The catalog's themes (the 类 / 项 of 资源分类 and the words departments use) → EU data themes.
_THEME_CODES: dict[str, str] = {
    "人口": "SOCI", "法人": "ECON", "空间地理": "REGI", "社会信用": "ECON", "社会保障": "SOCI",
    "医疗卫生": "HEAL", "教育": "EDUC", "交通": "TRAN", "生态环境": "ENVI", "城乡建设": "REGI",
    "市场监管": "ECON", "财税": "ECON", "公共安全": "JUST", "农业农村": "AGRI", "文化旅游": "EDUC",
    "城市管理": "REGI", "气象": "ENVI", "能源": "ENER", "民政": "SOCI", "政务服务": "GOVE",
    "经济运行": "ECON", "司法": "JUST", "应急管理": "JUST", "经济": "ECON", "环境": "ENVI",
    "民生": "SOCI", "卫生": "HEAL", "医疗": "HEAL", "文化": "EDUC", "旅游": "EDUC",
    "体育": "EDUC", "农业": "AGRI", "财政": "ECON", "税务": "ECON", "科技": "TECH",
    "交通运输": "TRAN", "公安": "JUST", "社会": "SOCI", "政务": "GOVE",
}  # fmt: skip


def data_themes(themes: list[str]) -> list[Concept]:
    """The EU data themes of a dataset's themes, in order, without repeats."""
    out: list[Concept] = []
    for theme in themes:
        concept = _THEMES.get(_THEME_CODES.get(str(theme).strip(), ""))
        if concept is not None and concept not in out:
            out.append(concept)
    return out


# FieldInfo.data_type → the datatype of its CSV column (the CSVW datatype names' IRIs).
XSD_NS = "http://www.w3.org/2001/XMLSchema#"
COLUMN_DATATYPES: dict[str, URIRef] = {
    "integer": URIRef(XSD_NS + "integer"),
    "decimal": URIRef(XSD_NS + "decimal"),
    "date": URIRef(XSD_NS + "date"),
    "timestamp": URIRef(XSD_NS + "dateTime"),
    "boolean": URIRef(XSD_NS + "boolean"),
    "string": URIRef(XSD_NS + "string"),
    "json": URIRef("http://www.w3.org/ns/csvw#JSON"),
    "geometry": URIRef(XSD_NS + "string"),  # exported as text (WKT or GeoJSON)
}

# Prefixes bound in every export (Turtle / RDF/XML) and used as the JSON-LD context.
PREFIXES: dict[str, str] = {
    "dcat": "http://www.w3.org/ns/dcat#",
    "dct": "http://purl.org/dc/terms/",
    "foaf": "http://xmlns.com/foaf/0.1/",
    "skos": "http://www.w3.org/2004/02/skos/core#",
    "rdfs": "http://www.w3.org/2000/01/rdf-schema#",
    "xsd": XSD_NS,
    "csvw": "http://www.w3.org/ns/csvw#",
    "hydra": str(HYDRA),
    "dcatap": str(DCATAP),
}
