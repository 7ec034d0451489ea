"""Faults: a process killed mid-save, a run that raises, a full disk, Stop at awkward moments.

After each, the checkpoints saved before load, nothing half-written is listed, the app
still serves and the next run starts.
"""

import contextlib
import functools
import os
import signal
import subprocess
import sys

import numpy as np
import pytest
from gradio_client import handle_file

import classroom.runs
import worker_faults
from app_server import SHIPPED_NAME, copy_checkpoint, running_app, wait_until_ended
from classroom.catalog import CheckpointCatalog
from mobilenet.inference import Classifier
from classroom.runs import TrainingRuns
from classroom.runs import StopOutcome
from demo.tabs.train_view import status_message
from mobilenet import checkpoints
from mobilenet.checkpoints import load_checkpoint, read_metadata
from mobilenet.data import file_sha256
from mobilenet.run_spec import RunSpec
from mobilenet.train import TrainConfig
from loopback_client import api_client

pytestmark = pytest.mark.slow  # the tiers: docs/TESTS.md

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PHOTO = os.path.join(ROOT, "demo", "examples", "photo_coffee.jpg")
TINY = TrainConfig(variant="paper", alpha=0.25, depth="shallow", epochs=1, batch_size=32, train_size=100,
                   validation_size=20, progress_every=1)
OUT_OF_MEMORY = ("the server ran out of memory. Try a smaller batch size, a smaller α or fewer "
                 "training images.")
DISK_FULL = ("the disk is full, so the checkpoint could not be saved (the checkpoints saved before "
             "are intact). Free some space on the server, then start again.")

# -- SIGKILL during a checkpoint save, in a real process ----------------------------------------------

# The child overwrites current.keras with new weights (as `train --out` does) and pauses at
# POINT, printing PAUSED, its point and its process id; the test then kills it with SIGKILL.
# save_checkpoint's steps: weights to a temporary file, JSON to .current.json.pending
# (os.replace #1), weights renamed (#2), JSON renamed (#3), folder fsynced.
CHILD = r"""
import os, sys, time
from mobilenet import checkpoints

def pause():
    print("PAUSED", point, os.getpid(), flush=True)
    time.sleep(300)

model, record = checkpoints.load_checkpoint(os.path.join(folder, "current.keras"))
model.set_weights([w + 0.01 for w in model.get_weights()])
if point == "weights_half_written":
    uncompiled = checkpoints._uncompiled
    class HalfWritten:
        def __init__(self, model):
            self.model = model
        def save(self, path):
            self.model.save(path)
            os.truncate(path, os.path.getsize(path) // 3)
            pause()
    checkpoints._uncompiled = lambda model: HalfWritten(uncompiled(model))
elif point.startswith("before_rename_"):
    replace, calls = os.replace, []
    def paused_replace(src, dst):
        calls.append(dst)
        if len(calls) == int(point[-1]):
            pause()
        replace(src, dst)
    os.replace = paused_replace
elif point == "after_renames":  # the pending JSON's own write fsyncs the folder first
    fsyncs = []
    checkpoints._fsync_folder = lambda folder: fsyncs.append(folder) if not fsyncs else pause()
metadata = {k: v for k, v in record.items() if k in ("train_config", "metrics", "history")}
checkpoints.save_checkpoint(model, os.path.join(folder, "current.keras"), record["model"],
                            metadata, overwrite=True)
print("SAVED", flush=True)
"""
KILL_POINTS = ["weights_half_written", "before_rename_1", "before_rename_2", "before_rename_3",
               "after_renames"]


# One process loads TensorFlow and forks a child per (point, folder) of its arguments (as the
# app's fork server forks its workers: before TensorFlow ran anything), then reports how each
# child ended: "ENDED point signal".
PARENT = r"""
import os, sys
import mobilenet.model  # TensorFlow and Keras, loaded once for the five children
children = {}
for point, folder in zip(sys.argv[1::2], sys.argv[2::2]):
    pid = os.fork()
    if pid == 0:
        try:
            exec(compile(CHILD, "child", "exec"))  # CHILD reads point and folder
        finally:
            os._exit(0)
    children[pid] = point
for _ in children:
    pid, status = os.wait()
    print("ENDED", children[pid], os.WTERMSIG(status) if os.WIFSIGNALED(status) else -1, flush=True)
"""


def start_children(folders):
    """The process that forks a child for each of ``folders`` ({point: folder})."""
    env = {**os.environ, "PYTHONPATH": ROOT, "TF_CPP_MIN_LOG_LEVEL": "3"}
    arguments = [value for point, folder in folders.items() for value in (point, folder)]
    return subprocess.Popen([sys.executable, "-c", f"CHILD = {CHILD!r}\n{PARENT}", *arguments],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env, cwd=ROOT)


