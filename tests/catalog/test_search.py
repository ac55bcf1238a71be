"""Chinese full-text catalog search, on SQLite (FTS5) and PostgreSQL (tsvector) alike."""

from __future__ import annotations

import subprocess
import sys

import pytest
from alembic import command
from sqlalchemy import delete, func, inspect, select, table
from sqlalchemy.orm import Session

from cityhub.catalog import CatalogCache, service
from cityhub.catalog.db import Database, alembic_config
from cityhub.catalog.models import Dataset, Department, FieldInfo
from cityhub.catalog.search import (
    FACETS,
    SearchResult,
    index_dataset,
    reindex_all,
    remove_dataset,
    search,
    tokenize,
)
from cityhub.errors import InvalidInput

DEPARTMENTS = [
    ("scjgj", "市场监督管理局", "Administration for Market Regulation"),
    ("tjj", "统计局", "Statistics Bureau"),
    ("jtj", "交通运输局", "Transport Bureau"),
    ("sthjj", "生态环境局", "Ecology and Environment Bureau"),
]

# code, name, name_en, department, summary, themes, tags, share, open, format, field titles
DATASETS = [
    ("scjg-001", "市场主体登记信息", "Market entity registrations", "scjgj",
     "全市各类市场主体的登记注册数据，按日更新。", ["经济", "市场监管"], ["登记"],
     "unconditional", "conditional", "CSV", ["统一社会信用代码", "企业名称", "登记机关"]),
    ("scjg-002", "企业名录", "Enterprise directory", "scjgj",
     "在册企业的名录 <含注销企业>", ["经济"], ["名录"],
     "conditional", "unconditional", "XLSX", ["企业名称", "注册资本"]),
    ("tjj-001", "规模以上企业", "Industrial enterprises above designated size", "tjj",
     "年主营业务收入2000万元及以上的工业企业统计。", ["经济"], [],
     "conditional", "not_open", "CSV", ["营业收入", "从业人员"]),
    ("jt-001", "公交刷卡记录", "Bus card transactions", "jtj",
     "乘客在车上刷卡的明细。", ["交通"], [],
     "conditional", "not_open", "Parquet", ["卡号", "刷卡时间", "线路编号"]),
    ("hb-001", "空气质量监测", "Air quality monitoring", "sthjj",
     "全市站点每小时的PM2.5、PM10与臭氧浓度。", ["环境", "民生"], [],
     "unconditional", "unconditional", "JSON", ["站点名称", "PM2.5浓度"]),
    ("jt-002", "道路交通流量", "Road traffic flow", "jtj",
     "公交出行与公交线路的客流。", ["交通"], [],
     "conditional", "conditional", None, ["路口名称", "车流量"]),
]  # fmt: skip


FIELD_NOTES = {"站点名称": "国控监测点位"}


@pytest.fixture
def catalog(db: Database) -> Database:
    with db.session() as s:
        departments = {}
        for code, name, name_en in DEPARTMENTS:
            departments[code] = Department(code=code, name=name, name_en=name_en)
            s.add(departments[code])
        for code, name, name_en, dept, summary, themes, tags, share, open_, fmt, titles in DATASETS:
            dataset = Dataset(
                code=code,
                name=name,
                name_en=name_en,
                department=departments[dept],
                summary=summary,
                themes=themes,
                tags=tags,
                share_type=share,
                open_type=open_,
                format=fmt,
                fields=[
                    FieldInfo(
                        position=i, name=f"f{i}", title=title, description=FIELD_NOTES.get(title)
                    )
                    for i, title in enumerate(titles)
                ],
            )
            s.add(dataset)
            index_dataset(s, dataset)
    return db


def find(db: Database, q: str | None, **kwargs: object) -> SearchResult:
    with db.session() as s:
        return search(s, q, **kwargs)  # type: ignore[arg-type]


def codes(result: SearchResult) -> list[str]:
    return [hit.code for hit in result.items]


# --- tokens (pure functions, no database) ---------------------------------------------------


def test_tokenize_cuts_compounds_and_drops_punctuation() -> None:
    assert "企业" in tokenize("规模以上企业")
    assert "企业" in tokenize("中小企业发展情况")  # a dictionary word inside a longer one
    assert {"市场", "主体", "市场主体"} <= set(tokenize("市场主体登记信息"))
    tokens = tokenize('Air  Quality，"PM2.5"（监测）!')
    assert tokens == ["air", "quality", "pm2", "5", "监测"]
    assert tokenize("ＰＭ２．５") == ["pm2", "5"]  # full-width folds to ASCII
    assert tokenize(" *()-\"' ") == []


