"""Masking rules (`cityhub.access.masking`) as DuckDB expressions, and the keyed pseudonyms.

Every expression casts its input to VARCHAR first (a phone number stored as BIGINT, a DATE), counts
characters (a hanzi is one; DuckDB's `length`, `left`, `right` and `substring` count code points)
and keeps NULL as NULL. A value too short for its rule becomes all ``*``: a rule never shows more
than it says.

Pseudonyms are HMAC-SM3 under a key of their context (a grantee, e.g. ``department:330400-GA``)
derived from the master key: equal values give equal pseudonyms within one context, so a grantee
can GROUP BY and JOIN on them, and two contexts' pseudonyms cannot be linked. The SQL names only
the context; the key lives in the UDF (`register_pseudonyms`), as error messages can echo SQL.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import os
import re
import secrets
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path

import duckdb
import duckdb.func
import duckdb.sqltypes
import pyarrow as pa
import pyarrow.compute as pc
from cryptography.hazmat.primitives import hashes, hmac
from sqlglot import exp

from cityhub.access.masking import COMPOUND_SURNAMES, MaskRule
from cityhub.config import Settings
from cityhub.errors import InvalidInput

PSEUDONYM_FUNCTION = "cityhub_pseudonym"
PSEUDONYM_HEX = 32  # hex characters of a pseudonym: 128 bits, collisions out of reach
KEY_FILE = Path("secrets") / "pseudonym.key"
MIN_KEY_BYTES = 16
_CONTEXT_PREFIX = b"cityhub pseudonym:"
REDACTED = "***"
DISTRICT_FILL = "********"

# The county level of an address, read from its start: an optional province (省/自治区), an
# optional prefecture (市/自治州/地区/盟), then the county (区/县/旗, or the county-level 市 of
# 省…市…市). Lazy, so each level ends at its first marker; a level's characters exclude street
# marks and ASCII, so a 小区 further on is not taken for a district when the county is missing.
_LEVEL = "[^\\x00-\\x7f\u3000（）【】，、；：。·路街巷弄号楼栋幢室村组]"
DISTRICT_PATTERN = (
    f"^(?:{_LEVEL}{{1,7}}?(?:省|自治区))?"
    f"(?:{_LEVEL}{{1,11}}?(?:自治州|地区|盟|市))?"
    f"{_LEVEL}{{1,15}}?(?:区|县|旗|市)"
)
DISTRICT_FALLBACK = 6  # characters kept when no county is found (at most half the value)
_STARRED = "[^\\s-]"  # what bank_card masks outside the kept digits: all but blanks and -


def _call(name: str, *args: exp.Expr) -> exp.Expr:
    # Named as DuckDB names them: the regex functions' arguments differ between dialects.
    return exp.Anonymous(this=name, expressions=list(args))


def _n(value: int) -> exp.Expr:
    return exp.Literal.number(value)


def _s(value: str) -> exp.Expr:
    return exp.Literal.string(value)


def _cat(*parts: exp.Expr) -> exp.Expr:
    """parts joined with `||`, which (unlike concat) is NULL when any part is."""
    out = parts[0]
    for p in parts[1:]:
        out = exp.DPipe(this=out, expression=p, safe=True)
    return out


def _stars(count: exp.Expr) -> exp.Expr:
    return _call("repeat", _s("*"), count)


def _case(*whens: tuple[exp.Expr, exp.Expr], default: exp.Expr) -> exp.Expr:
    case = exp.Case()
    for cond, value in whens:
        case = case.when(cond, value, copy=False)
    return case.else_(default, copy=False)


def mask_expr(rule: MaskRule, ref: exp.Expr, context: str) -> exp.Expr:
    """`ref` masked by `rule`, as a VARCHAR expression (``clear``: `ref` itself, uncast).

    `context` names whose pseudonyms these are (``pseudonym`` only; it must not be empty)."""
    if rule.kind == "clear":
        return ref

    def v() -> exp.Expr:  # a fresh node per use: a sqlglot node has one parent
        return exp.cast(ref.copy(), "VARCHAR")

    def length() -> exp.Expr:
        return _call("length", v())

    def is_null() -> exp.Expr:
        return exp.Is(this=ref.copy(), expression=exp.null())

    def left(n: exp.Expr | int) -> exp.Expr:
        return _call("left", v(), _n(n) if isinstance(n, int) else n)

    def right(n: int) -> exp.Expr:
        return _call("right", v(), _n(n))

    def all_stars() -> exp.Expr:
        return _stars(length())

    match rule.kind:
        case "keep":
            f, last = rule.first, rule.last
            parts = [left(f)] if f else []
            parts.append(_stars(exp.Sub(this=length(), expression=_n(f + last))))
            if last:
                parts.append(right(last))
            short = exp.LTE(this=length(), expression=_n(f + last))
            # NULL: the comparison is NULL, the ELSE branch is NULL
            return _case((short, all_stars()), default=_cat(*parts))
        case "tail":
            n = rule.last
            short = exp.LTE(this=length(), expression=_n(n))
            shown = left(exp.Sub(this=length(), expression=_n(n)))
            return _case((short, all_stars()), default=_cat(shown, _stars(_n(n))))
        case "surname":
            compound = exp.and_(
                exp.GT(this=length(), expression=_n(2)),
                exp.In(this=left(2), expressions=[_s(s) for s in COMPOUND_SURNAMES]),
            )
            return _case(
                (compound, _cat(left(2), _stars(exp.Sub(this=length(), expression=_n(2))))),
                (
                    exp.GT(this=length(), expression=_n(1)),
                    _cat(left(1), _stars(exp.Sub(this=length(), expression=_n(1)))),
                ),
                default=all_stars(),
            )
        case "district":
            county = _call("regexp_extract", v(), _s(DISTRICT_PATTERN), _n(0))
            half = exp.IntDiv(this=length(), expression=_n(2))
            fallback = left(_call("least", _n(DISTRICT_FALLBACK), half))
            kept = _call("coalesce", _call("nullif", county, _s("")), fallback)
            return _cat(kept, _s(DISTRICT_FILL))
        case "email":
            at = _call("strpos", v(), _s("@"))
            # the first character only when the local part has another (else it is all of it)
            first = _case((exp.GT(this=at.copy(), expression=_n(2)), left(1)), default=_s(""))
            domain = _call("regexp_extract", v(), _s("@([^@]*)$"), _n(1))
            return _case(
                (is_null(), exp.null()),
                (exp.EQ(this=at, expression=_n(0)), _s(REDACTED)),
                default=_cat(first, _s(REDACTED + "@"), domain),
            )
        case "plate":
            short = exp.LTE(this=length(), expression=_n(4))  # 3 kept of 4 would show nearly all
            return _case((short, all_stars()), default=_cat(left(2), _s(REDACTED), right(1)))
        case "bank_card":
            return _bank_card(v)
        case "redact":
            return _case((is_null(), exp.null()), default=_s(REDACTED))
        case "pseudonym":
            if not context:
                raise ValueError("a pseudonym needs a context: whose pseudonyms they are")
            return _call(PSEUDONYM_FUNCTION, v(), _s(context))
    raise AssertionError(f"unhandled masking rule {rule.kind!r}")  # pragma: no cover


def _bank_card(v: Callable[[], exp.Expr]) -> exp.Expr:
    """First 4 and last 4 digits kept, every other character but blanks and '-' starred."""
    digits = _call("length", _call("regexp_replace", v(), _s("[^0-9]"), _s(""), _s("g")))

    def star(text: exp.Expr) -> exp.Expr:
        return _call("regexp_replace", text, _s(_STARRED), _s("*"), _s("g"))

    def head() -> exp.Expr:  # up to and including the 4th digit
        return _call("regexp_extract", v(), _s("^[^0-9]*(?:[0-9][^0-9]*){3}[0-9]"), _n(0))

    def tail() -> exp.Expr:  # from the 4th digit from the end
        return _call("regexp_extract", v(), _s("[0-9](?:[^0-9]*[0-9]){3}[^0-9]*$"), _n(0))

    start = exp.Add(this=_call("length", head()), expression=_n(1))
    size = exp.Sub(
        this=exp.Sub(this=_call("length", v()), expression=_call("length", head())),
        expression=_call("length", tail()),
    )
    middle = star(_call("substring", v(), start, size))
    few = exp.LTE(this=digits, expression=_n(8))
    return _case((few, star(v())), default=_cat(head(), middle, tail()))


# -- pseudonyms ----------------------------------------------------------------------------------


def _flat(values: pa.Array | pa.ChunkedArray) -> pa.Array:
    return values.combine_chunks() if isinstance(values, pa.ChunkedArray) else values


def pseudonymiser(
    key: bytes,
) -> Callable[[pa.Array | pa.ChunkedArray, pa.Array | pa.ChunkedArray], pa.Array]:
    """The vectorised pseudonym function under master `key`: (values, contexts) → hex strings.

    Each distinct value of a batch is hashed once (coded columns repeat a few values); the keyed
    HMAC state of each context is made once and copied per value, which halves the cost."""
    if len(key) < MIN_KEY_BYTES:
        raise ValueError(f"a pseudonym key needs at least {MIN_KEY_BYTES} bytes")

    @lru_cache(maxsize=1024)
    def keyed(context: str) -> hmac.HMAC:
        derive = hmac.HMAC(key, hashes.SM3())
        derive.update(_CONTEXT_PREFIX + context.encode())
        return hmac.HMAC(derive.finalize(), hashes.SM3())

    def digest(state: hmac.HMAC, data: bytes) -> str:
        h = state.copy()
        h.update(data)
        return h.finalize()[: PSEUDONYM_HEX // 2].hex()

    def pseudonyms(
        values: pa.Array | pa.ChunkedArray, contexts: pa.Array | pa.ChunkedArray
    ) -> pa.Array:
        vals, ctxs = _flat(values), _flat(contexts)
        distinct = pc.unique(ctxs)
        if vals.null_count == 0 and len(distinct) == 1 and distinct.null_count == 0:
            state = keyed(distinct[0].as_py())
            coded = pc.dictionary_encode(vals)
            words = coded.dictionary.cast(pa.binary()).to_pylist()
            hashed = pa.array([digest(state, w) for w in words], pa.string())
            return hashed.take(coded.indices)
        out = [
            None if value is None or ctx is None else digest(keyed(ctx), value.encode())
            for value, ctx in zip(vals.to_pylist(), ctxs.to_pylist(), strict=True)
        ]
        return pa.array(out, pa.string())

    return pseudonyms


def register_pseudonyms(conn: duckdb.DuckDBPyConnection, key: bytes) -> None:
    """Register `cityhub_pseudonym(value VARCHAR, context VARCHAR) -> VARCHAR` on `conn`, under
    master `key`; its cursors see it too (also once the configuration is locked). Registering
    again replaces the function (a new key)."""
    function = pseudonymiser(key)
    with contextlib.suppress(duckdb.InvalidInputException):  # not registered yet
        conn.remove_function(PSEUDONYM_FUNCTION)
    conn.create_function(
        PSEUDONYM_FUNCTION,
        function,
        [duckdb.sqltypes.VARCHAR, duckdb.sqltypes.VARCHAR],
        duckdb.sqltypes.VARCHAR,
        type=duckdb.func.PythonUDFType.ARROW,
        side_effects=False,  # deterministic: DuckDB may fold and reuse it
    )  # null handling DEFAULT: NULL in → NULL out, the function never sees a NULL row


_HEX = re.compile(r"(?:[0-9a-fA-F]{2})+")


def decode_key(text: str, where: str) -> bytes:
    """Key bytes from text: hex when it is an even number of hex digits, base64 otherwise
    (standard or URL-safe, padding optional). At least 16 bytes; 32 recommended. Errors name
    `where` but never echo the key."""
    text = text.strip()
    if _HEX.fullmatch(text):
        raw = bytes.fromhex(text)
    else:
        try:
            b64 = text.replace("-", "+").replace("_", "/")
            raw = base64.b64decode(b64 + "=" * (-len(b64) % 4), validate=True)
        except (binascii.Error, ValueError):
            raise InvalidInput(f"{where}: the key is neither hex nor base64") from None
    if len(raw) < MIN_KEY_BYTES:
        raise InvalidInput(
            f"{where}: the key has {len(raw)} bytes; at least {MIN_KEY_BYTES} are needed "
            "(32 recommended)"
        )
    return raw


def pseudonym_key(settings: Settings, home: Path) -> bytes:
    """The master key of the pseudonyms: setting `pseudonym_key` (hex or base64, see
    `decode_key`) if set, else the key in ``home/secrets/pseudonym.key``, made on first use (32
    random bytes, hex; folder 0700, file 0600). Losing it changes every pseudonym: keep it."""
    if settings.pseudonym_key is not None:
        return decode_key(settings.pseudonym_key.get_secret_value(), "setting pseudonym_key")
    path = home / KEY_FILE
    if not path.exists():
        _create_key(path)
    return decode_key(path.read_text(encoding="ascii"), str(path))


def _create_key(path: Path) -> None:
    """Write a new key to `path` atomically and without replacing one another process made
    first (a hard link fails if the name exists): two processes never use different keys."""
    folder = path.parent
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(folder, 0o700)  # mkdir's mode is cut by the umask, and the folder may be older
    tmp = folder / f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.fchmod(fd, 0o600)
        os.write(fd, (secrets.token_bytes(32).hex() + "\n").encode("ascii"))
        os.fsync(fd)
    finally:
        os.close(fd)
    try:
        os.link(tmp, path)
    except FileExistsError:
        pass  # another process won the race: its key is the key
    finally:
        tmp.unlink()
    dir_fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
