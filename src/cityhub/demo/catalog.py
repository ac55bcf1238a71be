"""The whole catalog of the demo city: 42 connected feeds of 19 departments, and the datasets
all 49 departments have cataloged without data yet, with their fields.

Cataloged-only datasets list their own fields (catalog_entries), preceded by the common fields of
their subject and followed by the standard system fields providers' tables end with. How many
system fields each takes is set so that the catalog holds exactly the seed's 7,670 fields: the
connected feeds' declared columns plus these declared fields.
"""

from __future__ import annotations

import zlib
from typing import Any

from cityhub.demo import (
    feeds_bus,
    feeds_business,
    feeds_care,
    feeds_city,
    feeds_environment,
    feeds_family,
    feeds_housing,
    feeds_people,
    feeds_transport,
    feeds_utilities,
    feeds_welfare,
)
from cityhub.demo.catalog_entries import ENTRIES
from cityhub.demo.departments import BY_CODE, DEPARTMENTS
from cityhub.demo.spec import FORMAT_LABEL, THEME_CLASSES, Cataloged, Feed, Meta, allocate
from cityhub.demo.text import words

SEED_FIELDS = 7_670

FEEDS: list[Feed] = [
    f
    for m in (
        feeds_people,
        feeds_family,
        feeds_care,
        feeds_welfare,
        feeds_business,
        feeds_utilities,
        feeds_housing,
        feeds_transport,
        feeds_bus,
        feeds_city,
        feeds_environment,
    )
    for f in m.FEEDS
]

SUBJECTS = {
    "p": "姓名 性别 公民身份号码 证件类型 出生日期 民族 国籍 籍贯 文化程度 政治面貌 婚姻状况 职业 "
    "工作单位 联系电话 户籍地址 现住址",
    "f": "统一社会信用代码 单位名称 单位类型 法定代表人 注册资本(万元) 成立日期 注册地址 经营地址 "
    "所属行业 经营范围 联系人 联系电话 电子邮箱",
    "l": "名称 类别 地址 所属区县 所属乡镇街道 所属社区 经度 纬度 管理单位 建成日期",
    "e": "业务编号 事项名称 业务类型 发生时间 发生地点 所属区县 办理单位 办理状态",
    "s": "统计年度 统计期别 行政区划代码 行政区划名称 指标编码 指标名称 指标值 计量单位 数据来源",
    "c": "证照编号 证照名称 持证主体 持证主体代码 持证主体类型 发证机关 发证日期 有效期起 有效期止 "
    "证照状态",
    "k": "案件编号 案件名称 案由 当事人 当事人证件号码 当事人类型 立案日期 结案日期 "
    "承办单位 承办人 处理结果",
}
SUBJECT_THEME = {"p": "人口", "f": "法人", "l": "空间地理", "s": "经济运行", "k": "司法"}
SUBJECT_KEYS = {
    "p": "公民身份号码",
    "f": "统一社会信用代码",
    "c": "证照编号",
    "k": "案件编号",
    "s": "指标编码",
}
# The system fields providers' tables end with, in the order they usually come.
SYSTEM_FIELDS = words(
    "数据来源单位 数据来源系统 信息资源编码 记录唯一标识 行政区划代码 "
    "所属区县 所属乡镇街道 所属社区村 业务状态 审核状态 审核人 审核日期 "
    "审核意见 经办人 经办机构 经办日期 录入人 录入时间 修改人 修改时间 "
    "有效标志 删除标志 数据版本号 数据更新时间 数据入库时间 数据交换时间 "
    "交换批次号 备注 附件名称 附件地址 联系人 联系电话 电子邮箱 传真号码 "
    "邮政编码 统计年度 统计月份 数据质量标识 共享标识 开放标识 密级 "
    "保密期限 归档标识 归档日期 业务类型 业务编号 业务办理时间 业务系统编码 "
    "创建人 创建时间 创建单位 更新人 更新单位 同步时间 同步状态 校验结果 "
    "校验时间 数据标签 负责人 负责人电话 上级主管部门 所属部门 部门编码 "
    "资源提供方 数据责任人 数据维护单位 数据采集方式 数据采集时间 数据有效期 "
    "数据共享方式"
)
CYCLES = {"D": "每日", "W": "每周", "M": "每月", "Q": "每季度", "Y": "每年", "R": "实时"}
CYCLES |= {"H": "每小时", "I": "不定期"}
SHARE = {"U": "无条件共享", "C": "有条件共享", "N": "不予共享"}
OPEN = {"U": "无条件开放", "C": "有条件开放", "N": "不予开放"}
LEGAL = {
    "330400-FY": "《中华人民共和国民事诉讼法》"
    "《最高人民法院关于人民法院在互联网公布裁判文书的规定》",
    "330400-JCY": "《中华人民共和国刑事诉讼法》《人民检察院案件信息公开工作规定》",
    "330400-XFJ": "《信访条例》第二十三条（保护信访人个人信息）",
    "330400-RF": "《中华人民共和国人民防空法》《中华人民共和国保守国家秘密法》",
    "330400-SJ": "《中华人民共和国审计法》《中华人民共和国保守国家秘密法》",
}
DEFAULT_LEGAL = (
    "《中华人民共和国网络安全法》《中华人民共和国保守国家秘密法》，涉及个人信息或国家秘密"
)


