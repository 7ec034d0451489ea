"""The class's runs: one trains, the others wait their turn, and every one ends on the board.

``ClassQueue`` sits between the Train tab and ``classroom.runs.TrainingRuns`` (the server's one
training run). A Start while a run trains no longer gets "someone is training": the run waits
in a fair queue (``classroom.run_queue``: round-robin by address, one waiting run per browser
session) and starts when the run before it ends; the standby worker is ready by then, so it
trains within a few seconds. Every run, waiting, training or ended, is a row of the class board
(``classroom.board_store``: SQLite in the runs folder), so a restart of the server keeps the
board and the waiting runs (a run that was training is marked interrupted).

Who may do what: a student withdraws their own waiting run (their browser session's); the
teacher pauses and resumes the queue, moves or removes any waiting run, and starts a new board
for a new lesson. Everything here is data; ``demo.tabs.train`` and ``demo.tabs.board`` word it.
"""

import dataclasses
import logging
import threading
import time

from classroom.board_rows import ended_fields, settings_of
from classroom.run_queue import RunQueue, Waiting
from classroom.run_record import RunBusy
from mobilenet.cifar10 import DataCorruptError, DataUnavailableError
from mobilenet.run_spec import RunSpec

log = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class Started:
    """Start's answer when the run trains at once."""
    run_id: int


@dataclasses.dataclass(frozen=True)
class Queued:
    """Start's answer when the run waits: its ``place`` (1 = next) and when it should start."""
    run_id: int
    place: int
    start_in_s: float
    replaced: bool = False  # it took the place of the session's earlier waiting run
    paused: bool = False  # the teacher has paused the queue


