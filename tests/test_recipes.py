"""The named recipes (the shipped checkpoints' settings) and the weight-averaging phase of
``train`` that they end with, on the tiny data."""

import dataclasses
import json
import os
import shutil

import numpy as np
import pytest

from mobilenet.checkpoints import load_checkpoint, model_args
from mobilenet.data import load_cifar10
from mobilenet.recipes import RECIPES, recipe
from mobilenet.train import TrainConfig, split_indices, train
from mobilenet.weight_averaging import averaging_learning_rate, averaging_seed, batchnorm_images

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHIPPED = {"shipped-cifar": "checkpoints/mobilenet_cifar.json",
           "shipped-paper": "checkpoints/mobilenet_paper.json"}


@pytest.mark.parametrize("name", sorted(name for name in RECIPES if name.startswith("shipped-")))
def test_each_recipe_is_what_its_shipped_checkpoint_ran(name):
    """Every field the shipped checkpoint's JSON records, and its weight-averaging phase."""
    config = RECIPES[name].validate()
    with open(os.path.join(ROOT, SHIPPED[name])) as f:
        shipped = json.load(f)
    ran = dataclasses.asdict(config)
    assert {k: ran[k] for k in shipped["train_config"]} == shipped["train_config"]
    swa = shipped["swa"]
    assert (config.swa_epochs, averaging_learning_rate(config), config.swa_batch_size,
            config.cutout, averaging_seed(config)) == \
        (swa["epochs"], swa["learning_rate"], swa["batch_size"], swa["cutout"], swa["seed"])
    assert shipped["model"] == {**config.model_config(), "input_shape": [32, 32, 3]}


def test_recipe_flags_override_only_what_is_given():
    from mobilenet.cli_commands import spec_from_args
    from mobilenet.cli_parser import build_parser

    def config_from_args(args):
        return spec_from_args(args).config()

    parser = build_parser()
    assert config_from_args(parser.parse_args(["train", "--recipe", "shipped-paper"])) == \
        RECIPES["shipped-paper"]
    changed = config_from_args(parser.parse_args(
        ["train", "--recipe", "shipped-cifar", "--epochs", "3", "--no-ema", "--swa-batch-size", "auto"]))
    assert changed == dataclasses.replace(RECIPES["shipped-cifar"], epochs=3, ema=False,
                                          swa_batch_size=None)
    assert config_from_args(parser.parse_args(["train"])) == RECIPES["classroom"]
    with pytest.raises(ValueError, match="recipe='nope'"):
        recipe("nope")
    with pytest.raises(ValueError, match="swa_epochs=-1"):
        recipe("shipped-cifar", swa_epochs=-1)


TINY_SWA = dict(variant="paper", alpha=0.25, batch_size=32, train_size=None, validation_size=50,
                learning_rate=0.01, optimizer="sgd", ema=True, augmentation=True, cutout=8,
                epochs=1, swa_epochs=2, swa_learning_rate=0.005, progress_every=4)


@pytest.fixture(scope="module")
def tiny_data(tiny_cifar):
    return load_cifar10(tiny_cifar[1])


def _weights_of(path, meta):
    from mobilenet.model import build_mobilenet

    model = build_mobilenet(**model_args(meta["model"]))
    model.load_weights(path)
    return model