def field_type(title: str) -> str:
    """A declared field's type, read from its title as a provider would."""
    if title.endswith(("日期", "日", "有效期至", "有效期起", "有效期止")):
        return "date"
    if title.endswith(("时间", "时段")) and title not in {"开放时间"}:
        return "timestamp"
    if title.endswith(("标志", "标识")) and title != "数据质量标识":
        return "boolean"
    if title.endswith(("年度", "年份", "月份", "数", "人数", "数量", "次数", "间数", "人次")):
        return "integer"
    numeric = ("金额", "(万元)", "(万美元)", "面积", "价格", "指标值", "经度", "纬度", "率", "量")
    if any(k in title for k in numeric) or title.endswith(("值", "增长", "标准", "容积", "水位")):
        return "decimal"
    return "string"


def _parse() -> list[dict[str, Any]]:
    """The entries as dicts: department, name, name_en, subject, cycle, share, open, fields."""
    out = []
    for block in ENTRIES.strip().split("\n\n"):
        head, *rest = block.strip().splitlines()
        left, name_en, flags = (part.strip() for part in head.split("|"))
        dept, name = left.split(maxsplit=1)
        subject, cycle, rights = flags.split()
        own = " ".join(rest).split()
        out.append(
            {
                "department": f"330400-{dept}",
                "name": name,
                "name_en": name_en,
                "subject": subject,
                "cycle": CYCLES[cycle],
                "share": SHARE[rights[0]],
                "open": OPEN[rights[1]],
                "fields": list(dict.fromkeys(SUBJECTS[subject].split() + own)),
                "own": own,
            }
        )
    return out


