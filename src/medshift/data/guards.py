"""Refusals before decoding: sizes read from headers, so a few kilobytes that declare
gigabytes never reach a decoder (no pydicom import here; callers pass bytes or paths)."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

from medshift.data.errors import IngestError

# JPEG SOFn markers (not DHT C4, JPG C8, DAC CC) and JPEG-LS SOF55 (F7)
_SOF = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF, 0xF7}
_DEFLATED = b"1.2.840.10008.1.2.1.99"


def codestream_size(data: bytes) -> tuple[int, int] | None:
    """(rows, cols) declared by the first JPEG 2000 SIZ or JPEG/JPEG-LS SOF segment in
    ``data``, read without decoding; None when neither is found (RLE, deflate, ...)."""
    at = data.find(b"\xff\x4f\xff\x51")  # J2K: SOC then SIZ
    if at >= 0 and len(data) >= at + 24:
        x, y, x0, y0 = struct.unpack(">4I", data[at + 8:at + 24])
        return y - y0, x - x0
    pos = data.find(b"\xff\xd8")
    if pos < 0:
        return None
    pos += 2
    while pos + 9 <= len(data) and data[pos] == 0xFF:
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker in _SOF:
            rows, cols = struct.unpack(">HH", data[pos + 5:pos + 9])
            return (rows, cols) if rows else None  # 0 rows: defined later by DNL
        pos += 2 + struct.unpack(">H", data[pos + 2:pos + 4])[0]
    return None


def check_deflated(path: Path, max_pixels: int) -> None:
    """Refuse a deflated DICOM data set that inflates beyond what ``max_pixels`` 16-bit
    pixels and a header can need, before pydicom inflates it whole in memory.

    Raises:
        IngestError: ``too_large``. Anything else (no meta header, corrupt stream) is left
            to the normal reader, which explains it.
    """
    with open(path, "rb") as fh:
        head = fh.read(132 + 12)
        if head[128:132] != b"DICM" or head[132:136] != b"\x02\x00\x00\x00":
            return
        meta = fh.read(struct.unpack("<I", head[140:144])[0])
        if _DEFLATED not in meta:
            return
        limit = 2 * max_pixels + 65536
        inflater, size = zlib.decompressobj(-zlib.MAX_WBITS), 0
        try:
            while chunk := fh.read(1 << 16):
                size += len(inflater.decompress(chunk, limit + 1 - size))
                if size > limit or inflater.unconsumed_tail:
                    raise IngestError("too_large", f"the deflated data set inflates to more "
                                      f"than {limit} bytes; not read")
        except zlib.error:
            return
