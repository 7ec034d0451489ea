"""CPU seconds to decode a picture, by format and megapixels: the figures behind the per-format
pixel limits in ``mobilenet.inference.DECODE_MEGAPIXELS``.

    python scripts/decode_bench.py            # every format, 2 to 16 megapixels
    python scripts/decode_bench.py --sizes 4 9 --repeats 3

For each format it writes pictures of a few kinds in memory (flat colour, a smooth photo-like
gradient with a little noise, and the slowest variants we know: an RGBA PNG, an
RLE-compressed BMP) and times ``Image.open(...).load()`` plus the conversion
to RGB with ``time.process_time`` (CPU seconds of this process, all threads), the best of
``--repeats``. JPEG is timed both in full and with ``draft()`` to ``READ_SIDE`` pixels, as
``read_image`` decodes it. The last column is what ``read_image`` as a whole costs (decode,
reduction to ``READ_SIDE``), and the summary gives each format's worst seconds per megapixel
and the megapixels that fit in ``--budget`` CPU seconds.

``--checkpoints FOLDER`` (e.g. ``checkpoints``) then times the app's own Classify and Grad-CAM
callbacks end to end (read, resize, network, result files) on the worst picture each format
still accepts, as an upload: CPU seconds of the whole process, warm model.
"""

import argparse
import io
import os
import sys
import tempfile
import time

import numpy as np
from PIL import Image

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from mobilenet.inference import READ_SIDE, read_image  # noqa: E402
from mobilenet.runtime import cpu_description  # noqa: E402


def smooth(width, height, seed=0):
    """A photo-like picture: gradients and a little noise (compresses like a photo)."""
    rng = np.random.default_rng(seed)
    x = np.linspace(0, 255, width, dtype=np.float32)[None, :]
    y = np.linspace(0, 255, height, dtype=np.float32)[:, None]
    picture = np.stack([x + 0 * y, y + 0 * x, (x + y) / 2], axis=2)
    picture += rng.normal(0, 6, (height, width, 1)).astype(np.float32)
    return Image.fromarray(np.clip(picture, 0, 255).astype(np.uint8))


def variants(fmt, width, height):
    """(name, encoded bytes) of the kinds timed for one format and size."""
    flat = Image.new("RGB", (width, height), (200, 120, 40))
    photo = smooth(width, height)
    kinds = {"flat": flat, "photo": photo}
    out = []
    for kind, image in kinds.items():
        options = {"JPEG": {"quality": 90}, "WEBP": {"quality": 80}, "PNG": {}, "GIF": {},
                   "BMP": {}}[fmt]
        if fmt == "GIF":
            image = image.convert("P", palette=Image.Palette.ADAPTIVE) if kind == "photo" else \
                image.convert("P")
        buffer = io.BytesIO()
        image.save(buffer, fmt, **options)
        out.append((kind, buffer.getvalue()))
    if fmt == "PNG":
        out.append(("rgba", encode(photo.convert("RGBA"), "PNG")))
        out.append(("palette+t", encode(photo.convert("P", palette=Image.Palette.ADAPTIVE), "PNG",
                                        transparency=0)))
    if fmt == "BMP":
        out.append(("rle8", rle8_bmp(width, height)))
    return out


def encode(image, fmt, **options):
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def rle8_bmp(width, height):
    """An 8-bit RLE-compressed BMP of one colour: tiny file, every pixel decoded by Pillow."""
    import struct

    row = b""
    left = width
    while left:
        run = min(left, 255)
        row += bytes([run, 1])
        left -= run
    rows = (row + b"\x00\x00") * height + b"\x00\x01"
    palette = b"".join(bytes([i, i, i, 0]) for i in range(256))
    header_size = 14 + 40 + len(palette)
    info = struct.pack("<IiiHHIIiiII", 40, width, height, 1, 8, 1, len(rows), 2835, 2835, 256, 0)
    return b"BM" + struct.pack("<IHHI", header_size + len(rows), 0, 0, header_size) + info + palette + rows


def cpu_seconds(function, repeats):
    best = float("inf")
    for _ in range(repeats):
        started = time.process_time()
        function()
        best = min(best, time.process_time() - started)
    return best


def full_decode(data):
    with Image.open(io.BytesIO(data)) as image:
        image.load()
        image.convert("RGB")


def draft_decode(data):
    with Image.open(io.BytesIO(data)) as image:
        image.draft("RGB", (READ_SIDE, READ_SIDE))
        image.load()


