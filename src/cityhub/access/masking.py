"""Masking rules as data (STANDARDS.md §5): what a rule keeps of a value, not how SQL does it.

A rule is written as a short text, so a steward can type it into a field's `masking` and the
settings can hold it (`masking_overrides`):

================  =============================================================================
``keep:F:L``      keep the first F and last L characters, every other one becomes ``*``; a value
                  of at most F+L characters becomes all ``*`` (a short value never shows whole)
``tail:N``        hide the last N characters, ``*`` each (rule B's address)
``surname``       keep the surname (two characters for a compound one such as 欧阳), ``*`` for
                  each other character: 张三 → 张*, 欧阳娜娜 → 欧阳**
``district``      keep the address down to its county level (区/县/旗, or the county-level 市 of
                  省…市…市), then a fixed ``********``
``email``         first character, ``***``, then ``@`` and the domain: z***@example.cn
``plate``         province character and letter, a fixed ``***``, the last character: 浙F***7
``bank_card``     keep the first 4 and the last 4 digits, separators stay: 6222 **** **** 3256
``redact``        a fixed ``***`` whatever the value
``pseudonym``     a keyed pseudonym (HMAC-SM3): joinable, not reversible (query.masking)
``clear``         no masking
================  =============================================================================

How each is computed in the engine is `cityhub.query.masking`; this module only names rules and
chooses one per field (`rule_for`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Literal, cast, get_args

from cityhub.catalog.semantic import COMPOUND_SURNAMES as _KNOWN_COMPOUNDS
from cityhub.catalog.semantic import SEMANTIC_TYPES
from cityhub.errors import InvalidInput

if TYPE_CHECKING:
    from cityhub.catalog.models import FieldInfo

MaskKind = Literal[
    "keep",
    "tail",
    "surname",
    "district",
    "email",
    "plate",
    "bank_card",
    "redact",
    "pseudonym",
    "clear",
]
KINDS: tuple[str, ...] = get_args(MaskKind)
VALID_FORMS = (
    "keep:F:L, tail:N, surname, district, email, plate, bank_card, redact, pseudonym, clear"
)
MAX_COUNT = 99  # characters a keep/tail count may name; more is a typo, not a rule
DEFAULT_KEY = "*"  # the rule-set entry for fields of no (or an unknown) semantic type

# The common compound surnames (复姓), as name detection knows them: a name starting with one
# keeps two characters.
COMPOUND_SURNAMES: tuple[str, ...] = tuple(sorted(_KNOWN_COMPOUNDS))

_COUNT = re.compile(r"\d{1,2}", re.ASCII)


@dataclass(frozen=True)
class MaskRule:
    """One masking rule. `first`/`last` are the kept counts of ``keep``; ``tail`` keeps its N in
    `last`; every other kind takes no numbers (both 0)."""

    kind: MaskKind
    first: int = 0
    last: int = 0

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise InvalidInput(
                f"masking rule kind {self.kind!r} is unknown; valid forms: {VALID_FORMS}",
                rule=self.kind,
            )
        if not (0 <= self.first <= MAX_COUNT and 0 <= self.last <= MAX_COUNT):
            raise InvalidInput(
                f"masking rule {self.kind!r}: counts must be 0 to {MAX_COUNT}", rule=self.kind
            )
        numbered = {"keep": (True, True), "tail": (False, True)}.get(self.kind, (False, False))
        if (self.first != 0 and not numbered[0]) or (self.last != 0 and not numbered[1]):
            raise InvalidInput(
                f"masking rule {self.kind!r} takes no such count; valid forms: {VALID_FORMS}",
                rule=self.kind,
            )
        if self.kind == "tail" and self.last == 0:
            raise InvalidInput("masking rule 'tail:0' hides nothing; use tail:N with N ≥ 1")

    @property
    def text(self) -> str:
        """The rule as written: `parse_rule(rule.text) == rule`."""
        if self.kind == "keep":
            return f"keep:{self.first}:{self.last}"
        if self.kind == "tail":
            return f"tail:{self.last}"
        return self.kind

    @property
    def hides(self) -> bool:
        """Whether the rule changes values at all (every kind but ``clear`` does)."""
        return self.kind != "clear"

    def __str__(self) -> str:
        return self.text


CLEAR = MaskRule("clear")
REDACT = MaskRule("redact")


@lru_cache(maxsize=512)
def parse_rule(text: str) -> MaskRule:
    """The rule `text` spells (forms: module doc; case and surrounding blanks are ignored).

    Raises InvalidInput naming the text and the valid forms."""
    if not isinstance(text, str):
        raise InvalidInput(
            f"masking rule {text!r}: expected text; valid forms: {VALID_FORMS}", rule=str(text)
        )
    parts = [p.strip() for p in text.strip().lower().split(":")]
    kind, args = parts[0], parts[1:]

    def bad(problem: str) -> InvalidInput:
        return InvalidInput(
            f"masking rule {text!r}: {problem}; valid forms: {VALID_FORMS}", rule=text
        )

    if kind not in KINDS:
        raise bad("unknown rule" if kind else "empty")
    wanted = {"keep": 2, "tail": 1}.get(kind, 0)
    if len(args) != wanted:
        needs = {2: "two counts (keep:F:L)", 1: "one count (tail:N)"}.get(wanted, "no count")
        raise bad(f"{kind} takes {needs}")
    if not all(_COUNT.fullmatch(a) for a in args):
        raise bad(f"counts are whole numbers from 0 to {MAX_COUNT}")
    numbers = [int(a) for a in args]
    if kind == "keep":
        return MaskRule("keep", numbers[0], numbers[1])
    if kind == "tail":
        if numbers[0] == 0:
            raise bad("tail:0 hides nothing")
        return MaskRule("tail", last=numbers[0])
    return MaskRule(cast(MaskKind, kind))


# Rule A (STANDARDS.md §5, "common") for every semantic type: the §5 table for the personal
# identifiers (L3); the types graded lower by default get a rule too, for when a steward grades
# a field up: a date keeps its year, a postcode its city (3 digits), a coordinate its degrees.
RULE_SET_A: dict[str, str] = {
    "id_card": "keep:6:4",
    "mobile": "keep:3:4",
    "landline": "keep:4:2",  # area code (landlines always carry one) + last 2
    "person_name": "surname",
    "address": "district",
    "bank_card": "bank_card",
    "plate": "plate",
    "email": "email",
    "credit_code": "keep:6:4",  # the registering authority and region, and the check digits
    "postcode": "keep:3:0",
    "date": "keep:4:0",
    "longitude": "keep:4:0",
    "latitude": "keep:4:0",
    DEFAULT_KEY: "redact",
}

# Rule B, stricter (hutool's DesensitizedUtil defaults where it has one): ID first 1 + last 2,
# a name its first character only (欧阳娜娜 → 欧***), an address hides its last 8 characters.
# Stricter than A: id_card, person_name, credit_code, postcode, longitude, latitude. The same as A
# (hutool agrees): mobile, landline, bank_card, plate, email, date. Note `tail:8` is hutool's and
# shows more than `district` of a long address (the street), less of a short one.
RULE_SET_B: dict[str, str] = {
    **RULE_SET_A,
    "id_card": "keep:1:2",
    "person_name": "keep:1:0",
    "address": "tail:8",
    "credit_code": "keep:2:2",
    "postcode": "keep:2:0",
    "longitude": "keep:3:0",
    "latitude": "keep:2:0",
}

RULE_SETS: dict[str, dict[str, str]] = {"A": RULE_SET_A, "B": RULE_SET_B}


def parse_overrides(overrides: Mapping[str, str]) -> dict[str, MaskRule]:
    """Settings' `masking_overrides` checked at once: every key a semantic type (or ``*``, the
    rule of fields of no known type), every value a rule. Raises InvalidInput naming the entry."""
    parsed = {}
    for typ, text in overrides.items():
        if typ not in SEMANTIC_TYPES and typ != DEFAULT_KEY:
            raise InvalidInput(
                f"masking_overrides: {typ!r} is not a semantic type; known: "
                + ", ".join(SEMANTIC_TYPES),
                setting="masking_overrides",
            )
        parsed[typ] = _parse_for(text, f"masking_overrides[{typ!r}]")
    return parsed


def _parse_for(text: str, where: str) -> MaskRule:
    try:
        return parse_rule(text)
    except InvalidInput as exc:
        raise InvalidInput(f"{where}: {exc.message}", **exc.detail) from None


def rule_for(
    field: FieldInfo, rules: str = "A", overrides: Mapping[str, str] | None = None
) -> MaskRule:
    """How to mask `field` when it is to be masked (whether it is is the policy's call).

    The first that applies: the field's own `masking` (a steward's), `overrides` for its semantic
    type, rule set `rules` for its type, and for a field of no or an unknown type the
    ``*`` entry of `overrides`, else of the rule set (``redact``). An invalid rule anywhere
    raises InvalidInput rather than masking less than asked."""
    if rules not in RULE_SETS:
        raise InvalidInput(
            f"masking rule set {rules!r} is unknown; valid: {', '.join(RULE_SETS)}",
            setting="masking_rules",
        )
    if field.masking:
        return _parse_for(field.masking, f"field {field.name!r}")
    overrides = overrides or {}
    rule_set = RULE_SETS[rules]
    typ = field.semantic_type
    if typ is not None and typ in overrides:
        return _parse_for(overrides[typ], f"masking_overrides[{typ!r}]")
    if typ is not None and typ in rule_set and typ != DEFAULT_KEY:
        return parse_rule(rule_set[typ])
    if DEFAULT_KEY in overrides:
        return _parse_for(overrides[DEFAULT_KEY], f"masking_overrides[{DEFAULT_KEY!r}]")
    return parse_rule(rule_set[DEFAULT_KEY])
