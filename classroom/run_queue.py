"""The runs waiting to train, in a fair order: ``RunQueue``.

The server trains one run at a time (``classroom.runs``); a Start while one trains waits here
instead of being refused. What keeps a class of thirty fair:

* **One waiting run per student** (``Waiting.owner``, the browser session): a new Start replaces
  the student's waiting run, in its place. A run without an owner (the server's own, a script
  without a session) is a student of its own.
* **Round-robin by address**: a run's *round* is how many runs of its address wait before it; a
  new run goes behind every run whose round is at most its own. Two computers take turns
  (A1 B1 A2 B2 ...) however many runs one of them queues; students behind one address (a school's
  network) are first come, first served among each other, and one run each keeps that fair.
* **Caps**: at most ``max_length`` runs wait, and their estimated seconds add up to at most
  ``max_total_s`` (``QueueFull`` says which). The teacher's runs are not capped, so a lesson can
  always go on, but they count towards the caps of everyone else's.
* **Who may change it**: a student withdraws their own waiting run; the teacher withdraws,
  removes or moves any run, and pauses and resumes the queue (``NotYourRun`` otherwise). A run
  without an owner is withdrawn by the teacher only: no session is its owner.

Everything here is data, never display text (as in ``classroom.run_record``); it keeps no files
(the caller stores ``order()`` and puts the runs back with ``restore``). Not thread-safe: the
caller holds its own lock around every call.
"""

import collections
import dataclasses
import time
from typing import Any, NamedTuple

from classroom.run_record import NotYourRun

# Between one run's end and the next one's first step: the run saves and a loaded standby worker
# (``classroom.standby``) takes the next at once; a few seconds, more for a recipe it has not traced.
START_GAP_S = 5.0


@dataclasses.dataclass(frozen=True, kw_only=True)
class Waiting:
    """A run waiting to train."""
    run_id: int  # given by the caller: the id the run keeps when it trains
    who: str  # the visitor's name (plain text)
    estimate_s: float  # how long it would train here (``TrainingRuns.estimate_seconds``)
    owner: str | None = None  # the browser session that queued it (None: no one's); never shown
    address: str | None = None  # the client's address (``classroom.clients``): its round
    teacher: bool = False  # queued by the teacher: not capped
    queued_at: float = dataclasses.field(default_factory=time.time)
    payload: Any = None  # the caller's own (the run's spec): the queue never reads it


class Added(NamedTuple):
    place: int  # 1-based: 1 trains next
    replaced: Waiting | None  # the owner's previous waiting run, now gone (None: there was none)


class Place(NamedTuple):
    waiting: Waiting
    place: int  # 1-based
    start_in_s: float  # estimated seconds from now until it starts


class QueueFull(RuntimeError):
    """The run would break a cap: ``reason`` "length" (``limit`` runs already wait) or "time"
    (the waiting runs would take more than ``limit`` seconds together)."""

    def __init__(self, reason, limit):
        super().__init__(reason, limit)
        self.reason, self.limit = reason, limit


class NotWaiting(KeyError):
    """No run ``run_id`` waits (it has started, was withdrawn, or never was)."""

    def __init__(self, run_id):
        super().__init__(run_id)
        self.run_id = run_id


