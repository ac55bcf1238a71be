"""Who may see what. Deny by default: a caller sees a dataset, and a field of it, only when a rule
here says so.

Until the sharing workflow lands there are two kinds of caller: the public (anonymous), who sees
datasets open to all (无条件开放) and never a field graded L3 or above, and the operator, who sees
everything. The sharing issue adds departments, grants, masking and the audit chain behind the
same three questions: `dataset_filter`, `may_see`, `visible_fields`.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import sqlalchemy as sa

from cityhub.catalog.models import Dataset, FieldInfo
from cityhub.catalog.vocab import Grade, OpenType

#: The public never sees a field graded this or higher.
PUBLIC_GRADE_LIMIT = Grade.L3
_GRADE_ORDER = [g.value for g in Grade]


class Role(StrEnum):
    PUBLIC = "public"
    OPERATOR = "operator"


@dataclass(frozen=True)
class Caller:
    """Who is asking: what the access layer decides on, and what the audit will record."""

    role: Role
    name: str
    address: str | None = None  # client address, for the audit and rate limits

    @property
    def is_operator(self) -> bool:
        return self.role is Role.OPERATOR


def public(address: str | None = None) -> Caller:
    return Caller(Role.PUBLIC, "anonymous", address)


def operator(name: str = "operator", address: str | None = None) -> Caller:
    return Caller(Role.OPERATOR, name, address)


def dataset_filter(caller: Caller) -> sa.ColumnElement[bool] | None:
    """A condition on Dataset rows selecting those `caller` may see; None: all of them."""
    if caller.is_operator:
        return None
    return Dataset.open_type == OpenType.UNCONDITIONAL.value


def visibility(caller: Caller) -> str:
    """Equal for callers who may see exactly the same datasets and fields (what caches of
    catalog answers are keyed by): for now the role alone."""
    return caller.role.value


def may_see(caller: Caller, ds: Dataset) -> bool:
    return caller.is_operator or ds.open_type == OpenType.UNCONDITIONAL.value


def _grade_rank(grade: str | None) -> int:
    # An unknown grade ranks highest: when in doubt, grade higher (就高从严).
    return _GRADE_ORDER.index(grade) if grade in _GRADE_ORDER else len(_GRADE_ORDER)


def field_allowed(caller: Caller, field: FieldInfo) -> bool:
    if caller.is_operator:
        return True
    grade = field.grade_override or field.grade
    return _grade_rank(grade) < _grade_rank(PUBLIC_GRADE_LIMIT.value)


def visible_fields(caller: Caller, ds: Dataset) -> list[FieldInfo]:
    """The fields of `ds` present in its current version that `caller` may read, in order."""
    return [f for f in ds.fields if f.present and field_allowed(caller, f)]
