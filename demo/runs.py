"""The server's one training run, shared by every browser.

A classroom has one CPU budget and many viewers: one background thread
trains at a time, ``start`` returns at once (or says who is training and
how long is left), every browser reads the same ``snapshot`` and so sees the
same live curve, and ``stop`` sets an event that ``mobilenet.train.train``
checks every step. Finished runs are saved under ``runs_dir``; only the
newest ``keep`` are kept so the disk cannot fill.
"""

import dataclasses
import datetime
import errno
import glob
import logging
import os
import threading
import time

from mobilenet.checkpoints import checkpoint_paths
from mobilenet.data import DataCorruptError, DataUnavailableError, load_cifar10
from mobilenet.train import train

from demo.i18n import Text

log = logging.getLogger(__name__)

ACTIVE_STATES = ("starting", "running", "stopping")
FINISHING_STAGES = {"batchnorm": Text("re-estimating BatchNorm statistics"),
                    "evaluate": Text("evaluating"), "save": Text("saving the checkpoint")}


class RunBusy(RuntimeError):
    """Another run is training; the message says who and how long is left."""


@dataclasses.dataclass
class Run:
    run_id: int
    started_by: str
    config: dict
    started_at: float = dataclasses.field(default_factory=time.time)
    state: str = "starting"
    total_steps: int = 0
    steps_per_epoch: int = 0
    train_images: int = 0
    validation_images: int = 0
    history: list = dataclasses.field(default_factory=list)  # "batch" and "epoch" events
    latest: dict | None = None  # the last "batch"/"epoch" event
    latest_at: float | None = None
    stage: str | None = None
    stopped_by: str | None = None
    checkpoint: str | None = None
    metrics: dict | None = None
    error: str | None = None
    finished_at: float | None = None

    def seconds_left(self):
        """ETA of the training steps from the last progress event, or None before it."""
        if not self.latest or self.latest.get("eta_s") is None:
            return None
        return max(0.0, self.latest["eta_s"] - (time.time() - self.latest_at))


