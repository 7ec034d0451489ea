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
A run that overruns ``max_run_minutes`` is stopped and saved, in ``runs_dir`` (the newest
``keep`` kept). With ``standby`` a loaded worker waits for the next Start (``classroom.standby``).
Runs waiting their turn are ``classroom.class_queue``'s (it hears of each run's end: ``on_end``).

A run is asked for with a ``mobilenet.run_spec.RunSpec``, which goes on to the worker as it
came, sized to the data (``fit_to_data``); the run's record keeps it.

Everything here is data, never display text (``classroom.run_record``: the run's ``RunState``
and ``Stage``, the refusals, ``StopReply``, ``failure_reason``); the Train tab
(``demo.tabs.train``) words it, in the viewer's language. Progress reaches every viewer one way:
``watch`` (the page asks it every few seconds, API clients stream it).
"""

import dataclasses
import datetime
import logging
import os
import threading
import time

from classroom.run_record import (ACTIVE_STATES, NotYourRun, Run, RunBusy, RunState, RunTooLong, Stage,
                                  StopOutcome, StopReply, failure_reason, public, record_trainer)
from classroom.settings import DEFAULTS
from classroom.standby import Standby
from mobilenet.checkpoints import keep_newest
from mobilenet.data import DataCorruptError, DataUnavailableError, load_cifar10
from mobilenet.duration import estimate_seconds, speed_from_run
from mobilenet.train import fit_to_data
from mobilenet.worker import WorkerExited, WorkerFailedToLoad

log = logging.getLogger(__name__)

MAX_RUN_MINUTES = DEFAULTS.max_run_minutes  # the server's limit of one run (``classroom.settings``)
KEEP_RUNS = DEFAULTS.keep_runs
STOP_ANSWER_SECONDS = 5  # a stopping worker that sends nothing for this long is killed
FINISH_AFTER_STOP_SECONDS = 60  # ... and one still finishing this long after Stop
POLL_SECONDS = 0.25
CLOSE_WAIT_SECONDS = 5  # a closing server waits this long for the run it ended to be recorded


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
        devices: the devices the standby workers are prepared for: the runs' own
            (``Settings.train_devices``; a run on others waits for a worker of its own). Default
            None (one).
    """

    def __init__(self, runs_dir, data_source=None, keep=KEEP_RUNS, on_checkpoint=None,
                 max_run_minutes=MAX_RUN_MINUTES, standby=False, trainer=None, devices=None):
        self.runs_dir, self.data_source, self.keep = runs_dir, data_source, keep
        self.on_checkpoint = on_checkpoint  # called (in the run's thread) with each new checkpoint
        self.closing, self.on_end = False, None  # closing: set by close; on_end(run, removed): see _train
        self.waiting_recipe = lambda: None  # the class queue's: the recipe of the run waiting for this one
        self.max_run_seconds = 60 * max_run_minutes
        self.standby, self.trainer = standby, trainer  # trainer: a picklable stand-in for train()
        self.speed = None  # this machine's training speed (cost units/s): measured, then each run
        self._standby = Standby(data_source, devices, on_speed=self._measured)
        self._lock = threading.Condition()
        self._data_lock = threading.Lock()
        self._stop = threading.Event()
        self._run = None
        self._worker = None   # the worker of the current run
        self._thread = None  # the current (or last) run's thread
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
    def prepare_worker(self, check_memory=False, recipe=None):
        """Starts a standby worker now (loading TensorFlow and CIFAR-10, preparing the app's
        presets and timing this machine once), so that the next Start trains at once. Needs
        ``standby``. Beside a training run it prepares ``recipe`` (the waiting run's; default the
        running one's) only, the other presets once the run has ended (``classroom.standby``).
        ``check_memory``: only when the machine has the memory for it beside the run (when memory
        is short, the run's end starts it instead)."""
        if self.standby:
            with self._lock:
                run = self._run
                beside = (recipe or run.spec["recipe"]) if run is not None and run.state in ACTIVE_STATES else None
            self._standby.prepare(check_memory, beside)

    def _measured(self, speed):
        if self.speed is None:  # a finished run's own speed wins
            self.speed = speed

    def close(self):
        """Ends the workers (the current run's too): for a server that shuts down."""
        self.closing = True  # the run it ends did not fail: the server stopped it
        self._standby.close()
        with self._lock:
            worker, thread = self._worker, self._thread
        if worker is not None:
            worker.kill()
        if thread is not None:  # the run's end is recorded (the board says it was interrupted)
            thread.join(CLOSE_WAIT_SECONDS)

    # -- start / stop ------------------------------------------------------------
    def start(self, spec, started_by, owner=None, teacher=False, run_id=None):
        """Starts the run ``spec`` (a ``RunSpec``) in a worker process; returns the run id
        (``run_id`` when given: the class board's). ``owner`` (the browser session) may stop it,
        besides the teacher; None: anyone. ``teacher``: started by the teacher (the badge).
        Raises ``RunBusy`` while another run trains, and what ``check`` raises."""
        with self._lock:
            if self._run is not None and self._run.state in ACTIVE_STATES:
                raise RunBusy(self._run.started_by, self._run.seconds_left())
            config = spec.config()
            if run_id is None:
                run_id = self._next_id
            run = Run(run_id, str(started_by), dataclasses.asdict(config), spec=spec.record(),
                      owner=owner, started_by_teacher=bool(teacher))
            self._next_id = max(self._next_id, run_id) + 1
            previous, self._run = self._run, run  # claims the slot before the slow part
            self._stop.clear()
            self._changed()
        try:
            spec, config, data = self._checked(spec)
        except Exception:
            with self._lock:
                self._run = previous
                self._changed()
            raise
        with self._lock:
            run.config, run.spec = dataclasses.asdict(config), spec.record()
            # known now (the worker's "start" event says the same later): the start line has them
            run.validation_images = config.validation_size
            run.train_images = config.train_size or len(data.x_train) - config.validation_size
        self._thread = threading.Thread(target=self._train, args=(run, spec, config), name=f"train-{run.run_id}",
                                        daemon=True)
        self._thread.start()
        return run.run_id

    def check(self, spec):
        """``(spec sized to the data, its estimated seconds here)``, checked as Start checks it
        (the class queue checks a run before it waits). Raises ``RunTooLong`` beyond the server's
        limit, the package's data errors without CIFAR-10, ``ValueError`` for a bad config."""
        spec, config, data = self._checked(spec)
        return spec, self.estimate_seconds(config, len(data.x_train) - config.validation_size, len(data.x_test))

    def _checked(self, spec):
        data = self.load_data()
        config = fit_to_data(spec.config(), len(data.x_train))
        config.validate(len(data.x_train))
        self._check_length(config, len(data.x_train) - config.validation_size, len(data.x_test))
        return spec.with_config(config), config, data

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
    def _train(self, run, spec, config):
        stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
        path = os.path.join(self.runs_dir, f"{stamp}_run{run.run_id}_{config.variant}"
                                           f"_a{config.alpha:g}.keras")
        try:
            worker = self._standby.take(spec.devices)
            with self._lock:
                self._worker = worker
            waiting = self.waiting_recipe()  # the next standby loads beside this run only for a run that
            if waiting:  # waits (it takes a sixth of the run's speed on 2 cores); else at the run's end
                self.prepare_worker(check_memory=True, recipe=waiting)
            worker.start(spec, path, self.trainer)
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
        removed = self._finish(run, config, outcome)  # on screen before the worker has exited
        if worker is not None:
            worker.close()  # seconds: TensorFlow's exit; the next run waits for its memory
        if self.on_end is not None:
            try:
                self.on_end(run, removed)  # the class queue: the run's row, the files it displaced, the next run
            except Exception:
                log.exception("after training run %s", run.run_id)
        self.prepare_worker()  # the other presets now (or a standby if memory was short), unless a Start came first

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
        """Records how the run ended; returns the old run checkpoints' file names removed for it."""
        kind, removed = outcome["event"], []
        if kind == "result" and outcome["checkpoint"]:
            record_trainer(outcome["checkpoint"], run)
        if kind == "result":
            removed = keep_newest(self.runs_dir, self.keep)  # the oldest run checkpoints
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
        return removed

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

    # -- what viewers read -------------------------------------------------------------
    def changed(self):
        """Tells every viewer that something they see changed (the class queue's waiting runs)."""
        with self._lock:
            self._changed()

    @property
    def current(self):
        """The run training now (a ``Run``; do not modify it), or None."""
        with self._lock:
            run = self._run
            return run if run is not None and run.state in ACTIVE_STATES else None

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
            view = {**self._snapshot[1], "worker_ready": self._standby.ready}
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

