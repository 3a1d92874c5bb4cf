"""An uploaded JPEG kept as sent, less every metadata segment: no re-encoding, no client metadata.

Re-encoding a 640x480 photo for keeping cost more CPU than classifying it. A JPEG's picture is
its frame header, tables and scans; what a camera or editor says about the picture and its
maker (EXIF with GPS and serial numbers, XMP, ICC profiles, comments, JFIF thumbnails) lives in
APPn and COM segments. Those are dropped, and so is anything after the end-of-image marker.
Pictures that need their metadata to show right (turned by EXIF, Adobe colour transforms, CMYK,
unusual component ids), use codings some browsers lack, or are too big, are refused here: the
caller re-encodes those.
"""

from __future__ import annotations

import re

from PIL import Image

EXIF_ORIENTATION = 0x0112
APP1, APP14, COM, SOS, EOI = 0xE1, 0xEE, 0xFE, 0xDA, 0xD9
APPLICATION_SEGMENTS = range(0xE0, 0xF0)
# Huffman-coded baseline, extended and progressive frames: what every browser shows.
FRAMES = frozenset({0xC0, 0xC1, 0xC2})
TABLES = frozenset({0xC4, 0xDB, 0xDD})  # Huffman tables, quantisation tables, restart interval
MAX_SEGMENTS = 256  # a progressive photo has a few dozen; beyond this, re-encode
# The end of a scan's entropy-coded data: a marker that is neither a stuffed 0xFF00 nor a restart.
SCAN_END = re.compile(rb"\xff[^\x00\xd0-\xd7\xff]")


class _Refused(Exception):
    """This JPEG must be re-encoded to be kept."""


def without_metadata(data: bytes, *, max_side: int) -> bytes | None:
    """The JPEG's frame, tables and scans only; None when it must be re-encoded instead."""
    try:
        return b"".join(_kept_parts(data, max_side))
    except _Refused:
        return None


def _kept_parts(data: bytes, max_side: int) -> list[bytes]:
    _require(data.startswith(b"\xff\xd8"))
    kept, position, framed = [b"\xff\xd8"], 2, False
    for _ in range(MAX_SEGMENTS):
        while data[position + 1 : position + 2] == b"\xff":  # fill bytes before a marker
            position += 1
        _require(data[position : position + 1] == b"\xff" and position + 2 <= len(data))
        marker = data[position + 1]
        if marker == EOI:
            _require(framed)
            return [*kept, b"\xff\xd9"]
        end = position + 2 + int.from_bytes(data[position + 2 : position + 4], "big")
        _require(position + 4 <= end <= len(data))
        if marker in FRAMES:
            _require(_plain_frame(data[position:end], max_side))
            framed = True
        elif marker == SOS:
            _require(framed)
            scan_end = SCAN_END.search(data, end)
            _require(scan_end is not None)
            end = scan_end.start()  # type: ignore[union-attr]
        elif marker in APPLICATION_SEGMENTS or marker == COM:
            # Dropped; but colours or orientation may depend on these two.
            _require(marker != APP14 and (marker != APP1 or _upright(data[position + 4 : end])))
            position = end
            continue
        else:
            _require(marker in TABLES)  # not arithmetic, lossless or hierarchical coding
        kept.append(data[position:end])
        position = end
    raise _Refused


def _require(condition: bool) -> None:
    if not condition:
        raise _Refused


def _upright(app1_payload: bytes) -> bool:
    """True unless this APP1 is EXIF that turns or mirrors the picture (XMP has no say here)."""
    if not app1_payload.startswith(b"Exif\x00\x00"):
        return True
    try:
        exif = Image.Exif()
        exif.load(app1_payload)
        return exif.get(EXIF_ORIENTATION, 1) in (1, None)
    except Exception:  # unreadable EXIF: let the re-encoding path decide
        return False


def _plain_frame(segment: bytes, max_side: int) -> bool:
    """8-bit grey, or YCbCr with the usual component ids 1, 2, 3; no side above max_side."""
    if len(segment) < 10 or segment[4] != 8:
        return False
    height, width = int.from_bytes(segment[5:7], "big"), int.from_bytes(segment[7:9], "big")
    components = segment[9]
    ids = bytes(segment[10 + 3 * i] for i in range(components) if 10 + 3 * i < len(segment))
    if ids not in (b"\x01", b"\x01\x02\x03"):
        return False
    return 0 < width <= max_side and 0 < height <= max_side
