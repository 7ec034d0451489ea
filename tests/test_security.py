"""Security: only the files the app means to serve are reachable, and no file runs code.

Against the running app: path traversal on the file routes in every spelling (``../``,
absolute, ``%2e%2e``, double-encoded, backslashes), the server fetching URLs for a client
(SSRF), and a model file that would run code when loaded the usual Keras way.
"""

import http.client
import json
import os
import re
import urllib.parse

import numpy as np
import pytest
from gradio.utils import get_upload_folder
from gradio_client import handle_file
from gradio_client.exceptions import AppError

import mobilenet.checkpoints
import mobilenet.inference
from app_server import SHIPPED_NAME, copy_checkpoint, recording_server
from mobilenet.checkpoints import CheckpointError, load_checkpoint
from mobilenet.data import file_sha256
from loopback_client import api_client
import loopback_client as loopback

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PHOTO = os.path.join(ROOT, "demo", "examples", "photo_coffee.jpg")


def test_gradio_is_pinned_past_the_file_serving_and_ssrf_advisories():
    import gradio

    pinned = re.search(r"^gradio==(\d+)\.(\d+)\.(\d+)$", open(os.path.join(ROOT, "requirements.txt")).read(), re.M)
    assert pinned and tuple(map(int, pinned.groups())) >= (6, 20, 0)
    assert tuple(map(int, gradio.__version__.split(".")[:2])) >= (6, 20)


@pytest.fixture(scope="module")
def internal():
    with recording_server() as server:
        yield server


@pytest.fixture(scope="module")
def app(shared_app):
    return shared_app


def get(url, raw_path):
    """GET ``raw_path`` exactly as written (no client-side normalisation of ../ or %2e)."""
    parts = urllib.parse.urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    try:
        connection.request("GET", raw_path)
        response = connection.getresponse()
        return response.status, response.read(), dict(response.getheaders())
    finally:
        connection.close()


def spellings(target, upload_folder):
    """Ways to name the absolute path ``target`` from the file route."""
    up = "../" * 12 + target.lstrip("/")
    return {
        "absolute": target,
        "dot-dot": up,
        "from the upload folder": f"{upload_folder}/../../../../../../{target.lstrip('/')}",
        "%2e%2e": up.replace("..", "%2e%2e"),
        "%2e%2e%2f": up.replace("../", "%2e%2e%2f"),
        "double-encoded": up.replace("../", "%252e%252e%252f"),
        "backslashes": up.replace("/", "\\"),
        "%5c": up.replace("/", "%5c"),
        "dot-dot-slash-slash": up.replace("../", "..//"),
        "file: URL": "file://" + target,
    }


def targets(app):
    """What must never come back, with a string that would show it did."""
    checkpoint_dir = app[1]
    return {
        "/etc/passwd": "root:",
        os.path.join(ROOT, "app.py"): "build_demo",
        os.path.join(ROOT, "demo", "ui.py"): "def build_demo",
        os.path.join(ROOT, "requirements.txt"): "tensorflow==",
        os.path.join(checkpoint_dir, SHIPPED_NAME.replace(".keras", ".json")): "mobilenet-lab-checkpoint",
        os.path.join(checkpoint_dir, SHIPPED_NAME): "model.weights",  # the zip's member name
        checkpoint_dir: SHIPPED_NAME,  # a folder listing
    }


@pytest.mark.parametrize("route", ["/gradio_api/file=", "/file=", "/gradio_api/file%3D"])
def test_path_traversal_returns_nothing_outside_the_allowed_folders(route, app):
    url = app[0]
    for target, marker in targets(app).items():
        for spelling, path in spellings(target, get_upload_folder()).items():
            status, body, _ = get(url, route + path)
            assert marker.encode() not in body, f"{spelling} {target} came back ({status})"
            assert status != 200 or b"<html" in body[:500].lower(), f"{spelling} {target}: {status}"


def test_the_files_the_app_serves_still_come_back(app):
    """The positive control: an upload, and the app's own 32×32 output picture."""
    with open(PHOTO, "rb") as f:
        response = loopback.post(app[0] + "gradio_api/upload", files={"files": ("photo.jpg", f, "image/jpeg")})
    (uploaded,) = response.json()
    status, body, _ = get(app[0], "/gradio_api/file=" + uploaded)
    assert status == 200 and body == open(PHOTO, "rb").read()
    client = api_client(app[0])
    top5 = client.predict(handle_file(PHOTO), f"shipped/{SHIPPED_NAME}", api_name="/classify")[0]
    assert len(top5["confidences"]) == 5


