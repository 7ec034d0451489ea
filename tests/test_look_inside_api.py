"""The Look inside and Mistakes tabs through the API: a real server, driven by gradio_client; and the
Look inside tab built on its own (what it shows before any event, a broken checkpoint)."""

import base64
import io
import os
import re
import time

import gradio as gr
import numpy as np
import pytest
from gradio.utils import get_upload_folder
from gradio_client import handle_file
from gradio_client.exceptions import AppError
from PIL import Image

from app_server import SHIPPED_NAME, copy_checkpoint
from tab_support import built_alone
from classroom.catalog import CheckpointCatalog
from demo.tabs import Context
from mobilenet.checkpoints import checkpoint_paths, model_args, read_metadata
from mobilenet.data import CLASS_NAMES
from mobilenet.explain import depthwise_blocks, map_layers
from mobilenet.model import build_mobilenet, last_spatial_layer
from loopback_client import api_client

pytestmark = pytest.mark.slow  # the tiers: docs/TESTS.md

SHIPPED_KEY = f"shipped/{SHIPPED_NAME}"
EXAMPLES = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "demo", "examples")
CIFAR_DOG = os.path.join(EXAMPLES, "cifar10_test_0007_dog.png")
PHOTO = os.path.join(EXAMPLES, "photo_coffee.jpg")


@pytest.fixture(scope="module")
def app(shared_app):
    return shared_app


@pytest.fixture
def client(app):
    return api_client(app[0])


def pixels(path):
    return np.asarray(Image.open(path).convert("RGB"))


def grad_cam(client, path, explained="predicted", key=SHIPPED_KEY):
    return client.predict(handle_file(path) if path else None, key, explained, api_name="/grad_cam")


def table_rows(frame):
    return [dict(zip(frame["headers"], row)) for row in frame["data"]]


def built_tab(checkpoint_dir, runs_dir, work):
    """The Look inside tab built on its own over these folders; returns (tab, {elem_id: component})."""
    from demo.tabs.look_inside import LookInsideTab

    catalog = CheckpointCatalog(checkpoint_dir, runs_dir)
    tab, page = built_alone(LookInsideTab, Context(catalog=catalog, runs=None, teacher_key=None, work=work))
    return tab, {block.elem_id: block for block in page.blocks.values() if getattr(block, "elem_id", None)}


# -- the tab before any event: a page opened on it (?tab=look-inside) fires no tab.select -------------

def test_the_page_opens_with_the_first_networks_layers_and_kernels(app, tiny_checkpoint):
    blocks = {block.elem_id: block for block in app.demo.blocks.values() if getattr(block, "elem_id", None)}
    model = build_mobilenet(**model_args(read_metadata(tiny_checkpoint)["model"]))
    layer = blocks["feature-layer"]
    assert [value for _, value in layer.choices] == map_layers(model)
    assert layer.value == last_spatial_layer(model)
    assert ("conv_pw_3 · pointwise 1×1", "conv_pw_3_relu") in layer.choices
    assert [value for _, value in blocks["kernel-block"].choices] == depthwise_blocks(model)
    assert blocks["kernel-block"].value == 1
    assert blocks["kernel-info"].value.startswith("**conv_dw_1**: 8 kernels of 3×3")
    assert blocks["kernels"].value is not None
    sizes = blocks["map-sizes"].value
    assert sizes["headers"] == ["block", "layers", "map", "channels"] and len(sizes["data"]) == 2 + len(
        depthwise_blocks(model))


def test_without_a_network_the_tab_is_built_empty_and_says_so(tmp_path, work):
    tab, blocks = built_tab(str(tmp_path / "none"), str(tmp_path / "none" / "runs"), work)
    assert blocks["feature-layer"].choices == [] and blocks["kernel-block"].choices == []
    assert blocks["kernel-info"].value == ""
    assert tab.choose_checkpoint(None, None, None, "en")[tab.kernels_info].startswith("No trained network yet")
    assert tab.relabel("zh", None, None, None, None, None, None)[tab.kernels_info].startswith("还没有训练好的网络")


def test_a_broken_checkpoint_is_said_without_the_servers_folders(tiny_checkpoint, tmp_path, work):
    checkpoints = str(tmp_path / "checkpoints")
    copy_checkpoint(tiny_checkpoint, checkpoints, SHIPPED_NAME)
    broken = copy_checkpoint(tiny_checkpoint, os.path.join(checkpoints, "runs"), "broken.keras")
    with open(checkpoint_paths(broken)[0], "r+b") as f:
        f.truncate(100)
    tab, blocks = built_tab(checkpoints, os.path.join(checkpoints, "runs"), work)
    assert blocks["feature-layer"].choices  # built from the first (shipped) network
    picture = os.path.join(get_upload_folder(), "test-look-inside", "dog.png")
    os.makedirs(os.path.dirname(picture), exist_ok=True)
    Image.open(CIFAR_DOG).save(picture)
    calls = [(tab.grad_cam, ({"path": picture}, "run/broken.keras", "predicted")),
             (tab.feature_maps, ({"path": picture}, "run/broken.keras", None)),
             (tab.kernels, ("run/broken.keras", 1)),
             (tab.choose_checkpoint, ("run/broken.keras", None, None))]
    for lang in ("en", "zh"):
        for function, args in calls:
            with pytest.raises(gr.Error) as error:
                function(*args, lang)
            message = error.value.message
            assert "broken.keras" in message and str(tmp_path) not in message and "/" not in message, message
            assert ("cannot be loaded" if lang == "en" else "无法加载") in message


def test_a_page_built_while_its_first_network_is_broken_still_builds(tiny_checkpoint, tmp_path, work):
    checkpoints = str(tmp_path / "checkpoints")
    broken = copy_checkpoint(tiny_checkpoint, checkpoints, SHIPPED_NAME)
    with open(checkpoint_paths(broken)[0], "r+b") as f:
        f.truncate(100)
    copy_checkpoint(tiny_checkpoint, os.path.join(checkpoints, "runs"), "good.keras")
    tab, blocks = built_tab(checkpoints, os.path.join(checkpoints, "runs"), work)
    assert blocks["feature-layer"].choices == []  # said when the tab is used
    chosen = tab.choose_checkpoint("run/good.keras", None, None, "en")
    assert chosen[tab.layer].choices and chosen[tab.block].choices


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
    with pytest.raises(AppError, match='Explain the class: "unicorn" is not one of the choices'):
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


def test_mistakes_say_when_there_are_no_test_pictures(app_without_cifar10):
    with pytest.raises(AppError, match="CIFAR-10 test pictures are not available"):
        api_client(app_without_cifar10[0]).predict(SHIPPED_KEY, api_name="/mistakes")
