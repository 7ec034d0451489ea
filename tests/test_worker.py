"""Training in a worker process: oneDNN on, Stop that kills a deaf worker, a crashed worker,
memory that returns, runs bounded in time (refused before, stopped when overrunning)."""

import functools
import json
import os
import subprocess
import sys
import time

import pytest

import worker_faults
from app_server import copy_checkpoint, wait_until_ended
from classroom.runs import RunTooLong, StopOutcome, TrainingRuns
from demo.tabs.train_view import status_message
from mobilenet import runtime
from mobilenet.checkpoints import load_checkpoint, read_metadata
from mobilenet.data import file_sha256
from mobilenet.train import TrainConfig
from mobilenet.run_spec import RunSpec

pytestmark = pytest.mark.slow  # the tiers: docs/TESTS.md

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TINY = TrainConfig(variant="paper", alpha=0.25, depth="shallow", epochs=1, batch_size=32, train_size=100,
                   validation_size=20, progress_every=1)


ENTRY_POINTS = ("mobilenet", "mobilenet.__main__", "mobilenet.bench", "app")


def fresh_process(code, **environ):
    """Starts ``code`` in a new Python with this environment minus TensorFlow's oneDNN switches;
    a function that returns the last line it printed, once it has ended."""
    env = {k: v for k, v in os.environ.items() if k not in ("TF_ENABLE_ONEDNN_OPTS", "ONEDNN_MAX_CPU_ISA")}
    env.update(environ, PYTHONPATH=ROOT)
    process = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True, env=env, cwd=ROOT)

    @functools.cache
    def last_line():
        out, err = process.communicate(timeout=300)
        assert process.returncode == 0, err[-2000:]
        return out.strip().splitlines()[-1]
    last_line.process = process
    return last_line


@pytest.fixture(scope="module")
def fresh_processes():
    """The processes of the oneDNN tests below, started together (each loads TensorFlow on its
    own and mostly waits on one core: the suite's other core does the next)."""
    code = ("import {}, tensorflow, os; from mobilenet.runtime import onednn_enabled; "
            "print(onednn_enabled(), os.environ.get('TF_ENABLE_ONEDNN_OPTS'))")
    processes = {name: fresh_process(code.format(name)) for name in ENTRY_POINTS}
    processes["user"] = fresh_process(code.format("mobilenet"), TF_ENABLE_ONEDNN_OPTS="0")
    yield processes
    for last_line in processes.values():
        last_line.process.kill()
        last_line.process.communicate()


@pytest.mark.parametrize("entry_point", ENTRY_POINTS)
def test_every_entry_point_turns_onednn_on_whatever_the_cpu(entry_point, fresh_processes):
    assert fresh_processes[entry_point]() == "True 1"


def test_the_users_own_onednn_setting_wins(fresh_processes):
    assert fresh_processes["user"]() == "False 0"


def test_cores_come_from_spaces_or_the_affinity_mask():
    assert runtime.cpu_cores({"CPU_CORES": "2"}) == 2
    assert runtime.cpu_cores({"CPU_CORES": "zero"}) == len(os.sched_getaffinity(0))
    assert runtime.cpu_cores({}) == len(os.sched_getaffinity(0))


def test_the_cpu_is_described_with_its_vector_extensions(tmp_path):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor\t: 0\nmodel name\t: AMD EPYC 7B13\nflags\t\t: fpu sse avx avx2 fma\n"
                       "processor\t: 1\nmodel name\t: AMD EPYC 7B13\nflags\t\t: fpu sse avx avx2 fma\n")
    assert runtime.cpu_description(str(cpuinfo)) == "AMD EPYC 7B13 (AVX, AVX2, FMA, no AVX-512)"
    cpuinfo.write_text("model name\t: Intel Xeon\nflags\t\t: avx avx2 avx512f avx512_vnni amx_tile\n")
    assert runtime.cpu_description(str(cpuinfo)) == "Intel Xeon (AVX, AVX2, AVX512F, AVX512-VNNI, AMX-TILE)"


