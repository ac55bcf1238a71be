"""Machine names for fields: ASCII, snake_case, derived once from the source title and then kept."""

from __future__ import annotations

import re

from pypinyin import Style, lazy_pinyin

_NON_WORD = re.compile(r"[^0-9a-z]+")
MAX_LEN = 60


def machine_name(title: str) -> str:
    """`身份证号码` → `shen_fen_zheng_hao_ma`, `Birth Date` → `birth_date`."""
    words = lazy_pinyin(title.strip(), style=Style.NORMAL, errors="default")
    text = "_".join(w.strip() for w in words if w.strip()).lower()
    name = _NON_WORD.sub("_", text).strip("_")[:MAX_LEN].rstrip("_") or "column"
    return f"c_{name}" if name[0].isdigit() else name


def assign_names(titles: list[str], known: dict[str, str]) -> dict[str, str]:
    """Names for `titles`: a title the dataset already has keeps its name, new ones get a fresh,
    unused one (suffixes _2, _3 ... on collision)."""
    taken = set(known.values())
    result: dict[str, str] = {}
    for title in titles:
        if title in known:
            result[title] = known[title]
            continue
        base = machine_name(title)
        name, n = base, 1
        while name in taken:
            n += 1
            name = f"{base}_{n}"
        taken.add(name)
        result[title] = name
    return result
