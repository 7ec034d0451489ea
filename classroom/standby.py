"""The loaded training worker that waits for the next Start: ``Standby``.

A worker takes ~20 s to load TensorFlow and CIFAR-10 and ~7 s (2 cores) to trace a model's
training step; a standby has done both before the Start comes, so the run trains from its first
step. ``classroom.runs`` starts the next one when a run ends, or while it trains if another run
waits in the class queue (memory allowing: ``STANDBY_MEMORY_MB``), so that run starts as fast.

What it prepares, and when: tracing beside a run takes the run's cores (the quick run trained at
0.69 of the CLI's speed while a standby traced every preset beside it). So a standby started
beside a run prepares only that run's recipe (the likely next Start, and a short trace), and the
app's other presets (``mobilenet.recipes.APP_PRESETS``) once no run trains (``machine_idle``).
"""

import threading

from mobilenet.recipes import APP_PRESETS, RECIPES
from mobilenet.worker import TrainingWorker

# What a standby worker holds (its RSS): TensorFlow, Keras and the default model traced, 1.0 GB
# measured with the tests' tiny data, plus CIFAR-10 as uint8 (184 MB). While a run trains, the
# next standby doubles the training memory: it starts only when twice this is available.
STANDBY_MEMORY_MB = 1200


class Standby:
    """At most one loaded worker, waiting for the next run.

    Args:
        data_source: CIFAR-10 for the workers (``mobilenet.data.load_cifar10``).
        devices: the devices its workers are prepared for (``TrainingWorker``'s): a run on
            others gets a worker of its own.
        on_speed: called (in a thread of its own) with this machine's training speed (cost units
            per second, ``mobilenet.duration``) once the first standby has timed its first model.
    """

    def __init__(self, data_source, devices=None, on_speed=None):
        self.data_source, self.devices, self.on_speed = data_source, devices, on_speed
        self._lock = threading.Lock()
        self._worker = None
        self._closed = False

    @property
    def ready(self):
        """Whether a worker is loaded and waiting."""
        worker = self._worker
        return bool(worker and worker.ready)

    def prepare(self, check_memory=False, beside=None):
        """Starts a standby worker, unless one waits already.

        ``beside``: the recipe of the run that trains now: the worker prepares it first, and
        the other presets only once no run trains. None (no run trains): the classroom run
        first (it times this machine), then the others; a worker that waits already is told
        that it may prepare them now. ``check_memory``: start one only when the machine has
        ``STANDBY_MEMORY_MB`` available beyond what the run beside it needs."""
        with self._lock:
            worker = None if self._closed else self._worker
        if worker is None and not self._closed and not (
                check_memory and memory_available_mb() < 2 * STANDBY_MEMORY_MB):
            worker = self._start(beside)
        if worker is not None and beside is None:
            worker.machine_idle()

    def _start(self, beside):
        first = beside if beside in APP_PRESETS else APP_PRESETS[0]
        later = [RECIPES[name] for name in APP_PRESETS if name != first]
        with self._lock:
            if self._worker is not None or self._closed:
                return self._worker
            self._worker = worker = TrainingWorker(self.data_source, prepare=[RECIPES[first]],
                                                   prepare_when_idle=later, devices=self.devices)
        threading.Thread(target=self._read_speed, args=(worker,), daemon=True,
                         name="training-worker-speed").start()
        return worker

    def _read_speed(self, worker):
        if worker.wait_ready(timeout=600) and worker.speed and self.on_speed:
            self.on_speed(worker.speed["speed"])

    def take(self, devices=None):
        """The waiting worker for a run on ``devices``, or a new one (nothing prepared) when none
        waits or it was prepared for other devices (that one is ended)."""
        with self._lock:
            worker, self._worker = self._worker, None
        if worker is not None and (worker.devices or 1) == (devices or 1):
            return worker
        if worker is not None:
            worker.kill()
        return TrainingWorker(self.data_source, devices=devices)

    def close(self):
        """Ends the waiting worker; no other is started."""
        with self._lock:
            worker, self._worker, self._closed = self._worker, None, True
        if worker is not None:
            worker.kill()

    @property
    def worker(self):
        """The waiting worker, or None."""
        return self._worker


def memory_available_mb():
    """The memory the system can give without swapping (Linux's MemAvailable); infinite where
    it cannot be read (the standby is then started as if it fits)."""
    try:
        with open("/proc/meminfo") as meminfo:
            return next(int(line.split()[1]) for line in meminfo if line.startswith("MemAvailable:")) / 1024
    except (OSError, StopIteration, ValueError):
        return float("inf")
