"""Pictures built to be slow to decode, and what they cost with and without the structural checks
of ``mobilenet.image_checks``: the figures behind its bounds and docs/RELIABILITY.md.

    python scripts/hostile_files.py              # every file, each decoded once
    python scripts/hostile_files.py --only jpeg_scans png_empty_chunks
    python scripts/hostile_files.py --at-bounds  # files just inside each bound instead

Each file is small or at most the 20 MB upload limit, and costs seconds of CPU in Pillow because
of how it is framed, not because of its pixels: a progressive JPEG whose small scans are repeated
(libjpeg goes over the whole picture for each), a PNG of empty chunks, a GIF comment of many
sub-blocks (Pillow joins them one at a time), and others of the kind. For each it prints the CPU
time of ``check_structure`` (which refuses it) and of ``read_image`` with the check lifted
(``time.process_time``: CPU seconds of this process), then the same for ordinary files, which
must pass the check at a cost of a few milliseconds.
"""

import argparse
import io
import os
import re
import struct
import sys
import tempfile
import time
import zlib
from unittest import mock

from PIL import Image

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from decode_bench import smooth  # noqa: E402  the same photo-like picture as the decoding bench
from mobilenet.image_checks import StructureError, check_structure  # noqa: E402

_MARKER = re.compile(rb"\xff[\x01-\xcf\xd8-\xfe]")


def encode(image, fmt, **options):
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def jpeg_scans(data):
    """``(scans, where EOI starts)`` of a JPEG: each scan with the Huffman tables written just
    before it (so that a copy decodes as the original did)."""
    pos, tables, scans = 2, b"", []
    while data[pos + 1] != 0xD9:
        end = pos + 2 + int.from_bytes(data[pos + 2:pos + 4], "big")
        if data[pos + 1] == 0xDA:
            end = _MARKER.search(data, end).start()
            scans.append(tables + data[pos:end])
            tables = b""
        elif data[pos + 1] == 0xC4:
            tables += data[pos:end]
        pos = end
    return scans, pos


def repeated_scans_jpeg(scans=1000, size=(4000, 3000)):
    """The issue's file: a progressive JPEG of one flat colour (about 70 KB at 12 megapixels)
    whose small AC scans are copied again and again before its end, up to ``scans`` scans."""
    data = encode(Image.new("RGB", size, (120, 130, 140)), "JPEG", quality=85, progressive=True)
    own, eoi = jpeg_scans(data)
    small = [scan for scan in own[1:] if len(scan) < 400]
    extra = b"".join(small[i % len(small)] for i in range(scans - len(own)))
    return data[:eoi] + extra + data[eoi:]


def jpeg_with_header_junk(junk):
    """A small JPEG with ``junk`` after its APP0 segment, before the first scan."""
    data = encode(Image.new("RGB", (64, 64), "teal"), "JPEG")
    app0_end = 4 + int.from_bytes(data[4:6], "big")
    return data[:app0_end] + junk + data[app0_end:]


def png_chunk(kind, body=b""):
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def png_with_chunks(chunks, before=b"IEND"):
    """A 64 x 64 PNG with ``chunks`` (bytes) inserted before its ``before`` chunk."""
    data = encode(Image.new("RGB", (64, 64), "teal"), "PNG")
    at = data.index(before) - 4
    return data[:at] + chunks + data[at:]


