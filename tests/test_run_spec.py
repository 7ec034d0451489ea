"""A run's description (``RunSpec``): what the CLI and the app's Start ask for, the config it
trains, what its record keeps; and the standby worker's order of preparing the presets."""

import dataclasses
import json

import pytest

import worker_faults
from app_server import wait_until_ended
from classroom.runs import TrainingRuns
from mobilenet import worker
from mobilenet.cli_commands import spec_from_args
from mobilenet.cli_parser import build_parser
from mobilenet.recipes import RECIPES
from mobilenet.run_spec import RunSpec


def test_a_spec_is_its_recipe_with_the_overrides():
    spec = RunSpec("quick", {"alpha": 0.5, "seed": 3}, devices=2)
    assert spec.config() == dataclasses.replace(RECIPES["quick"], alpha=0.5, seed=3)
    assert spec.train_options() == {"devices": 2, "state_dir": None, "weights_dtype": "float32"}
    assert RunSpec("shipped-cifar").train_options()["weights_dtype"] == "float16"  # as shipped
    record = spec.record()
    assert record == {"recipe": "quick", "overrides": {"alpha": 0.5, "seed": 3}, "devices": 2,
                      "weights_dtype": "float32"}
    assert json.loads(json.dumps(record)) == record


def test_a_config_becomes_the_spec_of_what_differs_from_the_recipe():
    config = dataclasses.replace(RECIPES["quick"], alpha=0.5)
    spec = RunSpec.of(config, "quick")
    assert spec.overrides == {"alpha": 0.5} and spec.config() == config
    assert RunSpec.of(RECIPES["classroom"]).overrides == {}
    assert spec.with_config(RECIPES["quick"]) == RunSpec("quick")


def test_a_spec_names_what_is_wrong():
    with pytest.raises(ValueError, match="recipe='nope'"):
        RunSpec("nope")
    with pytest.raises(ValueError, match="'alhpa'"):
        RunSpec(overrides={"alhpa": 1})
    with pytest.raises(ValueError, match="devices=0"):
        RunSpec(devices=0)
    with pytest.raises(ValueError, match="weights_dtype='int8'"):
        RunSpec(weights_dtype="int8")
    with pytest.raises(ValueError, match="train_size=5"):
        RunSpec(overrides={"train_size": 5}).config()  # the values: when the config is made


def test_the_cli_builds_the_spec_from_its_flags():
    """``train`` without --recipe is the classroom run, as the app's Start."""
    parser = build_parser()
    assert spec_from_args(parser.parse_args(["train"])) == RunSpec("classroom")
    spec = spec_from_args(parser.parse_args(["train", "--recipe", "quick", "--alpha", "0.5", "--devices", "2",
                                             "--no-float16", "--state-dir", "state"]))
    assert spec == RunSpec("quick", {"alpha": 0.5}, devices=2, weights_dtype="float32", state_dir="state")


QUIET = object()  # a poll that times out: the quiet time passed without a message


class FakePipe:
    """The worker's end of its pipe: each poll takes the next of ``script``, a message or QUIET."""

    def __init__(self, script):
        self.script, self.polls = list(script), []

    def poll(self, timeout=None):
        self.polls.append(timeout)
        if self.script[0] is QUIET:
            assert timeout is not None, "the worker would wait for ever"
            self.script.pop(0)
            return False
        return True

    def recv(self):
        return self.script.pop(0)


@pytest.mark.parametrize("script, prepared, polls", [
    (["job"], [], [None]),  # beside a run: nothing more is prepared before the job comes
    ([{"event": "machine_idle"}, QUIET, "job"], ["quick"], [None, worker.IDLE_QUIET_SECONDS, None]),
    ([{"event": "machine_idle"}, "job"], [], [None, worker.IDLE_QUIET_SECONDS]),  # a Start soon after
], ids=["beside a run", "idle", "a Start soon after a run"])
def test_the_standby_prepares_the_other_presets_only_once_no_run_trains(script, prepared, polls):
    job = {"spec": RunSpec(), "checkpoint_path": "x.keras", "trainer": None}
    pipe, done = FakePipe([job if step == "job" else step for step in script]), []
    assert worker._wait_for_job(pipe, ["quick"], done.append) is job
    assert done == prepared and pipe.polls == polls


@pytest.mark.slow  # a worker process that loads TensorFlow
def test_the_apps_spec_reaches_train_through_the_worker(tiny_cifar, tmp_path):
    """The runs and the worker's pipe hand the spec on as it came (sized to the tiny data); its
    devices are made in the worker before TensorFlow starts (2 logical CPU devices here)."""
    runs = TrainingRuns(str(tmp_path), tiny_cifar[1], trainer=worker_faults.naming_its_options)
    try:
        runs.start(RunSpec("quick", {"alpha": 0.5, "train_size": 100, "validation_size": 20}, devices=2,
                           weights_dtype="float16"), "Ann")
        assert runs.snapshot()["run"]["spec"] == {
            "recipe": "quick", "overrides": {"alpha": 0.5, "train_size": 100, "validation_size": 20},
            "devices": 2, "weights_dtype": "float16"}  # what every viewer (and a class board) sees
        run = wait_until_ended(runs)
        assert run["state"] == "failed", run
        assert run["error"]["detail"] == ("ValueError: devices=2 state_dir=None "
                                          "weights_dtype=float16 alpha=0.5 train_size=100")
    finally:
        runs.close()
