"""Text encodings: detect what a department's file is written in, and transcode to UTF-8.

GBK/GB18030 files are the norm. The engine reads UTF-8 only, so other encodings are decoded
here in large blocks cut at newline bytes. That is safe for the GB family: 0x0A never occurs
inside a GBK or GB18030 multi-byte character (trail bytes are 0x30-0x39 or 0x40-0xFE).
"""

from __future__ import annotations

import codecs
import io
import os
import threading
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from charset_normalizer import from_bytes

from cityhub.errors import SourceError
from cityhub.ingest import gbfast, iconv
from cityhub.ingest.source import Reject

SAMPLE_BYTES = 1 << 20
_MOSTLY_PIECE = 64 << 10
# Blocks decoded at once, each on a core of its own; their buffers are used again (`_Buffers`).
BLOCK_BYTES = 4 << 20
# Transcoded parts the engine scans while later ones decode. Each part is a scan of its own with
# a cost of its own (0.1 s and more of both cores at 64 MiB); with decoding now quick, few large
# parts keep most of the overlap for a fraction of that cost.
PART_BYTES = 256 << 20
# The first part only has to hold the rows the type inference samples, and the sync waits for
# it before anything else: small, it is ready after a block or two instead of a whole part.
FIRST_PART_BYTES = 16 << 20
# Parts held at once, decoded ahead of the scan: the transcoding waits for the scan to let one go
# before it starts another, so memory (or staging disk) stays bounded whatever the file size.
PARTS_AHEAD = 2
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
    byte pairs and turn the whole file into mojibake.

    Decoded in pieces, stopping as soon as the answer is no even if every byte left were to
    decode to a non-ASCII character (a GBK file fails UTF-8 within the first piece)."""
    bad = non_ascii = 0
    left = sum(len(c) for c in chunks)
    for chunk in chunks:
        decoder = codecs.getincrementaldecoder(encoding)(errors="replace")
        for start in range(0, len(chunk), _MOSTLY_PIECE):
            piece = chunk[start : start + _MOSTLY_PIECE]
            left -= len(piece)
            text = decoder.decode(piece, final=start + _MOSTLY_PIECE >= len(chunk))
            bad += text.count("\ufffd")
            non_ascii += len(text) - len(text.encode("ascii", errors="ignore"))
            # A byte yields at most one character; + 4 for the bytes the decoder still holds.
            if bad > (non_ascii + left + 4) * 0.01:
                return False
    return non_ascii > 0 and bad <= non_ascii * 0.01


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


def _block_decoder(encoding: str) -> Callable[[bytes, int], bytes | bytearray]:
    """iconv where the C library has it (it runs without the GIL, so blocks decode on every
    core at once); Python's codec otherwise. Both say where a block does not decode."""
    careful = iconv.decoder(encoding)
    if careful is not None:
        return careful
    return lambda data, length: data[:length].decode(encoding).encode("utf-8")


@dataclass
class _Buffers:
    """One block's source bytes and, for the fast decoder, its UTF-8 text. A block's buffers
    are used again for a later block once its text is written: a fresh block per read costs a
    page fault per 4 KiB on first touch, which made the kernel's share of decoding a GBK file
    (0.7 s of 1.7 s of CPU for 576 MiB) nearly the decoder's own."""

    source: bytearray
    text: bytearray | None  # None when there is no fast decoder to write into it

    @classmethod
    def new(cls, fast: bool) -> _Buffers:
        return cls(bytearray(BLOCK_BYTES), bytearray(gbfast.room(BLOCK_BYTES)) if fast else None)


def _read_block(src: io.BufferedReader, into: bytearray) -> int:
    """Fill `into` from `src` and answer the length of its whole lines: a final partial line is
    read again at the start of the next block, and the last block may end without a newline.
    0 at the end of the file. The decoder is told how much of the block to take."""
    read = src.readinto(into) or 0
    if read < len(into):
        return read  # the end of the file
    length = into.rfind(b"\n") + 1
    if length == 0:
        return read  # no newline in a whole block
    src.seek(length - read, os.SEEK_CUR)
    return length


