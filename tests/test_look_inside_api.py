"""The Look inside and Mistakes tabs through the API: a real server, driven by gradio_client."""

import base64
import io
import os
import re
import time

import numpy as np
import pytest
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError
from PIL import Image

from app_server import SHIPPED_NAME, running_app
from mobilenet.checkpoints import model_args, read_metadata
from mobilenet.data import CLASS_NAMES
from mobilenet.model import build_mobilenet, last_spatial_layer

SHIPPED_KEY = f"shipped/{SHIPPED_NAME}"
EXAMPLES = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "demo", "examples")
CIFAR_DOG = os.path.join(EXAMPLES, "cifar10_test_0007_dog.png")
PHOTO = os.path.join(EXAMPLES, "photo_coffee.jpg")


@pytest.fixture(scope="module")
def app(tiny_cifar, tiny_checkpoint, tmp_path_factory):
    root = str(tmp_path_factory.mktemp("look-inside-app"))
    with running_app(root, tiny_cifar[1], tiny_checkpoint) as launched:
        yield launched


@pytest.fixture
def client(app):
    return Client(app[0], verbose=False)


def pixels(path):
    return np.asarray(Image.open(path).convert("RGB"))


def grad_cam(client, path, explained="predicted", key=SHIPPED_KEY):
    return client.predict(handle_file(path) if path else None, key, explained, api_name="/grad_cam")


def table_rows(frame):
    return [dict(zip(frame["headers"], row)) for row in frame["data"]]


# -- Grad-CAM ----------------------------------------------------------------------------------------

def test_grad_cam_overlays_a_small_picture_enlarged_and_names_the_layer(client, tiny_checkpoint):
    overlay, note = grad_cam(client, CIFAR_DOG)
    assert pixels(overlay).shape == (320, 320, 3)  # 32×32, enlarged 10× nearest-neighbour
    # The tiny checkpoint is the paper variant: its last block's map is 1×1, so Grad-CAM uses
    # the last 2×2 one (conv_pw_11 at full depth, conv_pw_6 in the shallow network).
    model = build_mobilenet(**model_args(read_metadata(tiny_checkpoint)["model"]))
    assert model.get_layer("conv_pw_13_relu").output.shape[1:3] == (1, 1)
    assert f"`{last_spatial_layer(model).removesuffix('_relu')}` (2×2 map)" in note
    assert "last layer with a map larger than 1×1" in note
    assert "coarse" in note
    assert "the network's answer" in note


def test_grad_cam_keeps_a_photo_at_its_own_size_up_to_800_pixels(client, tmp_path):
    overlay, _ = grad_cam(client, PHOTO)
    assert pixels(overlay).shape == np.asarray(Image.open(PHOTO)).shape
    big = tmp_path / "big.png"
    Image.open(PHOTO).resize((2400, 1600)).save(big)
    overlay, _ = grad_cam(client, str(big))
    assert pixels(overlay).shape == (533, 800, 3)  # shown smaller; the network saw the same 32×32


def a_class_it_does_not_answer(client, picture):
    """A class other than the checkpoint's answer for ``picture``: a tiny model's answer depends
    on the CPU's float arithmetic, so the test asks for it rather than assuming it."""
    answer = client.predict(handle_file(picture), SHIPPED_KEY, api_name="/classify")[0]["label"]
    return next(name for name in ("truck", "airplane") if name != answer)


def test_grad_cam_explains_the_class_the_student_picks(client):
    picked = a_class_it_does_not_answer(client, CIFAR_DOG)
    _, note = grad_cam(client, CIFAR_DOG, picked)
    assert f"**{picked}** (probability" in note


def test_grad_cam_explains_bad_input(client, tmp_path):
    with pytest.raises(AppError, match="No picture yet"):
        grad_cam(client, None)
    with pytest.raises(AppError, match="Pick a class"):
        grad_cam(client, CIFAR_DOG, "unicorn")
    fake = tmp_path / "holiday.png"
    fake.write_text("not really a picture")
    with pytest.raises(AppError, match="holiday.png is not a picture"):
        grad_cam(client, str(fake))
    with pytest.raises(AppError, match="not available any more"):
        grad_cam(client, CIFAR_DOG, key="shipped/../../etc/passwd")


# -- Feature maps and kernels ------------------------------------------------------------------------