@pytest.mark.slow  # trains
def test_averaging_phase_averages_recomputes_bn_and_resumes_to_the_same_weights(tiny_data, tmp_path):
    from mobilenet.evaluate import recalibrate_batchnorm

    config = TrainConfig(**TINY_SWA)
    state = str(tmp_path / "state")
    averaging_epochs, events = [], []

    def on_progress(event):
        events.append(event)
        if event["event"] == "epoch" and event.get("phase") == "swa":
            averaging_epochs.append(event["epoch"])
            # the state after this averaging epoch names the weights it ended with
            with open(os.path.join(state, "state.json")) as f:
                record = json.load(f)
            assert record["swa"]["epoch"] == event["epoch"]
            shutil.copy(os.path.join(state, record["weights_file"]),
                        tmp_path / f"averaging-epoch-{event['epoch']}.keras")

    # interrupted after the first averaging epoch ...
    first = train(config, data=tiny_data, state_dir=state, on_progress=on_progress,
                  should_stop=lambda: averaging_epochs == [1],
                  checkpoint_path=str(tmp_path / "interrupted.keras"))
    assert first.stopped and first.metrics["test_accuracy"] is None
    assert [e["epoch"] for e in events if e["event"] == "epoch"] == [1, 1]  # schedule, averaging
    # ... the same call resumes in the averaging phase
    events.clear()
    resumed = train(config, data=tiny_data, state_dir=state, on_progress=on_progress,
                    checkpoint_path=str(tmp_path / "resumed.keras"))
    assert not resumed.stopped and averaging_epochs == [1, 2]
    assert [e for e in events if e["event"] == "stage"][0] == {
        "event": "stage", "name": "swa", "epochs": 2, "initial_epoch": 1, "learning_rate": 0.005,
        "batch_size": 32, "steps_per_epoch": 8}
    assert [e["epoch"] for e in events if e["event"] == "epoch"] == [2]

    model, meta = load_checkpoint(resumed.checkpoint)
    assert meta["train_config"] == dataclasses.asdict(config)
    assert [h["epoch"] for h in meta["swa"]["history"]] == [1, 2] and meta["swa"]["epochs"] == 2
    assert meta["epochs_completed"] == 1 and "validation_accuracy_before_swa" in meta["metrics"]
    assert meta["training_seconds"] == pytest.approx(
        sum(h["epoch_seconds"] for h in meta["history"] + meta["swa"]["history"]), abs=0.11)

    # the checkpoint's trained weights are the mean of the two averaging epochs' weights
    ends = [_weights_of(str(tmp_path / f"averaging-epoch-{n}.keras"), meta) for n in (1, 2)]
    moving = {id(v) for layer in model.layers if hasattr(layer, "moving_mean")
              for v in (layer.moving_mean, layer.moving_variance)}
    for saved, one, two in zip(model.weights, *(m.weights for m in ends)):
        mean = (np.asarray(one) + np.asarray(two)) / 2
        if id(saved) in moving:  # BN statistics: recomputed for the average, not averaged
            assert not np.allclose(np.asarray(saved), mean, atol=1e-4), saved.path
        else:
            np.testing.assert_allclose(np.asarray(saved), mean, rtol=1e-6, atol=1e-7,
                                       err_msg=saved.path)
    # ... over one pass of augmented training pictures
    average = ends[0]
    average.set_weights([(np.asarray(a) + np.asarray(b)) / 2
                         for a, b in zip(ends[0].weights, ends[1].weights)])
    train_idx, _ = split_indices(tiny_data.y_train, config)
    recalibrate_batchnorm(average, batchnorm_images(tiny_data.x_train[train_idx], config),
                          max_batches=1)
    assert meta["swa"]["bn_statistics"] == "recomputed over 1 augmented batches of up to 256"
    for saved, recomputed in zip(model.weights, average.weights):
        np.testing.assert_allclose(np.asarray(saved), np.asarray(recomputed), rtol=1e-5, atol=1e-6,
                                   err_msg=saved.path)

    with pytest.raises(ValueError, match=r"another config \(differs in \['swa_epochs'\]\)"):
        train(dataclasses.replace(config, swa_epochs=3), data=tiny_data, state_dir=state)


@pytest.mark.slow  # trains
def test_an_uninterrupted_averaging_phase_ends_as_a_resumed_one(tiny_data, tmp_path):
    config = TrainConfig(**{**TINY_SWA, "swa_epochs": 1})
    state = str(tmp_path / "state")

    def copy_after_schedule(event):
        if event["event"] == "epoch" and "phase" not in event:
            shutil.copytree(state, tmp_path / "resumed")

    whole = train(config, data=tiny_data, state_dir=state, on_progress=copy_after_schedule,
                  checkpoint_path=str(tmp_path / "whole.keras"))
    resumed = train(config, data=tiny_data, state_dir=str(tmp_path / "resumed"),
                    checkpoint_path=str(tmp_path / "resumed.keras"))
    for a, b in zip(load_checkpoint(whole.checkpoint)[0].weights,
                    load_checkpoint(resumed.checkpoint)[0].weights):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-5, atol=1e-6, err_msg=a.path)
