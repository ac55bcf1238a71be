"""The synthetic Jiaxing demo city: the seed's shape through the real pipeline, valid and
consistent identities, a ground truth that matches the delivered records, determinism, the CLI."""

from __future__ import annotations

import dataclasses
import hashlib
import re
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from cityhub import identifiers
from cityhub.access import users
from cityhub.catalog import service
from cityhub.cli import app
from cityhub.config import load_settings
from cityhub.demo import SEED_FIGURES, City, generate, quotas, vocab
from cityhub.demo.accounts import DEMO_PASSWORD
from cityhub.demo.feeds_transport import flows, segments
from cityhub.demo.spec import Ctx
from cityhub.hub import Hub
from cityhub.ingest import apply_catalog, load_manifest, sync_file

SCALE = 0.001  # 46,590 records: the malformed files are large enough to carry their bad rows
TRUTH_KINDS = {"person": "persons", "enterprise": "enterprises", "place": "places"}


@pytest.fixture(scope="module")
def city(tmp_path_factory: pytest.TempPathFactory) -> City:
    return generate(tmp_path_factory.mktemp("city"), scale=SCALE)


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> City:
    return generate(tmp_path_factory.mktemp("small"), scale=SCALE / 2)


def digest(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def count_records(path: Path) -> int:
    """Records in a delivered file, counted from the file itself (not from our figures)."""
    if path.suffix == ".parquet":
        return pq.ParquetFile(path).metadata.num_rows
    lines = path.read_bytes().count(b"\n")
    return lines - 1 if path.suffix == ".csv" else lines


# -- figures -------------------------------------------------------------------------------------
@pytest.mark.parametrize("scale", [0.0001, 0.00123, 0.01, 0.5, 1.0])
def test_records_are_exact_and_every_dataset_gets_some(scale: float) -> None:
    q = quotas(scale)
    assert sum(q.values()) == round(SEED_FIGURES.records * scale)
    assert len(q) == 42 and min(q.values()) >= 1


def test_files_hold_their_quota_in_proportion_to_scale(city: City, small: City) -> None:
    assert (city.records, small.records) == (46_590, 23_295)
    planted = {m.dataset: m.rejects for m in city.malformed}
    planted_small = {m.dataset: m.rejects for m in small.malformed}
    checked = 0
    for big, little in zip(city.datasets, small.datasets, strict=True):
        assert big.fields == little.fields  # scale multiplies rows only
        if big.path is None or little.path is None or big.format in ("XLSX", "GeoJSON"):
            continue
        assert count_records(big.path) == big.rows + planted.get(big.code, 0)
        assert count_records(little.path) == little.rows + planted_small.get(little.code, 0)
        if big.rows >= 100:
            assert big.rows / little.rows == pytest.approx(2, abs=0.05)
            checked += 1
    assert checked >= 20


# -- the city through the real pipeline ----------------------------------------------------------
def load(hub: Hub, city: City) -> dict[str, tuple[int, int]]:
    """Ingest the source file as `cityhub ingest` does; (stored, rejected) per dataset."""
    manifest = load_manifest(city.manifest)
    apply_catalog(hub, manifest)
    out = {}
    for spec in manifest.sources:
        for i, path in enumerate(spec.paths):
            opts = dataclasses.replace(spec.options, mode="append") if i else spec.options
            r = sync_file(hub, spec.dataset, path, opts)
            out[spec.dataset] = (r.table_rows or 0, r.rows_rejected)
    return out


def stored(hub: Hub, code: str) -> tuple[pa.Table, dict[str, str]]:
    """A dataset's current rows, and its field titles → machine names."""
    with hub.db.session() as s:
        names = {f.title: f.name for f in service.get_dataset(s, code).fields}
    return hub.lake.read(code), names


def test_the_loaded_city_has_the_seed_shape_and_its_truth_holds(
    sqlite_hub: Hub, city: City
) -> None:
    results = load(sqlite_hub, city)
    with sqlite_hub.db.session() as s:
        st = service.stats(s)
        field_counts = {
            ds.code: sum(f.present for f in service.get_dataset(s, ds.code).fields)
            for ds in service.list_datasets(s)
        }
    assert (st.departments_connected, st.departments_cataloged) == (19, 49)
    assert st.fields == SEED_FIGURES.fields == 7_670
    assert st.records == round(SEED_FIGURES.records * SCALE) == city.records
    assert (st.datasets, st.datasets_connected) == (len(city.datasets), 42)
    for d in city.datasets:
        assert field_counts[d.code] == d.fields, d.code
        if d.path is not None:
            assert results[d.code][0] == d.rows, d.code
    # Only the malformed files reject, exactly the rows planted in them.
    planted = {m.dataset: m.rejects for m in city.malformed}
    assert planted == {"330400-YB-0001": 6, "330400-ZFB-0001": 1}
    assert {c: r for c, (_, r) in results.items() if r} == planted
    check_truth_against_stored(sqlite_hub, city)


def check_truth_against_stored(hub: Hub, city: City) -> None:
    masters = {
        "person": pq.read_table(city.truth / "person_master.parquet"),
        "enterprise": pq.read_table(city.truth / "enterprise_master.parquet"),
    }
    links = {k: pq.read_table(city.truth / f"{v}.parquet") for k, v in TRUTH_KINDS.items()}
    linked = sorted({c for t in links.values() for c in t.column("dataset").to_pylist()})
    assert len(linked) == 32  # every feed naming people, firms or places
    ids_checked = codes_checked = 0
    for code in linked:
        rows, names = stored(hub, code)
        truth_keys: set[str] = set()
        for kind, table in links.items():
            mine = table.filter(pc.equal(table.column("dataset"), code))
            if not mine.num_rows:
                continue
            key_field = mine.column("key_field")[0].as_py()
            keys = rows.column(names[key_field]).cast(pa.string())
            truth_keys |= set(mine.column("record_key").to_pylist())
            if kind == "place":
                continue
            for field in set(mine.column("field").to_pylist()):
                refs = mine.filter(pc.equal(mine.column("field"), field))
                at = pc.index_in(refs.column("record_key"), value_set=keys)
                values = rows.column(names[field]).take(at)
                truth = masters[kind].column("id_number" if kind == "person" else "credit_code")
                true_values = truth.take(refs.column("entity_id"))
                n = _valid_ids_agree(kind, values, true_values)
                ids_checked += n if kind == "person" else 0
                codes_checked += n if kind == "enterprise" else 0
        # Every record of a linked dataset refers to something, and nothing else is referred to.
        assert truth_keys == set(rows.column(names[key_field]).cast(pa.string()).to_pylist()), code
    # About 18,000 ID numbers and 6,000 credit codes at this scale: most copies, not a few.
    assert ids_checked > 15_000 and codes_checked > 5_000, (ids_checked, codes_checked)


def _valid_ids_agree(kind: str, values: pa.ChunkedArray, truth: pa.ChunkedArray) -> int:
    """Copies that carry a valid identifier carry the entity's own; returns how many did."""
    values = values.combine_chunks().cast(pa.string())
    if kind == "person":
        valid = identifiers.id_card_mask(values)
        got = identifiers.normalize_id_cards(values.filter(valid))
    else:
        valid = identifiers.credit_code_mask(values)
        got = pc.utf8_upper(values.filter(valid))
    want = truth.combine_chunks().filter(valid)
    assert got.equals(want), f"{pc.sum(pc.not_equal(got, want))} copies name someone else"
    return len(got)


# -- the clean masters and the noise in the copies ----------------------------------------------
def test_master_identities_are_valid_and_agree_with_themselves(city: City) -> None:
    people = pq.read_table(city.truth / "person_master.parquet")
    ids = people.column("id_number")
    assert pc.all(identifiers.id_card_mask(ids, allow_15=False)).as_py()
    assert pc.count_distinct(ids).as_py() == people.num_rows
    assert set(pc.utf8_slice_codeunits(ids, 0, 6).to_pylist()) <= set(vocab.COUNTY_CODES)
    born = pc.strftime(people.column("birth_date"), format="%Y%m%d")
    assert pc.all(pc.equal(pc.utf8_slice_codeunits(ids, 6, 14), born)).as_py()
    odd = pc.equal(pc.utf8_slice_codeunits(ids, 16, 17).cast(pa.int64()).to_numpy() % 2, 1)
    assert pc.all(pc.equal(odd, pc.equal(people.column("gender"), "男"))).as_py()
    assert pc.all(identifiers.mobile_mask(people.column("mobile"))).as_py()
    firms = pq.read_table(city.truth / "enterprise_master.parquet")
    codes = firms.column("credit_code")
    assert pc.all(identifiers.credit_code_mask(codes)).as_py()
    assert pc.count_distinct(codes).as_py() == firms.num_rows
    assert set(pc.utf8_slice_codeunits(codes, 2, 8).to_pylist()) <= set(vocab.COUNTY_CODES)


def test_copies_carry_the_noise_departments_make(city: City) -> None:
    water = (city.root / "files" / "用水户信息.csv").read_bytes().decode("gbk")
    assert "号" in water and "號" in water  # 號 for 号
    assert re.search("[０-９]", water)  # full-width digits
    assert re.search(r",\d{15},", water)  # first-generation 15-digit IDs
    assert re.search(r",浙江省嘉兴市", water) and re.search(r",(南湖区|秀洲区|海宁市)", water)
    traditional = "".join(set(vocab.TRADITIONAL.values()) - {"號"})
    assert re.search(f"[{traditional}]", water)  # traditional characters (繁体)
    people = pq.read_table(city.truth / "person_master.parquet")
    links = pq.read_table(city.truth / "persons.parquet")
    ins = (city.root / "files" / "社会保险参保信息.csv").read_text().splitlines()[1:]
    by_key = {line.split(",")[0]: line.split(",")[2] for line in ins}
    mine = links.filter(pc.equal(links.column("dataset"), "330400-RS-0001"))
    names = people.column("name").take(mine.column("entity_id")).to_pylist()
    copied = [by_key[k] for k in mine.column("record_key").to_pylist()]
    differ = sum(a != b for a, b in zip(names, copied, strict=True))
    assert 0.01 * len(names) < differ < 0.15 * len(names)  # homophones and traditional forms
    firms = (city.root / "files" / "纳税人登记信息.csv").read_text()
    assert "有限责任公司" in firms and re.search(r"\n33\d{4}[0-9A-Z]{9},", firms)  # old tax ids


def test_traffic_slows_at_rush_hour_and_more_on_smaller_roads() -> None:
    """A week of five-minute records on 300 detectors (the model the demo city's feed uses)."""
    detectors = 300
    quota = {
        "330400-JT-0001": 150,
        "330400-JT-0002": detectors,
        "330400-JT-0003": detectors * 288 * 7,
    }
    ctx = Ctx(2017, quota)
    rows = flows(ctx, np.random.default_rng(1), 0, quota["330400-JT-0003"]).columns
    when = rows["采集时间"].to_numpy()
    hour = (when - when.astype("datetime64[D]")).astype("timedelta64[h]").astype(int)
    weekday = (when.astype("datetime64[D]").astype(int) + 3) % 7 < 5
    speed, volume = rows["平均速度"], rows["流量"]
    road_class = segments(ctx)["class"][np.arange(len(speed)) % detectors % 150]
    rush = weekday & np.isin(hour, [8, 17, 18])
    night = np.isin(hour, [1, 2, 3, 4])
    assert volume[rush].mean() > 3 * volume[night].mean()
    free, jammed = [], []
    for cls, jam in enumerate((20, 15, 10)):  # STANDARDS.md §7: 严重拥堵 at or below
        mine = road_class == cls
        free.append(speed[mine & night].mean())
        assert speed[mine & rush].mean() < 0.8 * free[-1]
        jammed.append((speed[mine & rush] <= jam).mean())
    assert free[0] > free[1] > free[2]  # 快速路 > 主干路 > 次干路 when the roads are empty
    assert all(0.02 < share < 0.6 for share in jammed)  # some, not all, are severely jammed at rush
    occupancy = rows["时间占有率"]
    assert np.all((occupancy > 0) & (occupancy < 1))


# -- determinism and the command -----------------------------------------------------------------
def test_the_same_seed_gives_the_same_bytes(tmp_path: Path) -> None:
    a = digest(generate(tmp_path / "a", scale=0.0005, seed=7).root)
    b = digest(generate(tmp_path / "b", scale=0.0005, seed=7).root)
    c = digest(generate(tmp_path / "c", scale=0.0005, seed=8).root)
    assert a == b and len(a) == 42 + 6 + 1 + 1  # files, truth tables, truth README, city.toml
    changed = {name for name in a if a[name] != c[name]}
    assert "city.toml" not in changed  # the catalog does not depend on the seed
    assert {"files/户籍人口基本信息.csv", "files/学校名录.xlsx", "truth/persons.parquet"} <= changed


def test_regenerating_only_replaces_a_demo_city(tmp_path: Path) -> None:
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep me")
    with pytest.raises(ValueError, match="holds no demo city"):
        generate(tmp_path / "mine", scale=0.0001)
    assert (tmp_path / "mine" / "notes.txt").read_text() == "keep me"
    first = generate(tmp_path / "city", scale=0.0001)
    again = generate(tmp_path / "city", scale=0.0002)
    assert (first.manifest, again.records) == (again.manifest, 9_318)


def test_cli_demo_loads_and_prints_the_figures(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("CITYHUB_HOME", str(tmp_path / "home"))
    out = tmp_path / "city"
    result = CliRunner().invoke(app, ["demo", "--no-serve", "--scale", "0.0002", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "19 connected / 49 cataloged departments, 7,670 fields, 9,318 records" in result.output
    assert "matches" in result.output and "46,590,000 × 0.0002" in result.output
    assert (out / "city.toml").exists() and (tmp_path / "home" / "catalog.db").exists()
    # one user of every role, to try sharing with; a second run keeps them
    assert "scjg.member" in result.output and "ga.steward" in result.output
    again = CliRunner().invoke(app, ["demo", "--no-serve", "--scale", "0.0002", "--out", str(out)])
    assert again.exit_code == 0, again.output
    hub = Hub.open(load_settings())
    with hub.db.session() as s:
        member = users.get_user(s, "scjg.member")
        assert member.department is not None and member.department.code == "330400-SCJG"
        assert users.check_password(member, DEMO_PASSWORD)
    hub.close()
