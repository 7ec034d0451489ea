"""Training workers fork from a process that loaded TensorFlow once (``mobilenet.worker_start``),
under their owner's environment of now; spawned when a library's load-time setting changed."""

import pytest

from mobilenet import worker_start
from mobilenet.worker import TrainingWorker


def test_a_worker_forks_while_the_libraries_load_time_settings_are_unchanged(monkeypatch):
    assert worker_start.context().get_start_method() == "forkserver"
    monkeypatch.setenv("MOBILENET_NOT_READ_AT_LOAD", "1")  # read (if at all) when the worker runs
    assert worker_start.context().get_start_method() == "forkserver"
    monkeypatch.setenv("ONEDNN_MAX_CPU_ISA", "SSE41")  # oneDNN, TensorFlow: read when they load
    assert worker_start.context().get_start_method() == "spawn"
    monkeypatch.undo()
    assert worker_start.context().get_start_method() == "forkserver"
    monkeypatch.setattr("multiprocessing.get_all_start_methods", lambda: ["spawn"])  # Windows
    assert worker_start.context().get_start_method() == "spawn"
    monkeypatch.undo()
    monkeypatch.setattr("sys.platform", "darwin")
    assert worker_start.context().get_start_method() == "spawn"


@pytest.mark.slow
@pytest.mark.parametrize("isa", [None, "AVX2"])
def test_a_worker_runs_under_its_owners_environment_of_now(tiny_cifar, monkeypatch, isa):
    first = TrainingWorker(tiny_cifar[1])  # the fork server runs (started by now, or before)
    assert first.wait_ready(120)
    first.close()
    monkeypatch.setenv("CPU_CORES", "1")  # read by the worker when it sizes TensorFlow's threads
    if isa:  # a load-time setting changed: spawned, and it still takes effect
        monkeypatch.setenv("ONEDNN_MAX_CPU_ISA", isa)
    worker = TrainingWorker(tiny_cifar[1])
    try:
        assert worker.wait_ready(120), worker.startup_error
        assert worker.info["cores"] == 1
        assert worker.start_method == ("spawn" if isa else "forkserver")
    finally:
        worker.close()
