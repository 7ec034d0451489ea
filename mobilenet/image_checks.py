"""Cheap structural checks of a picture file, made before any decoder sees it.

What a decoder costs follows a file's structure as well as its pixels: libjpeg goes over the
whole picture once for every scan of a progressive JPEG, however few bytes the scan holds, and
Pillow reads each PNG chunk, each GIF sub-block and each stray byte of a JPEG's header in a
Python loop. A small file can thus cost seconds: a 140 KB JPEG of 1,000 repeated scans, a 20 MB
PNG of 1.6 million empty chunks, a GIF comment of 80,000 sub-blocks (Pillow joins them one by
one: a minute). ``check_structure`` walks a file's own framing (JPEG marker segments, PNG and
WebP chunks, GIF blocks), never its compressed data, and raises ``StructureError`` where there
are more of them than an ordinary file has and a decoder can go through quickly. It reads only
headers (in a JPEG's entropy-coded data it only looks for the next marker), and stops as soon as
a bound is passed: milliseconds for most files, tens of milliseconds for the largest JPEG.

The bounds follow what each count costs on a 2-core Xeon (``scripts/hostile_files.py``; figures
in docs/RELIABILITY.md). BMP has nothing to count: its cost is its pixels, bounded by
``mobilenet.inference.read_image``.
"""

import mmap
import re
import struct
from contextlib import contextmanager

import numpy as np

# JPEG. libjpeg's progressive script writes 10 scans for a colour picture, 6 for a grey one and
# 18 for CMYK (mozjpeg about as many; Photoshop 3 to 5; a baseline JPEG has 1 to 4), so at least
# JPEG_ORDINARY_SCANS are always allowed. A scan costs up to 0.55 ms per megapixel of the
# picture (a 48-byte refinement scan: the pass is over every block, whatever the scan holds), so
# more scans are allowed only while scans x megapixels stays within JPEG_SCAN_MEGAPIXELS (about
# 0.3 s), and never more than JPEG_MAX_SCANS.
JPEG_ORDINARY_SCANS = 20
JPEG_SCAN_MEGAPIXELS = 500
JPEG_MAX_SCANS = 100
# Segments of any kind. A 20 MB file cut into the largest segments (64 KB: XMP or ICC profiles
# split across APP segments) has about 320, plus a few dozen tables; Pillow reads each segment
# before the first scan in Python (0.7 us each).
JPEG_MAX_SEGMENTS = 1_000
# Bytes before the first scan that belong to no segment (fill bytes, junk): Pillow steps over
# them one at a time in Python, 0.04 to 0.2 us each; ordinary files have none or a few.
JPEG_MAX_STRAY_BYTES = 65_536

# PNG. Chunks up to where Pillow stops reading (IEND, or the second frame of an APNG): an
# ordinary PNG has a dozen plus its IDAT chunks; a 20 MB file (the upload limit) cut into
# libpng's 8 KB IDAT chunks has 2,560, and 10,000 allows chunks of 2 KB. Pillow reads a chunk
# in 1.3 to 1.9 us: 10,000 cost about 20 ms.
PNG_MAX_CHUNKS = 10_000
# zTXt, iCCP and compressed iTXt chunks: Pillow inflates each up to MAX_TEXT_CHUNK (1 MB) and
# stops only text at MAX_TEXT_MEMORY (64 MB), not ICC profiles: 1,000 iCCP chunks of 1 KB each
# cost 0.6 s. An ordinary file has one profile and a few texts; 16 inflate in about 10 ms.
PNG_MAX_COMPRESSED_CHUNKS = 16

# GIF. Sub-blocks of the extensions before the first picture (all that Pillow reads to show
# it: later frames are read only when asked for). Pillow joins a comment one sub-block at a
# time, in time that grows with the square of their number: a 20 MB comment of 80,000 takes a
# minute, 2,048 (512 KB) take 10 ms. XMP, the largest ordinary extension, parses as about one
# sub-block per 100 bytes.
GIF_MAX_BLOCKS = 2_048
GIF_MAX_STRAY_BYTES = 65_536  # bytes between blocks, stepped over one at a time in Python

# WebP: RIFF chunks, one per frame of an animation (ANMF) and a few for the file. libwebp walks
# them in C (0.12 us each: 50 ms for the worst 20 MB file, 400,000 frames); 10,000 allows an
# animation of over five minutes at 30 frames a second, and keeps this walk to a few ms.
WEBP_MAX_CHUNKS = 10_000

NAMES = {"JPEG": "JPEG", "PNG": "PNG", "GIF": "GIF", "WEBP": "WebP"}