def transcode_to_utf8(
    path: Path,
    encoding: str,
    out: Path,
    progress: Callable[[int], None] | None = None,
    workers: int | None = None,
) -> Transcoded:
    """Write `path` as UTF-8 to `out` (see `_transcode`)."""
    with out.open("wb") as dst:
        return _transcode(path, encoding, lambda done: dst.write(done.text), progress, workers)


def _transcode(
    path: Path,
    encoding: str,
    sink: Callable[[_Decoded], object],
    progress: Callable[[int], None] | None = None,
    workers: int | None = None,
    stop: threading.Event | None = None,
) -> Transcoded:
    """Hand `path` as UTF-8 to `sink`, decoding blocks in parallel and passing them on in order,
    each ending at a line end (but the last). A line that does not decode is left out and kept
    as a reject with its line number and bytes; every other line is copied exactly. `stop` ends
    the work early (the sync it feeds has failed)."""
    result = Transcoded()
    with path.open("rb") as src:
        if encoding.startswith(("utf-16", "utf-32")):
            # Wide encodings: newline bytes are not self-synchronising, use a streaming decoder.
            text = io.TextIOWrapper(src, encoding=encoding, errors="strict", newline="")
            while chars := text.read(BLOCK_BYTES // 4):
                sink(_Decoded.of(chars.encode("utf-8")))
                if progress:
                    progress(src.tell())
            return result
        # For the GB family our own decoder first (gbfast: four times iconv's speed); a block
        # it leaves (anything unusual in it) goes to the careful one, which says where it fails.
        fast, decode = gbfast.decoder(encoding), _block_decoder(encoding)
        workers = workers or os.cpu_count() or 1
        spare: list[_Buffers] = []  # taken and given back in this thread only
        with ThreadPoolExecutor(workers) as pool:
            pending: deque[_InFlight] = deque()
            offset = 0
            while stop is None or not stop.is_set():
                buffers = spare.pop() if spare else _Buffers.new(fast is not None)
                length = _read_block(src, buffers.source)
                if length == 0:
                    break
                job = pool.submit(
                    _decode_block, fast, decode, buffers, length, offset, encoding, path
                )
                pending.append(_InFlight(job, length, buffers))
                offset += length
                if len(pending) > 2 * workers:  # bounded memory: a few blocks in flight
                    spare.append(_write(pending.popleft(), sink, result, progress))
            while pending:
                _write(pending.popleft(), sink, result, progress)
    return result


@dataclass(frozen=True)
class Part:
    """One part file of a transcoding."""

    path: Path
    index: int
    lines_before: int  # lines of UTF-8 text in the parts before this one


def memory_for_parts(part_bytes: int) -> bool:
    """Whether transcoded parts may be held in memory: Linux memory files (memfd), which the
    engine reads by their /proc path, with room to spare for them. Writing the parts to the
    staging disk and reading them back cost a GBK sync more than decoding it (0.6 s of
    the 0.9 s a 472 MiB file added to its UTF-8 twin's sync, most of it in the kernel)."""
    if not hasattr(os, "memfd_create") or not os.path.isdir("/proc/self/fd"):
        return False
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            info = dict(line.split(":", 1) for line in f)
        available = int(info["MemAvailable"].split()[0]) << 10
    except (OSError, KeyError, ValueError):
        return False
    return available >= 4 * PARTS_AHEAD * part_bytes


class Transcoding:
    """`path` transcoded to UTF-8 in the background, as parts of about `part_bytes` each, cut
    only where a line ends outside quotes (an even count of quote bytes so far), so a quoted
    field holding newlines stays whole. The engine scans the first parts while later ones still
    decode: decoding then overlaps the scan instead of preceding it. At most `PARTS_AHEAD`
    parts are held at once: the scan `release`s each one it is done with.

    Parts live in memory files when there is room (`memory_for_parts`): nothing to write to
    disk, and nothing left behind should the process die. Otherwise they are files beside
    `stem`."""

    def __init__(
        self,
        path: Path,
        encoding: str,
        stem: Path,
        progress: Callable[[int], None] | None = None,
        part_bytes: int | None = None,  # default: PART_BYTES
        in_memory: bool | None = None,  # default: memory_for_parts
    ) -> None:
        self.path, self.encoding, self.stem = path, encoding, stem
        # Wide encodings reach the sink in pieces that are not whole lines: one part then,
        # of any size, so on disk.
        wide = encoding.startswith(("utf-16", "utf-32"))
        self.part_bytes = 1 << 62 if wide else part_bytes or PART_BYTES
        self.in_memory = (
            False
            if wide
            else (memory_for_parts(self.part_bytes) if in_memory is None else in_memory)
        )
        self.progress = progress
        self.result = Transcoded()
        self.files: list[Path] = []  # every part's path, in order
        self.most_held = 0  # the most parts held at once (for tests and diagnostics)
        self._memory: dict[int, int] = {}  # memory file descriptors of the parts still held
        self._released: set[int] = set()
        self._parts: list[Part] = []
        self._done = False
        self._error: BaseException | None = None
        self._changed = threading.Condition()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="transcode", daemon=True)
        self._thread.start()

    def part(self, index: int) -> Part | None:
        """Part `index` once it is complete; None past the last one. Raises what the
        transcoding failed with, if it failed before producing that part."""
        with self._changed:
            self._changed.wait_for(lambda: index < len(self._parts) or self._done)
            if index < len(self._parts):
                return self._parts[index]
            if self._error is not None:
                raise self._error
            return None

    def release(self, part: Part) -> None:
        """The scan is done with `part`: let it go, making room for the next one."""
        with self._changed:
            self._drop(part.index)
            self._changed.notify_all()

    @property
    def held(self) -> int:
        """Parts made and not yet let go."""
        with self._changed:
            return self._held()

    def _held(self) -> int:
        return len(self.files) - len(self._released)

    def finish(self) -> Transcoded:
        """Stop early if still running, wait for the thread, and return what it found."""
        self._stop.set()
        with self._changed:
            self._changed.notify_all()  # a transcoding waiting for room stops waiting
        self._thread.join()
        return self.result

    def remove(self) -> None:
        self.finish()
        with self._changed:
            for index in range(len(self.files)):
                self._drop(index)

    def _drop(self, index: int) -> None:
        if index in self._released:
            return
        self._released.add(index)
        if index in self._memory:
            os.close(self._memory.pop(index))
        else:
            self.files[index].unlink(missing_ok=True)

    def _new_part(self) -> BinaryIO:
        """Wait until fewer than PARTS_AHEAD parts are held, then open the next one."""
        with self._changed:
            self._changed.wait_for(lambda: self._held() < PARTS_AHEAD or self._stop.is_set())
            index = len(self.files)
            if self.in_memory:
                fd = os.memfd_create(f"{self.stem.name}.{index}", os.MFD_CLOEXEC)
                self._memory[index] = fd
                self.files.append(Path(f"/proc/self/fd/{fd}"))
                out: BinaryIO = open(fd, "wb", closefd=False)  # noqa: SIM115 (closed by publish)
            else:
                self.files.append(self.stem.with_name(f"{self.stem.name}.{index}.csv"))
                out = self.files[-1].open("wb")
            self.most_held = max(self.most_held, self._held())
            return out

    def _run(self) -> None:
        out: BinaryIO | None = None
        size = quotes = lines = lines_before = 0

        def publish() -> None:
            nonlocal out, size, quotes, lines, lines_before
            assert out is not None
            out.close()
            with self._changed:
                self._parts.append(Part(self.files[-1], len(self._parts), lines_before))
                self._changed.notify_all()
            out, size, quotes, lines_before, lines = None, 0, 0, lines_before + lines, 0

        def sink(done: _Decoded) -> None:
            nonlocal out, size, quotes, lines
            if self._stop.is_set():
                return  # blocks still in flight when the sync stopped
            text = done.text
            if out is None:
                out = self._new_part()
            out.write(text)
            size += len(text)
            quotes += done.quotes
            lines += done.newlines
            limit = min(FIRST_PART_BYTES, self.part_bytes) if not self._parts else self.part_bytes
            if size >= limit and quotes % 2 == 0 and text[-1:] == b"\n":
                publish()

        try:
            self.result = _transcode(self.path, self.encoding, sink, self.progress, stop=self._stop)
            if out is not None:
                publish()
        except BaseException as exc:  # handed to the scan, which raises it
            self._error = exc
            if out is not None:
                out.close()
        finally:
            with self._changed:
                self._done = True
                self._changed.notify_all()


