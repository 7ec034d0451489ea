"""The benchmark command runs (tiny sizes); its figures are not checked here."""

import contextlib
import os
import subprocess
import sys

import pytest

from test_cli import ROOT

pytestmark = pytest.mark.slow  # the tiers: docs/TESTS.md


def test_bench_smoke_run_writes_its_table(tiny_cifar, tmp_path):
    """Every section of ``--smoke``, as three commands at once: the classroom section (a CLI run
    and an app in processes of their own, which it mostly waits on), the training section (five
    small networks traced) and the others (latency, pipeline): one command took ~75 s of wall
    alone, the longest test of the suite."""
    groups = {"classroom": ("classroom",), "training": ("training",), "in-process": ("latency", "pipeline")}
    with contextlib.ExitStack() as stack:
        commands = {name: subprocess.Popen(
            [sys.executable, "-m", "mobilenet.bench", "--smoke", "--data", tiny_cifar[1], "--out",
             str(tmp_path / f"{name}.md"), "--only", *sections], cwd=ROOT, stdout=subprocess.DEVNULL,
            stderr=stack.enter_context((tmp_path / f"{name}.err").open("w"))) for name, sections in groups.items()}
        stack.callback(lambda: [process.kill() for process in commands.values()])
        for name, process in commands.items():
            assert process.wait(timeout=900) == 0, f"{name}: {(tmp_path / f'{name}.err').read_text()[-3000:]}"
    text = "".join((tmp_path / f"{name}.md").read_text() for name in groups)
    for row in ("latency, paper: ours", "latency, cifar: ours with flip TTA",
                "input pipeline alone: crop/flip augmentation", "latency, cifar: model.predict", "agreement, paper",
                "batch inference, cifar", "training, paper: plain model.fit, numpy, stock Keras BN",
                "classroom run, native: CLI", "classroom run, native: app", "app/CLI speed",
                "classroom run settings"):
        assert row in text
    # the header says whether oneDNN was on: on, unless the user turned it off
    user_turned_off = os.environ.get("TF_ENABLE_ONEDNN_OPTS") == "0"
    for name in groups:
        header = (tmp_path / f"{name}.md").read_text().split("|")[0]
        assert ("oneDNN off" if user_turned_off else "oneDNN on") in header
        assert "SMOKE RUN" in header


def test_the_classroom_rows_give_mean_spread_and_min_over_seeds():
    from mobilenet.bench_classroom import _seeds, _spread

    runs = [{"test_accuracy": a, "alone": a - 0.02, "flip": True, "wall_s": w, "images_per_sec": 2000}
            for a, w in ((0.66, 50.0), (0.64, 52.5), (0.65, 49.0))]
    text = _spread(runs)
    assert text.startswith("65.00 % ± 1.00, min 64.00 % test accuracy (3 of 3 with TTA")
    assert "each picture alone: mean 63.00 %, min 62.00 %" in text and "wall ≤ 52.5 s" in text
    assert _seeds((0, 1, 2, 3, 4)) == "0–4" and _seeds((0,)) == "0"


def test_one_seed_gives_its_figure_without_a_spread():
    from mobilenet.bench_classroom import _spread

    text = _spread([{"test_accuracy": 0.6579, "alone": 0.6311, "flip": True, "wall_s": 62.3,
                     "images_per_sec": 2047}])
    assert text == ("65.79 % test accuracy (with TTA; the picture alone: 63.11 %); wall 62.3 s; "
                    "2,047 images/s")