def test_an_uploaded_svg_is_served_as_a_download_never_inline(app, tmp_path):
    drawing = tmp_path / "drawing.svg"
    drawing.write_text('<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>')
    client = api_client(app[0])
    with pytest.raises(AppError, match="not a picture"):
        client.predict(handle_file(str(drawing)), f"shipped/{SHIPPED_NAME}", api_name="/classify")
    uploaded = [os.path.join(root, name) for root, _, names in os.walk(get_upload_folder())
                for name in names if name == "drawing.svg"]
    assert uploaded
    status, body, headers = get(app[0], "/gradio_api/file=" + uploaded[-1])
    headers = {k.lower(): v for k, v in headers.items()}
    assert status == 200 and headers["content-type"] != "image/svg+xml"
    assert headers["content-disposition"].startswith("attachment")


def test_the_server_fetches_no_url_for_a_client(app, internal):
    """SSRF: neither the file route nor a file record may make the server call a local address."""
    local = f"http://127.0.0.1:{internal.server_port}/secret.png"
    for path in (local, urllib.parse.quote(local, safe=""), "http://localhost:%d/x" % internal.server_port):
        status, body, _ = get(app[0], "/gradio_api/file=" + path)
        assert b"internal secret" not in body and status in (403, 404), path
    client = api_client(app[0])
    with pytest.raises(AppError):
        client.predict({"path": local, "url": local, "orig_name": "secret.png"}, f"shipped/{SHIPPED_NAME}",
                       api_name="/classify")
    assert internal.hits == []


# -- model files never run code ----------------------------------------------------------------------

def code_running_model(path, marker):
    """A real .keras whose Lambda layer touches ``marker`` when the model is rebuilt from it."""
    import keras

    inputs = keras.Input((32, 32, 3))
    touch = eval(f"lambda x: (__import__('pathlib').Path({str(marker)!r}).touch(), x)[1]")
    outputs = keras.layers.Dense(10, activation="softmax")(keras.layers.GlobalAveragePooling2D()(
        keras.layers.Lambda(touch, output_shape=(32, 32, 3))(inputs)))
    keras.Model(inputs, outputs).save(path)
    if os.path.exists(marker):
        os.remove(marker)  # touched while building it here, not by loading


# load_checkpoint reads the hostile file's weights into a MobileNet, and Keras 3.15 warns of each
# container the file lacks before the load fails: the refusal this test wants.
@pytest.mark.filterwarnings("ignore:Skipping nested container at '_operations_by_depth/container:UserWarning")
def test_a_checkpoint_that_would_run_code_is_rejected_without_running_it(tiny_checkpoint, tmp_path):
    import keras

    marker = tmp_path / "code-ran"
    path = str(tmp_path / "evil.keras")
    code_running_model(path, marker)
    with pytest.raises(ValueError, match="safe_mode"):  # Keras' own loader refuses it too
        keras.models.load_model(path)
    record = json.load(open(tiny_checkpoint.replace(".keras", ".json")))
    record["weights_sha256"] = file_sha256(path)  # as if its JSON had been forged to match
    json.dump(record, open(str(tmp_path / "evil.json"), "w"))
    with pytest.raises(CheckpointError, match="cannot load weights"):
        load_checkpoint(path)
    assert not marker.exists()
    keras.models.load_model(path, safe_mode=False)(np.zeros((1, 32, 32, 3)))  # it really is dangerous
    assert marker.exists()


def test_checkpoint_json_cannot_smuggle_code_into_the_model_builder(tiny_checkpoint, tmp_path):
    path = copy_checkpoint(tiny_checkpoint, str(tmp_path), "odd.keras")
    record = json.load(open(path.replace(".keras", ".json")))
    record["model"].update(variant="__import__('os').system('touch pwned')", build_fn="os.system")
    json.dump(record, open(path.replace(".keras", ".json"), "w"))
    with pytest.raises(CheckpointError, match="variant"):
        load_checkpoint(path)
    assert not os.path.exists("pwned") and not (tmp_path / "pwned").exists()


def test_an_uploaded_model_file_is_never_loaded(app, tmp_path, monkeypatch):
    loaded, real = [], mobilenet.checkpoints.load_checkpoint
    monkeypatch.setattr(mobilenet.checkpoints, "load_checkpoint", lambda p: loaded.append(p) or real(p))
    monkeypatch.setattr(mobilenet.inference, "load_checkpoint", lambda p: loaded.append(p) or real(p))
    marker = tmp_path / "code-ran"
    path = str(tmp_path / "classroom_model.keras")
    code_running_model(path, marker)
    client = api_client(app[0])
    with pytest.raises(AppError, match="classroom_model.keras is not a picture"):
        client.predict(handle_file(path), f"shipped/{SHIPPED_NAME}", api_name="/classify")
    uploaded = [os.path.join(root, name) for root, _, names in os.walk(get_upload_folder())
                for name in names if name == "classroom_model.keras"]
    for key in [f"run/{os.path.basename(p)}" for p in uploaded] + \
               [f"run/../../{p}" for p in uploaded] + [p for p in uploaded]:
        with pytest.raises(AppError, match="not available any more"):
            client.predict(handle_file(PHOTO), key, api_name="/classify")
    assert loaded == [] and not marker.exists()

