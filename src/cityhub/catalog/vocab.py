"""Controlled vocabularies of the catalog (STANDARDS.md §1-4), each with zh and en labels.

Values are stored as short English codes; people may type either language.
"""

from __future__ import annotations

from enum import StrEnum

from cityhub.errors import InvalidInput


class Labeled(StrEnum):
    # Members of different vocabularies compare equal as strings ("unconditional"), so labels
    # are looked up by (vocabulary, value).
    @property
    def zh(self) -> str:
        return _LABELS[type(self).__name__, self.value][0]

    @property
    def en(self) -> str:
        return _LABELS[type(self).__name__, self.value][1]

    @classmethod
    def parse(cls, text: str) -> Labeled:
        """Accept the code, the Chinese label or the English label."""
        wanted = text.strip().lower()
        for member in cls:
            if wanted in {member.value.lower(), member.en.lower()} or wanted == member.zh:
                return member
        choices = ", ".join(f"{m.value} ({m.zh})" for m in cls)
        raise InvalidInput(f"unknown {cls.__name__} {text!r}; expected one of {choices}")


class ShareType(Labeled):
    UNCONDITIONAL = "unconditional"
    CONDITIONAL = "conditional"
    NOT_SHARED = "not_shared"


class OpenType(Labeled):
    UNCONDITIONAL = "unconditional"
    CONDITIONAL = "conditional"
    NOT_OPEN = "not_open"


class UpdateCycle(Labeled):
    REALTIME = "realtime"
    HOURLY = "hourly"
    DAILY = "daily"
    WEEKLY = "weekly"
    MONTHLY = "monthly"
    QUARTERLY = "quarterly"
    YEARLY = "yearly"
    IRREGULAR = "irregular"


class DataLevel(Labeled):
    """GB/T 43697-2024 data levels."""

    CORE = "core"
    IMPORTANT = "important"
    GENERAL = "general"


class Grade(Labeled):
    """Field sensitivity scale (configurable; STANDARDS.md §4)."""

    L1 = "L1"
    L2 = "L2"
    L3 = "L3"
    L4 = "L4"


class DataType(Labeled):
    INTEGER = "integer"
    DECIMAL = "decimal"
    DATE = "date"
    TIMESTAMP = "timestamp"
    BOOLEAN = "boolean"
    STRING = "string"
    JSON = "json"
    GEOMETRY = "geometry"


_LABELS: dict[tuple[str, str], tuple[str, str]] = {
    ("ShareType", ShareType.UNCONDITIONAL.value): ("无条件共享", "Unconditional sharing"),
    ("ShareType", ShareType.CONDITIONAL.value): ("有条件共享", "Conditional sharing"),
    ("ShareType", ShareType.NOT_SHARED.value): ("不予共享", "Not shared"),
    ("OpenType", OpenType.UNCONDITIONAL.value): ("无条件开放", "Open to all"),
    ("OpenType", OpenType.CONDITIONAL.value): ("有条件开放", "Conditionally open"),
    ("OpenType", OpenType.NOT_OPEN.value): ("不予开放", "Not open"),
    ("UpdateCycle", UpdateCycle.REALTIME.value): ("实时", "Real time"),
    ("UpdateCycle", UpdateCycle.HOURLY.value): ("每小时", "Hourly"),
    ("UpdateCycle", UpdateCycle.DAILY.value): ("每日", "Daily"),
    ("UpdateCycle", UpdateCycle.WEEKLY.value): ("每周", "Weekly"),
    ("UpdateCycle", UpdateCycle.MONTHLY.value): ("每月", "Monthly"),
    ("UpdateCycle", UpdateCycle.QUARTERLY.value): ("每季度", "Quarterly"),
    ("UpdateCycle", UpdateCycle.YEARLY.value): ("每年", "Yearly"),
    ("UpdateCycle", UpdateCycle.IRREGULAR.value): ("不定期", "Irregular"),
    ("DataLevel", DataLevel.CORE.value): ("核心数据", "Core"),
    ("DataLevel", DataLevel.IMPORTANT.value): ("重要数据", "Important"),
    ("DataLevel", DataLevel.GENERAL.value): ("一般数据", "General"),
    ("Grade", Grade.L1.value): ("公开", "Public"),
    ("Grade", Grade.L2.value): ("内部", "Internal"),
    ("Grade", Grade.L3.value): ("敏感", "Sensitive"),
    ("Grade", Grade.L4.value): ("高度敏感", "Highly sensitive"),
    ("DataType", DataType.INTEGER.value): ("整数", "Integer"),
    ("DataType", DataType.DECIMAL.value): ("小数", "Decimal"),
    ("DataType", DataType.DATE.value): ("日期", "Date"),
    ("DataType", DataType.TIMESTAMP.value): ("时间", "Timestamp"),
    ("DataType", DataType.BOOLEAN.value): ("布尔", "Boolean"),
    ("DataType", DataType.STRING.value): ("字符串", "String"),
    ("DataType", DataType.JSON.value): ("JSON", "JSON"),
    ("DataType", DataType.GEOMETRY.value): ("几何", "Geometry"),
}
