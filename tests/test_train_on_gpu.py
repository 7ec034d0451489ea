"""scripts/train_on_gpu.py: the parts that run here (pack, finalize).

Its ``train`` step needs JAX (the GPU machine's backend), which CI does not install;
it was run there for the shipped checkpoints (see README, "Shipped checkpoints").
"""

import importlib.util
import json
import os

import numpy as np
import pytest

SCRIPT = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                      "scripts", "train_on_gpu.py")


@pytest.fixture(scope="module")
def gpu_script():
    spec = importlib.util.spec_from_file_location("train_on_gpu", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_pack_round_trip_keeps_order_labels_and_pixels(gpu_script, tiny_cifar, tmp_path):
    from mobilenet.data import load_cifar10

    data = load_cifar10(tiny_cifar[1])
    out = str(tmp_path / "packed.npz")
    gpu_script.pack(tiny_cifar[1], out)
    images, labels, meta = gpu_script.load_packed(out)
    assert images.shape == data.x_train.shape and images.dtype == np.uint8
    np.testing.assert_array_equal(labels, data.y_train)
    err = images.astype(np.float64) - data.x_train
    psnr = 10 * np.log10(255 ** 2 / np.mean(err ** 2))
    assert psnr > 35 and abs(psnr - meta["psnr_db"]) < 0.01
    assert meta["sha256"] == data.sha256 and "JPEG quality 95" in meta["encoding"]


def test_finalize_picks_weights_by_validation_and_writes_a_checkpoint(gpu_script, tiny_cifar, tmp_path):
    """A run folder as the GPU leaves it: raw weights that learned nothing useful, and EMA
    weights that are the trained model. finalize must choose by validation accuracy."""
    from mobilenet import checkpoints
    from mobilenet.data import load_cifar10
    from mobilenet.evaluate import evaluate
    from mobilenet.model import build_mobilenet
    from mobilenet.train import TrainConfig, train

    data = load_cifar10(tiny_cifar[1])
    config = TrainConfig(variant="paper", alpha=1.0, depth="full", epochs=2, batch_size=32,
                         train_size=None, validation_size=50, learning_rate=0.01, seed=1, bn_recalibration_batches=20)
    run = tmp_path / "run"
    run.mkdir()
    build_mobilenet(**config.model_config()).save_weights(str(run / "paper_raw.weights.h5"))  # untrained
    result = train(config, data=data, checkpoint_path=str(tmp_path / "t.keras"))
    good, _ = checkpoints.load_checkpoint(result.checkpoint)
    good.save_weights(str(run / "paper_ema.weights.h5"))
    history = [{"epoch": 1, "loss": 2.0, "accuracy": 0.2, "val_accuracy": 0.2, "epoch_seconds": 1.5},
               {"epoch": 2, "loss": 1.5, "accuracy": 0.4, "val_accuracy": 0.4, "epoch_seconds": 1.5}]
    recipe = {"batch_size": 32, "learning_rate": 0.01, "warmup_epochs": 0, "weight_decay": 0.0,
              "validation_size": 50, "cutout": 16, "label_smoothing": 0.1, "dropout": 1e-3,
              "ema_momentum": 0.999, "bn_momentum": 0.99, "seed": 1}
    (run / "paper.json").write_text(json.dumps({
        "recipe": recipe, "history": history, "training_seconds": 3.0, "device": "NVIDIA H200",
        "versions": {"jax": "0", "keras": "3"}, "schedule_adjusted": None, "initialised_from": None,
        "data": {"encoding": "JPEG quality 95, 4:4:4, 10x10 mosaics", "psnr_db": 47.0}}))
    out = str(tmp_path / "final.keras")

    class Args:
        pass

    args = Args()
    args.run, args.variant, args.data, args.out = str(run), "paper", tiny_cifar[1], out
    gpu_script.finalize(args)

    model, meta = checkpoints.load_checkpoint(out)
    metrics = meta["metrics"]
    assert metrics["weights"] == ("ema" if metrics["validation_accuracy_ema"]
                                  >= metrics["validation_accuracy_raw"] else "raw")
    assert metrics["validation_accuracy"] == max(metrics["validation_accuracy_ema"],
                                                 metrics["validation_accuracy_raw"])
    assert meta["weights_dtype"] == "float16" and meta["epochs_completed"] == 2
    assert meta["trained_on"]["device"] == "NVIDIA H200"
    assert meta["train_config"]["cutout"] == 16 and meta["history"] == history
    # the stated test accuracy is what the saved checkpoint gives
    assert evaluate(model, data.x_test, data.y_test)["accuracy"] == pytest.approx(
        metrics["test_accuracy_float16_storage"], abs=1e-9)
