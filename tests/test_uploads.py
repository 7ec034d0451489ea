"""Uploads bounded per client and in total, decoding bounded in time: through the running app.

The app runs with its own upload folder (``GRADIO_TEMP_DIR``: the budget deletes files, and
the machine's shared Gradio folder holds other apps' files), a 1 MB budget, 4 uploads and
3 MB per minute per client, and ``X-Forwarded-For`` trusted as behind Spaces' proxy, so that
each test can be a different computer. Uploads go to ``POST /gradio_api/upload`` as a
browser sends them; pictures are classified with ``gradio_client`` (from this machine: not
rate limited, see ``classroom.clients.is_local``).
"""

import os
import re
import time

import numpy as np
import pytest
from gradio_client import handle_file
from gradio_client.exceptions import AppError
from PIL import Image, JpegImagePlugin

from app_server import SHIPPED_NAME, running_app
from classroom.clients import client_address
from classroom.settings import Settings
from classroom.upload_guard import TOO_MANY
from demo.i18n import t
from mobilenet.inference import read_image
from loopback_client import api_client
import loopback_client as loopback

pytestmark = pytest.mark.slow  # the tiers: docs/TESTS.md

BUDGET_MB, UPLOADS_PER_MINUTE, MB_PER_MINUTE = 1, 4, 3
SHIPPED = f"shipped/{SHIPPED_NAME}"
TOO_SLOW = ("{} is a PNG picture of more than 10 megapixels, too many to read quickly. Make it "
            "smaller or save it as JPEG: the network only looks at 32×32 pixels anyway.")


@pytest.fixture(scope="module")
def app(tiny_cifar, tiny_checkpoint, tmp_path_factory):
    """(url, upload folder) of the app with small upload limits."""
    folder = str(tmp_path_factory.mktemp("gradio-uploads"))
    settings = Settings(upload_budget_mb=BUDGET_MB, uploads_per_minute=UPLOADS_PER_MINUTE,
                        upload_mb_per_minute=MB_PER_MINUTE, trusted_proxy=True)
    patch = pytest.MonkeyPatch()
    patch.setenv("GRADIO_TEMP_DIR", folder)  # Gradio's own variable: it reads it itself
    try:
        with running_app(str(tmp_path_factory.mktemp("uploads-app")), tiny_cifar[1],
                         tiny_checkpoint, settings=settings) as launched:
            yield launched[0], folder
    finally:
        patch.undo()


def upload(url, name, data, address):
    """Uploads one file as a browser behind Spaces' proxy would; returns the answer."""
    return loopback.post(url + "gradio_api/upload", files={"files": (name, data)},
                      headers={"X-Forwarded-For": address}, timeout=120)


def files_in(folder):
    return {os.path.join(root, name) for root, _, names in os.walk(folder) for name in names}


def folder_bytes(folder):
    return sum(os.path.getsize(path) for path in files_in(folder))


# -- the folder's budget ------------------------------------------------------------------------

def test_the_oldest_uploads_go_first_when_the_folder_is_over_its_budget(app):
    url, folder = app
    examples = files_in(folder)  # cached when the app was built: kept, whatever their age
    assert examples and folder_bytes(folder) < 200_000
    size = 400_000
    stored = []
    for index, name in enumerate(["a.bin", "b.bin", "c.bin"]):
        answer = upload(url, name, bytes([index]) * size, "192.0.2.10")
        assert answer.status_code == 200, answer.text
        stored.append(answer.json()[0])
    now = time.time()
    for age, path in zip((300, 200, 100), stored):  # a is the oldest
        os.utime(path, (now - age, now - age))
    for path in examples:
        os.utime(path, (now - 7200, now - 7200))  # older than any upload
    newest = upload(url, "d.bin", b"d" * size, "192.0.2.10").json()[0]
    a, b, c = stored
    assert not os.path.exists(a) and not os.path.exists(b)  # 1.6 MB + examples: two must go
    assert os.path.exists(c) and os.path.exists(newest)
    assert examples <= files_in(folder)
    assert folder_bytes(folder) <= BUDGET_MB * 1_000_000
    # An upload larger than the whole budget stays (never the one just uploaded); the rest goes.
    now = time.time()
    for path in (c, newest):
        os.utime(path, (now - 60, now - 60))
    huge = upload(url, "e.bin", b"e" * 1_200_000, "192.0.2.11").json()[0]
    assert os.path.exists(huge) and not os.path.exists(c) and not os.path.exists(newest)
    assert examples <= files_in(folder)


# -- the rate per client -------------------------------------------------------------------------

def test_a_client_over_its_upload_rate_gets_429_before_anything_is_stored(app):
    url, folder = app
    for i in range(UPLOADS_PER_MINUTE):
        assert upload(url, f"ok{i}.png", b"x" * 1000, "198.51.100.7").status_code == 200
    before = files_in(folder)
    refused = upload(url, "one_too_many.png", b"x" * 1000, "198.51.100.7")
    assert refused.status_code == 429 and refused.text == TOO_MANY
    assert int(refused.headers["Retry-After"]) >= 1
    assert refused.headers["X-Content-Type-Options"] == "nosniff"  # the headers still apply
    assert files_in(folder) == before
    # Entries the client put before the proxy's own do not make it someone else.
    forged = loopback.post(url + "gradio_api/upload", files={"files": ("f.png", b"x")},
                        headers={"X-Forwarded-For": "203.0.113.99, 198.51.100.7"}, timeout=60)
    assert forged.status_code == 429
    # In the page's language (its ?lang=, else the browser's preference).
    chinese = loopback.post(url + "gradio_api/upload", files={"files": ("z.png", b"x")}, timeout=60,
                         headers={"X-Forwarded-For": "198.51.100.7", "Referer": url + "?lang=zh"})
    assert chinese.status_code == 429 and chinese.text == t("page.picture.too_many", "zh") != TOO_MANY
    # Other computers are not affected, nor this machine itself.
    assert upload(url, "other.png", b"x" * 1000, "198.51.100.8").status_code == 200
    assert loopback.post(url + "gradio_api/upload", files={"files": ("local.png", b"x")},
                      timeout=60).status_code == 200


