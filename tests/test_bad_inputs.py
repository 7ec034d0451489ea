"""Bad input, kind by kind, through the running app: each gets a clear message or the right answer.

``TABLE`` is the table of docs/RELIABILITY.md: the kind of input, and exactly what the
student (or the teacher) sees. Pictures go through ``/classify`` as an upload would;
checkpoints are dropped into the app's runs folder as a crash or a copy would leave them;
training settings go through ``/start_training``. No row may end in a traceback.
"""

import io
import json
import os
import re
import struct
import zlib
from dataclasses import dataclass

import numpy as np
import pytest
from gradio.utils import get_upload_folder
from gradio_client import handle_file
from gradio_client.exceptions import AppError
from PIL import Image

import mobilenet.checkpoints
import mobilenet.inference
from app_server import SHIPPED_NAME, copy_checkpoint, recording_server, running_app
from mobilenet.data import file_sha256
from loopback_client import api_client

pytestmark = pytest.mark.slow  # the tiers: docs/TESTS.md

SHIPPED = f"shipped/{SHIPPED_NAME}"
NOT_A_PICTURE = "{} is not a picture this app can read (or it is damaged). Use a JPEG, PNG, WebP, GIF or BMP file."
TOO_LARGE = ("{} is larger than 40 megapixels. Make it smaller first: the network only looks at "
             "32×32 pixels anyway.")
TOO_SLOW = ("{} is a {} picture of more than {} megapixels, too many to read quickly. Make it "
            "smaller or save it as JPEG: the network only looks at 32×32 pixels anyway.")
TINY_RUN = {"name": "Ann", "variant": "paper", "alpha": 0.25, "depth": "shallow", "train_images": 200,
            "epochs": 1, "batch_size": 32, "learning_rate": 0.01, "augmentation": False}


@dataclass
class Row:
    kind: str
    outcome: str  # what the user gets, as the README's table says it
    message: str | None = None  # the exact message shown (None: an answer, checked by `answer`)
    answer: str | None = None  # for answers: the "W×H pixels in" the timing line must show
    setting: str | None = None  # for training rows: "name=value" sent to /start_training


# -- the files --------------------------------------------------------------------------------------

def png_chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_header_only(width, height):
    """A valid PNG that declares width×height but holds (almost) no pixel data."""
    return (b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
            + png_chunk(b"IDAT", zlib.compress(b"")) + png_chunk(b"IEND", b""))


def jpeg_bytes(image, **options):
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", **options)
    return buffer.getvalue()


def exif_rotated():
    """60 wide × 30 high as stored, EXIF orientation 6: a 30×60 portrait once rotated."""
    image = Image.new("RGB", (60, 30), "white")
    exif = image.getexif()
    exif[0x0112] = 6
    return jpeg_bytes(image, exif=exif)


