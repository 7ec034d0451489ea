"""The server's one training run, shared by every browser.

A classroom has one CPU budget and many viewers: one run trains at a time, in
its own process (``mobilenet.worker.TrainingWorker``: the server keeps serving,
the run gets the cores, its memory goes when it ends, a crash ends only the
worker). ``start`` returns at once (or says who is training and how long is
left, or that the settings would take longer than the server allows); every
browser reads the same ``snapshot`` and so sees the same live curve, fed by the
worker's progress dicts. ``stop`` asks the worker to stop within a step and
save; a worker that does not answer within ``STOP_ANSWER_SECONDS`` is killed.
Runs have owners: only the browser session that started a run, or the teacher
(``classroom.teacher``), can stop it.
A run that overruns ``max_run_minutes`` is stopped and saved. Finished runs are
saved under ``runs_dir``; only the newest ``keep`` are kept so the disk cannot
fill. With ``standby`` a loaded worker waits for the next Start; the next one is started
as a run starts (memory allowing: ``STANDBY_MEMORY_MB``), so a run right after it starts as fast.

Everything here is data, never display text: a run's ``RunState`` and finishing
``Stage`` are enums, who stopped it is a visitor's name (or the time limit), a
failure is a small dict (``failure_reason``), refusals are exceptions with
attributes and ``stop`` answers a ``StopReply``. The Train tab
(``demo.tabs.train``) words them, in the viewer's language. Progress reaches
every viewer one way: ``watch`` (the page asks it every few seconds, API
clients stream it).
"""

import dataclasses
import datetime
import enum
import glob
import json
import logging
import os
import signal
import threading
import time

from classroom.settings import DEFAULTS
from mobilenet.checkpoints import atomic_write, checkpoint_paths
from mobilenet.data import DataCorruptError, DataUnavailableError, load_cifar10
from mobilenet.duration import estimate_seconds, speed_from_run
from mobilenet.recipes import APP_PRESETS, RECIPES
from mobilenet.train import fit_to_data
from mobilenet.worker import TrainingWorker, WorkerExited, WorkerFailedToLoad, describe_exit

log = logging.getLogger(__name__)


class RunState(enum.StrEnum):
    """Where a run is. A ``str``: snapshots stay JSON, and ``state == "finished"`` holds."""
    STARTING = "starting"  # loading the data and the model
    RUNNING = "running"
    STOPPING = "stopping"  # Stop was pressed (or the time limit passed): it saves, then ends
    STOPPED = "stopped"
    FINISHED = "finished"
    FAILED = "failed"


ACTIVE_STATES = (RunState.STARTING, RunState.RUNNING, RunState.STOPPING)


class Stage(enum.StrEnum):
    """What a run does after its training steps (``mobilenet.train``'s "stage" events); the set
    it evaluates on is ``Run.stage_split``."""
    SWA = "swa"              # weight averaging (``mobilenet.weight_averaging``)
    BATCHNORM = "batchnorm"  # re-estimating the BatchNorm statistics
    EVALUATE = "evaluate"
    SAVE = "save"


class StopOutcome(enum.StrEnum):
    """What a press of Stop did."""
    NO_RUN = "no_run"      # nothing was training
    STOPPING = "stopping"  # the run saves what it learned, then ends
    SAVING = "saving"      # too late: the run is already saving and ends in a moment


@dataclasses.dataclass(frozen=True)
class StopReply:
    outcome: StopOutcome
    started_by: str | None = None  # whose run it was (a visitor's name)


MAX_RUN_MINUTES = DEFAULTS.max_run_minutes  # the server's limit of one run (``classroom.settings``)
KEEP_RUNS = DEFAULTS.keep_runs
STOP_ANSWER_SECONDS = 5  # a stopping worker that sends nothing for this long is killed
FINISH_AFTER_STOP_SECONDS = 60  # ... and one still finishing this long after Stop
POLL_SECONDS = 0.25
# What a standby worker holds (its RSS): TensorFlow, Keras and the default model traced, 1.0 GB
# measured with the tests' tiny data, plus CIFAR-10 as uint8 (184 MB). While a run trains, the
# next standby doubles the training memory: it starts only when twice this is available.
STANDBY_MEMORY_MB = 1200


class RunBusy(RuntimeError):
    """Another run is training: ``who`` started it, ``seconds_left`` its ETA (None: just started)."""

    def __init__(self, who, seconds_left):
        super().__init__(who, seconds_left)
        self.who, self.seconds_left = who, seconds_left


