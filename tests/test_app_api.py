"""The Gradio app through its API: a real server in this process, driven by gradio_client."""

import glob
import math
import os
import struct
import zlib

import numpy as np
import pytest
from gradio_client import handle_file
from gradio_client.exceptions import AppError
from PIL import Image

from app_server import SHIPPED_NAME, running_app
from mobilenet.analysis import layer_table, model_totals
from mobilenet.checkpoints import read_metadata
from mobilenet.data import CLASS_NAMES
from mobilenet.model import build_mobilenet
from loopback_client import api_client

pytestmark = pytest.mark.slow  # the tiers: docs/TESTS.md

TINY_RUN = {"variant": "paper", "alpha": 0.25, "depth": "shallow", "train_images": 200, "batch_size": 32,
            "learning_rate": 0.01, "augmentation": False}
SHIPPED_KEY = f"shipped/{SHIPPED_NAME}"
EXAMPLES = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "demo", "examples")
PHOTO = os.path.join(EXAMPLES, "photo_coffee.jpg")


@pytest.fixture(scope="module")
def app(tiny_cifar, tiny_checkpoint, tmp_path_factory):
    root = str(tmp_path_factory.mktemp("app"))
    with running_app(root, tiny_cifar[1], tiny_checkpoint, old_runs=2, keep_runs=2) as launched:
        yield launched


@pytest.fixture
def client(app):
    return api_client(app[0])


def start(client, name, epochs):
    return client.predict(name=name, epochs=epochs, **TINY_RUN, api_name="/start_training")


def watch(client):
    """All snapshots streamed by /watch_training until the run ends."""
    job = client.submit(api_name="/watch_training")
    job.result(timeout=300)
    return job.outputs()


def write_image(path, array):
    Image.fromarray(array).save(path)  # the mode follows the array: L, RGBA, I;16 ...
    return path


def png_chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def classify(client, path, key=SHIPPED_KEY):
    return client.predict(handle_file(path) if path else None, key, api_name="/classify")


# -- Architecture ---------------------------------------------------------------------------------

def table_rows(frame):
    return [dict(zip(frame["headers"], row)) for row in frame["data"]]


def test_summary_returns_layer_table_with_the_right_totals(client):
    totals, layers, blocks, paper = client.predict("paper", 1.0, api_name="/summary")
    (total,) = table_rows(totals)
    # 3,238,986 printed by the tutorial + the 128 parameters of the BN layer it dropped.
    assert total["total parameters"] == 3_239_114
    assert total["trainable"] + total["non-trainable"] == 3_239_114
    assert math.isclose(total["size (MB, float32)"], 3_239_114 * 4 / 1e6)
    rows = table_rows(layers)
    assert sum(r["parameters"] for r in rows) == 3_239_114
    assert sum(r["Mult-Adds"] for r in rows) == total["Mult-Adds per image"]
    assert {"conv1_bn", "conv_dw_13", "conv_pw_13", "predictions"} <= {r["name"] for r in rows}
    assert table_rows(blocks)[-1]["block"] == "total"
    assert len(table_rows(paper)) == 6
    assert totals["metadata"]["display_value"][0][0] == "3,239,114"


def test_summary_follows_alpha_and_variant(client):
    totals, layers, *_ = client.predict("cifar", 0.5, api_name="/summary")
    expected = model_totals(layer_table(build_mobilenet(alpha=0.5, variant="cifar")))
    (total,) = table_rows(totals)
    assert total["total parameters"] == expected["params"]
    assert total["Mult-Adds per image"] == expected["mult_adds"]
    assert table_rows(layers)[1]["output shape"] == "32 x 32 x 16"  # stem stride 1, α 0.5