def empty_chunks_png(megabytes=20, kind=b"abCd"):
    """The issue's file: a 64 x 64 PNG padded to ``megabytes`` with empty chunks (12 bytes each:
    1.6 million in 20 MB) of a private ancillary type."""
    return png_with_chunks(png_chunk(kind) * int(megabytes * 1e6 // 12))


def icc_chunks_png(count=1000):
    """A PNG of ``count`` iCCP chunks of 1 KB, each inflating to 1 MB (Pillow bounds text
    chunks all together, not ICC profiles)."""
    profile = zlib.compress(bytes(1 << 20), 9)
    return png_with_chunks(png_chunk(b"iCCP", b"icc\0\0" + profile) * count, before=b"IDAT")


def gif_with_extension(extension):
    """A 64 x 64 GIF with ``extension`` (bytes) before its picture."""
    data = encode(Image.new("P", (64, 64), 3), "GIF")
    at = 13 + (3 << ((data[10] & 7) + 1) if data[10] & 0x80 else 0)  # after the colour table
    return data[:at] + extension + data[at:]


def gif_comment(blocks=20_000):
    """A GIF comment of ``blocks`` full sub-blocks (255 bytes each), which Pillow joins one at a
    time: its cost grows with the square of their number (80,000: about a minute)."""
    return gif_with_extension(b"!\xfe" + (b"\xff" + b"c" * 255) * blocks + b"\x00")


def gif_tiny_blocks(blocks=5_000_000):
    """A GIF application extension of ``blocks`` one-byte sub-blocks (10 MB)."""
    return gif_with_extension(b"!\xff\x0bNETSCAPE2.0" + b"\x01c" * blocks + b"\x00")


def webp_frames(frames=400_000):
    """An animated WebP of ``frames`` tiny frames (a copied ANMF chunk): 20 MB at 400,000."""
    shades = [Image.new("RGB", (16, 16), (40 * i, 0, 0)) for i in range(3)]
    data = encode(shades[0], "WEBP", save_all=True, append_images=shades[1:], lossless=True)
    pos, head, frame = 12, b"", b""
    while pos < len(data):
        size = struct.unpack_from("<I", data, pos + 4)[0]
        chunk = data[pos:pos + 8 + size + (size & 1)]
        if chunk[:4] == b"ANMF":
            frame = chunk
        else:
            head += chunk
        pos += len(chunk)
    body = b"WEBP" + head + frame * frames
    return b"RIFF" + struct.pack("<I", len(body)) + body


HOSTILE = {
    "jpeg_scans": ("progressive JPEG, 12 MP, small scans repeated to 1,000", repeated_scans_jpeg),
    "jpeg_fill_bytes": ("JPEG, 10 MB of 0xFF fill bytes before its first scan",
                        lambda: jpeg_with_header_junk(b"\xff" * 10_000_000)),
    "jpeg_segments": ("JPEG, 2.5 million empty APP5 segments (10 MB)",
                      lambda: jpeg_with_header_junk(b"\xff\xe5\x00\x02" * 2_500_000)),
    "png_empty_chunks": ("PNG 64 x 64, 1.6 million empty chunks (20 MB)", empty_chunks_png),
    "png_icc_chunks": ("PNG, 1,000 iCCP chunks of 1 KB inflating to 1 MB each", icc_chunks_png),
    "gif_comment": ("GIF, a comment of 20,000 sub-blocks (5 MB)", gif_comment),
    "gif_tiny_blocks": ("GIF, an extension of 5 million 1-byte sub-blocks (10 MB)", gif_tiny_blocks),
    "webp_frames": ("animated WebP, 400,000 frames (20 MB)", webp_frames),
}


# The same kinds of file, just inside each bound of mobilenet.image_checks: the most each can
# still cost (a JPEG at 40 megapixels may always have JPEG_ORDINARY_SCANS scans).
AT_BOUNDS = {
    "jpeg_scans": ("progressive JPEG, 12 MP, 41 scans", lambda: repeated_scans_jpeg(41)),
    "jpeg_scans_40mp": ("progressive JPEG, 40 MP, 20 scans",
                        lambda: repeated_scans_jpeg(20, size=(7300, 5400))),
    "jpeg_fill_bytes": ("JPEG, 65,536 fill bytes", lambda: jpeg_with_header_junk(b"\xff" * 65_534)),
    "jpeg_segments": ("JPEG, 990 empty APP5 segments",
                      lambda: jpeg_with_header_junk(b"\xff\xe5\x00\x02" * 990)),
    "png_empty_chunks": ("PNG, 9,990 empty chunks", lambda: empty_chunks_png(9_990 * 12 / 1e6)),
    "png_icc_chunks": ("PNG, 16 iCCP chunks inflating to 1 MB each", lambda: icc_chunks_png(16)),
    "gif_comment": ("GIF, a comment of 2,047 sub-blocks", lambda: gif_comment(2_047)),
    "webp_frames": ("animated WebP, 9,990 frames", lambda: webp_frames(9_990)),
}


def ordinary():
    """(name, bytes) of ordinary files that must pass the check, at the largest size the app
    reads (JPEG: 40 megapixels; PNG and WebP: 10)."""
    large, medium = smooth(7300, 5400), smooth(3600, 2700)
    frames = [smooth(320, 240, seed).convert("P") for seed in range(100)]
    return [("JPEG 40 MP, baseline", encode(large, "JPEG", quality=90)),
            ("JPEG 40 MP, progressive", encode(large, "JPEG", quality=90, progressive=True)),
            ("PNG 10 MP", encode(medium, "PNG")),
            ("GIF, 100 frames", encode(frames[0], "GIF", save_all=True, append_images=frames[1:])),
            ("WebP 10 MP", encode(medium, "WEBP", quality=80))]


def slowest_to_check():
    """A JPEG whose one scan is 20 MB of stuffed 0xFF bytes: what costs the check the most (every
    byte is looked at), and passes it (libjpeg reads such a scan quickly, as garbage)."""
    data = encode(Image.new("RGB", (64, 64), "teal"), "JPEG")
    eoi = data.rindex(b"\xff\xd9")
    return data[:eoi] + b"\xff\x00" * 10_000_000 + data[eoi:]


def cpu_seconds(function):
    started = time.process_time()
    try:
        function()
    except ValueError:
        pass  # a refusal, or Pillow giving up after the work
    return time.process_time() - started


def decode_without_check(path):
    """CPU seconds of ``read_image`` as it was before the checks (app limits: 40 megapixels)."""
    from mobilenet.inference import read_image

    with mock.patch("mobilenet.inference.check_structure", lambda source: {}):
        return cpu_seconds(lambda: read_image(path, max_pixels=40_000_000))


def verdict(data):
    """What the check says of ``data``: what it refused, or what it counted."""
    try:
        counts = check_structure(data)
    except StructureError as error:
        return f"refused: {error.count:,} {error.part.replace('_', ' ')} > {error.limit:,}"
    counted = [f"{value:,} {key.replace('_', ' ')}" for key, value in counts.items()
               if key not in ("format", "megapixels") and value]
    return "passed" + (": " + ", ".join(counted) if counted else "")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="+", choices=sorted(HOSTILE), help="these hostile files")
    parser.add_argument("--at-bounds", action="store_true",
                        help="instead, files just inside each bound: what they still cost")
    parser.add_argument("--folder", default=tempfile.gettempdir(), help="where files are written to be timed")
    args = parser.parse_args(argv)
    from mobilenet.runtime import cpu_description

    print(f"CPU: {cpu_description()}; Pillow {Image.__version__}")
    print("| file | size | check (ms) | check says | read_image without the check (s) |")
    print("|---|---|---|---|---|")
    files = AT_BOUNDS if args.at_bounds else HOSTILE
    rows = [(files[key][0], files[key][1]()) for key in (args.only or files) if key in files]
    if not (args.only or args.at_bounds):
        rows += ordinary() + [("JPEG, a scan of 20 MB of 0xFF 0x00", slowest_to_check())]
    for name, data in rows:
        path = os.path.join(args.folder, f"hostile-{os.getpid()}")
        with open(path, "wb") as f:
            f.write(data)
        try:
            check = min(cpu_seconds(lambda: check_structure(path)) for _ in range(3))
            decode = decode_without_check(path)
        finally:
            os.remove(path)
        print(f"| {name} | {len(data) / 1e6:.2f} MB | {check * 1000:.1f} | {verdict(data)} | "
              f"{decode:.2f} |")


if __name__ == "__main__":
    main()