class RunTooLong(RuntimeError):
    """The settings would train for about ``estimate_s`` seconds here; a run may take ``limit_s``."""

    def __init__(self, estimate_s, limit_s):
        super().__init__(estimate_s, limit_s)
        self.estimate_s, self.limit_s = estimate_s, limit_s


class NotYourRun(PermissionError):
    """Stop from someone who neither started the run (``who`` did) nor is the teacher."""

    def __init__(self, who):
        super().__init__(who)
        self.who = who


@dataclasses.dataclass
class Run:
    run_id: int
    started_by: str
    config: dict
    owner: str | None = None  # the session that started it (None: anyone may stop it); never shown
    started_by_teacher: bool = False
    started_at: float = dataclasses.field(default_factory=time.time)
    state: RunState = RunState.STARTING
    total_steps: int = 0
    steps_per_epoch: int = 0
    train_images: int = 0
    validation_images: int = 0
    history: list = dataclasses.field(default_factory=list)  # "batch", "epoch" and "validation" events
    latest: dict | None = None  # the last "batch"/"epoch" event
    latest_at: float | None = None
    stage: Stage | None = None
    stage_split: str | None = None  # the set a Stage.EVALUATE runs on: "validation", "test", ...
    stopped_by: str | None = None  # the visitor who pressed Stop
    stopped_by_teacher: bool = False
    stopped_by_time_limit: bool = False  # stopped by the server: it ran past max_run_minutes
    checkpoint: str | None = None
    metrics: dict | None = None
    error: dict | None = None  # why it failed, or why a stopped run saved nothing: failure_reason
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
        data_source: CIFAR-10 source for ``load_cifar10`` (None: a cache, else a download).
        keep: how many run checkpoints to keep (oldest removed; 0: none). Default ``KEEP_RUNS``.
        on_checkpoint: called with the path of each checkpoint a run saves, after the
            run has ended (the next run can already start).
        max_run_minutes: the longest run this server accepts (estimated before it starts)
            and lets run (stopped and saved when it overruns). Default ``MAX_RUN_MINUTES``.
        standby: keep a loaded worker waiting for the next Start (see ``prepare_worker``).
            Default False.
        trainer: a picklable function with ``mobilenet.train.train``'s signature that the
            worker calls instead of it (tests inject faults with it). Default None.
    """

    def __init__(self, runs_dir, data_source=None, keep=KEEP_RUNS, on_checkpoint=None,
                 max_run_minutes=MAX_RUN_MINUTES, standby=False, trainer=None):
        self.runs_dir, self.data_source, self.keep = runs_dir, data_source, keep
        self.on_checkpoint = on_checkpoint  # called (in the run's thread) with each new checkpoint
        self.max_run_seconds = 60 * max_run_minutes
        self.standby, self.trainer = standby, trainer  # trainer: a picklable stand-in for train()
        self.speed = None  # this machine's training speed (cost units/s): measured, then each run
        self._lock = threading.Condition()
        self._data_lock = threading.Lock()
        self._stop = threading.Event()
        self._run = None
        self._worker = None   # the worker of the current run
        self._spare = None    # a loaded worker waiting for the next Start (with ``standby``)
        self._closed = False
        self._next_id = 1
        self._data = None
        self._data_status = {"state": "unknown"}  # then "loading", "ready" or "unavailable"
        self._snapshot = None  # (version, view): one copy per change, however many viewers
        self.version = 0  # bumped on every change, so viewers can skip unchanged updates
        self.finished_runs = 0  # bumped when a checkpoint lands in runs_dir

    # -- data ------------------------------------------------------------------
    def load_data(self):
        """The CIFAR-10 arrays (loaded once); raises the package's data errors.

        The snapshot's ``data`` follows it: ``{"state": "loading"}``, then ``{"state": "ready",
        "train": images, "test": images}`` or ``{"state": "unavailable", "detail": the package's
        reason}``."""
        with self._data_lock:
            if self._data is None:
                self._set_data_status(state="loading")
                try:
                    self._data = load_cifar10(self.data_source)
                except (DataUnavailableError, DataCorruptError) as error:
                    self._set_data_status(state="unavailable", detail=str(error))
                    raise
                described = self._data.describe()
                self._set_data_status(state="ready", train=described["train_images"],
                                      test=described["test_images"])
            return self._data

    def preload_data(self):
        """Starts loading CIFAR-10 in the background so the first Start is quick."""
        def load_quietly():
            try:
                self.load_data()
            except (DataUnavailableError, DataCorruptError):
                pass  # the status says why; Start retries

        threading.Thread(target=load_quietly, name="cifar10-preload", daemon=True).start()

    def _set_data_status(self, **status):
        with self._lock:
            self._data_status = status
            self._changed()

    # -- workers ---------------------------------------------------------------------
    def prepare_worker(self, check_memory=False):
        """Starts a standby worker now (loading TensorFlow and CIFAR-10, and timing this
        machine once), so that the next Start trains at once. Needs ``standby``.

        A standby costs about ``STANDBY_MEMORY_MB`` (TensorFlow, CIFAR-10 and the default
        model in its own process). ``check_memory``: only when the machine has that much
        available beyond ``STANDBY_MEMORY_MB`` for the run beside it (a run starts the next
        standby while it trains; when memory is short, the run's end starts it instead)."""
        if check_memory and memory_available_mb() < 2 * STANDBY_MEMORY_MB:
            return
        with self._lock:
            if self.standby and self._spare is None and not self._closed:
                # the app's presets (the classroom run first: it times this machine) train
                # from their first step at once
                self._spare = TrainingWorker(self.data_source,
                                             prepare=[RECIPES[name] for name in APP_PRESETS])
                threading.Thread(target=self._read_speed, args=(self._spare,), daemon=True,
                                 name="training-worker-speed").start()

    def _read_speed(self, worker):
        if worker.wait_ready(timeout=600) and worker.speed and self.speed is None:
            self.speed = worker.speed["speed"]

    def _take_worker(self):
        with self._lock:
            worker, self._spare = self._spare, None
        return worker or TrainingWorker(self.data_source)

    def close(self):
        """Ends the workers (the current run's too): for a server that shuts down."""
        with self._lock:
            self._closed = True
            workers = [w for w in (self._spare, self._worker) if w is not None]
            self._spare = None
        for worker in workers:
            worker.kill()

    # -- start / stop ------------------------------------------------------------
    def start(self, config, started_by, owner=None, teacher=False):
        """Starts ``config`` (a ``TrainConfig``) in a worker process; returns the run id.

        ``owner`` (the browser session's id) is who may stop it, besides the teacher; None lets
        anyone stop it (runs started by the server's own code). ``teacher``: started by the
        teacher (shown with the teacher's badge).

        Raises ``RunBusy`` while another run trains, ``RunTooLong`` when its estimated time
        exceeds the server's limit, the package's data errors when CIFAR-10 is missing, and
        ``ValueError`` for a bad config.
        """
        with self._lock:
            if self._run is not None and self._run.state in ACTIVE_STATES:
                raise RunBusy(self._run.started_by, self._run.seconds_left())
            run = Run(self._next_id, str(started_by), dataclasses.asdict(config), owner=owner,
                      started_by_teacher=bool(teacher))
            self._next_id += 1
            previous, self._run = self._run, run  # claims the slot before the slow part
            self._stop.clear()
            self._changed()
        try:
            data = self.load_data()
            config = fit_to_data(config, len(data.x_train))
            config.validate(len(data.x_train))
            self._check_length(config, len(data.x_train) - config.validation_size, len(data.x_test))
        except Exception:
            with self._lock:
                self._run = previous
                self._changed()
            raise
        with self._lock:
            run.config = dataclasses.asdict(config)
            # known now (the worker's "start" event says the same later): the start line has them
            run.validation_images = config.validation_size
            run.train_images = config.train_size or len(data.x_train) - config.validation_size
        threading.Thread(target=self._train, args=(run, config), name=f"train-{run.run_id}",
                         daemon=True).start()
        return run.run_id

    def estimate_seconds(self, config, train_pool, test_images):
        """Seconds ``config`` would take here, from this machine's measured speed."""
        images = min(config.train_size or train_pool, train_pool)
        return estimate_seconds(config, images, test_images, speed=self.speed)

    def _check_length(self, config, train_pool, test_images):
        estimate = self.estimate_seconds(config, train_pool, test_images)
        if estimate > self.max_run_seconds:
            raise RunTooLong(estimate, self.max_run_seconds)

    def stop(self, stopped_by, owner=None, teacher=False):
        """Asks the current run to stop; returns a ``StopReply`` (what happened, whose run).

        Raises ``NotYourRun`` unless ``owner`` is the session that started the run, or
        ``teacher`` is true, or the run has no owner.
        """
        with self._lock:
            run = self._run
            if run is None or run.state not in ACTIVE_STATES:
                return StopReply(StopOutcome.NO_RUN)
            if run.owner is not None and owner != run.owner and not teacher:
                raise NotYourRun(run.started_by)
            if run.stage == Stage.SAVE:
                return StopReply(StopOutcome.SAVING, run.started_by)
            if run.state != RunState.STOPPING:
                run.state, run.stopped_by_teacher = RunState.STOPPING, bool(teacher)
                run.stopped_by = None if stopped_by is None else str(stopped_by)
                self._stop.set()
                self._changed()
        return StopReply(StopOutcome.STOPPING, run.started_by)

    # -- the run's thread: it feeds the worker's events to the viewers ---------------------
    def _train(self, run, config):
        stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
        path = os.path.join(self.runs_dir, f"{stamp}_run{run.run_id}_{config.variant}"
                                           f"_a{config.alpha:g}.keras")
        try:
            worker = self._take_worker()
            with self._lock:
                self._worker = worker
            # The next standby loads while this run trains, so a Start right after it ends
            # trains at once too (it waited ~20 s for a standby started at the end).
            self.prepare_worker(check_memory=True)
            worker.start(config, path, self.trainer)
            outcome = self._follow(run, worker)
        except WorkerExited as exited:
            outcome = {"event": "exited", "exitcode": exited.exitcode}
        except WorkerFailedToLoad as failed:
            outcome = failed.error
        except Exception as error:  # the worker could not start: shown in the panel, logged here
            log.exception("training run %s could not start", run.run_id)
            outcome = {"event": "error", "type": type(error).__name__, "message": str(error)}
        finally:
            with self._lock:
                worker, self._worker = self._worker, None
        if worker is not None:
            worker.close()
        self.prepare_worker()  # when memory was short at the start: the next Start finds one soon
        self._finish(run, config, outcome)

    def _follow(self, run, worker):
        """Feeds the worker's events to ``_record`` until its ``result``/``error``; stops it on
        Stop or at the time limit, and kills it if it stops answering. Returns the last event."""
        stop_sent = last_event = None
        training = False  # the worker has sent its first event
        while True:
            now = time.monotonic()
            if stop_sent is None and (self._stop.is_set() or
                                      time.time() - run.started_at > self.max_run_seconds):
                if not self._stop.is_set():
                    with self._lock:
                        run.state, run.stopped_by_time_limit = RunState.STOPPING, True
                        self._stop.set()
                        self._changed()
                if not training:  # still loading: nothing learned, nothing to save
                    worker.kill()
                    return {"event": "killed", "before_training": True}
                worker.request_stop()
                stop_sent = last_event = now
            if stop_sent is not None and (now - last_event > STOP_ANSWER_SECONDS
                                          or now - stop_sent > FINISH_AFTER_STOP_SECONDS):
                log.warning("training run %s did not answer Stop: killing its worker", run.run_id)
                worker.kill()
                return {"event": "killed"}
            try:
                event = worker.next_event(POLL_SECONDS)
            except WorkerExited as exited:
                return {"event": "exited", "exitcode": exited.exitcode}
            if event is None:
                continue
            last_event, training = time.monotonic(), True
            if event["event"] in ("result", "error"):
                return event
            self._record(run, event)

    def _finish(self, run, config, outcome):
        kind = outcome["event"]
        if kind == "result" and outcome["checkpoint"]:
            record_trainer(outcome["checkpoint"], run)
        if kind == "result":
            self._remove_old_runs()
            latest = run.history[-1] if run.history else {}
            if latest.get("images_per_sec"):
                self.speed = speed_from_run(config, latest["images_per_sec"])
        with self._lock:
            run.finished_at, run.stage, run.stage_split = time.time(), None, None
            if kind == "result":
                run.state = RunState.STOPPED if outcome["stopped"] else RunState.FINISHED
                run.checkpoint, run.metrics = outcome["checkpoint"], outcome["metrics"]
                self.finished_runs += 1
            elif kind == "killed" and outcome.get("before_training"):
                run.state, run.error = RunState.STOPPED, {"reason": "stopped_before_training"}
            elif kind == "killed":  # it was stopping: nothing of this run was saved
                run.state = RunState.STOPPED
                run.error = {"reason": "no_answer_to_stop", "seconds": STOP_ANSWER_SECONDS}
            else:
                log.error("training run %s failed: %s", run.run_id, outcome)
                run.state, run.error = RunState.FAILED, failure_reason(outcome)
            self._changed()
        if self.on_checkpoint and kind == "result" and outcome["checkpoint"]:
            self.on_checkpoint(outcome["checkpoint"])

    def _record(self, run, event):
        with self._lock:
            kind = event["event"]
            if kind == "start":
                run.total_steps, run.steps_per_epoch = event["total_steps"], event["steps_per_epoch"]
                run.train_images, run.validation_images = event["train_images"], event["validation_images"]
                if run.state == RunState.STARTING:
                    run.state = RunState.RUNNING
            elif kind in ("batch", "epoch", "validation"):
                run.history.append({"event": kind, **{k: v for k, v in event.items() if k != "event"}})
                if kind != "validation":  # the status line reads a step's fields
                    run.latest, run.latest_at = event, time.time()
            elif kind == "stage" and event["name"] in set(Stage):
                run.stage, run.stage_split = Stage(event["name"]), event.get("split")
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
                    "run": public(run)})
            view = {**self._snapshot[1], "worker_ready": bool(self._spare and self._spare.ready)}
            if view["run"] is None:
                return view
            run = self._run
            return {**view, "run": {**view["run"], "seconds_left": run.seconds_left(),
                                    "elapsed_s": (run.finished_at or time.time()) - run.started_at}}

    def watch(self, seen_version=None, wait_s=0):
        """The one way viewers get the run's progress: the snapshot, as soon as it differs from
        ``seen_version`` (None: at once), else after ``wait_s`` seconds without a change.

        Every open page asks with ``wait_s=0`` every few seconds (``demo.ui``'s timer): a poll
        holds one of the server's request slots for a moment, where a stream held open per
        student would hold one for the whole run, and a class of thirty would fill the server.
        API clients stream it (``watch_training``: a loop over ``watch``, at most 8 at once).
        """
        with self._lock:
            if seen_version is not None and wait_s > 0:
                self._lock.wait_for(lambda: self.version != seen_version, timeout=wait_s)
        return self.snapshot()