class TrainingRuns:
    """Single-flight training for the whole server.

    Args:
        runs_dir: folder of the checkpoints trained here.
        data_source: CIFAR-10 source for ``load_cifar10`` (None: its env var / Keras cache).
        keep: how many run checkpoints to keep (oldest removed). Default 5.
        on_checkpoint: called with the path of each checkpoint a run saves, after the
            run has ended (the next run can already start).
    """

    def __init__(self, runs_dir, data_source=None, keep=5, on_checkpoint=None):
        self.runs_dir, self.data_source, self.keep = runs_dir, data_source, keep
        self.on_checkpoint = on_checkpoint  # called (in the run's thread) with each new checkpoint
        self._lock = threading.Condition()
        self._data_lock = threading.Lock()
        self._stop = threading.Event()
        self._run = None
        self._next_id = 1
        self._data = None
        self._data_status = {"state": "unknown", "message": ""}
        self._snapshot = None  # (version, view): one copy per change, however many viewers
        self.version = 0  # bumped on every change, so viewers can skip unchanged updates
        self.finished_runs = 0  # bumped when a checkpoint lands in runs_dir

    # -- data ------------------------------------------------------------------
    def load_data(self):
        """The CIFAR-10 arrays (loaded once); raises the package's data errors."""
        with self._data_lock:
            if self._data is None:
                self._set_data_status("loading", Text("Loading CIFAR-10 ..."))
                try:
                    self._data = load_cifar10(self.data_source)
                except (DataUnavailableError, DataCorruptError) as error:
                    self._set_data_status("unavailable", Text("{detail}", detail=str(error)))
                    raise
                described = self._data.describe()
                self._set_data_status("ready", Text(
                    "CIFAR-10 ready: {train:,} training and {test:,} test images.",
                    train=described["train_images"], test=described["test_images"]))
            return self._data

    def preload_data(self):
        """Starts loading CIFAR-10 in the background so the first Start is quick."""
        def load_quietly():
            try:
                self.load_data()
            except (DataUnavailableError, DataCorruptError):
                pass  # the status says why; Start retries

        threading.Thread(target=load_quietly, name="cifar10-preload", daemon=True).start()

    def _set_data_status(self, state, message):
        with self._lock:
            self._data_status = {"state": state, "message": message}
            self._changed()

    # -- start / stop ------------------------------------------------------------
    def start(self, config, started_by):
        """Starts ``config`` (a ``TrainConfig``) in the background; returns the run id.

        Raises ``RunBusy`` while another run trains, the package's data errors
        when CIFAR-10 is missing, and ``ValueError`` for a bad config.
        """
        with self._lock:
            if self._run is not None and self._run.state in ACTIVE_STATES:
                raise RunBusy(self._busy_message(self._run))
            run = Run(self._next_id, started_by, dataclasses.asdict(config))
            self._next_id += 1
            previous, self._run = self._run, run  # claims the slot before the slow part
            self._stop.clear()
            self._changed()
        try:
            data = self.load_data()
            config = fit_to_data(config, len(data.x_train))
            config.validate(len(data.x_train))
        except Exception:
            with self._lock:
                self._run = previous
                self._changed()
            raise
        with self._lock:
            run.config = dataclasses.asdict(config)
        threading.Thread(target=self._train, args=(run, config, data), name=f"train-{run.run_id}",
                         daemon=True).start()
        return run.run_id

    def stop(self, stopped_by):
        """Asks the current run to stop; returns what happened, in words."""
        with self._lock:
            run = self._run
            if run is None or run.state not in ACTIVE_STATES:
                return Text("No run is training right now.")
            if run.stage == FINISHING_STAGES["save"]:
                return Text("The run started by {who} is already saving its checkpoint: it ends "
                            "in a moment.", who=run.started_by)
            if run.state != "stopping":
                run.state, run.stopped_by = "stopping", stopped_by
                self._stop.set()
                self._changed()
        return Text("Stopping the run started by {who}: it saves what it has learned so far, "
                    "then ends.", who=run.started_by)

    def _busy_message(self, run):
        left = run.seconds_left()
        when = (Text("about {duration} left", duration=format_duration(left)) if left is not None
                else Text("just started"))
        return Text("{who} is training a model right now ({when}). Only one run trains at a time "
                    "on this server: watch its curve here, and start yours when it ends.",
                    who=run.started_by, when=when)

    # -- the training thread --------------------------------------------------------
    def _train(self, run, config, data):
        stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
        path = os.path.join(self.runs_dir, f"{stamp}_run{run.run_id}_{config.variant}"
                                           f"_a{config.alpha:g}.keras")
        try:
            result = train(config, data=data, checkpoint_path=path,
                           on_progress=lambda event: self._record(run, event),
                           should_stop=self._stop.is_set)
        except Exception as error:  # shown in the panel; the traceback goes to the server log
            log.exception("training run %s failed", run.run_id)
            with self._lock:
                run.state, run.error, run.finished_at = "failed", failure_reason(error), time.time()
                run.stage = None
                self._changed()
            return
        self._remove_old_runs()
        with self._lock:
            run.state = "stopped" if result.stopped else "finished"
            run.checkpoint, run.metrics = result.checkpoint, result.metrics
            run.finished_at, run.stage = time.time(), None
            self.finished_runs += 1
            self._changed()
        if self.on_checkpoint and result.checkpoint:
            self.on_checkpoint(result.checkpoint)

    def _record(self, run, event):
        with self._lock:
            kind = event["event"]
            if kind == "start":
                run.total_steps, run.steps_per_epoch = event["total_steps"], event["steps_per_epoch"]
                run.train_images, run.validation_images = event["train_images"], event["validation_images"]
                if run.state == "starting":
                    run.state = "running"
            elif kind in ("batch", "epoch"):
                run.history.append({"event": kind, **{k: v for k, v in event.items() if k != "event"}})
                run.latest, run.latest_at = event, time.time()
            elif kind == "stage":
                run.stage = FINISHING_STAGES.get(event["name"], event["name"])
                if event.get("split"):
                    run.stage = Text("{stage} on the {split} set", stage=run.stage,
                                     split=Text(event["split"]))
            self._changed()

    def _remove_old_runs(self):
        """Keeps the newest ``keep`` checkpoints of ``runs_dir`` (weights + JSON)."""
        weights = sorted(glob.glob(os.path.join(glob.escape(self.runs_dir), "*.keras")),
                         key=os.path.getmtime, reverse=True)
        for old in weights[self.keep:]:
            for file in checkpoint_paths(old):
                if os.path.exists(file):
                    os.remove(file)

    # -- what viewers read -------------------------------------------------------------
    def _changed(self):
        self.version += 1
        self._lock.notify_all()

    def snapshot(self):
        """Everything a viewer shows, as plain JSON-ready data (do not modify it)."""
        with self._lock:
            if self._snapshot is None or self._snapshot[0] != self.version:
                run = self._run
                self._snapshot = (self.version, {
                    "version": self.version, "finished_runs": self.finished_runs,
                    "data": dict(self._data_status),
                    "run": dataclasses.asdict(run) if run is not None else None})
            view = self._snapshot[1]
            if view["run"] is None:
                return view
            run = self._run
            return {**view, "run": {**view["run"], "seconds_left": run.seconds_left(),
                                    "elapsed_s": (run.finished_at or time.time()) - run.started_at}}

    def wait_for_change(self, version, timeout):
        """Blocks until ``version`` is outdated or ``timeout`` seconds passed; returns a snapshot."""
        with self._lock:
            self._lock.wait_for(lambda: self.version != version, timeout=timeout)
        return self.snapshot()


def failure_reason(error):
    """What a failed run tells every viewer: the cause in plain words, no server paths."""
    if isinstance(error, MemoryError) or type(error).__name__ == "ResourceExhaustedError":
        return Text("the server ran out of memory. Try a smaller batch size, a smaller α or fewer "
                    "training images.")
    if isinstance(error, OSError) and error.errno in (errno.ENOSPC, errno.EDQUOT):
        return Text("the disk is full, so the checkpoint could not be saved (the checkpoints saved "
                    "before are intact). Free some space on the server, then start again.")
    if isinstance(error, OSError):
        return Text("a file could not be read or written (`{detail}`).",
                    detail=error.strerror or type(error).__name__)
    return Text("`{detail}`", detail=f"{type(error).__name__}: {error}".replace("`", "'"))


def fit_to_data(config, available):
    """Sizes a UI config to the dataset: a tenth (at most the configured number) held
    out for validation, and a training size beyond what is left meaning "all of it"."""
    validation = min(config.validation_size, available // 10)
    pool = available - validation
    train_size = None if config.train_size is None or config.train_size >= pool else config.train_size
    return dataclasses.replace(config, validation_size=validation, train_size=train_size)


def format_duration(seconds):
    seconds = int(round(seconds))
    return f"{seconds // 60}:{seconds % 60:02d}" if seconds >= 60 else f"{seconds} s"
