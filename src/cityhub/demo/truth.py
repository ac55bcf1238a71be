"""The ground truth written beside the demo city (never listed in its source file).

truth/persons.parquet, enterprises.parquet, places.parquet — one row per (record, reference):
    dataset      the dataset code (资源代码) the record was delivered in
    key_field    the field holding the record's key in that dataset
    record_key   the record's key, as delivered (compare with the stored value as text)
    field        the field (for NDJSON the parent.child path) that refers to the entity
    entity_id    the true person / enterprise / place id
A record may refer to several entities of a kind (婚姻登记: 男方 and 女方; 施工许可: 建设单位
and 施工单位). Feeds whose records name nobody (traffic flows, card taps, air quality, weather,
meter readings) have no rows here: taps and readings join their card and account registers.

truth/person_master.parquet, enterprise_master.parquet, place_master.parquet — the clean
entities with their ids: what every noisy copy should resolve to.

How the copies differ from the masters (the shares vary by department):
- names: homophones (同音字: 伟→玮, 张→章), traditional characters (陈→陳); 12345 callers often
  give only surname + 先生/女士, and never an ID number;
- ID numbers: missing, the 15-digit first-generation form (born 1920-1999), a lower-case x, or
  a mistyped check character (such copies fail validation on purpose);
- phones: changed numbers, missing; addresses: 浙江省 / 嘉兴市 dropped, 號 for 号, full-width
  digits, a room number after the building;
- enterprise names: 有限责任公司 for 有限公司, (嘉兴) for （嘉兴）, the 嘉兴/浙江 prefix dropped,
  traditional characters; codes: missing, the old 15-character tax number (division code +
  organization code) or the organization code written 12345678-9.
Records planted in malformed files (ragged CSV rows, values that do not fit their column,
truncated NDJSON lines) are rejected by the readers and have no truth.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from cityhub.demo import text, vocab
from cityhub.demo.firms import INDUSTRY_NAMES, KIND_LABELS, STATUS, Firms
from cityhub.demo.people import CHAR_TABLE, People
from cityhub.demo.places import ESTATE_NAMES, KINDS, ROAD_NAMES, Places
from cityhub.demo.spec import Link

KINDS_FILES = {"person": "persons", "enterprise": "enterprises", "place": "places"}
LINK_SCHEMA = pa.schema(
    [
        ("dataset", pa.string()),
        ("key_field", pa.string()),
        ("record_key", pa.string()),
        ("field", pa.string()),
        ("entity_id", pa.int64()),
    ]
)
FLUSH_ROWS = 1_000_000

README = __doc__ or ""


class TruthOut:
    """Link tables, buffered and written in large row groups."""

    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        self.writers: dict[str, pq.ParquetWriter] = {}
        self.buffers: dict[str, list[pa.Table]] = {k: [] for k in KINDS_FILES}
        self.counts: dict[str, int] = {k: 0 for k in KINDS_FILES}

    def add(self, dataset: str, key_field: str, keys: pa.Array, links: list[Link]) -> None:
        for link in links:
            ids = np.asarray(link.ids)
            keep = ids >= 0
            if not keep.any():
                continue
            n = int(keep.sum())
            table = pa.table(
                [
                    pa.repeat(pa.scalar(dataset), n),
                    pa.repeat(pa.scalar(key_field), n),
                    keys.filter(pa.array(keep)).cast(pa.string()),
                    pa.repeat(pa.scalar(link.field), n),
                    pa.array(ids[keep].astype(np.int64)),
                ],
                schema=LINK_SCHEMA,
            )
            self.buffers[link.kind].append(table)
            self.counts[link.kind] += n
            if sum(len(t) for t in self.buffers[link.kind]) >= FLUSH_ROWS:
                self._flush(link.kind)

    def _flush(self, kind: str) -> None:
        if not self.buffers[kind]:
            return
        table = pa.concat_tables(self.buffers[kind])
        self.buffers[kind] = []
        if kind not in self.writers:
            path = self.root / f"{KINDS_FILES[kind]}.parquet"
            self.writers[kind] = pq.ParquetWriter(path, LINK_SCHEMA, compression="zstd")
        self.writers[kind].write_table(table, row_group_size=len(table))

    def close(self) -> None:
        for kind in KINDS_FILES:
            self._flush(kind)
            if kind not in self.writers:  # an empty table still documents the shape
                pq.write_table(
                    LINK_SCHEMA.empty_table(), self.root / f"{KINDS_FILES[kind]}.parquet"
                )
            else:
                self.writers[kind].close()
        (self.root / "README.md").write_text(_readme(), encoding="utf-8")


def _readme() -> str:
    return "# Ground truth of the demo city\n\n" + README.strip() + "\n"


def write_masters(root: Path, people: People, firms: Firms, places: Places) -> None:
    n = places.n
    pq.write_table(
        pa.table(
            {
                "place_id": np.arange(n),
                "address_code": address_codes(places, np.arange(n)),
                "standard_address": places.standard(np.arange(n)),
                "county_code": text.take(text.table(vocab.COUNTY_CODES), places.county),
                "county": places.county_name(np.arange(n)),
                "town": places.town_name(np.arange(n)),
                "road": text.take(ROAD_NAMES, places.road),
                "number": places.number,
                "estate": text.with_nulls(
                    text.take(ESTATE_NAMES, np.maximum(places.estate, 0)), places.estate < 0
                ),
                "building": np.where(places.estate >= 0, places.building, 0),
                "kind": text.take(text.table(KINDS), places.kind),
                "longitude": places.lon,
                "latitude": places.lat,
            }
        ),
        root / "place_master.parquet",
        compression="zstd",
    )
    idx = np.arange(people.n)
    rng = np.random.default_rng(0)  # clean renderings draw nothing; the generator is unused
    pq.write_table(
        pa.table(
            {
                "person_id": idx,
                "id_number": people.id18,
                "name": people.names(rng, idx),
                "surname": text.take(CHAR_TABLE, people.surname),
                "gender": people.genders(idx),
                "birth_date": text.days(people.birth),
                "mobile": text.number(people.phone),
                "place_id": people.place,
                "room": people.room,
                "address": places.written(rng, people.place, 0.0, people.room),
            }
        ),
        root / "person_master.parquet",
        compression="zstd",
    )
    pq.write_table(
        pa.table(
            {
                "enterprise_id": np.arange(firms.n),
                "credit_code": firms.credit,
                "organization_code": firms.org,
                "name": firms.name,
                "kind": text.take(KIND_LABELS, firms.kind),
                "county_code": text.take(text.table(vocab.COUNTY_CODES), firms.county),
                "industry": text.take(INDUSTRY_NAMES, firms.industry),
                "legal_person_id": firms.legal,
                "place_id": firms.place,
                "founded": text.days(firms.founded),
                "status": text.take(STATUS, firms.status),
            }
        ),
        root / "enterprise_master.parquet",
        compression="zstd",
    )


def address_codes(places: Places, idx: np.ndarray) -> pa.Array:
    """地址编码: the county code and the place id."""
    return text.join(
        text.take(text.table(vocab.COUNTY_CODES), places.county[idx]), text.digits(idx, 10)
    )