def test_feature_maps_show_a_grid_and_the_map_size(client):
    grid, line, sizes = client.predict(handle_file(CIFAR_DOG), SHIPPED_KEY, "conv_pw_3_relu",
                                       api_name="/feature_maps")
    # Paper variant, α 0.25: stem stride 2 and block 2 stride 2 -> 8×8; 128 × 0.25 = 32 channels.
    assert line.startswith("**conv_pw_3**: 8×8 map, 32 channels (pointwise 1×1)")
    assert pixels(grid).shape == (4 * 66 - 2, 8 * 66 - 2, 3)  # 32 tiles of 64 px, 8 per row
    rows = table_rows(sizes)  # input, stem, then one row per block
    maps = [int(r["map"].split("×")[0]) for r in rows]
    assert maps == sorted(maps, reverse=True) and maps[0] == 32 and maps[-1] == 1
    assert sorted({*maps}, reverse=True) == [32, 16, 8, 4, 2, 1]
    assert [r["channels"] for r in rows[1:4]] == ["3 → 8", "8 → 16", "16 → 32"]  # α 0.25
    assert rows[-1]["channels"] == "256 → 256"  # 1024 × 0.25
    assert rows[4]["layers"] == "conv_dw_3, conv_pw_3"


def test_feature_maps_refuse_an_unknown_layer(client):
    with pytest.raises(AppError, match="no layer 'predictions'"):
        client.predict(handle_file(CIFAR_DOG), SHIPPED_KEY, "predictions", api_name="/feature_maps")


def test_depthwise_kernels_of_the_first_block(client):
    grid, line = client.predict(SHIPPED_KEY, 1, api_name="/depthwise_kernels")
    assert line.startswith("**conv_dw_1**: 8 kernels of 3×3")  # 32 × 0.25
    assert pixels(grid).shape == (48, 8 * 50 - 2, 3)  # one row of 3×3 kernels at 16 px a weight
    with pytest.raises(AppError, match="no block 14"):
        client.predict(SHIPPED_KEY, 14, api_name="/depthwise_kernels")


# -- Mistakes -----------------------------------------------------------------------------------------

def test_mistakes_show_the_confusion_matrix_and_confident_mistakes(client):
    status, confusion, pairs = client.predict(SHIPPED_KEY, api_name="/mistakes")
    assert re.search(r"of 100 test pictures right", status)
    # The confusion matrix as the package's SVG: one count per cell, 100 pictures in all.
    counts = [int(n) for n in re.findall(r'text-anchor="middle" fill="\w+">(\d+)</text>', confusion)]
    assert len(counts) == 100 and sum(counts) == 100
    assert all(f">{name}</text>" in confusion for name in CLASS_NAMES)
    sections = pairs.split("<section")[1:]
    assert sections, "a 1-epoch network makes mistakes"
    counts = []
    for section in sections:
        a, b, count = re.search(r"<b>(\w+) ↔ (\w+)</b>: (\d+) mistakes", section).groups()
        counts.append(int(count))
        directions = re.findall(r">(\d+) (\w+) pictures? called (\w+)<", section)
        assert [(true, said) for _, true, said in directions] == [(a, b), (b, a)]
        assert sum(int(n) for n, _, _ in directions) == int(count)
        figures = re.findall(r'<img src="data:image/png;base64,([^"]+)" alt="([^"]+)"', section)
        assert 0 < len(figures) <= 6
        confidences = {}
        for png, caption in figures:
            true, said, percent = re.fullmatch(r"true (\w+) → said (\w+) (\d+)%", caption).groups()
            assert {true, said} == {a, b} and true != said
            confidences.setdefault(true, []).append(int(percent))
            picture = Image.open(io.BytesIO(base64.b64decode(png)))
            assert picture.size == (32, 32)  # a test picture as it is; the browser enlarges it
        for n, true, _ in directions:
            shown = confidences.get(true, [])
            assert shown == sorted(shown, reverse=True) and len(shown) == min(3, int(n))
    assert counts == sorted(counts, reverse=True)


def test_mistakes_are_computed_once_per_checkpoint(client):
    client.predict(SHIPPED_KEY, api_name="/mistakes")
    started = time.monotonic()
    client.predict(SHIPPED_KEY, api_name="/mistakes")
    assert time.monotonic() - started < 5  # cached: no forward pass over the test set


def test_mistakes_say_when_there_are_no_test_pictures(tiny_checkpoint, tmp_path):
    with running_app(str(tmp_path), str(tmp_path / "no-cifar-here"), tiny_checkpoint) as (url, _, _):
        with pytest.raises(AppError, match="CIFAR-10 test pictures are not available"):
            Client(url, verbose=False).predict(SHIPPED_KEY, api_name="/mistakes")