def animated_gif():
    frames = [Image.new("RGB", (20, 20), colour) for colour in ("red", "blue", "green")]
    buffer = io.BytesIO()
    frames[0].save(buffer, "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    return buffer.getvalue()


def encoded(image, fmt, **options):
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def multipage_tiff():
    pages = [Image.new("RGB", (20, 20), colour) for colour in ("red", "blue")]
    buffer = io.BytesIO()
    pages[0].save(buffer, "TIFF", save_all=True, append_images=pages[1:])
    return buffer.getvalue()


def palette_png():
    image = Image.new("P", (40, 30))
    image.putpalette([i % 256 for i in range(768)])
    image.putdata([i % 7 for i in range(40 * 30)])
    return encoded(image, "PNG", transparency=0)


def rgba_png():
    pixels = np.random.default_rng(0).integers(0, 256, (40, 40, 4), dtype=np.uint8)
    pixels[:20, :, 3] = 0  # half the picture fully transparent
    return encoded(Image.fromarray(pixels), "PNG")


def svg(fetch_url):
    """An SVG that would fetch a URL and run a script if anything rendered it."""
    return (f'<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" '
            f'width="64" height="64"><image href="{fetch_url}" xlink:href="{fetch_url}" '
            f'width="64" height="64"/><script>fetch("{fetch_url}")</script></svg>').encode()


PICTURES = {  # file name -> bytes (or a function of the fetch trap's URL)
    "empty.png": b"",
    "notes.png": b"this is a text file with a picture's name\n",
    "truncated.jpg": jpeg_bytes(Image.new("RGB", (200, 100), "green"))[:400],
    "one_pixel.png": encoded(Image.new("RGB", (1, 1), (255, 0, 0)), "PNG"),
    "huge.png": png_header_only(10_000, 10_000),
    "bomb.png": png_header_only(30_000, 30_000),
    "slow.png": png_header_only(6300, 6300),
    "big_photo.jpg": jpeg_bytes(Image.new("RGB", (7000, 5000), "orange"), quality=85),
    "gray.png": encoded(Image.new("L", (70, 50), 128), "PNG"),
    "transparent.png": rgba_png(),
    "sixteen_bit.png": encoded(Image.fromarray(np.full((40, 50), 40_000, np.uint16)), "PNG"),
    "palette.png": palette_png(),
    "cmyk.jpg": jpeg_bytes(Image.new("CMYK", (40, 30), (0, 255, 255, 0))),
    "animated.gif": animated_gif(),
    "photo.webp": encoded(Image.new("RGB", (48, 36), "orange"), "WEBP"),
    "photo.bmp": encoded(Image.new("RGB", (33, 31), "purple"), "BMP"),
    "drawing.svg": svg,
    "rotated.jpg": exif_rotated(),
    "model.keras": b"PK\x03\x04 a Keras model a student found somewhere",
    "too_big.png": b"\x89PNG" + bytes(21_000_000),
    "scan.tiff": encoded(Image.new("RGB", (40, 30), "teal"), "TIFF"),
    "pages.tiff": multipage_tiff(),
    "float.tiff": encoded(Image.fromarray(np.full((30, 40), 0.5, np.float32)), "TIFF"),
    "favicon.ico": encoded(Image.new("RGB", (32, 32), "navy"), "ICO"),
}

PICTURE_ROWS = {
    None: Row("no image (Classify pressed with nothing)", "message",
              "No picture yet: upload one, take a webcam photo, paste one or click an example."),
    "empty.png": Row("empty file (0 bytes)", "message", NOT_A_PICTURE.format("empty.png")),
    "notes.png": Row("text file renamed .png", "message", NOT_A_PICTURE.format("notes.png")),
    "truncated.jpg": Row("truncated JPEG", "message", NOT_A_PICTURE.format("truncated.jpg")),
    "one_pixel.png": Row("1×1 image", "answer (upscaled to 32×32)", answer="1×1"),
    "huge.png": Row("10000×10000 image (100 megapixels)", "message", TOO_LARGE.format("huge.png")),
    "bomb.png": Row("decompression bomb (30000×30000 declared, 100 bytes)", "message",
                    TOO_LARGE.format("bomb.png")),
    "slow.png": Row("6300×6300 PNG (39.7 megapixels: under 40, over PNG's 10)", "message; never decoded",
                    TOO_SLOW.format("slow.png", "PNG", 10)),
    "big_photo.jpg": Row("7000×5000 JPEG (35 megapixels)", "answer (decoded at 1/4 scale, then halved)",
                         answer="875×625"),
    "gray.png": Row("grayscale PNG", "answer (gray copied to R, G, B)", answer="70×50"),
    "transparent.png": Row("RGBA with transparency", "answer (composited on white)", answer="40×40"),
    "sixteen_bit.png": Row("16-bit PNG", "answer (scaled to 8 bits)", answer="50×40"),
    "palette.png": Row("palette PNG with a transparent colour", "answer", answer="40×30"),
    "cmyk.jpg": Row("CMYK JPEG", "answer (converted to RGB)", answer="40×30"),
    "animated.gif": Row("animated GIF", "answer (first frame)", answer="20×20"),
    "photo.webp": Row("WebP", "answer", answer="48×36"),
    "photo.bmp": Row("BMP", "answer", answer="33×31"),
    "drawing.svg": Row("SVG with a remote image and a script", "message; nothing fetched or run",
                       NOT_A_PICTURE.format("drawing.svg")),
    "rotated.jpg": Row("EXIF-rotated photo (orientation 6)", "answer, upright (60×30 stored → 30×60)",
                       answer="30×60"),
    "model.keras": Row("a model file (.keras) uploaded as a picture", "message; never loaded",
                       NOT_A_PICTURE.format("model.keras")),
    "too_big.png": Row("upload over the size limit (21 MB > max_file_size 20 MB)",
                       "refused by the server before it is stored", "maximum file size"),
    "scan.tiff": Row("TIFF (a format the app does not name)", "message; never decoded",
                     NOT_A_PICTURE.format("scan.tiff")),
    "pages.tiff": Row("multi-page TIFF", "message; never decoded", NOT_A_PICTURE.format("pages.tiff")),
    "float.tiff": Row("32-bit float TIFF", "message; never decoded", NOT_A_PICTURE.format("float.tiff")),
    "favicon.ico": Row("ICO icon", "message; never decoded", NOT_A_PICTURE.format("favicon.ico")),
}

REQUEST_ROWS = {
    "outside": Row("a request naming a server file instead of an upload (/etc/passwd)", "message",
                   "Only pictures uploaded to this page can be classified."),
    "expired": Row("an upload deleted since (uploads are kept an hour)", "message",
                   "photo.png is no longer on the server (uploads are kept for an hour): upload it again."),
    "unknown": Row("checkpoint key not in the list (e.g. ../../../etc/passwd)", "message",
                   "That checkpoint is not available any more: pick another one."),
}

CHECKPOINT_ROWS = {
    "truncated": Row("checkpoint whose .keras is truncated", "message",
                     "That checkpoint cannot be loaded (checkpoint weights 'truncated.keras' are "
                     "truncated or were modified (SHA-256 differs from its .json)): pick another one."),
    "not_a_model": Row("checkpoint whose .keras is not a model (hash matches its .json)", "message",
                       "That checkpoint cannot be loaded (cannot load weights from 'not_a_model.keras'"),
    "orphan": Row("a .keras without its .json (half-saved, or copied in)", "not listed; its key gets",
                  "That checkpoint is not available any more: pick another one."),
    "foreign_json": Row("checkpoint whose .json is not ours", "not listed; its key gets",
                        "That checkpoint is not available any more: pick another one."),
}

TRAIN_ROWS = {
    "epochs": Row("0 epochs", "message", "Value 0 is less than minimum value 1.", setting="epochs=0"),
    "batch": Row("batch size 0", "message", "Batch size: 0 is not one of the choices (16, 32, 64, 128, 256).",
                 setting="batch_size=0"),
    "negative_lr": Row("negative learning rate", "message", "Value -0.1 is less than minimum value 1e-05.",
                       setting="learning_rate=-0.1"),
    "huge_lr": Row("learning rate above 1", "message", "Value 50 is greater than maximum value 1.0.",
                   setting="learning_rate=50"),
    "empty_lr": Row("learning rate box emptied", "message", "Fill in the learning rate, e.g. 0.002.",
                    setting="learning_rate=None"),
    "subset": Row("more training images than the data holds", "starts, training on all of them",
                  setting="train_images=50000"),
}

DATA_ROWS = {
    "corrupt": Row("CIFAR-10 archive corrupt", "message on Start (other tabs work)",
                   "is not a readable CIFAR-10 archive"),
    "missing": Row("CIFAR-10 archive missing", "message on Start (other tabs work)",
                   "does not exist. To provide CIFAR-10 without a network"),
}

TABLE = [*PICTURE_ROWS.values(), *REQUEST_ROWS.values(), *CHECKPOINT_ROWS.values(),
         *TRAIN_ROWS.values(), *DATA_ROWS.values()]


def test_the_table_has_at_least_twenty_kinds():
    assert len(TABLE) >= 20 and len({row.kind for row in TABLE}) == len(TABLE)


# -- the app ------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def trap():
    """An SVG pointing at this server must never make the app fetch from it."""
    with recording_server() as server:
        yield server


@pytest.fixture(scope="module")
def pictures(tmp_path_factory, trap):
    folder = tmp_path_factory.mktemp("pictures")
    for name, payload in PICTURES.items():
        data = payload(f"http://127.0.0.1:{trap.server_port}/svg-fetch.png") if callable(payload) else payload
        (folder / name).write_bytes(data)
    return folder


@pytest.fixture(scope="module")
def loads(tiny_checkpoint):
    """Every checkpoint path the server process loads while this module runs."""
    seen, real = [], mobilenet.checkpoints.load_checkpoint

    def spy(path):
        seen.append(os.path.abspath(path))
        return real(path)

    patch = pytest.MonkeyPatch()
    patch.setattr(mobilenet.checkpoints, "load_checkpoint", spy)
    patch.setattr(mobilenet.inference, "load_checkpoint", spy)
    yield seen
    patch.undo()


@pytest.fixture(scope="module")
def app(tiny_cifar, tiny_checkpoint, tmp_path_factory, loads):
    root = str(tmp_path_factory.mktemp("bad-inputs-app"))
    with running_app(root, tiny_cifar[1], tiny_checkpoint) as launched:
        yield launched


@pytest.fixture(scope="module")
def client(app):
    return api_client(app[0])


def classify(client, path, key=SHIPPED):
    return client.predict(handle_file(str(path)) if path else None, key, api_name="/classify")


# -- pictures -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", list(PICTURE_ROWS), ids=lambda name: name or "nothing")
def test_picture(name, client, pictures, trap, loads):
    row = PICTURE_ROWS[name]
    path = pictures / name if name else None
    if row.answer:
        top5, everything, seen, timing = classify(client, path)
        assert len(top5["confidences"]) == 5
        assert sum(p for _, p in everything["data"]) == pytest.approx(1, abs=1e-4)
        assert np.asarray(Image.open(seen)).shape[:2] == (160, 160)
        assert f"({row.answer} pixels in, 32×32 seen)" in timing
        return
    error = ValueError if name == "too_big.png" else AppError  # the upload itself is refused
    with pytest.raises(error, match=re.escape(row.message)):
        classify(client, path)
    if name == "drawing.svg":
        assert trap.hits == []
    if name == "model.keras":
        assert not [p for p in loads if p.startswith(get_upload_folder()) or p.endswith("model.keras")]


def test_an_exif_rotated_photo_is_seen_upright(client, pictures):
    top, bottom = (255, 0, 0), (0, 0, 255)
    image = np.zeros((30, 60, 3), np.uint8)  # stored 60 wide: left half red, right half blue
    image[:, :30], image[:, 30:] = top, bottom
    stored = Image.fromarray(image)
    exif = stored.getexif()
    exif[0x0112] = 6  # "rotate 90° clockwise to display": the left half ends up on top
    path = pictures / "rotated_colours.jpg"
    path.write_bytes(jpeg_bytes(stored, exif=exif, quality=95))
    seen = np.asarray(Image.open(classify(client, path)[2]).convert("RGB")).astype(int)
    assert np.abs(seen[10, 80] - top).max() < 40 and np.abs(seen[150, 80] - bottom).max() < 40


@pytest.mark.parametrize("case", list(REQUEST_ROWS))
def test_request(case, client, pictures):
    row = REQUEST_ROWS[case]
    if case == "outside":  # a hand-made request: a file record naming a path on the server
        for path in ("/etc/passwd", os.path.join(get_upload_folder(), "..", "..", "etc", "passwd")):
            with pytest.raises(AppError, match=re.escape(row.message)):
                client.predict({"path": path, "orig_name": "photo.png"}, SHIPPED, api_name="/classify")
    elif case == "expired":
        upload = os.path.join(get_upload_folder(), "0" * 64, "photo.png")  # in the folder, gone
        with pytest.raises(AppError, match=re.escape(row.message)):
            client.predict({"path": upload, "orig_name": "photo.png"}, SHIPPED, api_name="/classify")
    else:
        with pytest.raises(AppError, match=re.escape(row.message)):
            classify(client, pictures / "gray.png", key="../../../etc/passwd")


# -- checkpoints on disk -------------------------------------------------------------------------------

def place_checkpoint(case, tiny_checkpoint, runs_dir):
    """Leaves in the runs folder what a crash, a bad copy or a stranger would."""
    path = copy_checkpoint(tiny_checkpoint, runs_dir, f"{case}.keras")
    json_path = path[: -len(".keras")] + ".json"
    if case == "truncated":
        payload = open(path, "rb").read()
        open(path, "wb").write(payload[: len(payload) // 3])
    elif case == "not_a_model":
        with open(path, "wb") as f:
            f.write(b"PK\x05\x06" + bytes(18))  # an empty zip: a .keras with no weights in it
        record = json.load(open(json_path))
        record["weights_sha256"] = file_sha256(path)
        json.dump(record, open(json_path, "w"))
    elif case == "orphan":
        os.remove(json_path)
    elif case == "foreign_json":
        json.dump({"some": "other program's file"}, open(json_path, "w"))
    return f"run/{case}.keras"


@pytest.mark.parametrize("case", list(CHECKPOINT_ROWS))
def test_checkpoint_on_disk(case, app, client, pictures, tiny_checkpoint):
    row = CHECKPOINT_ROWS[case]
    key = place_checkpoint(case, tiny_checkpoint, app[2])
    with pytest.raises(AppError, match=re.escape(row.message)) as error:
        classify(client, pictures / "gray.png", key=key)
    assert app[1] not in str(error.value) and app[2] not in str(error.value)  # no server folders
    assert len(classify(client, pictures / "gray.png")[0]["confidences"]) == 5  # others still work


# -- training settings ----------------------------------------------------------------------------------

def watch(client):
    job = client.submit(api_name="/watch_training")
    job.result(timeout=300)
    return job.outputs()[-1]["run"]


@pytest.mark.parametrize("case", list(TRAIN_ROWS))
def test_training_setting(case, client):
    row = TRAIN_ROWS[case]
    setting, value = row.setting.split("=")
    settings = {**TINY_RUN, setting: None if value == "None" else float(value) if "." in value else int(value)}
    if row.message:
        with pytest.raises(AppError, match=re.escape(row.message)):
            client.predict(**settings, api_name="/start_training")
        return
    assert client.predict(**settings, api_name="/start_training").startswith("Started")
    run = watch(client)
    # The tiny data has 300 training images; a tenth (30) is held out for validation.
    assert run["state"] == "finished" and run["train_images"] == 270
    assert run["config"]["train_size"] is None


def check_data_row(url, row):
    client = api_client(url)
    with pytest.raises(AppError, match=re.escape(row.message)):
        client.predict(**TINY_RUN, api_name="/start_training")
    assert "No CIFAR-10 here" in client.predict(None, "en", api_name="/refresh")[0]
    assert len(classify(client, os.path.join(os.path.dirname(__file__), "..", "demo", "examples",
                                             "photo_coffee.jpg"))[0]["confidences"]) == 5


def test_dataset_missing(app_without_cifar10):
    check_data_row(app_without_cifar10[0], DATA_ROWS["missing"])


def test_dataset_corrupt(tmp_path, tiny_cifar, tiny_checkpoint):
    source = tmp_path / "cifar-10-python.tar.gz"
    payload = open(tiny_cifar[1], "rb").read()
    source.write_bytes(payload[: len(payload) // 2])
    with running_app(str(tmp_path), str(source), tiny_checkpoint) as (url, _, _):
        check_data_row(url, DATA_ROWS["corrupt"])
