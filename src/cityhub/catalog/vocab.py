"""Controlled vocabularies of the catalog (STANDARDS.md §1-4), each with zh and en labels.

Values are stored as short English codes; people may type either language.
"""

from __future__ import annotations

from enum import StrEnum

from cityhub.errors import InvalidInput


class Labeled(StrEnum):
    @property
    def zh(self) -> str:
        return _LABELS[self][0]

    @property
    def en(self) -> str:
        return _LABELS[self][1]

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


_LABELS: dict[Labeled, tuple[str, str]] = {
    ShareType.UNCONDITIONAL: ("无条件共享", "Unconditional sharing"),
    ShareType.CONDITIONAL: ("有条件共享", "Conditional sharing"),
    ShareType.NOT_SHARED: ("不予共享", "Not shared"),
    OpenType.UNCONDITIONAL: ("无条件开放", "Open to all"),
    OpenType.CONDITIONAL: ("有条件开放", "Conditionally open"),
    OpenType.NOT_OPEN: ("不予开放", "Not open"),
    UpdateCycle.REALTIME: ("实时", "Real time"),
    UpdateCycle.HOURLY: ("每小时", "Hourly"),
    UpdateCycle.DAILY: ("每日", "Daily"),
    UpdateCycle.WEEKLY: ("每周", "Weekly"),
    UpdateCycle.MONTHLY: ("每月", "Monthly"),
    UpdateCycle.QUARTERLY: ("每季度", "Quarterly"),
    UpdateCycle.YEARLY: ("每年", "Yearly"),
    UpdateCycle.IRREGULAR: ("不定期", "Irregular"),
    DataLevel.CORE: ("核心数据", "Core"),
    DataLevel.IMPORTANT: ("重要数据", "Important"),
    DataLevel.GENERAL: ("一般数据", "General"),
    Grade.L1: ("公开", "Public"),
    Grade.L2: ("内部", "Internal"),
    Grade.L3: ("敏感", "Sensitive"),
    Grade.L4: ("高度敏感", "Highly sensitive"),
    DataType.INTEGER: ("整数", "Integer"),
    DataType.DECIMAL: ("小数", "Decimal"),
    DataType.DATE: ("日期", "Date"),
    DataType.TIMESTAMP: ("时间", "Timestamp"),
    DataType.BOOLEAN: ("布尔", "Boolean"),
    DataType.STRING: ("字符串", "String"),
    DataType.JSON: ("JSON", "JSON"),
    DataType.GEOMETRY: ("几何", "Geometry"),
}