def test_summary_shows_the_shallow_depth(client):
    totals, layers, blocks, _ = client.predict("paper", 1.0, "shallow", api_name="/summary")
    expected = model_totals(layer_table(build_mobilenet(depth="shallow")))
    assert table_rows(totals)[0]["total parameters"] == expected["params"]
    names = {r["name"] for r in table_rows(layers)}
    assert "conv_dw_6" in names and "conv_dw_7" not in names and "conv_dw_12" in names
    assert len(table_rows(blocks)) == 8 + 1  # 8 blocks and the total


def test_summary_refuses_an_unknown_alpha(client):
    with pytest.raises(AppError, match=r"Width multiplier α: 0.3 is not one of the choices \(0.25, 0.5, 0.75, 1.0\)"):
        client.predict("paper", 0.3, api_name="/summary")


# -- Classify -------------------------------------------------------------------------------------

def test_classify_returns_ten_probabilities_that_sum_to_one(client, tiny_cifar):
    images, labels = tiny_cifar[2]["test_batch"]
    path = write_image(os.path.join(tiny_cifar[0], "..", "test0.png"), images[0])
    top5, everything, seen, timing = classify(client, path)
    probabilities = {row[0]: row[1] for row in everything["data"]}
    assert set(probabilities) == set(CLASS_NAMES)
    assert math.isclose(sum(probabilities.values()), 1.0, abs_tol=1e-4)
    assert [c["label"] for c in top5["confidences"]] == \
        sorted(probabilities, key=probabilities.get, reverse=True)[:5]
    assert np.asarray(Image.open(seen)).shape[:2] == (160, 160)  # 32×32, enlarged 5×
    assert " ms" in timing


@pytest.mark.parametrize("make", ["grayscale", "rgba", "sixteen_bit", "large_photo"])
def test_classify_handles_image_kinds(client, tmp_path, make):
    rng = np.random.default_rng(0)
    path = str(tmp_path / f"{make}.png")
    if make == "grayscale":
        write_image(path, rng.integers(0, 256, (50, 70), dtype=np.uint8))
    elif make == "rgba":
        write_image(path, rng.integers(0, 256, (40, 40, 4), dtype=np.uint8))
    elif make == "sixteen_bit":
        write_image(path, rng.integers(0, 65536, (40, 40), dtype=np.uint16))
    else:
        path = os.path.join(EXAMPLES, "photo_cat_chelsea.jpg")
    top5, everything, _, _ = classify(client, path)
    assert len(top5["confidences"]) == 5
    assert math.isclose(sum(row[1] for row in everything["data"]), 1.0, abs_tol=1e-4)


def test_classify_explains_bad_input(client, tmp_path):
    text = tmp_path / "notes.png"
    text.write_text("this is not a picture")
    with pytest.raises(AppError, match="not a picture"):
        classify(client, str(text))
    with pytest.raises(AppError, match="No picture yet"):
        classify(client, None)
    huge = str(tmp_path / "huge.png")
    Image.new("L", (8000, 6000)).save(huge)  # 48 megapixels of black: tiny file, huge image
    with pytest.raises(AppError, match="larger than 40 megapixels"):
        classify(client, huge)
    bomb = tmp_path / "bomb.png"  # 30000×30000 in its header: Pillow refuses to open it at all
    bomb.write_bytes(b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", struct.pack(">IIBBBBB", 30000, 30000, 8, 0, 0, 0, 0))
                     + png_chunk(b"IDAT", zlib.compress(b"")) + png_chunk(b"IEND", b""))
    with pytest.raises(AppError, match="larger than 40 megapixels"):
        classify(client, str(bomb))
    too_big = tmp_path / "too_big.png"
    too_big.write_bytes(b"\x89PNG" + bytes(21_000_000))
    with pytest.raises(ValueError, match="maximum file size"):  # the server's upload limit
        classify(client, str(too_big))
    with pytest.raises(AppError, match="not available"):
        classify(client, PHOTO, key="../../../etc/passwd")


# -- Train -----------------------------------------------------------------------------------------

