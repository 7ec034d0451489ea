"""The command line, end to end, in real subprocesses."""

import os
import subprocess
import sys

from PIL import Image

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def cli(*args, env=None):
    return subprocess.run([sys.executable, "-m", "mobilenet", *args], cwd=ROOT, text=True,
                          capture_output=True, timeout=600, env={**os.environ, **(env or {})})


def test_summary_prints_the_table_and_totals():
    out = cli("summary", "--variant", "paper").stdout
    assert "conv_dw_13_bn" in out and "predictions" in out
    assert "total params: 3,239,114" in out and "mult-adds: 11,596,288" in out
    out = cli("summary", "--variant", "cifar", "--alpha", "0.5").stdout
    assert "total params: 834,666" in out
    out = cli("summary", "--input-size", "224", "--classes", "1000").stdout
    assert "total params: 4,253,864" in out and "(568.7 M)" in out


def test_summary_rejects_bad_values_clearly():
    result = cli("summary", "--alpha", "0")
    assert result.returncode == 2 and "error: `alpha`" in result.stderr
    assert "Traceback" not in result.stderr


def test_train_evaluate_predict(tiny_cifar, tmp_path):
    out = str(tmp_path / "cli.keras")
    result = cli("train", "--data", tiny_cifar[0], "--alpha", "0.25", "--epochs", "1",
                 "--batch-size", "32", "--train-size", "all", "--validation-size", "50",
                 "--out", out)
    assert result.returncode == 0, result.stderr
    assert "epoch 1/1" in result.stdout and f"checkpoint: {out}" in result.stdout
    assert os.path.exists(out) and os.path.exists(out.replace(".keras", ".json"))

    result = cli("evaluate", out, "--data", tiny_cifar[1])
    assert result.returncode == 0, result.stderr
    assert "test accuracy: " in result.stdout and "confusion matrix" in result.stdout
    assert all(name in result.stdout for name in ("airplane", "truck"))

    image = tmp_path / "cat.png"
    Image.fromarray(tiny_cifar[2]["test_batch"][0][3]).save(image)
    garbage = tmp_path / "notes.png"
    garbage.write_text("not a picture")
    result = cli("predict", str(image), str(garbage), "str-missing.png", "--checkpoint", out,
                 "--top-k", "2")
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert lines[0].startswith(f"{image}: ") and lines[0].count("%") == 2
    assert lines[1].startswith(f"{garbage}: error:") and "str-missing.png: error:" in lines[2]


def test_train_a_recipe_with_overrides_end_to_end(tiny_cifar, tmp_path):
    """One command per shipped checkpoint (here shrunk to the tiny data by overrides)."""
    import json

    out = str(tmp_path / "recipe.keras")
    result = cli("train", "--recipe", "shipped-cifar", "--data", tiny_cifar[0], "--epochs", "1",
                 "--warmup-epochs", "0.5", "--swa-epochs", "1", "--train-size", "all",
                 "--validation-size", "20", "--batch-size", "32", "--alpha", "0.25", "--cutmix", "0.5",
                 "--out", out)
    assert result.returncode == 0, result.stderr
    assert "epoch 1/1" in result.stdout and "averaging epoch 1/1" in result.stdout
    with open(out.replace(".keras", ".json")) as f:
        meta = json.load(f)
    config = meta["train_config"]
    assert (config["epochs"], config["alpha"], config["swa_epochs"], config["batch_size"]) == (1, 0.25, 1, 32)
    assert (config["optimizer"], config["cutout"], config["swa_learning_rate"], config["ema"]) == \
        ("sgd", 8, 0.02, True)  # the recipe's
    assert meta["weights_dtype"] == "float16" and [h["epoch"] for h in meta["swa"]["history"]] == [1]
    assert config["cutmix"] == 0.5 and meta["metrics"]["validation_accuracy_tta"] is not None  # recipe's tta
    bad = cli("train", "--data", tiny_cifar[0], "--cutmix", "2", "--out", out)
    assert bad.returncode != 0 and "`cutmix` must be a number from 0 (off) to 1" in bad.stderr


def test_train_without_data_explains_how_to_get_it(tmp_path):
    result = cli("train", "--data", str(tmp_path / "nothing-here"), "--epochs", "1")
    assert result.returncode == 2 and "MOBILENET_CIFAR10" in result.stderr
    assert "Traceback" not in result.stderr


def test_evaluate_missing_checkpoint_is_a_clear_error(tmp_path):
    result = cli("evaluate", str(tmp_path / "none.keras"))
    assert result.returncode == 2 and "none.keras" in result.stderr and "not found" in result.stderr