@pytest.fixture(scope="module")
def killed_saves(tiny_checkpoint, tmp_path_factory):
    """{point: (folder, old hash of current.keras)} after a child was killed at each point."""
    folders = {}
    for point in KILL_POINTS:
        folder = str(tmp_path_factory.mktemp(point) / "checkpoints")
        copy_checkpoint(tiny_checkpoint, folder, "older.keras")
        copy_checkpoint(tiny_checkpoint, folder, "current.keras")
        folders[point] = folder
    parent, paused, ended = start_children(folders), {}, None
    try:
        while len(paused) < len(folders):
            said = parent.stdout.readline().split()
            assert said[:1] == ["PAUSED"], f"a child said {said!r} (paused: {sorted(paused)})"
            paused[said[1]] = int(said[2])
        for pid in paused.values():
            os.kill(pid, signal.SIGKILL)
        ended = dict(line.split()[1:] for line in parent.stdout.read().splitlines())
        assert parent.wait(timeout=30) == 0
    finally:
        for pid in paused.values() if ended is None else ():  # none left sleeping if a check failed
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        parent.kill()
    assert ended == {point: str(int(signal.SIGKILL)) for point in KILL_POINTS}
    return {point: (folder, file_sha256(tiny_checkpoint)) for point, folder in folders.items()}


def test_the_app_starts_after_a_kill_between_the_renames(killed_saves, tiny_cifar):
    folder, old_hash = killed_saves["before_rename_3"]
    # Killed between the two renames: new weights beside the old JSON until the app completes it.
    assert read_metadata(os.path.join(folder, "current.keras"))["weights_sha256"] == old_hash
    with running_app(os.path.dirname(folder), tiny_cifar[1]) as (url, _, _):
        client = api_client(url)
        for key in ("shipped/current.keras", "shipped/older.keras"):
            top5 = client.predict(handle_file(PHOTO), key, api_name="/classify")[0]
            assert len(top5["confidences"]) == 5


@pytest.mark.parametrize("point", KILL_POINTS)
def test_sigkill_during_a_save_leaves_every_checkpoint_loadable(point, killed_saves):
    folder, old_hash = killed_saves[point]
    catalog = CheckpointCatalog(folder, os.path.join(folder, "runs"))  # what the app does at start
    listed = {os.path.basename(entry.path): entry for entry in catalog.entries()}
    assert sorted(listed) == ["current.keras", "older.keras"]
    for entry in listed.values():
        load_checkpoint(entry.path)  # raises if half-written or mismatched
    current_hash = file_sha256(os.path.join(folder, "current.keras"))
    assert read_metadata(os.path.join(folder, "current.keras"))["weights_sha256"] == current_hash
    # Killed once its weights were in place: the pending JSON completed the save. Before: the old.
    assert (current_hash != old_hash) == (point in ("before_rename_3", "after_renames"))
    visible = sorted(name for name in os.listdir(folder)
                     if not name.startswith(".") and os.path.isfile(os.path.join(folder, name)))
    assert visible == ["current.json", "current.keras", "older.json", "older.keras"]
    # Hidden leftovers (a temporary file, a JSON whose weights never arrived) wait an hour:
    # a younger one could belong to a save still running in another process.
    hidden = [name for name in os.listdir(folder) if name.startswith(".")]
    assert all(".tmp." in name or name.endswith(checkpoints.PENDING) for name in hidden)
    assert bool(hidden) == (point in ("weights_half_written", "before_rename_1", "before_rename_2"))


@pytest.mark.parametrize("point", KILL_POINTS)
def test_leftovers_of_old_crashes_are_removed(point, killed_saves):
    folder, _ = killed_saves[point]
    checkpoints.recover(folder, stale_seconds=0)
    assert not [name for name in os.listdir(folder) if name.startswith(".")]
    for name in ("current.keras", "older.keras"):
        load_checkpoint(os.path.join(folder, name))


# -- a run that fails, a full disk ----------------------------------------------------------------------

def test_a_run_that_raises_is_reported_and_the_server_keeps_serving(tiny_cifar, tiny_checkpoint,
                                                                    tmp_path):
    with running_app(str(tmp_path), tiny_cifar[1], tiny_checkpoint) as app:
        url, _, runs_dir = app
        client = api_client(url)
        start = dict(name="Ann", variant="paper", alpha=0.25, depth="shallow", train_images=100, epochs=1,
                     batch_size=32, learning_rate=0.01, augmentation=False, api_name="/start_training")
        for kind in ("MemoryError", "ResourceExhaustedError"):
            app.runs.trainer = functools.partial(worker_faults.raising, kind)
            assert client.predict(**start).startswith("Started")
            job = client.submit(api_name="/watch_training")
            job.result(timeout=180)
            run = job.outputs()[-1]["run"]
            assert run["state"] == "failed" and run["stage"] is None
            assert status_message(run).startswith("The run by **Ann** failed")
            assert OUT_OF_MEMORY in status_message(run)
            status = client.predict(None, "en", api_name="/refresh")[1]
            assert "failed" in status and OUT_OF_MEMORY in status
            top5 = client.predict(handle_file(PHOTO), f"shipped/{SHIPPED_NAME}", api_name="/classify")[0]
            assert len(top5["confidences"]) == 5  # still serving
        app.runs.trainer = None
        assert client.predict(**start).startswith("Started")  # the next run starts, and ends well
        job = client.submit(api_name="/watch_training")
        job.result(timeout=180)
        run = job.outputs()[-1]["run"]
        assert run["state"] == "finished"
        # The failed runs left nothing behind: only this run's two files (beside the class board's database).
        assert sorted(name for name in os.listdir(runs_dir) if not name.startswith("class_board.")) == sorted(
            os.path.basename(path) for path in checkpoints.checkpoint_paths(run["checkpoint"]))
        key = f"run/{os.path.basename(run['checkpoint'])}"  # waits for the app's own load of it
        assert len(client.predict(handle_file(PHOTO), key, api_name="/classify")[0]["confidences"]) == 5


