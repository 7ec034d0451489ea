"""A run's row on the class board (classroom.board_rows): its settings, results and curves."""

import dataclasses
import time

from classroom.board_rows import MAX_CURVE_POINTS, cost_of, curves_of, ended_fields, settings_of
from classroom.run_record import Run, RunState
from mobilenet.recipes import RECIPES


def history(steps, per_epoch=10):
    return [{"event": "batch", "epoch": step // per_epoch + 1, "step": step % per_epoch + 1,
             "steps_per_epoch": per_epoch, "loss": 2.0 - step / steps, "accuracy": step / steps,
             "images_per_sec": 900.0} for step in range(steps)]


def test_the_settings_are_those_the_train_panel_shows():
    config = RECIPES["quick"]
    shown = settings_of(config)
    assert shown == settings_of(dataclasses.asdict(config))
    assert set(shown) == {"variant", "alpha", "depth", "train_size", "epochs", "batch_size", "learning_rate",
                          "augmentation"}


def test_curves_are_by_epoch_and_stay_small_however_long_the_run():
    points = curves_of(history(30))
    assert [p["epoch"] for p in points[:2]] == [0.1, 0.2] and points[-1]["epoch"] == 3.0
    long = curves_of(history(5_000))
    assert len(long) <= MAX_CURVE_POINTS + 1 and long[-1]["epoch"] == 500.0
    assert curves_of([]) == [] and curves_of([{"event": "stage", "name": "save"}]) == []


def test_an_ended_run_reports_the_accuracy_the_app_answers_with():
    config = dataclasses.asdict(RECIPES["classroom"])
    run = Run(7, "Ann", config, state=RunState.FINISHED, started_at=time.time() - 61, history=history(20),
              checkpoint="/runs/x/20261207_run7_cifar_a0.25.keras", finished_at=time.time(),
              metrics={"test_accuracy": 0.60, "test_accuracy_tta": 0.62, "validation_accuracy": 0.6,
                       "validation_accuracy_tta": 0.61})
    fields = ended_fields(run)
    assert fields["status"] == "finished" and fields["test_accuracy"] == 0.62 and fields["tta"]
    assert fields["checkpoint"] == "20261207_run7_cifar_a0.25.keras" and 60 < fields["seconds"] < 63
    assert (fields["params"], fields["mult_adds"]) == cost_of(config) and fields["images_per_sec"] == 900.0
    failed = ended_fields(dataclasses.replace(run, state=RunState.FAILED, metrics=None, checkpoint=None,
                                              error={"reason": "out_of_memory"}))
    assert failed["status"] == "failed" and failed["test_accuracy"] is None and not failed["tta"]
    assert failed["note"] == "out_of_memory" and failed["checkpoint"] is None