def test_importing_jieba_logs_nothing() -> None:
    code = "from cityhub.catalog.search import tokenize; print(tokenize('公交刷卡记录'))"
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert run.stderr == ""
    assert "公交" in run.stdout


# --- search --------------------------------------------------------------------------------


def test_word_inside_longer_names_and_fields(catalog: Database) -> None:
    result = find(catalog, "企业")
    # 企业名录 and 规模以上企业 by name, 市场主体登记信息 by its field 企业名称.
    assert sorted(codes(result)) == ["scjg-001", "scjg-002", "tjj-001"]
    assert result.total == 3
    assert result.terms == ["企业"]


def test_field_titles_match(catalog: Database) -> None:
    result = find(catalog, "统一社会信用代码")
    assert codes(result) == ["scjg-001"]
    assert "<mark>" in result.items[0].snippet and "代码</mark>" in result.items[0].snippet
    assert codes(find(catalog, "刷卡时间")) == ["jt-001"]
    assert codes(find(catalog, "国控")) == ["hb-001"]  # a field's description


def test_name_match_ranks_above_summary_only_match(catalog: Database) -> None:
    # 道路交通流量 says 公交 twice in a short summary; 公交刷卡记录 once, but in its name.
    result = find(catalog, "公交")
    assert codes(result) == ["jt-001", "jt-002"]
    assert result.items[0].score > result.items[1].score > 0


def test_several_words_must_all_match(catalog: Database) -> None:
    assert codes(find(catalog, "企业 名录")) == ["scjg-002"]
    assert codes(find(catalog, "公交刷卡")) == ["jt-001"]
    assert codes(find(catalog, "公交 企业")) == []
    assert codes(find(catalog, "嘉兴的公交刷卡")) == []  # 嘉兴 is in no dataset
    assert codes(find(catalog, "公交的刷卡")) == ["jt-001"]  # the particle is not required


def test_english_department_and_tags_are_searchable(catalog: Database) -> None:
    assert codes(find(catalog, "Air QUALITY")) == ["hb-001"]
    assert sorted(codes(find(catalog, "交通运输局"))) == ["jt-001", "jt-002"]
    assert codes(find(catalog, "民生")) == ["hb-001"]  # a theme
    assert codes(find(catalog, "PM2.5")) == ["hb-001"]
    assert codes(find(catalog, "ＰＭ２．５")) == ["hb-001"]


def test_facets_count_the_matches(catalog: Database) -> None:
    result = find(catalog, "企业")
    assert set(result.facets) == set(FACETS)
    assert result.facets["department"] == [("scjgj", 2), ("tjj", 1)]
    assert result.facets["theme"] == [("经济", 3), ("市场监管", 1)]
    assert result.facets["share_type"] == [("conditional", 2), ("unconditional", 1)]
    assert result.facets["open_type"] == [
        ("conditional", 1),
        ("not_open", 1),
        ("unconditional", 1),
    ]
    assert result.facets["format"] == [("CSV", 2), ("XLSX", 1)]


def test_facets_without_query_cover_everything_and_skip_missing_values(catalog: Database) -> None:
    facets = find(catalog, None).facets
    assert facets["department"] == [("jtj", 2), ("scjgj", 2), ("sthjj", 1), ("tjj", 1)]
    assert facets["theme"] == [("经济", 3), ("交通", 2), ("市场监管", 1), ("民生", 1), ("环境", 1)]
    assert facets["format"] == [("CSV", 2), ("JSON", 1), ("Parquet", 1), ("XLSX", 1)]


def test_facets_follow_the_filters(catalog: Database) -> None:
    result = find(catalog, "企业", department="scjgj")
    assert result.facets["department"] == [("scjgj", 2)]
    assert result.facets["format"] == [("CSV", 1), ("XLSX", 1)]
    assert result.total == 2