def record_trainer(checkpoint, run):
    """Writes who trained ``checkpoint`` into its JSON (``trained_by``: a visitor's name, plain
    text; ``trained_by_teacher``), so the checkpoint list can say whose run each one is."""
    json_path = checkpoint_paths(checkpoint)[1]
    with open(json_path, encoding="utf-8") as f:
        record = json.load(f)
    record.update(trained_by=run.started_by, trained_by_teacher=run.started_by_teacher)

    def write(path):
        with open(path, "w", encoding="utf-8") as f:
            json.dump(record, f, indent=1, ensure_ascii=False)
    atomic_write(json_path, write)


def memory_available_mb():
    """The memory the system can give without swapping (Linux's MemAvailable); infinite where
    it cannot be read (the standby is then started as if it fits)."""
    try:
        with open("/proc/meminfo") as meminfo:
            return next(int(line.split()[1]) for line in meminfo if line.startswith("MemAvailable:")) / 1024
    except (OSError, StopIteration, ValueError):
        return float("inf")


def public(run):
    """What every viewer may see of ``run``: all but its owner's session id."""
    if run is None:
        return None
    view = dataclasses.asdict(run)
    del view["owner"]
    return view


def failure_reason(error):
    """Why a run failed, as data every viewer may see (no server paths): ``{"reason": ...}``
    with "out_of_memory", "disk_full", "killed" (SIGKILL, most often memory), "exited" (and
    ``how``: ``mobilenet.worker.describe_exit``'s words), "io" (and ``detail``: the system's
    words) or "error" (and ``detail``: the exception's type and message).

    ``error`` is the worker's ``error`` dict (``mobilenet.worker.describe_error``) or its
    ``exited`` dict (the process ended without a result)."""
    if error.get("out_of_memory"):
        return {"reason": "out_of_memory"}
    if error.get("disk_full"):
        return {"reason": "disk_full"}
    if error["event"] == "exited":
        if error["exitcode"] == -signal.SIGKILL:
            return {"reason": "killed"}
        return {"reason": "exited", "exitcode": error["exitcode"], "how": describe_exit(error["exitcode"])}
    if error.get("errno") is not None:
        return {"reason": "io", "detail": error.get("strerror") or error["type"]}
    return {"reason": "error", "detail": f"{error['type']}: {error['message']}"}
