"""LiteRT export: files, sizes, agreement with Keras, caching, and the ``export`` command."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from mobilenet.checkpoints import load_checkpoint
from mobilenet.data import load_cifar10
from mobilenet.evaluate import predict_probabilities
from mobilenet.export import KINDS, export_litert, litert_forward, litert_probabilities

pytestmark = pytest.mark.slow  # LiteRT conversions, a subprocess: the tiers: docs/TESTS.md

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope="module")
def data(tiny_cifar):
    return load_cifar10(tiny_cifar[1])


@pytest.fixture(scope="module")
def exported(tiny_checkpoint, data, tmp_path_factory):
    out = str(tmp_path_factory.mktemp("export"))
    events = []
    report = export_litert(tiny_checkpoint, out, data=data, calibration_images=50,
                           on_progress=events.append)
    return out, report, events


def test_export_writes_three_files_each_smaller_than_the_last(exported):
    out, report, events = exported
    rows = {row["kind"]: row for row in report["rows"]}
    assert [row["kind"] for row in report["rows"]] == ["keras", *KINDS]
    for kind in KINDS:
        assert rows[kind]["path"] == os.path.join(out, f"tiny_{kind}.tflite")
        assert os.path.getsize(rows[kind]["path"]) == rows[kind]["size_bytes"]
    assert rows["float16"]["size_bytes"] < 0.6 * rows["float32"]["size_bytes"]
    assert rows["int8"]["size_bytes"] < 0.4 * rows["float32"]["size_bytes"]
    assert all(row["latency_ms"] > 0 for row in rows.values())
    assert report["settings"]["test_images"] == 100 and report["settings"]["calibration_images"] == 50
    assert [(e["name"], e["kind"]) for e in events] == [
        ("measure", "keras"), ("convert", "float32"), ("measure", "float32"),
        ("convert", "float16"), ("measure", "float16"), ("convert", "int8"), ("measure", "int8")]
    with open(os.path.join(out, "tiny_export.json"), encoding="utf-8") as f:
        assert json.load(f) == report
    assert not [name for name in os.listdir(out) if "tmp" in name]


def test_float_files_answer_like_keras_and_int8_nearly(exported, tiny_checkpoint, data):
    _, report, _ = exported
    rows = {row["kind"]: row for row in report["rows"]}
    model, _ = load_checkpoint(tiny_checkpoint)
    keras_probs = predict_probabilities(model, data.x_test)
    assert rows["keras"]["accuracy"] == pytest.approx(np.mean(keras_probs.argmax(1) == data.y_test))
    # float16 keeps 11 significant bits of each weight; through 28 layers of the tiny net that
    # moves a probability by up to 0.013 (measured on two CPUs), so 0.03 bounds it with room.
    # What the file answers is checked by agreement, below.
    for kind, tolerance in (("float32", 1e-5), ("float16", 3e-2)):
        with open(rows[kind]["path"], "rb") as f:
            probs = litert_probabilities(f.read(), data.x_test)
        assert np.abs(probs - keras_probs).max() < tolerance
        assert rows[kind]["agreement"] >= 0.99
    assert rows["float32"]["accuracy"] == rows["keras"]["accuracy"]
    assert rows["int8"]["agreement"] >= 0.8


def test_int8_file_takes_the_picture_minus_128(exported, data):
    from ai_edge_litert.interpreter import Interpreter

    _, report, _ = exported
    with open(report["rows"][-1]["path"], "rb") as f:
        flatbuffer = f.read()
    interpreter = Interpreter(model_content=flatbuffer)
    source = interpreter.get_input_details()[0]
    assert source["dtype"] == np.int8
    scale, zero = source["quantization"]
    assert scale == pytest.approx(1 / 255) and zero == -128
    probs = litert_forward(flatbuffer)(data.x_test[:1] / np.float32(255))
    assert probs.shape == (1, 10) and probs.sum() == pytest.approx(1, abs=0.02)


def test_export_reuses_what_it_measured_for_the_same_settings(exported, tiny_checkpoint, data):
    out, report, _ = exported
    stamps = {row["path"]: os.path.getmtime(row["path"]) for row in report["rows"]}
    events = []
    again = export_litert(tiny_checkpoint, out, data=data, calibration_images=50, reuse=True,
                          on_progress=events.append)
    assert again == report and events == []
    assert {p: os.path.getmtime(p) for p in stamps} == stamps
    subset = export_litert(tiny_checkpoint, out, kinds=("float16",), data=data, test_images=20,
                           reuse=True)
    assert subset["settings"]["test_images"] == 20 and len(subset["rows"]) == 2


def test_export_without_data_and_bad_arguments(tiny_checkpoint, tmp_path):
    report = export_litert(tiny_checkpoint, str(tmp_path), kinds=("float16",))
    assert [row["accuracy"] for row in report["rows"]] == [None, None]
    with pytest.raises(ValueError, match="calibrate"):
        export_litert(tiny_checkpoint, str(tmp_path), kinds=("int8",))
    with pytest.raises(ValueError, match="kinds"):
        export_litert(tiny_checkpoint, str(tmp_path), kinds=("int4",))
    with pytest.raises(ValueError, match="test_images"):
        export_litert(tiny_checkpoint, str(tmp_path), kinds=("float32",), test_images=0)


def test_export_command_prints_the_table(tiny_checkpoint, tiny_cifar, tmp_path):
    def cli(*args):
        return subprocess.run([sys.executable, "-m", "mobilenet", "export", *args], cwd=ROOT,
                              text=True, capture_output=True, timeout=600)

    out = str(tmp_path / "files")
    result = cli(tiny_checkpoint, "--out", out, "--data", tiny_cifar[0], "--kinds", "float32", "int8",
                 "--calibration-images", "20", "--test-images", "50")
    assert result.returncode == 0, result.stderr
    assert "accuracy on 50 test images" in result.stdout
    assert "int8 calibrated on 20 training images" in result.stdout
    for label in ("Keras", "LiteRT float32", "LiteRT int8"):
        assert f"\n{label} " in result.stdout
    assert sorted(os.listdir(out)) == ["tiny_export.json", "tiny_float32.tflite", "tiny_int8.tflite"]
    missing = cli(str(tmp_path / "nothing.keras"), "--data", tiny_cifar[0])
    assert missing.returncode == 2 and "error: checkpoint" in missing.stderr
    assert "Traceback" not in missing.stderr
