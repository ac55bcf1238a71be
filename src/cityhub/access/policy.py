"""Who may see what (STANDARDS.md §2-4). Deny by default: a caller sees a dataset, and a field of
it, only when a rule here says so.

Knowing of a dataset (its catalog record):
- the center's staff (admin, operator) and department users know of every dataset; a
  不予共享 one cites its legal basis instead of showing data;
- the public knows of datasets open to all or conditionally open, never of 不予开放 ones.

Reading its rows, first rule that applies:
1. the center's staff, and the dataset's own department: every field in clear;
2. a live grant (to the caller or their department): its fields, each clear, masked or
   pseudonymised, of the rows its row filter keeps;
3. another department, 无条件共享: L1-L2 fields in clear, L3 masked, L4 withheld;
4. anyone, 无条件开放: the same (a public listing shows 330402********123X, 张*);
5. otherwise nothing: 有条件 datasets need a grant, 不予 ones are never read.
The public never reads an L3 field in clear nor an L4 field at all, whatever a grant says.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from functools import cached_property

import sqlalchemy as sa

from cityhub.access.identity import Caller
from cityhub.catalog.models import Dataset, FieldInfo
from cityhub.catalog.vocab import Grade, OpenType, ShareType

_GRADE_ORDER = [g.value for g in Grade]


class Treatment(StrEnum):
    CLEAR = "clear"
    MASK = "mask"
    PSEUDONYM = "pseudonym"


@dataclass(frozen=True)
class Access:
    """What a caller may read of one dataset, and on what basis (recorded in the audit)."""

    fields: dict[str, Treatment]  # machine name -> treatment; absent: withheld
    row_filter: tuple[dict[str, object], ...] = ()  # filters of the grant, on raw values
    grant_id: int | None = None
    basis: str = ""

    @cached_property
    def treatments(self) -> tuple[tuple[str, str], ...]:
        """`fields` as a key, each treatment as plain text: hashed in C, where hashing an enum
        member is a call to Python."""
        return tuple((name, str(t)) for name, t in self.fields.items())


def grade_rank(grade: str | None) -> int:
    # An unknown grade ranks highest: when in doubt, grade higher (就高从严).
    return _GRADE_ORDER.index(grade) if grade in _GRADE_ORDER else len(_GRADE_ORDER)


def effective_grade(field: FieldInfo) -> str:
    return field.grade_override or field.grade


def dataset_filter(caller: Caller) -> sa.ColumnElement[bool] | None:
    """A condition on Dataset rows selecting those `caller` may know of; None: all of them."""
    if not caller.is_public:
        return None
    return Dataset.open_type.in_([OpenType.UNCONDITIONAL.value, OpenType.CONDITIONAL.value])


def may_see(caller: Caller, ds: Dataset) -> bool:
    if not caller.is_public:
        return True
    return ds.open_type in (OpenType.UNCONDITIONAL.value, OpenType.CONDITIONAL.value)


def visibility(caller: Caller) -> str:
    """Equal for callers who know of exactly the same datasets (what caches of catalog answers
    are keyed by)."""
    return "public" if caller.is_public else "government"


def _by_grade(field: FieldInfo) -> Treatment | None:
    """Without a grant: L1-L2 in clear, L3 masked, L4 withheld."""
    rank = grade_rank(effective_grade(field))
    if rank < grade_rank(Grade.L3.value):
        return Treatment.CLEAR
    if rank == grade_rank(Grade.L3.value):
        return Treatment.MASK
    return None


def _clamp_public(field: FieldInfo, treatment: Treatment) -> Treatment | None:
    """What a public grantee may have of a field a grant names (see the module's docstring)."""
    rank = grade_rank(effective_grade(field))
    if rank > grade_rank(Grade.L3.value):
        return None
    if rank == grade_rank(Grade.L3.value) and treatment is Treatment.CLEAR:
        return Treatment.MASK
    return treatment


def reads_in_full(caller: Caller, ds: Dataset) -> bool:
    """Rule 1: the center's staff and the dataset's own department (no grant to look up)."""
    return caller.is_operator or (
        caller.department_id is not None and caller.department_id == ds.department_id
    )


def access(caller: Caller, ds: Dataset, grant: GrantTerms | None) -> Access | None:
    """What `caller` may read of `ds` given its live grant, or None: no rows at all."""
    present = [f for f in ds.fields if f.present]
    if reads_in_full(caller, ds):
        basis = "center staff" if caller.is_operator else "own department"
        return Access({f.name: Treatment.CLEAR for f in present}, basis=basis)
    if grant is not None:
        fields: dict[str, Treatment] = {}
        for f in present:
            wanted = grant.fields.get(f.name)
            if wanted is None:
                continue
            treatment: Treatment | None = Treatment(wanted)
            if caller.is_public and treatment is not None:
                treatment = _clamp_public(f, treatment)
            if treatment is not None:
                fields[f.name] = treatment
        return Access(fields, grant.row_filter, grant.id, f"grant {grant.id}")
    if not caller.is_public and ds.share_type == ShareType.UNCONDITIONAL.value:
        return Access(_defaults(present), basis="unconditional sharing")
    if ds.open_type == OpenType.UNCONDITIONAL.value:  # open to all: departments too
        return Access(_defaults(present), basis="open data")
    return None


def _defaults(fields: list[FieldInfo]) -> dict[str, Treatment]:
    out: dict[str, Treatment] = {}
    for f in fields:
        treatment = _by_grade(f)
        if treatment is not None:
            out[f.name] = treatment
    return out


@dataclass(frozen=True)
class GrantTerms:
    """The parts of a live grant the policy needs (a snapshot, free of any session)."""

    id: int
    fields: dict[str, str]
    row_filter: tuple[dict[str, object], ...]


def visible_fields(caller: Caller, ds: Dataset, allowed: Access | None) -> list[FieldInfo]:
    """The fields of `ds` (present in its current version) the catalog lists for `caller`, who
    may read `allowed` of it (`access`): government callers see every field's description, so
    they know what to request; the public sees the fields it may read and those it would read
    without a grant. Values (profiles, rows) follow `allowed`."""
    present = [f for f in ds.fields if f.present]
    if not caller.is_public:
        return present
    readable = allowed.fields if allowed is not None else {}
    return [f for f in present if f.name in readable or _by_grade(f) is not None]