class ClassQueue:
    """The class's runs (see the module's docstring).

    Args:
        runs: the server's ``TrainingRuns``.
        store: the class board's ``BoardStore``.
        max_length: the most runs that may wait (0: no queue: a Start while a run trains is
            refused, as ``RunBusy``).
        max_minutes: the most minutes of runs (estimated) that may wait.
    """

    def __init__(self, runs, store, max_length, max_minutes):
        self.runs, self.store = runs, store
        self.queue = RunQueue(max_length, 60 * max_minutes)
        self._lock = threading.RLock()
        runs.on_end, runs.waiting_recipe = self._ended, self._next_recipe
        store.mark_interrupted()  # a run training when the server stopped did not end
        self.queue.restore([self._waiting(row) for row in store.waiting()])  # they wait again, in their order

    # -- students ------------------------------------------------------------------------
    def submit(self, spec, who, owner=None, address=None, teacher=False):
        """Starts ``spec`` now, or queues it: ``Started`` or ``Queued``.

        Raises what ``TrainingRuns.check`` raises (too long, no data, bad settings),
        ``QueueFull`` beyond the queue's caps, and ``RunBusy`` when the queue is off."""
        spec, estimate_s = self.runs.check(spec)  # before it waits: a run that could never start is refused now
        with self._lock:
            if not len(self.queue) and not self.queue.paused and self.runs.current is None:
                return Started(self._start(spec, who, owner, address, teacher))
            if self.queue.max_length == 0:
                current = self.runs.current
                raise RunBusy(current.started_by, current.seconds_left()) if current else RunBusy(None, None)
            mine = self.queue.mine(owner) if owner is not None else None
            waiting = Waiting(run_id=0, who=str(who), owner=owner, address=address, teacher=bool(teacher),
                              estimate_s=estimate_s, payload=spec)
            self.queue.check(waiting)  # QueueFull: refused before it has a row on the board
            fields, stored = self._fields(spec, who, teacher, "waiting"), {**spec.record(), "estimate_s": estimate_s}
            if mine is None:
                run_id = self.store.add_run(fields, owner, address, stored)
            else:  # the session's new Start takes its waiting run's place and row: a Start in a loop adds nothing
                run_id = mine.run_id
                self.store.update_run(run_id, spec=stored, **{k: v for k, v in fields.items() if k != "queued_at"})
            place, _ = self.queue.add(dataclasses.replace(waiting, run_id=run_id))
            self._saved()
            queued = Queued(run_id, place, self._start_in(run_id), replaced=mine is not None, paused=self.queue.paused)
            recipe = self._next_recipe()
        self.runs.prepare_worker(check_memory=True, recipe=recipe)  # the next run's worker loads now, outside the lock
        return queued

    def withdraw(self, owner, teacher=False, run_id=None):
        """Takes a waiting run out of the queue: the session's own (``run_id`` None), or any with
        ``teacher``. Returns the ``Waiting`` removed, or None when the session has none waiting.
        Raises ``NotYourRun`` for another's run."""
        with self._lock:
            if run_id is None:
                mine = self.queue.mine(owner) if owner is not None else None
                if mine is None:
                    return None
                run_id = mine.run_id
            removed = self.queue.withdraw(run_id, owner, teacher)
            self.store.forget_waiting(run_id)  # it never trained: nothing for the board
            self._saved()
            return removed

    # -- the teacher ---------------------------------------------------------------------
    def move(self, run_id, place, teacher=False):
        with self._lock:
            self.queue.move(run_id, place, teacher)
            self._saved()

    def pause(self, teacher=False):
        with self._lock:
            self.queue.pause(teacher)
            self._saved()

    def resume(self, teacher=False):
        with self._lock:
            self.queue.resume(teacher)
            self._saved()
        self.start_next()

    def new_board(self, title=None):
        """A new, empty board for a new lesson (the old ones stay, downloadable); the waiting runs
        move with the class."""
        with self._lock:
            board_id = self.store.new_board(title)
            self.runs.changed()
            return board_id

    # -- what viewers read -----------------------------------------------------------------
    def view(self):
        """The waiting runs as every viewer sees them (no session ids, no addresses)."""
        with self._lock:
            busy_s = self._busy_s()
            return {"paused": self.queue.paused, "length": len(self.queue), "max_length": self.queue.max_length,
                    "waiting": [{"run_id": w.run_id, "place": place, "name": w.who, "teacher": w.teacher,
                                 "preset": w.payload.recipe, "settings": self._settings(w.payload.config()),
                                 "estimate_s": round(w.estimate_s, 1), "start_in_s": round(start_in, 1)}
                                for w, place, start_in in self.queue.places(busy_s)]}

    # -- runs start and end ---------------------------------------------------------------
    def start_next(self):
        """Starts the first waiting run when none trains and the queue is not paused; a run that
        can no longer start (the data went missing, a setting no longer fits) is marked failed
        and the next one tried."""
        with self._lock:
            while self.runs.current is None and not self.runs.closing:
                waiting = self.queue.pop_next()
                if waiting is None:
                    break
                try:
                    self._start(waiting.payload, waiting.who, waiting.owner, waiting.address, waiting.teacher,
                                run_id=waiting.run_id)
                except RunBusy:  # a run started another way (the server's own): first when it ends
                    self.queue.add(waiting)
                    self.queue.move(waiting.run_id, 1, teacher=True)
                    self.store.update_run(waiting.run_id, status="waiting")
                    break
                except Exception as error:  # its row says failed (``_start``): the next one is tried
                    log.warning("waiting run %s could not start: %s", waiting.run_id, error)
                finally:
                    self._saved()

    def _start(self, spec, who, owner, address, teacher, run_id=None):
        if run_id is None:
            run_id = self.store.add_run(self._fields(spec, who, teacher, "training"), owner, address, spec.record())
        else:
            self.store.update_run(run_id, status="training", started_at=time.time())
        try:
            return self.runs.start(spec, who, owner=owner, teacher=teacher, run_id=run_id)
        except Exception as error:
            self.store.update_run(run_id, status="failed", note=f"{type(error).__name__}: {error}")
            raise

    def _ended(self, run, removed):
        """``TrainingRuns.on_end``: the run's results on the board (and the rows of the checkpoints
        its files displaced, on any board, marked), then the next run."""
        if self.runs.closing:  # the server is stopping: the run was cut short, the others wait for its restart
            self.store.update_run(run.run_id, status="interrupted", note="server_stopped", finished_at=time.time())
            return
        if removed:  # first: a viewer who sees this run ended sees the files it displaced gone
            self.store.mark_files_removed(removed)
        self.store.update_run(run.run_id, **ended_fields(run))
        self.start_next()

    # -- helpers -------------------------------------------------------------------------
    def _next_recipe(self):
        """``TrainingRuns.waiting_recipe``: the recipe of the run that trains next, None if none waits."""
        with self._lock:
            places = self.queue.places()
            return places[0].waiting.payload.recipe if places else None

    @staticmethod
    def _waiting(row):
        """A stored waiting run (``BoardStore.waiting``) as the queue holds it."""
        spec = dict(row["spec"])
        estimate_s = spec.pop("estimate_s", 0.0)
        return Waiting(run_id=row["run_id"], who=row["name"], owner=row["owner"], address=row["address"],
                       teacher=row["teacher"], estimate_s=estimate_s, queued_at=row["queued_at"] or time.time(),
                       payload=RunSpec(**spec))

    def _fields(self, spec, who, teacher, status):
        config = spec.config()
        now = time.time()
        return {"name": str(who), "teacher": bool(teacher), "status": status, "preset": spec.recipe,
                "settings": self._settings(config), "seed": config.seed, "queued_at": now,
                "started_at": now if status == "training" else None}

    def _settings(self, config):
        """The settings the Train panel shows; "all" training images as the number the run trains on
        (a run is checked against the data before it gets here: they are loaded)."""
        settings = settings_of(config)
        if settings["train_size"] is None:
            try:
                settings["train_size"] = len(self.runs.load_data().x_train) - config.validation_size
            except (DataUnavailableError, DataCorruptError):  # waiting runs after a restart without the data
                pass  # None: "all"
        return settings

    def _busy_s(self):
        run = self.runs.current
        if run is None:
            return 0.0
        left = run.seconds_left()
        return left if left is not None else 60.0  # just started: about a classroom run

    def _start_in(self, run_id):
        for waiting, _, start_in in self.queue.places(self._busy_s()):
            if waiting.run_id == run_id:
                return start_in
        return 0.0

    def _saved(self):
        """The queue's order into the database, and every viewer told."""
        self.store.set_places(self.queue.order())
        self.runs.changed()