class StructureError(ValueError):
    """A file built of more parts (scans, chunks, blocks) than it can be decoded quickly with.

    ``format`` is Pillow's name of the format, ``part`` what was counted (``"scans"``,
    ``"segments"``, ``"stray_bytes"``, ``"chunks"``, ``"compressed_chunks"``, ``"blocks"``),
    ``count`` how many were found (counting stops just past the limit) and ``limit`` how many
    are allowed.
    """

    def __init__(self, message, format, part, count, limit):
        super().__init__(message)
        self.format, self.part, self.count, self.limit = format, part, count, limit

    def __reduce__(self):  # it crosses from a worker process by pickle, with its fields
        return type(self), (str(self), self.format, self.part, self.count, self.limit)


def check_structure(source):
    """Raises ``StructureError`` if the picture in ``source`` (a path, or bytes) has more scans,
    segments, chunks or blocks than allowed; else returns what it counted, such as
    ``{"format": "JPEG", "scans": 10, "segments": 19, "stray_bytes": 0, "megapixels": 12.0}``.

    The format is told by the file's first bytes; a file of no format checked here (BMP,
    anything else) gives ``{}``, and truncated or malformed framing ends the walk quietly: the
    decoder will say what is wrong with it.
    """
    label = "the file" if isinstance(source, (bytes, bytearray)) else repr(str(source))
    with _contents(source) as data:
        head = data[:12]
        if head[:3] == b"\xff\xd8\xff":
            return _jpeg(data, label)
        if head[:8] == b"\x89PNG\r\n\x1a\n":
            return _png(data, label)
        if head[:6] in (b"GIF87a", b"GIF89a"):
            return _gif(data, label)
        if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
            return _webp(data, label)
        return {}


@contextmanager
def _contents(source):
    """``source``'s bytes: bytes as they are, a file mapped in memory (read only where walked)."""
    if isinstance(source, (bytes, bytearray)):
        yield source
        return
    with open(source, "rb") as f:
        if not f.seek(0, 2):
            yield b""  # an empty file cannot be mapped
            return
        with mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as data:
            yield data


def _refuse(label, fmt, part, count, limit):
    raise StructureError(f"{label} is a {NAMES[fmt]} file of more than {limit:,} "
                         f"{part.replace('_', ' ')}, too many to decode quickly: save it again "
                         f"as an ordinary JPEG or PNG", fmt, part, count, limit)


# A marker: 0xFF then a byte that is not 0x00 (a stuffed 0xFF inside entropy-coded data), not
# RST0-7 (restart markers, also inside it) and not 0xFF (fill before a marker).
_JPEG_MARKER = re.compile(rb"\xff[\x01-\xcf\xd8-\xfe]")
_MARKER_BYTES = frozenset(range(0x01, 0xD0)) | frozenset(range(0xD8, 0xFF))
_JPEG_SOF = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}  # not DHT, JPG, DAC
_WINDOW = 1 << 16
_SPARSE = 64  # at most 1 byte in 64 is 0xFF: compressed data has about 1 in 256


def _jpeg(data, label):
    scans = segments = stray = 0
    megapixels, allowed = 0.0, JPEG_MAX_SCANS
    pos = 2  # after SOI
    while pos < len(data):
        # before the first scan, what Pillow's header loop steps over one byte at a time
        end = len(data) if scans else min(len(data), pos + JPEG_MAX_STRAY_BYTES - stray + 2)
        at = _next_jpeg_marker(data, pos, end)
        if not scans:
            stray += (end if at < 0 else at) - pos
            if stray > JPEG_MAX_STRAY_BYTES:
                _refuse(label, "JPEG", "stray_bytes", stray, JPEG_MAX_STRAY_BYTES)
        if at < 0:
            break  # no EOI: truncated, and the decoder will say so
        marker, pos = data[at + 1], at + 2
        if marker == 0xD9:  # EOI: libjpeg reads no further
            break
        if marker in (0x01, 0xD8) or pos + 2 > len(data):  # TEM, SOI: no length
            continue
        segments += 1
        if segments > JPEG_MAX_SEGMENTS:
            _refuse(label, "JPEG", "segments", segments, JPEG_MAX_SEGMENTS)
        if marker in _JPEG_SOF and pos + 7 <= len(data):
            height, width = struct.unpack_from(">HH", data, pos + 3)
            megapixels = max(megapixels, width * height / 1e6)
            allowed = _allowed_scans(megapixels)
        elif marker == 0xDA:
            scans += 1
            if scans > allowed:
                _refuse(label, "JPEG", "scans", scans, allowed)
        # past the segment; after SOS, the next search skips the scan's entropy-coded data
        pos += int.from_bytes(data[pos:pos + 2], "big")
    return {"format": "JPEG", "scans": scans, "segments": segments, "stray_bytes": stray,
            "megapixels": megapixels}