def test_the_worker_trains_with_onednn_on_and_the_machines_cores(tiny_cifar, monkeypatch):
    from mobilenet.worker import TrainingWorker

    monkeypatch.delenv("TF_ENABLE_ONEDNN_OPTS", raising=False)  # as for a user who set nothing
    worker = TrainingWorker(tiny_cifar[1], cores=2)
    try:
        assert worker.wait_ready(timeout=300)
        assert worker.info["onednn"] is True and worker.info["cores"] == 2
    finally:
        worker.close()
    assert not worker.process.is_alive()


def test_a_worker_that_does_not_answer_stop_is_killed_and_the_run_reported_stopped(tiny_cifar,
                                                                                   tiny_checkpoint, tmp_path):
    runs_dir = str(tmp_path / "runs")
    old = copy_checkpoint(tiny_checkpoint, runs_dir, "old.keras")
    before = {name: file_sha256(os.path.join(runs_dir, name)) for name in os.listdir(runs_dir)}
    runs = TrainingRuns(runs_dir, tiny_cifar[1], trainer=worker_faults.deaf)
    try:
        runs.start(RunSpec.of(TINY), "Ann")
        while not runs.snapshot()["run"]["history"]:
            time.sleep(0.1)  # it hangs after its first batch
        reply = runs.stop("Bob")
        assert reply.outcome == StopOutcome.STOPPING and reply.started_by == "Ann"
        stopped_at = time.monotonic()
        run = wait_until_ended(runs)
        assert time.monotonic() - stopped_at < 15
        assert run["state"] == "stopped" and run["checkpoint"] is None and run["stopped_by"] == "Bob"
        assert "did not answer Stop" in status_message(run) and "nothing of this run was saved" in \
            status_message(run)
        assert "没有响应停止" in status_message(run, "zh")
        assert {name: file_sha256(os.path.join(runs_dir, name)) for name in os.listdir(runs_dir)} == before
        load_checkpoint(old)
        runs.trainer = None
        runs.start(RunSpec.of(TINY), "Cy")  # the slot is free again and the next run works
        assert wait_until_ended(runs)["state"] == "finished"
    finally:
        runs.close()


def test_a_killed_worker_is_a_failed_run_and_the_next_run_works(tiny_cifar, tmp_path):
    runs = TrainingRuns(str(tmp_path), tiny_cifar[1], trainer=worker_faults.killed)
    try:
        runs.start(RunSpec.of(TINY), "Ann")
        run = wait_until_ended(runs)
        assert run["state"] == "failed" and run["checkpoint"] is None
        message = status_message(run)
        assert message.startswith("The run by **Ann** failed: the training process was killed")
        assert "ran out of memory" in message and "/" not in message.split("failed:")[1]
        assert "训练进程被终止了" in status_message(run, "zh")
        assert os.listdir(tmp_path) == []
        runs.trainer = None
        runs.start(RunSpec.of(TINY), "Bob")
        assert wait_until_ended(runs)["state"] == "finished"
    finally:
        runs.close()


def rss_mb():
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmRSS:")) / 1024


def test_the_servers_memory_returns_after_each_run(tiny_cifar, tmp_path):
    """Training happens in the worker: five runs leave the server's RSS where the first left it."""
    runs = TrainingRuns(str(tmp_path), tiny_cifar[1], standby=True)
    after = []
    try:
        runs.prepare_worker()
        for name in ("Ann", "Bob", "Cy", "Di", "Ed"):
            # the model's size is the worker's memory, not the server's: the classroom network
            runs.start(RunSpec.of(TrainConfig(epochs=1, batch_size=32, train_size=400, validation_size=50)), name)
            assert wait_until_ended(runs)["state"] == "finished"
            after.append(rss_mb())
    finally:
        runs.close()
    assert max(after) - after[0] < 100, after