def worst_accepted():
    """(name, bytes) of the slowest picture of each format that the app still reads."""
    from demo.widgets import MAX_MEGAPIXELS
    from mobilenet.inference import DECODE_MEGAPIXELS

    def picture(fmt, kind, make, **options):
        megapixels = DECODE_MEGAPIXELS.get(fmt, MAX_MEGAPIXELS)
        side = int((megapixels * 1e6) ** 0.5)
        return f"{kind}_{megapixels}mp.{fmt.lower()}", encode(make(side), fmt, **options)

    return [picture("JPEG", "photo", lambda side: smooth(side, side), quality=90),
            picture("PNG", "rgba", lambda side: smooth(side, side).convert("RGBA")),
            picture("WEBP", "photo", lambda side: smooth(side, side), quality=80),
            picture("GIF", "photo", lambda side: smooth(side, side).convert(
                "P", palette=Image.Palette.ADAPTIVE)),
            picture("BMP", "flat", lambda side: Image.new("RGB", (side, side), "teal"))]


def end_to_end(checkpoint_dir, repeats):
    """CPU seconds of the app's Classify and Grad-CAM callbacks on the worst accepted pictures."""
    from gradio.utils import get_upload_folder

    from classroom.catalog import CheckpointCatalog
    from demo.tabs import Context
    from demo.tabs.classify import ClassifyTab
    from demo.tabs.look_inside import PREDICTED, LookInsideTab

    catalog = CheckpointCatalog(checkpoint_dir, os.path.join(checkpoint_dir, "runs"))
    key = catalog.entries()[0].key
    context = Context(catalog, runs=None, teacher_key=None)
    classify, explain = ClassifyTab(context), LookInsideTab(context)
    folder = tempfile.mkdtemp(dir=get_upload_folder() if os.path.isdir(get_upload_folder()) else None)
    print(f"\nThe app's callbacks end to end, checkpoint {key} (CPU s, best of {repeats}):")
    print(f"{'picture':16} {'file MB':>8} {'Classify s':>11} {'Grad-CAM s':>11}")
    for name, data in worst_accepted():
        path = os.path.join(folder, name)
        with open(path, "wb") as f:
            f.write(data)
        payload = {"path": path, "orig_name": name}
        classify.classify(payload, key)  # the model loads and warms up outside the timing
        explain.grad_cam(payload, key, PREDICTED)
        seconds = [cpu_seconds(lambda: classify.classify(payload, key), repeats),
                   cpu_seconds(lambda: explain.grad_cam(payload, key, PREDICTED), repeats)]
        print(f"{name:16} {len(data) / 1e6:8.2f} {seconds[0]:11.3f} {seconds[1]:11.3f}")
        os.remove(path)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--formats", nargs="+", default=["JPEG", "PNG", "WEBP", "GIF", "BMP"])
    parser.add_argument("--sizes", nargs="+", type=float, default=[2, 6, 16],
                        help="megapixels (square pictures)")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--budget", type=float, default=0.5, help="CPU seconds one upload may cost")
    parser.add_argument("--checkpoints", help="also time Classify and Grad-CAM with the first "
                        "checkpoint of this folder (e.g. checkpoints)")
    args = parser.parse_args(argv)

    print(f"CPU: {cpu_description()}; {os.cpu_count()} logical cores; Pillow {Image.__version__}")
    print(f"{'format':6} {'kind':10} {'MP':>5} {'file MB':>8} {'decode s':>9} {'s/MP':>7} "
          f"{'draft s':>8} {'read_image s':>12}")
    worst = {}
    with tempfile.TemporaryDirectory() as folder:
        for fmt in args.formats:
            for megapixels in args.sizes:
                side = int((megapixels * 1e6) ** 0.5)
                for kind, data in variants(fmt, side, side):
                    mp = side * side / 1e6
                    decode = cpu_seconds(lambda: full_decode(data), args.repeats)
                    draft = cpu_seconds(lambda: draft_decode(data), args.repeats) if fmt == "JPEG" else None
                    path = os.path.join(folder, f"{kind}.{fmt.lower()}")
                    with open(path, "wb") as f:
                        f.write(data)
                    try:
                        whole = cpu_seconds(lambda: read_image(path, max_pixels=10**9,
                                                               decode_limits={}), args.repeats)
                    except ValueError as error:
                        whole = f"({error.__class__.__name__})"
                    per_mp = (draft if draft is not None else decode) / mp
                    if not isinstance(whole, str):
                        per_mp = max(per_mp, whole / mp)
                    worst[fmt] = max(worst.get(fmt, 0), per_mp)
                    print(f"{fmt:6} {kind:10} {mp:5.1f} {len(data) / 1e6:8.2f} {decode:9.3f} "
                          f"{decode / mp:7.3f} {'' if draft is None else f'{draft:8.3f}':>8} "
                          f"{whole if isinstance(whole, str) else f'{whole:12.3f}':>12}")
    print(f"\nWorst CPU seconds per megapixel as read_image reads (JPEG with draft), and the "
          f"megapixels that fit in {args.budget} s:")
    for fmt, per_mp in worst.items():
        print(f"  {fmt:6} {per_mp:.4f} s/MP -> {args.budget / per_mp:.0f} MP")
    if args.checkpoints:
        end_to_end(args.checkpoints, args.repeats)


if __name__ == "__main__":
    main()
