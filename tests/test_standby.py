"""Back-to-back runs start as fast as the first: while a run trains and another waits for it (the
class queue's ``waiting_recipe``), the next standby worker loads (``TrainingRuns.prepare_worker``), so
the waiting run trains at once; while nobody waits, the run has the machine to itself."""

import time

import pytest

from app_server import wait_until_ended
from classroom.runs import TrainingRuns
from demo.tabs.train_view import status_message
from mobilenet.checkpoints import read_metadata
from mobilenet.train import TrainConfig
from mobilenet.run_spec import RunSpec

pytestmark = [pytest.mark.slow, pytest.mark.alone]  # the tiers, and time bounds: docs/TESTS.md

# Long enough that the next standby is loaded while it trains (the tiny data: 300 pictures).
LONG = TrainConfig(variant="cifar", alpha=0.5, depth="full", train_size=None, epochs=30,
                   batch_size=16, learning_rate=0.01, augmentation=False)
# Start -> first training step of the run after another; measured here (2 shared cores): ~1.5 s,
# where a worker started only at the run's end made it wait ~20 s. Generous for slow CI.
FIRST_STEP_BOUND_S = 10


def first_step_seconds(runs, spec, name, timeout=120):
    """Seconds from ``start`` to the run's first training step ("batch" event)."""
    started = time.monotonic()
    runs.start(spec, name)
    while not [e for e in runs.snapshot()["run"]["history"] if e["event"] == "batch"]:
        assert time.monotonic() - started < timeout, "no training step"
        time.sleep(0.05)
    return time.monotonic() - started


def test_the_run_after_a_run_starts_as_fast_as_the_first(tiny_cifar, tmp_path):
    runs = TrainingRuns(str(tmp_path), tiny_cifar[1], standby=True)
    try:
        runs.prepare_worker()
        first = first_step_seconds(runs, RunSpec.of(LONG), "Ann")
        time.sleep(3)  # nobody waits: no standby loads beside Ann's run, which keeps every core
        assert runs._standby.worker is None and runs.snapshot()["run"]["state"] == "running"
        runs.prepare_worker(check_memory=True, recipe="classroom")  # as the class queue does when Bob's Start waits
        deadline = time.monotonic() + 180
        while not runs.snapshot()["worker_ready"]:  # the next standby loads while Ann's run trains
            assert runs.snapshot()["run"]["state"] in ("running", "stopping"), "Ann's run ended first"
            assert time.monotonic() < deadline, "no standby was loaded during the run"
            time.sleep(0.2)
        runs.stop("Ann")
        assert wait_until_ended(runs)["state"] == "stopped"

        second = first_step_seconds(runs, RunSpec("classroom"), "Bob")  # the default run, at once
        print(f"Start -> first step: first run {first:.1f} s, the run after it {second:.1f} s")
        assert second < FIRST_STEP_BOUND_S
        run = wait_until_ended(runs)
        assert run["state"] == "finished" and run["started_by"] == "Bob"
        assert read_metadata(run["checkpoint"])["trained_by"] == "Bob"  # the checkpoint list names Bob
    finally:
        runs.close()


def test_the_start_line_counts_the_training_images_before_the_worker_answers(tiny_cifar, tmp_path):
    """The start line names the number of training images from the first moment ("…" before)."""
    runs = TrainingRuns(str(tmp_path), tiny_cifar[1])
    try:
        runs.start(RunSpec.of(TrainConfig(train_size=100, epochs=1, batch_size=32, validation_size=20)), "Ann")
        run = runs.snapshot()["run"]
        assert run["train_images"] == 100 and run["validation_images"] == 20
        assert "100 training images" in status_message(run) and "100 张训练图片" in status_message(run, "zh")
        run = wait_until_ended(runs)
        assert run["train_images"] == 100  # the worker's own count agrees
        runs.start(RunSpec.of(TrainConfig(epochs=1)), "Bob")  # all of the tiny data's 300, less a tenth held out
        assert runs.snapshot()["run"]["train_images"] == 270  # shown at once as "270 training images"
        wait_until_ended(runs)
    finally:
        runs.close()