def _cataloged() -> list[Cataloged]:
    entries = _parse()
    connected_fields = sum(len(f.columns) for f in FEEDS)
    base = sum(len(e["fields"]) for e in entries)
    spare = [[t for t in SYSTEM_FIELDS if t not in e["fields"]] for e in entries]
    # Providers differ in how many system fields they keep: weights 3..7, exact by largest
    # remainder, so the catalog adds up to the seed's figure.
    weights = {str(i): 3 + zlib.crc32(e["name"].encode()) % 5 for i, e in enumerate(entries)}
    tails = allocate(SEED_FIELDS - connected_fields - base, weights)
    seq = {d.code: sum(f.meta.department == d.code for f in FEEDS) for d in DEPARTMENTS}
    result = []
    for i, e in enumerate(entries):
        take = tails[str(i)]
        if take > len(spare[i]):
            raise ValueError(f"{e['name']}: needs {take} system fields, has {len(spare[i])}")
        dept = e["department"]
        seq[dept] += 1
        fields = e["fields"] + spare[i][:take]
        theme = SUBJECT_THEME.get(e["subject"], _dept_theme(dept))
        # The lookup key: the subject's identifier, else the entry's own first code-like field.
        code_like = [t for t in e["own"] if t.endswith(("编号", "代码", "编码", "号"))]
        key = SUBJECT_KEYS.get(e["subject"]) or (code_like or e["fields"][:1])[0]
        meta = Meta(
            code=f"{dept}-{seq[dept]:04d}",
            name=e["name"],
            name_en=e["name_en"],
            summary=f"{BY_CODE[dept].name}{e['name']}："
            + "、".join(e["fields"][-6:])
            + "等信息（已编目，待接入）",
            themes=tuple(dict.fromkeys([_dept_theme(dept), theme])),
            share_type=e["share"],
            share_condition="按需申请，经提供部门审核同意后共享"
            if e["share"] == "有条件共享"
            else None,
            open_type=e["open"],
            open_condition="脱敏后向注册用户开放" if e["open"] == "有条件开放" else None,
            legal_basis=LEGAL.get(dept, DEFAULT_LEGAL) if e["share"] == "不予共享" else None,
            update_cycle=e["cycle"],
            tags=(e["name"][:4], BY_CODE[dept].name),
            key_fields=(key,) if key and key in fields else (),
        )
        result.append(Cataloged(meta, "库表", tuple((t, field_type(t)) for t in fields)))
    return result


DEPT_THEMES = {
    "FGW": "经济运行", "JXW": "经济运行", "JY": "教育", "KJ": "经济运行", "GA": "公共安全",
    "MZ": "民政", "SF": "司法", "CZ": "财税", "RS": "社会保障", "ZRZY": "空间地理",
    "STHJ": "生态环境", "JS": "城乡建设", "JT": "交通", "SL": "生态环境", "NY": "农业农村",
    "SW": "经济运行", "WGL": "文化旅游", "WJW": "医疗卫生", "TYJ": "社会保障", "YJ": "应急管理",
    "SJ": "财税", "SCJG": "市场监管", "TJ": "经济运行", "TY": "文化旅游", "YB": "医疗卫生",
    "ZHZF": "城市管理", "DSJ": "政务服务", "ZFB": "政务服务", "QX": "气象", "SWJ": "财税",
    "DAG": "政务服务", "XF": "应急管理", "FY": "司法", "JCY": "司法", "GJJ": "社会保障",
    "RF": "公共安全", "MZZJ": "民政", "GZW": "经济运行", "XFJ": "政务服务", "JGSW": "政务服务",
    "CL": "社会保障", "HG": "经济运行", "GDGS": "能源", "SWJT": "城市管理", "GJJT": "交通",
    "RQJT": "能源", "YD": "城市管理", "LT": "城市管理", "DX": "城市管理",
}  # fmt: skip


def _dept_theme(dept: str) -> str:
    return DEPT_THEMES[dept.removeprefix("330400-")]


CATALOGED: list[Cataloged] = _cataloged()


def classifications() -> dict[str, str]:
    """资源分类 of every dataset: the primary theme's 类 + 项, then 目 numbered in catalog order
    (two digits) and 细目 00."""
    counters: dict[str, int] = {}
    out = {}
    for meta in [f.meta for f in FEEDS] + [c.meta for c in CATALOGED]:
        prefix = THEME_CLASSES[meta.themes[0]]
        counters[prefix] = counters.get(prefix, 0) + 1
        out[meta.code] = f"{prefix}{counters[prefix]:02d}00"
    return out


def dataset_entries() -> list[dict[str, Any]]:
    """Every dataset's [[datasets]] entry of the source file, connected ones first."""
    classes = classifications()
    entries = [f.meta.catalog(FORMAT_LABEL[f.fmt], classes[f.meta.code]) for f in FEEDS]
    for c in CATALOGED:
        entry = c.meta.catalog(c.fmt, classes[c.meta.code])
        entry["fields"] = [{"title": t, "type": ty} for t, ty in c.fields]
        entries.append(entry)
    return entries


def field_count() -> int:
    return sum(len(f.columns) for f in FEEDS) + sum(len(c.fields) for c in CATALOGED)
