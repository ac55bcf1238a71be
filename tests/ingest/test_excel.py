"""Excel workbooks as departments make them: titles, merged two-level headers, totals, notes."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import openpyxl
import pyarrow as pa
import pytest
import xlwt

from cityhub.errors import SourceError
from cityhub.ingest.excel import cell_text, read_excel
from cityhub.ingest.source import PLACE_COLUMN, Reject, SourceTable


def rows_of(table: SourceTable) -> list[tuple[object, ...]]:
    data = table.reader().read_all()
    assert data.schema.field(PLACE_COLUMN).type == pa.int64()
    return [tuple(r.values()) for r in data.to_pylist()]


def department_workbook(path: Path) -> Path:
    """Sheet 企业名录 as a department files it, a plain sheet 统计, and an empty sheet."""
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "企业名录"
    ws["A1"] = "2023年嘉兴市企业名录"
    ws.merge_cells("A1:F1")
    ws["A2"], ws["D2"] = "填报单位：市经信局", "单位：万元"
    ws["A3"], ws["B3"], ws["D3"], ws["F3"] = "序号", "基本信息", "联系方式", "注册资本"
    ws.merge_cells("A3:A4")
    ws.merge_cells("B3:C3")
    ws.merge_cells("D3:E3")
    ws.merge_cells("F3:F4")
    ws["B4"], ws["C4"], ws["D4"], ws["E4"] = "名称", "成立日期", "电话", "地址\n（详细）"
    ws.append([1, "嘉兴甲公司", dt.date(2001, 5, 1), "00123", "  南湖区 中山路1号 ", 100.0])
    ws.append([2, "乙公司", dt.datetime(2020, 1, 2, 3, 4, 5), 13800000000, None, 12.5])
    ws.append([3, "丙公司", None, "0573-1234", "秀洲区", 0.1])
    ws.append([4, "丁公司", None, None, "平湖市", 5, "多出的格"])  # a cell right of the header
    ws.append(["合计", None, None, None, None, 112.6])
    ws.append([])
    ws.append(["注：数据截至2023年底"])
    ws.append(["制表人：张三", None, "审核人：李四"])
    stats = wb.create_sheet("统计")
    stats.append(["指标", "数值", "是否", "时间", "比例"])
    stats.append(["常住人口", 5400000, True, dt.time(8, 30), 0.25])
    stats.append(["GDP", 7062.45, False, dt.time(0, 0, 1), 1 / 3])
    wb.create_sheet("空")
    wb.save(path)
    return path


def test_department_sheet_header_totals_notes(tmp_path: Path) -> None:
    path = department_workbook(tmp_path / "企业.xlsx")
    first, second = read_excel(path, batch_rows=2)
    assert first.sheet == "企业名录"
    assert first.columns == [
        "序号",
        "基本信息_名称",
        "基本信息_成立日期",
        "联系方式_电话",
        "联系方式_地址（详细）",
        "注册资本",
    ]
    assert rows_of(first) == [
        ("1", "嘉兴甲公司", "2001-05-01", "00123", "南湖区 中山路1号", "100", 5),
        ("2", "乙公司", "2020-01-02 03:04:05", "13800000000", None, "12.5", 6),
        ("3", "丙公司", None, "0573-1234", "秀洲区", "0.1", 7),
    ]
    assert first.rejects == [
        Reject(
            file=str(path),
            sheet="企业名录",
            line=8,
            reason="row has 1 filled cell(s) outside the header's 6 columns",
            raw="4 | 丁公司 | 平湖市 | 5 | 多出的格",
        )
    ]
    where = f"{path}: sheet '企业名录'"
    assert first.notes == [
        f"{path}: sheet '空' is empty; skipped",
        f"{where}: rows above the header left out: '2023年嘉兴市企业名录', '填报单位：市经信局'",
        f"{where}: two-level header in rows 3-4 flattened to 'upper_lower' titles",
        f"{where}: totals row '合计' at row 9 left out",
        f"{where}: 2 note row(s) under the table left out (rows 11-12, "
        "first: '注：数据截至2023年底')",
    ]
    assert first.rows_skipped == 3
    assert second.sheet == "统计"
    assert second.columns == ["指标", "数值", "是否", "时间", "比例"]
    assert rows_of(second) == [
        ("常住人口", "5400000", "true", "08:30:00", "0.25", 2),
        ("GDP", "7062.45", "false", "00:00:01", "0.3333333333333333", 3),
    ]
    assert (second.notes, second.rejects, second.rows_skipped) == ([], [], 0)


def test_batches_hold_batch_rows(tmp_path: Path) -> None:
    table = read_excel(department_workbook(tmp_path / "a.xlsx"), batch_rows=2)[0]
    assert table.schema.field("序号").type == pa.string()
    assert [b.num_rows for b in table.batches] == [2, 1]


def test_named_sheet_and_missing_sheet(tmp_path: Path) -> None:
    path = department_workbook(tmp_path / "a.xlsx")
    (only,) = read_excel(path, sheet="统计")
    assert only.sheet == "统计" and only.notes == []
    with pytest.raises(SourceError) as err:
        read_excel(path, sheet="人口")
    assert str(err.value) == (
        f"{path}: no sheet named '人口'; expected one of '企业名录', '统计', '空'; found 人口"
    )


def test_xls_two_level_header_without_merges(tmp_path: Path) -> None:
    """In .xls written without merged ranges, a blank upper cell belongs to the filled one left."""
    wb = xlwt.Workbook()
    ws = wb.add_sheet("名单")
    ws.write(0, 0, "2023年嘉兴市人员名单")
    for c, v in enumerate(["编号", "基本信息", "", "联系方式", ""]):
        ws.write(2, c, v)
    for c, v in enumerate(["", "姓名", "出生日期", "电话", "地址"]):
        ws.write(3, c, v)
    day = xlwt.easyxf(num_format_str="YYYY-MM-DD")
    ws.write(4, 0, 1.0)
    ws.write(4, 1, "张三")
    ws.write(4, 2, dt.date(1990, 1, 1), day)
    ws.write(4, 3, "00123")
    ws.write(4, 4, "南湖区")
    ws.write(5, 0, 2.5)
    ws.write(5, 1, "李四")
    ws.write(5, 3, 13800000000)
    ws.write(7, 0, "备注：电话为办公电话")
    path = tmp_path / "名单.xls"
    wb.save(str(path))
    (table,) = read_excel(path)
    assert table.columns == [
        "编号",
        "基本信息_姓名",
        "基本信息_出生日期",
        "联系方式_电话",
        "联系方式_地址",
    ]
    assert rows_of(table) == [
        ("1", "张三", "1990-01-01", "00123", "南湖区", 5),
        ("2.5", "李四", None, "13800000000", None, 6),
    ]
    assert table.rows_skipped == 1
    assert table.notes[-1] == (
        f"{path}: sheet '名单': 1 note row(s) under the table left out "
        "(rows 8-8, first: '备注：电话为办公电话')"
    )


def test_merged_data_cells_blank_rows_and_duplicate_titles(tmp_path: Path) -> None:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "S"
    ws.append(["区县", "企业", "企业", "金额"])
    ws.append(["南湖区", "甲", "A", 1])
    ws.append([None, "乙", "B", 2])
    ws.merge_cells("A2:A3")  # 区县 merged down its two rows
    ws.append([])  # a spacer row: the full row after it is still data
    ws.append(["秀洲区", "丙", "C", 3])
    ws.append(["小 计", None, None, 6])
    ws.append([])
    ws.append(["数据截至2023年底"])  # sparse row after a blank row: a note
    ws.append(["不算数据", "x", "y", "z"])  # and everything after the note
    path = tmp_path / "m.xlsx"
    wb.save(path)
    (table,) = read_excel(path)
    assert table.columns == ["区县", "企业", "企业_2", "金额"]
    assert rows_of(table) == [
        ("南湖区", "甲", "A", "1", 2),
        ("南湖区", "乙", "B", "2", 3),
        ("秀洲区", "丙", "C", "3", 5),
    ]
    where = f"{path}: sheet 'S'"
    assert table.notes == [
        f"{where}: header '企业' repeats in column 3; named it '企业_2'",
        f"{where}: totals row '小 计' at row 6 left out",
        f"{where}: 2 note row(s) under the table left out (rows 8-9, first: '数据截至2023年底')",
        f"{where}: 1 merged cell(s) in data rows took the value of their merge",
    ]
    assert table.rows_skipped == 3
    assert table.rejects == []


def test_title_split_over_cells_and_no_header(tmp_path: Path) -> None:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "表"
    ws.append(["附件1", "2023年规上企业统计表"])  # two text cells, yet a title
    ws.append(["地区", "企业数", "产值（单位：万元）"])
    ws.append(["南湖区", 3, 1.5])
    numbers = wb.create_sheet("数")
    numbers.append([1, 2])
    numbers.append([3, 4])
    path = tmp_path / "t.xlsx"
    wb.save(path)
    first, second = read_excel(path)
    assert first.columns == ["地区", "企业数", "产值（单位：万元）"]
    assert rows_of(first) == [("南湖区", "3", "1.5", 3)]
    assert first.notes == [f"{path}: sheet '表': rows above the header left out: '附件1'"]
    assert second.columns == ["1", "2"]
    assert rows_of(second) == [("3", "4", 2)]
    assert second.notes == [
        f"{path}: sheet '数': no row looks like a header; took row 1 as the header"
    ]


def test_unreadable_and_empty_workbooks(tmp_path: Path) -> None:
    bad = tmp_path / "bad.xlsx"
    bad.write_bytes(b"this is not a workbook")
    with pytest.raises(SourceError, match="cannot open as an Excel workbook"):
        read_excel(bad)
    wb = openpyxl.Workbook()
    empty = tmp_path / "empty.xlsx"
    wb.save(empty)
    with pytest.raises(SourceError, match=r"no table found.*only empty sheets: 'Sheet'"):
        read_excel(empty)


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (1.0, "1"),
        (-3.0, "-3"),
        (1.5, "1.5"),
        (0.1, "0.1"),
        (1e20, "1e+20"),
        (7, "7"),
        (True, "true"),
        (False, "false"),
        (dt.date(2023, 12, 31), "2023-12-31"),
        (dt.datetime(2023, 1, 2, 0, 0), "2023-01-02 00:00:00"),
        (dt.datetime(2023, 1, 2, 3, 4, 5, 500000), "2023-01-02 03:04:05.5"),
        (dt.time(23, 59, 58), "23:59:58"),
        (dt.timedelta(hours=26, seconds=5), "26:00:05"),
        ("  嘉兴 南湖  ", "嘉兴 南湖"),
        ("00123", "00123"),
        ("   ", None),
        ("", None),
        (None, None),
    ],
)
def test_cell_text(value: object, text: str | None) -> None:
    assert cell_text(value) == text