@pytest.mark.parametrize("where", ["weights", "json"])
def test_a_full_disk_fails_the_run_clearly_and_keeps_old_checkpoints(where, tiny_cifar, tiny_checkpoint,
                                                                     tmp_path):
    runs_dir = str(tmp_path / "runs")
    old = [copy_checkpoint(tiny_checkpoint, runs_dir, f"old_{i}.keras") for i in range(2)]
    before = {name: file_sha256(os.path.join(runs_dir, name)) for name in os.listdir(runs_dir)}
    runs = TrainingRuns(runs_dir, tiny_cifar[1], keep=2, trainer=functools.partial(worker_faults.disk_full,
                                                                                   where))
    runs.start(RunSpec.of(TINY), "Ann")
    run = wait_until_ended(runs)
    assert run["state"] == "failed"
    assert status_message(run).startswith("The run by **Ann** failed") and DISK_FULL in status_message(run)
    assert {name: file_sha256(os.path.join(runs_dir, name)) for name in os.listdir(runs_dir)} == before
    for path in old:
        load_checkpoint(path)
    runs.trainer = None
    runs.start(RunSpec.of(TINY), "Bob")
    assert wait_until_ended(runs)["state"] == "finished"


# -- Stop at the first batch, during evaluation, during saving -----------------------------------------

STOP_AT = {"first batch": "stopped", "evaluation": "stopped", "saving": "finished"}  # -> end state


@pytest.fixture(scope="module")
def shared_runs(tiny_cifar, tmp_path_factory):
    """One server's runs for every Stop test: each one starts where the last left it."""
    runs_dir = str(tmp_path_factory.mktemp("stop-runs"))
    return TrainingRuns(runs_dir, tiny_cifar[1], keep=5), runs_dir


@pytest.mark.parametrize("moment", list(STOP_AT))
def test_stop_at_an_awkward_moment_leaves_the_app_consistent(moment, shared_runs, monkeypatch):
    runs, runs_dir = shared_runs
    end_state, matches = STOP_AT[moment], worker_faults.MOMENTS[moment]
    replies, record = [], runs._record

    def record_and_stop(run, event):
        record(run, event)
        if matches(event) and not replies:
            replies.append(runs.stop("Bob"))

    monkeypatch.setattr(runs, "_record", record_and_stop)
    # The worker waits at that moment until Stop arrives (a tiny run would be over before);
    # Stop while saving is refused by the server, so nothing waits for it.
    monkeypatch.setattr(runs, "trainer", None if moment == "saving" else
                        functools.partial(worker_faults.pausing, moment))
    runs.start(RunSpec.of(TINY), "Ann")
    run = wait_until_ended(runs)
    assert run["state"] == end_state, replies
    assert replies[0].outcome == (StopOutcome.SAVING if moment == "saving" else StopOutcome.STOPPING)
    assert replies[0].started_by == "Ann"
    metadata = read_metadata(run["checkpoint"])
    assert metadata["stopped"] is (end_state == "stopped")
    assert (metadata["metrics"]["test_accuracy"] is None) is (end_state == "stopped")
    if moment == "first batch":  # Stop is seen at the end of the next step
        assert metadata["epochs_completed"] == 0
        assert [event["global_step"] for event in run["history"]] == [1, 2]
    catalog = CheckpointCatalog(str(os.path.join(runs_dir, "none")), runs_dir)
    entry = catalog.find(f"run/{os.path.basename(run['checkpoint'])}")
    assert len(Classifier.from_checkpoint(entry.path).top_k(np.zeros((32, 32, 3), np.uint8))) == 5
    assert runs.stop("Bob").outcome == StopOutcome.NO_RUN
    assert run["stage"] is None and run["stopped_by"] == ("Bob" if end_state == "stopped" else None)


def test_a_second_start_after_a_refused_one_still_works(shared_runs):
    runs, _ = shared_runs
    runs.start(RunSpec.of(TINY), "Ann")
    with pytest.raises(classroom.runs.RunBusy) as busy:
        runs.start(RunSpec.of(TINY), "Bob")
    assert busy.value.who == "Ann"
    assert wait_until_ended(runs)["state"] == "finished"
    with pytest.raises(ValueError, match="train_size"):
        runs.start(RunSpec.of(TrainConfig(train_size=5)), "Cy")  # a bad config does not take the slot
    runs.start(RunSpec.of(TINY), "Cy")
    assert wait_until_ended(runs)["state"] == "finished"