def test_filters(catalog: Database) -> None:
    assert sorted(codes(find(catalog, None, theme="交通"))) == ["jt-001", "jt-002"]
    assert codes(find(catalog, None, theme="市场")) == []  # whole values, not substrings
    assert sorted(codes(find(catalog, None, format="CSV"))) == ["scjg-001", "tjj-001"]
    assert sorted(codes(find(catalog, None, department="jtj"))) == ["jt-001", "jt-002"]
    # Share and open types take codes or Chinese labels.
    assert sorted(codes(find(catalog, None, share_type="unconditional"))) == [
        "hb-001",
        "scjg-001",
    ]
    assert sorted(codes(find(catalog, None, open_type="无条件开放"))) == ["hb-001", "scjg-002"]
    assert codes(find(catalog, "企业", theme="经济", format="CSV", open_type="不予开放")) == [
        "tjj-001"
    ]
    with pytest.raises(InvalidInput):
        find(catalog, None, share_type="sometimes")


def test_no_query_lists_all_by_name_and_pages(catalog: Database) -> None:
    everything = find(catalog, None, limit=100)
    by_name = sorted(DATASETS, key=lambda d: d[1])
    assert codes(everything) == [d[0] for d in by_name]
    assert everything.total == len(DATASETS)
    pages = [find(catalog, None, limit=4, offset=offset) for offset in (0, 4, 8)]
    assert [len(p.items) for p in pages] == [4, 2, 0]
    assert all(p.total == len(DATASETS) for p in pages)
    assert [code for p in pages for code in codes(p)] == codes(everything)


def test_paging_keeps_rank_order(catalog: Database) -> None:
    ranked = codes(find(catalog, "企业"))
    first, second = find(catalog, "企业", limit=2), find(catalog, "企业", limit=2, offset=2)
    assert codes(first) + codes(second) == ranked
    assert first.total == second.total == 3
    assert find(catalog, "企业", limit=0).items == []
    with pytest.raises(InvalidInput):
        find(catalog, "企业", offset=-1)


def test_reindex_after_rename(catalog: Database) -> None:
    with catalog.session() as s:
        dataset = s.scalars(select(Dataset).where(Dataset.code == "jt-001")).one()
        dataset.name = "地铁乘车记录"
        dataset.fields[1].present = False  # 刷卡时间 was dropped by a sync
        index_dataset(s, dataset)
        index_dataset(s, dataset)  # idempotent: still one entry
    assert codes(find(catalog, "地铁")) == ["jt-001"]
    assert codes(find(catalog, "公交")) == ["jt-002"]
    assert codes(find(catalog, "刷卡时间")) == []
    assert find(catalog, None).total == len(DATASETS)


def test_dataset_with_null_lists(catalog: Database) -> None:
    with catalog.session() as s:
        department = s.scalars(select(Department).where(Department.code == "tjj")).one()
        bare = Dataset(
            code="tjj-002", name="人口普查", department=department, themes=None, tags=None
        )
        s.add(bare)
        index_dataset(s, bare)
    assert codes(find(catalog, "人口")) == ["tjj-002"]
    assert find(catalog, "人口").facets["theme"] == []
    assert codes(find(catalog, "人口", theme="经济")) == []


def test_no_result(catalog: Database) -> None:
    result = find(catalog, "火星基地")
    assert result.total == 0
    assert result.items == []
    assert result.facets == {name: [] for name in FACETS}


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ('"企业', 3),
        ("企业*", 3),
        ("-企业", 3),
        ("(企业)", 3),
        ("企业 OR 公交", 0),  # not a union: "or" is a word to find
        ("企业 NOT 名录", 0),
        ("NEAR(企业 名录)", 0),
        ("名录:企业", 1),
        ("^企业 AND 名录", 0),  # "and" is a word too: only the environment bureau's name has it
        ("空气 AND 质量", 1),
        ("'; DROP TABLE datasets; --", 0),
    ],
)
def test_query_syntax_is_plain_text(catalog: Database, q: str, expected: int) -> None:
    assert find(catalog, q).total == expected
    assert find(catalog, None).total == len(DATASETS)  # the catalog is intact


def test_query_of_punctuation_only_lists_everything(catalog: Database) -> None:
    result = find(catalog, '*()"-')
    assert result.terms == []
    assert result.total == len(DATASETS)


