"""A finished run's checkpoint is loaded for the classifier at once (not on first use)."""

import os
import time

from app_server import copy_checkpoint
from classroom.catalog import CheckpointCatalog
from classroom.runs import TrainingRuns
from mobilenet.train import TrainConfig


def test_catalog_warm_loads_the_listed_checkpoint(tiny_checkpoint, tmp_path):
    runs_dir = tmp_path / "runs"
    path = copy_checkpoint(tiny_checkpoint, str(runs_dir), "fresh.keras")
    catalog = CheckpointCatalog(str(tmp_path / "shipped"), str(runs_dir))
    catalog.warm(str(tmp_path / "runs" / "elsewhere.keras"))  # not listed: nothing loads
    assert len(catalog._loaded) == 0
    catalog.warm(path)
    assert [key[0] for key in catalog._loaded] == [path]


def test_runs_report_each_new_checkpoint(tiny_cifar, tmp_path):
    saved = []
    runs = TrainingRuns(str(tmp_path), tiny_cifar[1], on_checkpoint=saved.append)
    runs.start(TrainConfig(alpha=0.25, epochs=1, batch_size=32, train_size=100, validation_size=20),
               "Ann")
    deadline = time.monotonic() + 120
    while not saved:
        assert time.monotonic() < deadline, "the run did not report its checkpoint"
        time.sleep(0.2)
    assert os.path.dirname(saved[0]) == str(tmp_path) and os.path.exists(saved[0])
    assert runs.snapshot()["run"]["state"] == "finished"
