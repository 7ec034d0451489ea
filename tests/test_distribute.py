"""Training on several devices and machines through the engines (``mobilenet.distribute``), and
on the JAX backend without TensorFlow: each run is ``python -m mobilenet train`` in a process of
its own (devices are fixed when an engine starts), on the tiny data.

The tolerance: with BatchNorm statistics over the global batch (``--sync-batchnorm``) a
data-parallel step is one device's step up to rounding, so the step on 2 devices (or 2 workers)
moves the weights as one device's step does within 2 % of its length (measured: 0.5 %; Keras'
synchronized BatchNorm computes the variance as E[x^2] - E[x]^2 in float32, which costs a few
digits). One step only: from there BatchNorm over near-constant channels of a network at its
start magnifies rounding (measured on either path: 4e-6 after one plain step on random pictures,
1.6e-3 after two). With each device's own statistics (the default) the arithmetic differs on
purpose; the step's loss agrees within 0.1.
"""

import concurrent.futures
import json
import os
import socket
import subprocess
import sys

import numpy as np
import pytest

pytestmark = pytest.mark.slow  # the tiers: docs/TESTS.md

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ONE_STEP = ["--variant", "cifar", "--depth", "shallow", "--alpha", "0.25", "--epochs", "1",
             "--batch-size", "32", "--train-size", "32", "--validation-size", "20",
             "--optimizer", "sgd", "--learning-rate", "0.005", "--dropout", "0"]
# As on the GPU machine, which has Keras and JAX but no TensorFlow.
WITHOUT_TENSORFLOW = ("import runpy, sys; sys.modules['tensorflow'] = None; "
                      "sys.argv = ['mobilenet'] + sys.argv[1:]; "
                      "runpy.run_module('mobilenet', run_name='__main__', alter_sys=True)")


def _environment(**extra):
    env = {k: v for k, v in os.environ.items() if k not in ("TF_CONFIG", "XLA_FLAGS")
           and not k.startswith("KERAS_DISTRIBUTION")}
    env.update({"PYTHONPATH": ROOT, "KERAS_BACKEND": "tensorflow", **extra})
    return env


def _train(data, out, *flags, env=None, python=("-m", "mobilenet"), wait=True):
    command = [sys.executable, *python, "train", "--data", data, "--out", str(out), *flags]
    process = subprocess.Popen(command, cwd=ROOT, env=env or _environment(), text=True,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    return _finish(process) if wait else process


def _ended(process):
    """(exit status, output) of a process, once it has ended."""
    output, _ = process.communicate(timeout=600)
    return process.returncode, output


def _finish(process):
    status, output = _ended(process)
    assert status == 0, output[-3000:]
    return output


def _two_workers(data, folder):
    """MultiWorkerMirroredStrategy: two processes, one CPU device each, talking over loopback;
    their outputs."""
    folder.mkdir()
    ports = _free_ports(2)
    cluster = {"worker": [f"127.0.0.1:{port}" for port in ports]}
    processes = []
    for index in range(2):
        config = json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}})
        (folder / f"tmp{index}").mkdir()
        processes.append(_train(data, folder / "run.keras", *ONE_STEP, "--sync-batchnorm",
                                env=_environment(TF_CONFIG=config, TMPDIR=str(folder / f"tmp{index}")),
                                wait=False))
    return [_finish(process) for process in processes]


@pytest.fixture(scope="module")
def runs(tiny_cifar, tmp_path_factory):
    """Every training process of this module, started at once, two at a time (each is one
    process that waits on its own: the suite's second core does the next), by name: a future of
    its output. ``folder`` holds their checkpoints."""
    data, folder = tiny_cifar[1], tmp_path_factory.mktemp("distribute")
    jax = _environment(KERAS_BACKEND="jax", XLA_FLAGS="--xla_force_host_platform_device_count=2")
    jobs = {
        # one device: BatchNorm over the batch, synchronized or not (the reference of both)
        "one": lambda: _train(data, folder / "one.keras", *ONE_STEP, "--sync-batchnorm", "--devices", "1"),
        "two": lambda: _train(data, folder / "two.keras", *ONE_STEP, "--sync-batchnorm", "--devices", "2"),
        "own-2": lambda: _train(data, folder / "own-2.keras", *ONE_STEP, "--devices", "2"),
        "workers": lambda: _two_workers(data, folder / "workers"),
        "jax": lambda: _train(data, folder / "jax.keras", *ONE_STEP, "--devices", "2", "--augmentation",
                              "--cutout", "8", "--swa-epochs", "1", "--state-dir", str(folder / "state"),
                              env=jax, python=("-c", WITHOUT_TENSORFLOW)),
        # a single-device JAX run refuses devices it does not have
        "jax-refused": lambda: _ended(_train(data, folder / "no.keras", *ONE_STEP, "--devices", "2",
                                             env=_environment(KERAS_BACKEND="jax"),
                                             python=("-c", WITHOUT_TENSORFLOW), wait=False)),
    }
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        futures = {name: pool.submit(job) for name, job in jobs.items()}
        futures["folder"] = folder
        yield futures
        for future in futures.values():
            if isinstance(future, concurrent.futures.Future):
                future.cancel()