def test_snippet_marks_terms_and_escapes_html(catalog: Database) -> None:
    hit = find(catalog, "企业 名录").items[0]
    assert hit.snippet == "在册<mark>企业</mark>的<mark>名录</mark> &lt;含注销<mark>企业</mark>&gt;"
    assert (hit.department_code, hit.department_name) == ("scjgj", "市场监督管理局")


def test_removed_and_deleted_datasets_leave_the_index(catalog: Database) -> None:
    index = table("catalog_fts" if catalog.dialect == "sqlite" else "catalog_search")
    with catalog.session() as s:
        assert s.scalar(select(func.count()).select_from(index)) == len(DATASETS)
        gone = s.scalars(select(Dataset).where(Dataset.code == "scjg-002")).one()
        remove_dataset(s, gone.id)
        s.execute(delete(Dataset).where(Dataset.code == "tjj-001"))  # the row itself goes
        assert s.scalar(select(func.count()).select_from(index)) == len(DATASETS) - 2
    assert codes(find(catalog, "企业")) == ["scjg-001"]
    with catalog.session() as s:
        assert reindex_all(s) == len(DATASETS) - 1
    assert sorted(codes(find(catalog, "企业"))) == ["scjg-001", "scjg-002"]


def test_migration_downgrade_drops_the_index(db: Database) -> None:
    name = "catalog_fts" if db.dialect == "sqlite" else "catalog_search"
    assert name in inspect(db.engine).get_table_names()
    cfg = alembic_config(db.url)
    with db.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0001")
    assert not any(t.startswith(name) for t in inspect(db.engine).get_table_names())
    db.upgrade()
    assert name in inspect(db.engine).get_table_names()


def test_cached_answers_follow_every_change_of_the_catalog(db: Database) -> None:
    """A repeated question is answered from the cache until the catalog changes: a new
    dataset, a renamed one or a field's new title all reach the next answer."""
    cache = CatalogCache()

    def ask(s: Session, who: str, q: str) -> SearchResult:
        return cache.get(s, (who, q), lambda: search(s, q))

    with db.session() as s:
        service.upsert_department(s, "330400-JT", "市交通运输局")
        service.upsert_dataset(s, "JT-001", "330400-JT", name="道路交通流量监测")
    with db.session() as s:
        first = ask(s, "public", "交通")
        assert ask(s, "public", "交通") is first and first.total == 1
        assert ask(s, "operator", "交通") is not first  # another kind of caller
    with db.session() as s:
        service.upsert_dataset(s, "JT-002", "330400-JT", name="公交线路交通信息")
    with db.session() as s:
        assert ask(s, "public", "交通").total == 2
        assert ask(s, "public", "车道").total == 0
    with db.session() as s:
        service.declare_fields(s, service.get_dataset(s, "JT-001"), [{"title": "车道编号"}])
    with db.session() as s:
        assert ask(s, "public", "车道").total == 1


def test_a_cached_answer_sees_the_askers_own_changes_not_yet_flushed(db: Database) -> None:
    cache = CatalogCache()
    with db.session() as s:
        before = cache.get(s, "departments", lambda: s.scalar(select(func.count(Department.id))))
        s.add(Department(code="330400-QX", name="市气象局"))  # pending: not flushed yet
        after = cache.get(s, "departments", lambda: s.scalar(select(func.count(Department.id))))
        assert (before, after) == (0, 1)


def test_the_catalog_stamp_reads_the_latest_change_off_an_index(db: Database) -> None:
    """Asked before every cached answer, the stamp finds the datasets' latest `updated_at` as
    the last entry of its index (migration 0004) rather than by reading every dataset; a
    downgrade drops the index."""
    from cityhub.catalog.cache import _STAMP
    from cityhub.catalog.db import _compiled

    def indexes() -> list[str | None]:
        return [i["name"] for i in inspect(db.engine).get_indexes("datasets")]

    assert "ix_datasets_updated_at" in indexes()
    if db.dialect == "sqlite":
        sql, _ = _compiled(_STAMP, db.engine.dialect)
        with db.engine.connect() as conn:
            plan = [row[3] for row in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + sql)]
        reads = [step for step in plan if " datasets" in step]
        assert "SEARCH datasets USING COVERING INDEX ix_datasets_updated_at" in reads, plan
        assert all("INDEX" in step for step in reads), plan  # no read of the table's rows
    cfg = alembic_config(db.url)
    with db.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0003")
    assert "ix_datasets_updated_at" not in indexes()
