"""α trade-off: the paper's points, our checkpoints' points, the sweep, and the SVG."""

import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ElementTree

import pandas as pd
import pytest

from app_server import copy_checkpoint
from mobilenet.analysis import layer_table, model_totals
from mobilenet.checkpoints import checkpoint_paths, read_metadata
from mobilenet.data import load_cifar10
from mobilenet.model import build_mobilenet
from mobilenet.tradeoff import (PAPER_RESOLUTION_SERIES, PAPER_WIDTH_SERIES, all_points,
                                measured_points, paper_points, sweep, tradeoff_svg)
from mobilenet.recipes import recipe

pytestmark = pytest.mark.slow  # the tiers: docs/TESTS.md

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SVG = "{http://www.w3.org/2000/svg}"
TINY = {"epochs": 1, "batch_size": 32, "train_size": None, "validation_size": 50}


def test_paper_points_are_tables_6_and_7():
    points = paper_points()
    width = points[points["series"] == PAPER_WIDTH_SERIES]
    assert list(zip(width["alpha"], width["accuracy_%"], width["mult_adds"] / 1e6)) == [
        (1.0, 70.6, 569), (0.75, 68.4, 325), (0.5, 63.7, 149), (0.25, 50.6, 41)]
    resolution = points[points["series"] == PAPER_RESOLUTION_SERIES]
    assert list(zip(resolution["resolution"], resolution["accuracy_%"], resolution["mult_adds"] / 1e6)) == [
        (224, 70.6, 569), (192, 69.1, 418), (160, 67.2, 290), (128, 64.4, 186)]
    assert points["relative_mult_adds"].max() == 1.0
    assert points["relative_mult_adds"].min() == pytest.approx(41 / 569)


def test_a_checkpoint_becomes_a_point_with_its_mult_adds(tiny_checkpoint, tmp_path):
    folder = str(tmp_path / "runs")
    copy_checkpoint(tiny_checkpoint, folder, "run.keras")
    stopped = copy_checkpoint(tiny_checkpoint, folder, "stopped.keras")
    metadata = read_metadata(stopped)
    metadata["metrics"]["test_accuracy"] = None
    with open(checkpoint_paths(stopped)[1], "w", encoding="utf-8") as f:
        json.dump(metadata, f)
    with open(os.path.join(folder, "foreign.keras"), "wb") as f:
        f.write(b"not ours")
    (point,) = measured_points({"run": folder}).to_dict("records")  # the stopped and foreign skipped
    config = read_metadata(tiny_checkpoint)
    expected = model_totals(layer_table(build_mobilenet(alpha=0.25, depth=config["model"]["depth"])))
    full = model_totals(layer_table(build_mobilenet(alpha=1.0, depth=config["model"]["depth"])))
    assert point["alpha"] == 0.25 and point["source"] == "run"
    assert point["accuracy_%"] == pytest.approx(config["metrics"]["test_accuracy"] * 100)
    assert point["mult_adds"] == expected["mult_adds"]
    assert point["relative_mult_adds"] == pytest.approx(expected["mult_adds"] / full["mult_adds"])
    assert point["series"].startswith("CIFAR-10 (ours): paper variant")
    assert "1 epoch × " in point["series"]


def test_sweep_command_trains_each_alpha_once(tiny_cifar, tmp_path):
    out = str(tmp_path / "sweep")
    result = subprocess.run(
        [sys.executable, "-m", "mobilenet", "sweep", "--data", tiny_cifar[0], "--out", out,
         "--alphas", "0.25", "0.5", "--epochs", "1", "--batch-size", "32", "--train-size", "all",
         "--validation-size", "50"], cwd=ROOT, text=True, capture_output=True, timeout=600)
    assert result.returncode == 0, result.stderr
    assert "== α 0.25 ==" in result.stdout and "== α 0.5 ==" in result.stdout
    assert sorted(os.listdir(out)) == ["alpha_0.25.json", "alpha_0.25.keras", "alpha_0.5.json",
                                       "alpha_0.5.keras"]
    points = measured_points({"sweep": out}).sort_values("alpha")
    assert list(points["alpha"]) == [0.25, 0.5]
    assert points["mult_adds"].is_monotonic_increasing and points["series"].nunique() == 1
    assert "test accuracy" in result.stdout and " 0.5" in result.stdout.splitlines()[-1]

    stamps = {name: os.path.getmtime(os.path.join(out, name)) for name in os.listdir(out)}
    events = []
    paths = sweep(load_cifar10(tiny_cifar[0]), out, alphas=(0.25, 0.5), config=recipe("classroom", **TINY),
                  on_progress=events.append)  # same settings: nothing to train again
    assert events == [] and [os.path.basename(p) for p in paths] == ["alpha_0.25.keras", "alpha_0.5.keras"]
    assert {name: os.path.getmtime(os.path.join(out, name)) for name in os.listdir(out)} == stamps


def test_svg_draws_every_point_and_names_every_series(tiny_checkpoint, tmp_path):
    copy_checkpoint(tiny_checkpoint, str(tmp_path), "run.keras")
    points = all_points({"run": str(tmp_path)})
    drawing = ElementTree.fromstring(tradeoff_svg(points))
    assert len(drawing.findall(f".//{SVG}circle")) == len(points) == 9
    assert len(drawing.findall(f".//{SVG}polyline")) == 3
    texts = [t.text for t in drawing.iter(f"{SVG}text")]
    for series in points["series"].unique():
        assert series in texts
    assert "α 0.25" in texts and "128 px" in texts


def test_labels_of_points_close_together_do_not_cover_each_other():
    # the two shipped checkpoints at α 1 (89.8 % and 87.3 %) beside a short run at 10 %, which
    # stretches the axis: their labels were drawn on top of each other
    ours = [{"series": series, "label": f"α {alpha:g}", "source": "shipped", "alpha": alpha, "resolution": 32,
             "accuracy_%": accuracy, "mult_adds": 11.6e6 * alpha ** 2, "relative_mult_adds": alpha ** 2}
            for series, alpha, accuracy in (("cifar variant", 1.0, 89.8), ("paper variant", 1.0, 87.3),
                                            ("a short run", 0.25, 10.0))]
    points = pd.concat([paper_points(), pd.DataFrame(ours)], ignore_index=True)
    drawing = ElementTree.fromstring(tradeoff_svg(points))
    boxes = [(float(t.get("x")), float(t.get("y"))) for t in drawing.iter(f"{SVG}text")
             if t.text in ("α 1", "α 0.75", "224 px", "192 px")]
    assert len(boxes) == 6
    for i, (x, y) in enumerate(boxes):
        for x2, y2 in boxes[i + 1:]:
            assert abs(x - x2) >= 40 or abs(y - y2) >= 13, ((x, y), (x2, y2))