@dataclass
class _Decoded:
    """A block as UTF-8, with the lines left out of it, and its newline and quote bytes (where
    the transcoding may cut its parts). The text may be a view of a buffer that a later block
    reuses: a sink writes it out and keeps no reference to it."""

    text: bytes | bytearray | memoryview
    rejects: list[Reject]
    newlines: int
    quotes: int

    @classmethod
    def of(cls, text: bytes | bytearray, rejects: list[Reject] | None = None) -> _Decoded:
        # Counted in the decoding thread, not in the one writing the parts.
        return cls(text, rejects or [], text.count(b"\n"), text.count(b'"'))


@dataclass(frozen=True)
class _InFlight:
    job: Future[_Decoded]
    size: int  # source bytes of the block
    buffers: _Buffers


def _write(
    item: _InFlight,
    sink: Callable[[_Decoded], object],
    result: Transcoded,
    progress: Callable[[int], None] | None,
) -> _Buffers:
    """Hand a decoded block to `sink`; answers its buffers, free for another block."""
    done = item.job.result()
    sink(done)
    result.rejects += done.rejects
    result.dropped_lines += [r.line for r in done.rejects if r.line is not None]
    result.bytes_read += item.size
    if progress:
        progress(result.bytes_read)
    return item.buffers


def _decode_block(
    fast: gbfast.Decoder | None,
    decode: Callable[[bytes, int], bytes | bytearray],
    buffers: _Buffers,
    length: int,
    offset: int,
    encoding: str,
    path: Path,
) -> _Decoded:
    if fast is not None and buffers.text is not None:
        quick = fast(buffers.source, length, buffers.text)
        if quick is not None:
            size, newlines, quotes = quick
            return _Decoded(memoryview(buffers.text)[:size], [], newlines, quotes)
    # The careful decoders take bytes of their own: the buffer is read again for a later block.
    block = bytes(memoryview(buffers.source)[:length])
    try:
        return _Decoded.of(decode(block, length))
    except (iconv.DecodeError, UnicodeDecodeError):
        pass
    lines_before = _lines_before(path, offset)
    # Rare: find the undecodable lines of this block one by one (Python's codec says where).
    parts, rejects = [], []
    pieces = block.split(b"\n")  # the last piece is what follows the final newline
    for index, piece in enumerate(pieces):
        line = piece + b"\n" if index < len(pieces) - 1 else piece
        if not line:
            continue
        try:
            parts.append(decode(line, len(line)))
        except (iconv.DecodeError, UnicodeDecodeError):
            try:
                line.decode(encoding)
                start, end = 0, len(line)  # only iconv refused it
            except UnicodeDecodeError as exc:
                start, end = exc.start, exc.end
            rejects.append(
                Reject(
                    file=str(path),
                    line=lines_before + index + 1,
                    raw=line.decode(encoding, "replace")[:200],
                    reason=f"bytes {line[start:end].hex(' ')} at byte {start + 1} are not "
                    f"valid {encoding}",
                )
            )
    return _Decoded.of(b"".join(parts), rejects)


def _lines_before(path: Path, offset: int) -> int:
    """Newlines in the first `offset` bytes: counted only when a block has bad lines to report."""
    count = 0
    with path.open("rb") as f:
        while offset > 0 and (chunk := f.read(min(BLOCK_BYTES, offset))):
            count += chunk.count(b"\n")
            offset -= len(chunk)
    return count
