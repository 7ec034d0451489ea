"""A finished run's checkpoint is loaded in the request workers at once (not on first use)."""

import os
import time

import pytest

from app_server import copy_checkpoint
import classroom.work
from classroom.runs import TrainingRuns
from mobilenet.train import TrainConfig
from mobilenet.run_spec import RunSpec

pytestmark = pytest.mark.slow  # the tiers: docs/TESTS.md


def test_warm_loads_a_new_checkpoint_in_every_quick_worker(tiny_checkpoint, tmp_path, work):
    """``warm`` returns at once; the workers load the checkpoint one after another, each between
    two requests (``WorkPool.broadcast``), within seconds."""
    path = copy_checkpoint(tiny_checkpoint, str(tmp_path / "runs"), "fresh.keras")
    work.warm(str(tmp_path / "runs" / "elsewhere.keras"))  # no such file: nothing loads, nothing fails
    work.warm(path)
    deadline = time.monotonic() + 60
    while not all(path in work.quick.call(classroom.work.loaded_networks) for _ in range(work.quick.size)):
        assert time.monotonic() < deadline, "a quick worker did not load the new checkpoint"
        time.sleep(0.2)


def test_runs_report_each_new_checkpoint(tiny_cifar, tmp_path):
    saved = []
    runs = TrainingRuns(str(tmp_path), tiny_cifar[1], on_checkpoint=saved.append)
    runs.start(RunSpec.of(TrainConfig(alpha=0.25, epochs=1, batch_size=32, train_size=100, validation_size=20)),
               "Ann")
    deadline = time.monotonic() + 120
    while not saved:
        assert time.monotonic() < deadline, "the run did not report its checkpoint"
        time.sleep(0.2)
    assert os.path.dirname(saved[0]) == str(tmp_path) and os.path.exists(saved[0])
    assert runs.snapshot()["run"]["state"] == "finished"
