"""Encodings: detection, and parallel block transcoding that must equal Python's codec."""

from __future__ import annotations

import os
import random
import threading
import time
from pathlib import Path

import pytest

from cityhub.ingest import decode
from cityhub.ingest.decode import detect_encoding, transcode_to_utf8
from cityhub.ingest.iconv import decoder

HANZI = "嘉兴南湖秀洲嘉善海盐海宁平湖桐乡张王李赵陈刘杨黄吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯"


def gbk_lines(n: int, seed: int = 1) -> str:
    rng = random.Random(seed)
    return "".join(
        f"{i},{''.join(rng.choices(HANZI, k=rng.randint(1, 9)))},{rng.random():.6f},是\n"
        for i in range(n)
    )


def test_iconv_agrees_with_python_on_common_text() -> None:
    fast = decoder("gb18030")
    if fast is None:
        pytest.skip("this C library has no iconv for GB18030")
    text = gbk_lines(2000) + "—·“”…【】《》℃①ⅰ㎡￥"
    raw = text.encode("gb18030")
    assert bytes(fast(raw, len(raw))) == text.encode("utf-8")


def test_a_large_gbk_file_transcodes_byte_for_byte(tmp_path: Path, monkeypatch) -> None:
    # Blocks of 64 KiB so that a 3 MB file crosses dozens of block boundaries, each possibly
    # inside a line and next to multi-byte characters.
    monkeypatch.setattr(decode, "BLOCK_BYTES", 1 << 16)
    text = gbk_lines(60_000)
    source = tmp_path / "g.csv"
    source.write_bytes(text.encode("gbk"))
    assert detect_encoding(source) == "gb18030"
    out = tmp_path / "u.csv"
    result = transcode_to_utf8(source, "gb18030", out, workers=2)
    assert result.rejects == [] and result.bytes_read == source.stat().st_size
    assert out.read_bytes() == text.encode("utf-8")


def test_block_buffers_are_used_again(tmp_path: Path, monkeypatch) -> None:
    """Dozens of blocks go through the few buffers of the blocks in flight, and each block's
    text comes out whole although its buffer is overwritten by a later block."""
    monkeypatch.setattr(decode, "BLOCK_BYTES", 1 << 12)
    made = []
    new = decode._Buffers.new

    def counted(fast: bool) -> decode._Buffers:
        made.append(fast)
        return new(fast)

    monkeypatch.setattr(decode._Buffers, "new", counted)
    text = gbk_lines(20_000)
    source = tmp_path / "g.csv"
    source.write_bytes(text.encode("gbk"))
    out = tmp_path / "u.csv"
    result = transcode_to_utf8(source, "gb18030", out, workers=2)
    assert source.stat().st_size > 100 * (1 << 12)
    assert len(made) <= 2 * 2 + 1  # the blocks in flight at most, not one per block
    assert result.rejects == [] and out.read_bytes() == text.encode("utf-8")


def test_bad_bytes_cost_only_their_line(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(decode, "BLOCK_BYTES", 1 << 12)
    lines = gbk_lines(3000).splitlines(keepends=True)
    raw = b"".join(line.encode("gbk") for line in lines[:2500])
    raw += b"2500,\x81\x20bad,0.5,\xe6\x98\xaf\n" + b"".join(
        line.encode("gbk") for line in lines[2500:]
    )
    source = tmp_path / "g.csv"
    source.write_bytes(raw)
    out = tmp_path / "u.csv"
    result = transcode_to_utf8(source, "gb18030", out, workers=2)
    assert [r.line for r in result.rejects] == [2501]
    assert result.dropped_lines == [2501]
    assert "81" in result.rejects[0].reason
    assert out.read_bytes() == "".join(lines).encode("utf-8")


@pytest.mark.parametrize("in_memory", [True, False], ids=["memory", "disk"])
def test_parts_are_held_only_until_the_scan_lets_them_go(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, in_memory: bool
) -> None:
    """A file of many parts: the transcoding stops PARTS_AHEAD parts ahead of the reader,
    goes on as each part is released, and the parts, read in order, are the UTF-8 text."""
    if in_memory and not hasattr(os, "memfd_create"):
        pytest.skip("no memory files here")
    monkeypatch.setattr(decode, "BLOCK_BYTES", 1 << 12)
    text = gbk_lines(20_000)
    source = tmp_path / "g.csv"
    source.write_bytes(text.encode("gbk"))
    staging = tmp_path / "staging"
    staging.mkdir()
    parts = decode.Transcoding(
        source, "gb18030", staging / "g.utf8", part_bytes=1 << 15, in_memory=in_memory
    )
    try:
        assert parts.in_memory is in_memory
        first = parts.part(0)
        assert first is not None
        time.sleep(0.3)  # time enough to run far ahead, were it allowed to
        assert parts.held == decode.PARTS_AHEAD
        read: list[bytes] = []
        index = 0
        part: decode.Part | None = first
        while part is not None:
            read.append(Path(part.path).read_bytes())
            parts.release(part)
            index += 1
            part = parts.part(index)
        assert index > 10 and parts.most_held == decode.PARTS_AHEAD
        assert b"".join(read) == text.encode("utf-8")
        assert parts.held == 0
        assert list(staging.iterdir()) == []  # in memory: never there; on disk: removed
    finally:
        parts.remove()


def test_a_stopped_transcoding_waiting_for_room_ends(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(decode, "BLOCK_BYTES", 1 << 12)
    source = tmp_path / "g.csv"
    source.write_bytes(gbk_lines(20_000).encode("gbk"))
    parts = decode.Transcoding(source, "gb18030", tmp_path / "g.utf8", part_bytes=1 << 15)
    assert parts.part(decode.PARTS_AHEAD - 1) is not None  # now it waits for a release
    finished = threading.Thread(target=parts.remove)
    finished.start()
    finished.join(timeout=30)
    assert not finished.is_alive() and parts.held == 0