def test_training_run_streams_progress_and_lands_in_the_classifier(client, app):
    runs_dir = app[2]
    # long enough for the stream to catch it running (two epochs of the tiny data end in ~1 s)
    assert start(client, "Ann", epochs=8).startswith("Started")
    snapshots = watch(client)
    runs = [s["run"] for s in snapshots]
    steps = [r["latest"]["global_step"] for r in runs if r["latest"]]
    assert len(set(steps)) >= 2 and steps == sorted(steps)  # several distinct progress updates
    final = runs[-1]
    assert final["state"] == "finished" and final["started_by"] == "Ann"
    assert final["metrics"]["test_accuracy"] is not None
    assert len(final["metrics"]["confusion_matrix"]) == 10
    assert [h for h in final["history"] if h["event"] == "epoch"][-1]["epoch"] == 8

    metadata = read_metadata(final["checkpoint"])
    assert metadata["train_config"]["train_size"] == 200
    key = f"run/{os.path.basename(final['checkpoint'])}"
    assert "Test accuracy" in client.predict(key, api_name="/describe_checkpoint")
    assert len(classify(client, os.path.join(EXAMPLES, "photo_rocket.jpg"), key)[0]["confidences"]) == 5
    # keep_runs=2: the oldest of the two pre-existing runs was removed.
    assert len(glob.glob(os.path.join(runs_dir, "*.keras"))) == 2
    assert not os.path.exists(os.path.join(runs_dir, "old_run_0.keras"))


def test_stop_ends_the_run_and_keeps_a_checkpoint_and_a_second_start_waits_its_turn(client, app):
    assert start(client, "Ann", epochs=30).startswith("Started")
    job = client.submit(api_name="/watch_training")
    for snapshot in job:  # wait for the first progress event
        if snapshot["run"]["latest"]:
            break

    other = api_client(app[0])  # another student: queued (tests/test_class_queue.py), withdrawn
    assert "place 1" in start(other, "Bob", epochs=1)
    assert other.predict(api_name="/withdraw_run") == "Your waiting run was withdrawn."
    assert len(classify(other, PHOTO)[0]["confidences"]) == 5  # classifying works meanwhile
    with pytest.raises(AppError, match="Only Ann, who started this run, or the teacher can stop it"):
        other.predict("Bob", api_name="/stop_training")  # not Bob's run
    assert "Stopping" in client.predict("Ann", api_name="/stop_training")

    final = watch(client)[-1]["run"]
    assert final["state"] == "stopped" and final["stopped_by"] == "Ann"
    assert len([h for h in final["history"] if h["event"] == "epoch"]) < 30
    metadata = read_metadata(final["checkpoint"])
    assert metadata["stopped"] is True
    key = f"run/{os.path.basename(final['checkpoint'])}"
    assert len(classify(client, PHOTO, key)[0]["confidences"]) == 5
    assert "No run is training" in client.predict("Ann", api_name="/stop_training")


def test_bad_training_settings_are_explained(client):
    with pytest.raises(AppError, match="learning rate"):
        client.predict(name="Ann", epochs=1, **{**TINY_RUN, "learning_rate": None},
                       api_name="/start_training")
    with pytest.raises(AppError, match="greater than maximum"):
        client.predict(name="Ann", epochs=1, **{**TINY_RUN, "learning_rate": 50},
                       api_name="/start_training")


def test_without_cifar10_training_explains_and_other_panels_work(app_without_cifar10):
    client = api_client(app_without_cifar10[0])
    with pytest.raises(AppError, match="MOBILENET_CIFAR10"):
        start(client, "Ann", epochs=1)
    data_status = client.predict(None, "en", api_name="/refresh")[0]
    assert "No CIFAR-10 here" in data_status and "MOBILENET_CIFAR10" in data_status
    totals = client.predict("paper", 1.0, api_name="/summary")[0]
    assert table_rows(totals)[0]["total parameters"] == 3_239_114
    assert len(classify(client, PHOTO)[0]["confidences"]) == 5
