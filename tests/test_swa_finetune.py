"""scripts/swa_finetune.py on the tiny data: averages, recomputes BN, writes a checkpoint whose
stated accuracy is what it gives, and extends a finished average when --epochs grows."""

import importlib.util
import os

import pytest

SCRIPT = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                      "scripts", "swa_finetune.py")


@pytest.fixture(scope="module")
def swa_script():
    spec = importlib.util.spec_from_file_location("swa_finetune", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_swa_writes_a_checkpoint_and_extends(swa_script, tiny_cifar, tiny_checkpoint, tmp_path, monkeypatch):
    from mobilenet import checkpoints
    from mobilenet.data import load_cifar10
    from mobilenet.evaluate import evaluate

    out, state = str(tmp_path / "swa.keras"), str(tmp_path / "state")
    args = ["swa_finetune.py", "--checkpoint", tiny_checkpoint, "--data", tiny_cifar[1], "--out", out,
            "--batch-size", "32", "--state-dir", state]
    monkeypatch.setattr("sys.argv", args + ["--epochs", "2"])
    swa_script.main()
    model, meta = checkpoints.load_checkpoint(out)
    assert meta["swa"]["epochs"] == 2 and [h["epoch"] for h in meta["swa"]["history"]] == [1, 2]
    assert meta["weights_dtype"] == "float16"
    # fewer than 256 training pictures: still one batch for the BN statistics (not zero)
    assert meta["swa"]["bn_statistics"].startswith("recomputed over 1 ")
    data = load_cifar10(tiny_cifar[1])
    assert evaluate(model, data.x_test, data.y_test)["accuracy"] == pytest.approx(
        meta["metrics"]["test_accuracy_float16_storage"], abs=1e-9)

    monkeypatch.setattr("sys.argv", args + ["--epochs", "3"])  # continues the same average
    swa_script.main()
    _, meta = checkpoints.load_checkpoint(out)
    assert [h["epoch"] for h in meta["swa"]["history"]] == [1, 2, 3]

    monkeypatch.setattr("sys.argv", args + ["--epochs", "3", "--learning-rate", "0.5"])
    with pytest.raises(SystemExit, match="other settings"):
        swa_script.main()
