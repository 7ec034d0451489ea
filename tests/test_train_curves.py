"""The Train tab's curve data (Gradio's plot never draws a colour missing from its first frame)."""

import math

from demo.tabs.train_view import curves


def batch(step):
    return {"event": "batch", "global_step": step, "steps_per_epoch": 10, "loss": 2.0 - step / 100,
            "accuracy": step / 100}


def test_validation_is_in_the_legend_before_its_first_point():
    loss, accuracy = curves({"history": [batch(5)]})
    assert set(loss["curve"]) == {"train", "validation"}
    placeholder = loss[loss["curve"] == "validation"]
    assert len(placeholder) == 1 and math.isnan(placeholder["loss"].iloc[0])
    assert set(accuracy["curve"]) == {"train", "validation"}


def test_validation_points_replace_the_placeholder():
    epoch_end = {**batch(10), "event": "epoch", "val_loss": 1.5, "val_accuracy": 0.4}
    loss, _ = curves({"history": [batch(5), batch(10), epoch_end]})
    validation = loss[loss["curve"] == "validation"]
    assert list(validation["epoch"]) == [1.0] and list(validation["loss"]) == [1.5]


def test_nothing_before_the_first_point():
    assert curves({"history": []}) == (None, None)