def _weights(path):
    from mobilenet.checkpoints import load_checkpoint

    model, meta = load_checkpoint(str(path))
    return {w.path: np.asarray(w) for w in model.weights}, meta


def _initial_weights(meta):
    """The weights ``train`` starts from: the model built after ``set_random_seed(seed)``."""
    import keras

    from mobilenet.checkpoints import model_args
    from mobilenet.model import build_mobilenet

    keras.utils.set_random_seed(meta["train_config"]["seed"])
    model = build_mobilenet(**model_args(meta["model"]))
    return {w.path: np.asarray(w) for w in model.trainable_weights}


def _assert_same_step(weights, reference, share=0.02):
    """``weights`` moved from the start as ``reference`` (weights, meta) did, within ``share`` of
    the step's length."""
    reference_weights, meta = reference
    start = _initial_weights(meta)
    assert weights.keys() == reference_weights.keys()
    step = np.concatenate([(reference_weights[k] - start[k]).ravel() for k in start])
    other = np.concatenate([(weights[k] - start[k]).ravel() for k in start])
    assert np.linalg.norm(step) > 0.1  # it did move
    assert np.linalg.norm(other - step) < share * np.linalg.norm(step), \
        np.linalg.norm(other - step) / np.linalg.norm(step)


def _free_ports(n):
    sockets = [socket.socket() for _ in range(n)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


@pytest.fixture(scope="module")
def one_device(runs):
    runs["one"].result()
    return _weights(runs["folder"] / "one.keras")


def test_two_cpu_devices_take_the_step_of_one(runs, one_device):
    runs["two"].result()
    weights, meta = _weights(runs["folder"] / "two.keras")
    _assert_same_step(weights, one_device)
    assert meta["train_config"]["sync_batchnorm"] is True


def test_per_device_batchnorm_differs_only_a_little(runs, one_device):
    """Each device's own statistics on 2 devices against one device's (where the batch's
    statistics are the device's: the reference run)."""
    runs["own-2"].result()
    weights, meta = _weights(runs["folder"] / "own-2.keras")
    losses = [one_device[1]["history"][0]["loss"], meta["history"][0]["loss"]]
    assert abs(losses[0] - losses[1]) < 0.1, losses
    assert meta["train_config"]["sync_batchnorm"] is False


def test_two_workers_on_localhost_train_one_model(runs, one_device):
    """The chief writes the checkpoint, the other worker leaves nothing behind."""
    outputs = runs["workers"].result()
    folder = runs["folder"] / "workers"
    weights, meta = _weights(folder / "run.keras")
    _assert_same_step(weights, one_device)
    assert "test accuracy" in outputs[1] and os.listdir(folder / "tmp1") == []
    assert sorted(os.listdir(folder)) == ["run.json", "run.keras", "tmp0", "tmp1"]


def test_the_jax_backend_trains_on_two_devices_without_tensorflow(tiny_cifar, runs, one_device):
    """The same train() on KERAS_BACKEND=jax, TensorFlow made unimportable, 2 host devices; the
    checkpoint loads here (TensorFlow) and measures what the JAX run measured."""
    from mobilenet.checkpoints import load_checkpoint
    from mobilenet.data import load_cifar10
    from mobilenet.evaluate import evaluate

    output = runs["jax"].result()
    out = runs["folder"] / "jax.keras"
    assert "test accuracy" in output
    weights, meta = _weights(out)
    assert meta["versions"]["backend"] == "jax" and "tensorflow" not in meta["versions"]
    assert [h["epoch"] for h in meta["swa"]["history"]] == [1]
    model = load_checkpoint(str(out))[0]
    data = load_cifar10(tiny_cifar[1])
    assert evaluate(model, data.x_test, data.y_test)["accuracy"] == pytest.approx(
        meta["metrics"]["test_accuracy"], abs=1e-9)
    assert weights.keys() == one_device[0].keys()  # the same variables, by the same names

    # a single-device JAX run refuses devices it does not have, with the way to make them
    status, output = runs["jax-refused"].result()
    assert status != 0
    assert "--xla_force_host_platform_device_count=2" in output