def _next_jpeg_marker(data, pos, end):
    """Where the first marker in ``data[pos:end]`` starts, or -1.

    A regular expression finds it at under a nanosecond a byte in compressed data, but spends
    about 20 ns on each 0xFF byte (0.4 s for 20 MB of fill bytes): a window of many of them is
    searched with numpy instead, at the same cost whatever its bytes.
    """
    if pos + 1 < end and data[pos] == 0xFF and data[pos + 1] in _MARKER_BYTES:
        return pos  # where the last segment ended, as in most files
    window_size = 256
    while pos < end - 1:
        stop = min(end, pos + window_size + 1)  # windows overlap by a byte: a marker is two
        window_size = min(2 * window_size, _WINDOW)
        window = data[pos:stop]
        if window.count(b"\xff") * _SPARSE < len(window):
            found = _JPEG_MARKER.search(window)
            at = found.start() if found else -1
        else:
            at = _dense_marker(np.frombuffer(window, np.uint8))
        if at >= 0:
            return pos + at
        pos = stop - 1
    return -1


def _dense_marker(window):
    after = window[1:]
    marker = (window[:-1] == 0xFF) & (after != 0) & (after != 0xFF) & ((after & 0xF8) != 0xD0)
    found = np.flatnonzero(marker)
    return int(found[0]) if len(found) else -1


def _allowed_scans(megapixels):
    by_cost = int(JPEG_SCAN_MEGAPIXELS / megapixels) if megapixels else JPEG_MAX_SCANS
    return min(JPEG_MAX_SCANS, max(JPEG_ORDINARY_SCANS, by_cost))


def _png(data, label):
    chunks = compressed = 0
    frames, seen_idat = None, False
    pos = 8
    while pos + 8 <= len(data):
        length, kind = struct.unpack_from(">I4s", data, pos)
        if kind == b"IEND" or (kind == b"fcTL" and seen_idat and (frames or 1) > 1):
            break  # Pillow stops here (fcTL: the second frame of an APNG, read only if asked)
        chunks += 1
        if chunks > PNG_MAX_CHUNKS:
            _refuse(label, "PNG", "chunks", chunks, PNG_MAX_CHUNKS)
        body = pos + 8
        if kind == b"IDAT":
            seen_idat = True
        elif kind == b"acTL" and length >= 8 and not seen_idat:  # the frame count, as Pillow
            declared = struct.unpack_from(">I", data, body)[0]  # takes it: a second one voids it
            frames = None if frames is not None else declared if 0 < declared <= 1 << 31 else None
        elif kind in (b"zTXt", b"iCCP") or (kind == b"iTXt" and _itxt_compressed(data, body, length)):
            compressed += 1
            if compressed > PNG_MAX_COMPRESSED_CHUNKS:
                _refuse(label, "PNG", "compressed_chunks", compressed, PNG_MAX_COMPRESSED_CHUNKS)
        pos = body + length + 4  # data and CRC
    return {"format": "PNG", "chunks": chunks, "compressed_chunks": compressed}


def _itxt_compressed(data, body, length):
    """Whether an iTXt chunk's compression flag is set (after its keyword, which Pillow ends at
    the first zero byte, however long)."""
    end = data.find(b"\0", body, body + length)
    return 0 <= end < body + length - 2 and data[end + 1] == 1


_GIF_BLOCK = re.compile(rb"[!,;]")  # an extension, an image, the trailer


def _gif(data, label):
    flags = data[10] if len(data) > 10 else 0
    pos = 13 + (3 << ((flags & 7) + 1) if flags & 0x80 else 0)  # after the global colour table
    blocks = stray = 0
    while pos < len(data):
        end = min(len(data), pos + GIF_MAX_STRAY_BYTES - stray + 1)
        found = _GIF_BLOCK.search(data, pos, end)
        stray += (found.start() if found else end) - pos
        if stray > GIF_MAX_STRAY_BYTES:
            _refuse(label, "GIF", "stray_bytes", stray, GIF_MAX_STRAY_BYTES)
        if found is None:
            break
        if data[found.start()] != 0x21:  # the first image (or the end): Pillow stops there
            break
        pos = found.start() + 2  # past "!" and the extension's label
        while pos < len(data) and data[pos]:  # sub-blocks: a length byte, then that many bytes
            blocks += 1
            if blocks > GIF_MAX_BLOCKS:
                _refuse(label, "GIF", "blocks", blocks, GIF_MAX_BLOCKS)
            pos += data[pos] + 1
        pos += 1  # the empty sub-block that ends the extension
    return {"format": "GIF", "blocks": blocks, "stray_bytes": stray}


def _webp(data, label):
    chunks = 0
    end = min(len(data), 8 + struct.unpack_from("<I", data, 4)[0])
    pos = 12
    while pos + 8 <= end:
        size = struct.unpack_from("<I", data, pos + 4)[0]
        chunks += 1
        if chunks > WEBP_MAX_CHUNKS:
            _refuse(label, "WEBP", "chunks", chunks, WEBP_MAX_CHUNKS)
        pos += 8 + size + (size & 1)  # chunks are padded to an even length
    return {"format": "WEBP", "chunks": chunks}