class RunQueue:
    """The waiting runs, first to train first (see the module docstring for the rules).

    Args:
        max_length: the most runs that may wait, 0 or more (0: a student's run is never queued).
        max_total_s: the most seconds the waiting runs may take together, 0 or more.
        The teacher's runs are never refused, and count towards both for everyone else's.
    """

    def __init__(self, max_length, max_total_s):
        if not isinstance(max_length, int) or max_length < 0:
            raise ValueError("max_length must be a whole number, 0 or more. "
                             f"Received: max_length={max_length!r}")
        if not max_total_s >= 0:
            raise ValueError(f"max_total_s must be 0 or more. Received: max_total_s={max_total_s!r}")
        self.max_length, self.max_total_s = max_length, max_total_s
        self._paused = False
        self._waiting = []

    @property
    def paused(self):
        """Whether the teacher paused the queue (``pause``/``resume``)."""
        return self._paused

    def __len__(self):
        return len(self._waiting)

    def order(self):
        """The waiting runs' ids, first to train first."""
        return [waiting.run_id for waiting in self._waiting]

    def mine(self, owner):
        """``owner``'s waiting run, or None (always None for ``owner`` None: no one's)."""
        return next((w for w in self._waiting if owner is not None and w.owner == owner), None)

    def places(self, busy_s=0.0):
        """Every waiting run with its place and estimated start (``Place`` rows, in order).

        ``busy_s``: what the training run has left (0: none trains). A run starts after the runs
        before it and ``START_GAP_S`` before each, itself included. While the queue is paused the
        estimates are those of its resumption."""
        rows, start = [], busy_s
        for place, waiting in enumerate(self._waiting, 1):
            start += START_GAP_S
            rows.append(Place(waiting, place, start))
            start += waiting.estimate_s
        return rows

    # -- students ----------------------------------------------------------------------
    def add(self, waiting):
        """Queues ``waiting``; returns ``Added``: its place, and the owner's run it replaced.

        Raises ``QueueFull`` (not for the teacher's runs; a replacement is counted without the
        run it replaces) and ``ValueError`` when its ``run_id`` already waits."""
        replaced = self.mine(waiting.owner)
        self._check_new(waiting, [w for w in self._waiting if w is not replaced])
        self.check(waiting)
        if replaced is not None:
            index = self._waiting.index(replaced)
            self._waiting[index] = waiting
            return Added(index + 1, replaced)
        index = self._fair_index(waiting.address)
        self._waiting.insert(index, waiting)
        return Added(index + 1, None)

    def check(self, waiting):
        """Raises ``QueueFull`` when ``add(waiting)`` would (before the caller makes its record)."""
        replaced = self.mine(waiting.owner)
        others = [w for w in self._waiting if w is not replaced]
        if not waiting.teacher:
            if len(others) >= self.max_length:
                raise QueueFull("length", self.max_length)
            if sum(w.estimate_s for w in others) + waiting.estimate_s > self.max_total_s:
                raise QueueFull("time", self.max_total_s)

    def withdraw(self, run_id, owner, teacher=False):
        """Takes run ``run_id`` out of the queue and returns it: its owner's or the teacher's.

        Raises ``NotWaiting`` and ``NotYourRun`` (with who queued it)."""
        waiting = self._find(run_id)
        if not teacher and (waiting.owner is None or waiting.owner != owner):
            raise NotYourRun(waiting.who)
        self._waiting.remove(waiting)
        return waiting

    # -- the teacher --------------------------------------------------------------------
    def remove(self, run_id, teacher):
        """Takes any run out of the queue and returns it: the teacher's (``NotYourRun``,
        ``NotWaiting`` otherwise)."""
        waiting = self._find(run_id)
        self._check_teacher(teacher, waiting)
        self._waiting.remove(waiting)
        return waiting

    def move(self, run_id, place, teacher):
        """Moves run ``run_id`` to ``place`` (1-based, clamped to the queue); returns its place.
        The teacher's (``NotYourRun``, ``NotWaiting`` otherwise). Later runs are placed fairly
        around it as it now stands."""
        waiting = self._find(run_id)
        self._check_teacher(teacher, waiting)
        self._waiting.remove(waiting)
        index = min(max(int(place), 1), len(self._waiting) + 1) - 1
        self._waiting.insert(index, waiting)
        return index + 1

    def pause(self, teacher):
        """Stops ``pop_next`` giving runs (the training run goes on); the teacher's."""
        self._check_teacher(teacher)
        self._paused = True

    def resume(self, teacher):
        """Lets ``pop_next`` give runs again; the teacher's."""
        self._check_teacher(teacher)
        self._paused = False

    # -- the server --------------------------------------------------------------------
    def pop_next(self):
        """The run to train now, out of the queue; None when the queue is paused or empty."""
        if self._paused or not self._waiting:
            return None
        return self._waiting.pop(0)

    def restore(self, waiting):
        """Puts back, in their order and behind any already waiting, the runs a restarted server
        had waiting (``order()`` as stored): no caps and no fair placement, so the caps of the
        day they were queued and the teacher's moves hold. ``ValueError`` (and nothing put back)
        for a run id or an owner twice."""
        restored = list(self._waiting)
        for run in waiting:
            self._check_new(run, restored)
            if run.owner is not None and any(w.owner == run.owner for w in restored):
                raise ValueError(f"its owner already has a waiting run. Received: run_id={run.run_id!r}")
            restored.append(run)
        self._waiting = restored

    # -- inside ------------------------------------------------------------------------
    def _fair_index(self, address):
        """Where a new run of ``address`` goes: behind every run whose round is at most its own."""
        seen, rounds = collections.Counter(), []
        for waiting in self._waiting:
            rounds.append(seen[waiting.address])
            seen[waiting.address] += 1
        mine = seen[address]  # the new run's round
        return max((position for position, round_ in enumerate(rounds, 1) if round_ <= mine), default=0)

    def _find(self, run_id):
        waiting = next((w for w in self._waiting if w.run_id == run_id), None)
        if waiting is None:
            raise NotWaiting(run_id)
        return waiting

    @staticmethod
    def _check_teacher(teacher, waiting=None):
        """``NotYourRun`` for anyone but the teacher (with who queued ``waiting``, else None)."""
        if not teacher:
            raise NotYourRun(None if waiting is None else waiting.who)

    @staticmethod
    def _check_new(waiting, others):
        if any(w.run_id == waiting.run_id for w in others):
            raise ValueError(f"a run with this id already waits. Received: run_id={waiting.run_id!r}")
