"""Stand-ins for ``mobilenet.train.train`` that the training worker calls (``TrainingRuns(trainer=)``).

They run in the worker process, so they must be importable there (the worker gets this
process's ``sys.path``) and picklable: module functions, bound with ``functools.partial``.
Each calls the real ``train`` and breaks it at one moment, as a real fault would.
"""

import errno
import os
import signal
import time

from mobilenet import checkpoints
from mobilenet.train import train


def _at_event(matches, action):
    """``train`` whose progress stream runs ``action(should_stop)`` after the first event that
    ``matches`` (a predicate name of ``MOMENTS``)."""
    def trainer(config, on_progress=None, should_stop=None, **kwargs):
        fired = []

        def progress(event):
            on_progress(event)
            if not fired and MOMENTS[matches](event):
                fired.append(True)
                action(should_stop)
        return train(config, on_progress=progress, should_stop=should_stop, **kwargs)
    return trainer


MOMENTS = {
    "first batch": lambda e: e["event"] == "batch",
    "evaluation": lambda e: e["event"] == "stage" and e.get("split") == "test",
    "saving": lambda e: e["event"] == "stage" and e["name"] == "save",
}


def raising(kind, config, **kwargs):
    """Raises ``MemoryError`` or TensorFlow's out-of-memory error at the first batch."""
    def fail(should_stop):
        if kind == "MemoryError":
            raise MemoryError()
        import tensorflow as tf
        raise tf.errors.ResourceExhaustedError(None, None, "OOM when allocating")
    return _at_event("first batch", fail)(config, **kwargs)


def killed(config, **kwargs):
    """The worker is killed at the first batch, as the kernel's out-of-memory killer does."""
    return _at_event("first batch", lambda should_stop: os.kill(os.getpid(), signal.SIGKILL))(
        config, **kwargs)


def deaf(config, **kwargs):
    """Hangs at the first batch and never answers Stop (a stuck kernel, a deadlock)."""
    def hang(should_stop):
        while True:
            time.sleep(1)
    return _at_event("first batch", hang)(config, **kwargs)


def pausing(moment, config, **kwargs):
    """Waits at ``moment`` (up to 60 s) until Stop arrives, so that a test can press Stop at
    exactly that moment of a tiny run that would otherwise be over before Stop lands."""
    def wait_for_stop(should_stop):
        deadline = time.monotonic() + 60
        while not should_stop() and time.monotonic() < deadline:
            time.sleep(0.02)
    return _at_event(moment, wait_for_stop)(config, **kwargs)


def disk_full(where, config, **kwargs):
    """The checkpoint's weights file (or its JSON) hits a full disk after a few bytes."""
    def write_then_fail(path):
        with open(path, "wb") as f:
            f.write(b"PK\x03\x04 the first bytes")
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), path)

    class FullDisk:
        def __init__(self, model):
            pass
        save = staticmethod(write_then_fail)

    if where == "weights":
        checkpoints._uncompiled = FullDisk
    else:
        checkpoints._write_json = lambda path, record: write_then_fail(path)
    return train(config, **kwargs)


def naming_its_options(config, data=None, checkpoint_path=None, on_progress=None, should_stop=None,
                       **options):
    """Fails at once, naming what ``train`` was called with besides the run's plumbing: what the
    run's description (``RunSpec``) became on the far side of the worker's pipe."""
    given = " ".join(f"{name}={value}" for name, value in sorted(options.items()))
    raise ValueError(f"{given} alpha={config.alpha} train_size={config.train_size}")