def test_a_client_over_its_megabytes_per_minute_gets_429(app):
    url, _ = app
    address = "198.51.100.20"
    assert upload(url, "big.bin", b"b" * 2_500_000, address).status_code == 200
    refused = upload(url, "more.bin", b"m" * 1_000_000, address)
    assert refused.status_code == 429 and refused.text == TOO_MANY
    assert upload(url, "small.bin", b"s" * 100_000, address).status_code == 200  # still room
    # More than a whole minute's allowance in one request never goes through.
    assert upload(url, "all.bin", b"a" * 3_500_000, "198.51.100.21").status_code == 429


def test_a_body_without_a_length_is_cut_off_at_the_limit(app):
    """A chunked body (no Content-Length) is counted as it arrives; past the allowance it is
    refused with 429 and the part already written is deleted."""
    url, folder = app
    boundary = "guardtest"
    before = files_in(folder)

    def body():
        yield (f"--{boundary}\r\nContent-Disposition: form-data; name=\"files\"; "
               f"filename=\"chunked.bin\"\r\nContent-Type: application/octet-stream\r\n\r\n").encode()
        for _ in range(40):  # 4 MB in 100 kB chunks: over the 3 MB per minute
            yield b"c" * 100_000
        yield f"\r\n--{boundary}--\r\n".encode()

    answer = loopback.post(url + "gradio_api/upload", content=body(), timeout=120,
                        headers={"Content-Type": f"multipart/form-data; boundary={boundary}",
                                 "X-Forwarded-For": "198.51.100.30"})
    assert answer.status_code == 429 and answer.text == TOO_MANY
    assert files_in(folder) - before == set()  # neither the file nor Gradio's temporary part


def test_the_client_is_the_proxys_last_entry_only_behind_a_trusted_proxy():
    scope = {"type": "http", "client": ("10.0.0.5", 4711),
             "headers": [(b"x-forwarded-for", b"1.2.3.4, 203.0.113.9")]}
    assert client_address(scope) == "10.0.0.5"  # anyone can send the header
    on_a_space = Settings.from_environ({"SPACE_ID": "someone/mobilenet-lab"})
    assert client_address(scope, on_a_space.trusted_proxy) == "203.0.113.9"


# -- decoding bounded in time ------------------------------------------------------------------

@pytest.fixture(scope="module")
def client(app):
    return api_client(app[0])


def test_a_png_that_would_take_too_long_to_decode_is_refused(client, tmp_path):
    path = tmp_path / "slow.png"
    Image.new("RGB", (6300, 6300), "white").save(path)  # 0.1 MB, 39.7 megapixels
    assert path.stat().st_size < 1_000_000
    with pytest.raises(AppError, match=re.escape(TOO_SLOW.format("slow.png"))):
        client.predict(handle_file(str(path)), SHIPPED, api_name="/classify")


def test_a_large_jpeg_is_decoded_at_reduced_size_and_classified(client, tmp_path, monkeypatch):
    rng = np.random.default_rng(0)
    small = rng.integers(0, 256, (50, 70, 3), dtype=np.uint8)
    photo = Image.fromarray(small).resize((7000, 5000), Image.Resampling.BILINEAR)  # 35 MP
    path = tmp_path / "big_photo.jpg"
    photo.save(path, quality=85)
    top5, _, _, timing = client.predict(handle_file(str(path)), SHIPPED, api_name="/classify")  # read in a worker
    assert len(top5["confidences"]) == 5
    assert "(875×625 pixels in, 32×32 seen)" in timing  # 1/4 scale, then halved
    drafts, real = [], JpegImagePlugin.JpegImageFile.draft

    def spy(self, mode, size):
        drafts.append(size)
        return real(self, mode, size)

    monkeypatch.setattr(JpegImagePlugin.JpegImageFile, "draft", spy)
    started = time.process_time()
    assert read_image(path).shape == (625, 875, 3)
    assert drafts == [(1024, 1024)]
    assert time.process_time() - started < 2.0  # about 0.1 s here; generous for a busy machine


# -- what a student sees ---------------------------------------------------------------------------

def test_a_student_over_the_rate_sees_the_message_in_the_page(app, tmp_path):
    """The browser shows Gradio's error toast with the server's text."""
    support = pytest.importorskip("browser_support")  # Playwright: skipped where it is missing
    if not os.path.exists(support.CHROMIUM) and not os.environ.get("CI"):
        pytest.skip(f"needs Chromium at {support.CHROMIUM}")
    browser_page, screenshot, sync_api = support.browser_page, support.screenshot, support.sync_api
    url, _ = app
    with browser_page(url) as page:
        page.set_extra_http_headers({"X-Forwarded-For": "198.51.100.40"})  # as Spaces' proxy would
        page.get_by_role("tab", name="3 · Classify").click()
        for i in range(UPLOADS_PER_MINUTE + 1):
            picture = tmp_path / f"photo_{i}.jpg"  # a new file each time: every one is uploaded
            Image.new("RGB", (40 + i, 30), "white").save(picture)
            page.locator("#picture input[type=file]").set_input_files(str(picture))
            if i < UPLOADS_PER_MINUTE:
                sync_api.expect(page.locator("#timing")).to_contain_text(f"{40 + i}×30 pixels in")
        sync_api.expect(page.get_by_text(TOO_MANY)).to_be_visible()
        screenshot(page, "uploads-rate-limited")