def test_settings_beyond_the_time_limit_are_refused_with_the_estimate(tiny_cifar, tmp_path):
    runs = TrainingRuns(str(tmp_path), tiny_cifar[1], max_run_minutes=10)
    try:
        slow = TrainConfig(depth="full", epochs=30, batch_size=16, train_size=None, validation_size=20)
        pool, test_images = 49_000, 100
        assert runs.estimate_seconds(slow, pool, test_images) > 600
        with pytest.raises(RunTooLong) as refused:
            runs._check_length(slow, pool, test_images)
        assert refused.value.estimate_s > 600 and refused.value.limit_s == 600
        assert runs.snapshot()["run"] is None
        # the same refusal through start, which leaves the slot free
        runs.max_run_seconds = 1
        with pytest.raises(RunTooLong):
            runs.start(RunSpec.of(TINY), "Ann")
        assert runs.snapshot()["run"] is None
    finally:
        runs.close()


def test_the_estimate_grows_with_the_work():
    from mobilenet.duration import estimate_seconds

    base = TrainConfig()
    seconds = estimate_seconds(base, 35_000)
    assert estimate_seconds(TrainConfig(epochs=base.epochs * 2), 35_000) > 1.8 * seconds - 20
    assert estimate_seconds(TrainConfig(batch_size=16), 35_000) > seconds
    assert estimate_seconds(TrainConfig(variant="cifar", alpha=1.0, depth="full"), 35_000) > 3 * seconds
    assert estimate_seconds(base, 35_000, speed=2 * 176e6) == pytest.approx(seconds / 2)


def test_a_run_that_overruns_the_limit_is_stopped_and_saved(tiny_cifar, tmp_path):
    runs = TrainingRuns(str(tmp_path), tiny_cifar[1], trainer=functools.partial(worker_faults.pausing,
                                                                                "first batch"))
    try:
        runs.start(RunSpec.of(TINY), "Ann")
        while not runs.snapshot()["run"]["history"]:
            time.sleep(0.1)  # it waits after its first batch
        runs.max_run_seconds = 1  # after the start's check: as if the estimate had been too low
        run = wait_until_ended(runs)
        assert run["state"] == "stopped" and run["stopped_by"] is None and run["stopped_by_time_limit"]
        assert read_metadata(run["checkpoint"])["stopped"] is True
        assert "stopped by **the time limit**" in status_message(run)
        assert "被 **时间上限** 停止" in status_message(run, "zh")
    finally:
        runs.close()


def test_the_speed_is_measured_once_at_start(tiny_cifar, tmp_path):
    runs = TrainingRuns(str(tmp_path), tiny_cifar[1], standby=True)
    try:
        runs.prepare_worker()
        deadline = time.monotonic() + 300
        while runs.speed is None:
            assert time.monotonic() < deadline, "no speed was measured"
            time.sleep(0.2)
        assert runs.speed > 0 and json.dumps(runs._standby.worker.speed)
    finally:
        runs.close()


@pytest.mark.parametrize("settings", [{}, {"alpha": 0.5, "depth": "full"}, {"variant": "cifar", "alpha": 0.25},
                                      {"variant": "cifar", "depth": "full", "alpha": 0.75, "dropout": 0.0}])
def test_the_cost_model_counts_the_network_that_is_built(settings):
    import math

    from mobilenet.duration import network_size
    from mobilenet.model import build_mobilenet

    config = TrainConfig(**settings).model_config()
    model = build_mobilenet(**config)
    built = (sum(math.prod(layer.output.shape[1:]) for layer in model.layers[1:]), len(model.layers))
    assert network_size(config) == built


def test_stop_before_training_began_ends_the_run_at_once(tiny_cifar, tmp_path):
    runs = TrainingRuns(str(tmp_path), tiny_cifar[1])  # no standby: the worker is still loading
    try:
        runs.start(RunSpec.of(TINY), "Ann")
        runs.stop("Ann")
        run = wait_until_ended(runs, timeout=30)
        assert run["state"] == "stopped" and run["checkpoint"] is None and os.listdir(tmp_path) == []
        assert status_message(run).endswith("stopped before training began; nothing was saved.")
        runs.start(RunSpec.of(TINY), "Bob")
        assert wait_until_ended(runs)["state"] == "finished"
    finally:
        runs.close()
