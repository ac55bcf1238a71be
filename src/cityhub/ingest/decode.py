"""Text encodings: detect what a department's file is written in, and transcode to UTF-8.

GBK/GB18030 files are the norm. The engine reads UTF-8 only, so other encodings are decoded
here in large blocks cut at newline bytes. That is safe for the GB family: 0x0A never occurs
inside a GBK or GB18030 multi-byte character (trail bytes are 0x30-0x39 or 0x40-0xFE).
"""

from __future__ import annotations

import codecs
import io
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from charset_normalizer import from_bytes

from cityhub.errors import SourceError
from cityhub.ingest.source import Reject

SAMPLE_BYTES = 1 << 20
BLOCK_BYTES = 16 << 20
_GB_FAMILY = {"gb2312", "gbk", "gb18030", "hz", "cp936", "euc_cn", "hz_gb_2312"}
# Byte-order marks that settle the question outright (UTF-8 first: its BOM is a prefix of none).
_BOMS = [
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
]


def normalise_encoding(name: str) -> str:
    """Canonical codec name; anything of the GB family reads as GB18030, its superset."""
    try:
        canonical = codecs.lookup(name).name
    except LookupError as exc:
        raise SourceError(
            "--encoding",
            f"unknown encoding {name!r}",
            expected="a codec name such as utf-8 or gb18030",
        ) from exc
    return "gb18030" if canonical in _GB_FAMILY else canonical


def _samples(path: Path, size: int) -> list[bytes]:
    """The head, middle and tail of the file, each cut at line boundaries."""
    total = path.stat().st_size
    with path.open("rb") as f:
        head = f.read(size)
        if total <= size:
            return [head]
        chunks = [head[: head.rfind(b"\n") + 1] or head]
        for offset in (total // 2, max(total - size, size)):
            f.seek(offset)
            block = f.read(size)
            start, end = block.find(b"\n") + 1, block.rfind(b"\n") + 1
            if 0 < start < end:
                chunks.append(block[start:end])
        return chunks


def _decodes(chunks: list[bytes], encoding: str) -> bool:
    try:
        for chunk in chunks:
            chunk.decode(encoding)
        return True
    except UnicodeDecodeError:
        return False


def _mostly(chunks: list[bytes], encoding: str) -> bool:
    """The encoding of a file with a few damaged bytes (their lines are rejected later): almost
    every non-ASCII character decodes. UTF-8 is tried first: GB18030 would also accept most UTF-8
    byte pairs and turn the whole file into mojibake."""
    text = "".join(c.decode(encoding, errors="replace") for c in chunks)
    non_ascii = len(text) - len(text.encode("ascii", errors="ignore"))
    return non_ascii > 0 and text.count("\ufffd") <= non_ascii * 0.01


def detect_encoding(path: Path) -> str:
    """UTF-8 when every sampled byte is valid UTF-8; else GB18030 when it decodes strictly (the
    departments' usual encoding: a statistical detector mistakes short GBK headers for Korean or
    Japanese); else what the detector finds."""
    chunks = _samples(path, SAMPLE_BYTES)
    for bom, name in _BOMS:
        if chunks[0].startswith(bom):
            return name
    for candidate in ("utf-8", "gb18030"):
        if _decodes(chunks, candidate) or _mostly(chunks, candidate):
            return candidate
    best = from_bytes(b"".join(chunks)).best()
    if best is None:
        raise SourceError(
            str(path),
            "cannot tell the text encoding",
            expected="UTF-8, GBK/GB18030 or another text encoding (try --encoding)",
            found="binary or mixed bytes",
        )
    return normalise_encoding(best.encoding)


@dataclass
class Transcoded:
    rejects: list[Reject] = field(default_factory=list)
    dropped_lines: list[int] = field(default_factory=list)  # 1-based source lines left out
    bytes_read: int = 0


def transcode_to_utf8(
    path: Path,
    encoding: str,
    out: Path,
    progress: Callable[[int], None] | None = None,
) -> Transcoded:
    """Write `path` as UTF-8 to `out`. A line that does not decode is left out and kept as a
    reject with its line number and bytes; every other line is copied exactly."""
    result = Transcoded()
    line_no = 0  # lines completed before the current block
    with path.open("rb") as src, out.open("wb") as dst:
        if encoding.startswith("utf-16") or encoding.startswith("utf-32"):
            # Wide encodings: newline bytes are not self-synchronising, use a streaming decoder.
            text = io.TextIOWrapper(src, encoding=encoding, errors="strict", newline="")
            while chars := text.read(BLOCK_BYTES // 4):
                dst.write(chars.encode("utf-8"))
                if progress:
                    progress(src.tell())
            return result
        tail = b""
        while True:
            block = src.read(BLOCK_BYTES)
            if not block:
                break
            block = tail + block
            cut = block.rfind(b"\n") + 1
            block, tail = (block[:cut], block[cut:]) if cut else (b"", block)
            line_no = _write_block(block, encoding, dst, path, line_no, result)
            result.bytes_read = src.tell() - len(tail)
            if progress:
                progress(result.bytes_read)
        if tail:
            _write_block(tail, encoding, dst, path, line_no, result)
        result.bytes_read = path.stat().st_size
    return result


def _write_block(
    block: bytes,
    encoding: str,
    dst: io.BufferedWriter,
    path: Path,
    line_no: int,
    result: Transcoded,
) -> int:
    try:
        dst.write(block.decode(encoding).encode("utf-8"))
        return line_no + block.count(b"\n")
    except UnicodeDecodeError:
        pass
    # Rare: find the undecodable lines of this block one by one.
    for raw in block.splitlines(keepends=True):
        line_no += 1
        try:
            dst.write(raw.decode(encoding).encode("utf-8"))
        except UnicodeDecodeError as exc:
            result.dropped_lines.append(line_no)
            bad = raw[exc.start : exc.end].hex(" ")
            result.rejects.append(
                Reject(
                    file=str(path),
                    line=line_no,
                    raw=raw.decode(encoding, "replace")[:200],
                    reason=f"bytes {bad} at byte {exc.start + 1} are not valid {encoding}",
                )
            )
    return line_no
