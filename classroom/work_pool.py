"""Risky work in worker processes: a small pool whose workers may crash, hang or grow without
taking the server down with them.

The server serves a whole class from one process. Decoding a student's picture and running a
network for a request (Classify, Grad-CAM, feature maps, Mistakes, export) happen in a
``WorkPool`` instead: each of its *slots* is a one-process ``loky`` executor, and a slot runs one
request at a time, so TensorFlow's thread-unsafe parts (the gradient tape of Grad-CAM) never see
two requests at once. Its worker is forked from the fork server that has loaded TensorFlow once
(``mobilenet.worker_start``: a clean process, none of the server's threads or locks), ready in a
tenth of a second, or, where there is none, a fresh interpreter (loky's own start) that loads
TensorFlow itself: seconds of CPU for every new worker, and again after every crash.

Bounds, per request:

* **CPU time**: before each task the worker starts a profiling timer (``ITIMER_PROF``) of the
  task's budget; past it the kernel ends the worker (``SIGPROF``). A task can tighten its budget
  for a part (``cpu_budget``: decoding a picture gets less than the network that follows).
* **Memory**: the worker's address space (``RLIMIT_AS``) is capped at its size after start-up
  plus ``memory_mb``: past it an allocation fails (``MemoryError``), or the worker aborts.
* **Wall-clock time**: the server stops waiting ``wall_seconds`` after the task started (a
  request says when it starts; before that it may wait ``start_seconds`` for a new worker or a
  warm-up ahead of it in the same worker) and kills the worker
  (``shutdown(kill_workers=True)``: loky's public way), which also ends a task stuck in a lock.

A slot whose worker died, for whatever reason, gets a new executor at once (started and warmed
in the background: ``warm_up``), and the request that killed it gets a ``WorkFailed`` saying
which bound it hit (``reason``: ``"time"``, ``"memory"`` or ``"crash"``) and in which phase the
task was (``phase``: the last ``report({"phase": ...})`` it sent: ``"decode"`` for a picture).
Other slots and their requests are not touched: one crash costs one request.

Progress: a task calls ``report(event)`` (a plain dict); the server's waiting thread hands it
to the ``progress`` callback of ``call``. Exceptions a task raises come back as themselves
when they survive pickling, else as a ``RuntimeError`` with the same message.
"""

import contextlib
import ctypes
import logging
import multiprocessing
import os
import pickle
import resource
import signal
import sys
import threading
import time

import loky
from loky.process_executor import BrokenProcessPool, TerminatedWorkerError

from mobilenet import runtime, worker_start

log = logging.getLogger(__name__)

POLL_S = 0.05  # how often a waiting request looks at its worker's progress reports
# Two malloc arenas, not eight per core: TensorFlow's threads would each reserve 64 MB of address
# space, which the memory cap counts.
MALLOC_ARENAS = 2
M_ARENA_MAX = -8  # glibc's malloc.h
WORKER_NAME = "mobilenet-work"  # what ``top`` shows for a request worker (``worker_start.name_process``)
_progress = None  # in a worker: its slot's progress queue


class WorkFailed(RuntimeError):
    """A request's worker hit a bound (``reason``: time, memory or crash) during ``phase``;
    ``seconds``: the bound of time it had."""

    def __init__(self, reason, phase=None, detail="", seconds=None):
        super().__init__(f"the worker {'ran out of ' + reason if reason != 'crash' else 'crashed'}"
                         f"{f' while {phase}' if phase else ''}{f' ({detail})' if detail else ''}")
        self.reason, self.phase, self.detail, self.seconds = reason, phase, detail, seconds

    def __reduce__(self):
        return WorkFailed, (self.reason, self.phase, self.detail, self.seconds)


def report(event):
    """Sends ``event`` (a small dict) to the server thread waiting for this task; a no-op
    outside a worker."""
    if _progress is not None:
        _progress.put(event)


@contextlib.contextmanager
def cpu_budget(seconds, phase=None):
    """Inside a task: at most ``seconds`` more CPU for the block (a tighter bound than the
    task's), then what is left of the task's own. ``phase`` is reported first (see ``WorkFailed``)."""
    if phase:
        report({"phase": phase})
    left = signal.getitimer(signal.ITIMER_PROF)[0]
    if not left:  # outside a task
        yield
        return
    given = min(seconds, left)
    signal.setitimer(signal.ITIMER_PROF, given)
    try:
        yield
    finally:
        used = given - signal.getitimer(signal.ITIMER_PROF)[0]
        signal.setitimer(signal.ITIMER_PROF, max(left - used, 0.001))


def _cpu_used():
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _worker_init(progress, memory_mb, niceness, initializer, initargs, environment=None):
    """A new worker: its owner's environment (a forked one: ``environment``), its progress queue,
    no core files, its niceness, the app's initializer (which loads TensorFlow), then its memory
    cap measured from there."""
    global _progress
    forked = environment is not None  # from the fork server, which started earlier
    if forked:
        runtime.adopt_environment(environment)
        _limit_malloc_arenas(MALLOC_ARENAS)
    _progress = progress
    worker_start.name_process(WORKER_NAME)
    watch = (_exit_with_server, ()) if forked else (_exit_with_parent, (os.getppid(),))
    threading.Thread(target=watch[0], args=watch[1], daemon=True, name="parent-watch").start()
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))  # a worker killed for CPU leaves no core file
    signal.signal(signal.SIGPROF, _past_cpu_budget)
    if niceness:
        with contextlib.suppress(OSError):
            os.nice(niceness)
    if initializer is not None:
        initializer(*initargs)
    if memory_mb:
        with open("/proc/self/statm") as f:
            size = int(f.read().split()[0]) * resource.getpagesize()
        limit = size + memory_mb * 1024 * 1024
        _, hard = resource.getrlimit(resource.RLIMIT_AS)
        resource.setrlimit(resource.RLIMIT_AS, (limit if hard == resource.RLIM_INFINITY else min(limit, hard), hard))


def _limit_malloc_arenas(count):
    """glibc's ``mallopt(M_ARENA_MAX, count)``: what ``MALLOC_ARENA_MAX`` says to a process that
    starts, for one that was forked (no-op where the C library has no ``mallopt``)."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None).mallopt(M_ARENA_MAX, count)


def _past_cpu_budget(signum, frame):
    """Says in the server's log what the worker had used, then ends as the timer's default would."""
    print(f"request worker {os.getpid()}: past its CPU budget ({_cpu_used():.2f} s of CPU in all)",
          file=sys.stderr, flush=True)
    signal.signal(signal.SIGPROF, signal.SIG_DFL)
    os.kill(os.getpid(), signal.SIGPROF)


def _exit_with_parent(parent, every_s=1.0):
    """Ends this worker within ``every_s`` of its server's end, however the server ended (killed,
    crashed): an orphan would keep its memory, and its CPU, for nobody."""
    while os.getppid() == parent:
        time.sleep(every_s)
    os._exit(0)


def _exit_with_server():
    """``_exit_with_parent`` for a worker forked from the fork server: its parent is that server,
    which lives on while any of its workers does, so the worker waits on the pipe its owner holds
    open for it (``multiprocessing.parent_process()``), closed however the owner ends."""
    multiprocessing.parent_process().join()
    os._exit(0)


def _run(task, args, cpu_seconds, request=False):
    """One task in a worker, under its CPU budget; ``("ok", value)`` or ``("error", exception)``.
    A ``request`` says when it starts: its wall clock starts then, not while it waited behind a
    warm-up in the worker."""
    # The budget is a profiling timer (ITIMER_PROF: this process's CPU, counted from now by the
    # kernel's own clock); ending past it is the timer's default. RLIMIT_CPU, an absolute limit,
    # fired seconds early in a VM whose kernel counts CPU about 10 % above what getrusage says.
    signal.setitimer(signal.ITIMER_PROF, cpu_seconds)
    if request:
        report({"phase": "started"})
    try:
        return "ok", task(*args)
    except MemoryError:
        return "error", WorkFailed("memory", None, "an allocation failed")
    except Exception as error:  # the server maps it to a message; it must survive the trip back
        try:
            pickle.loads(pickle.dumps(error))
        except Exception:
            error = RuntimeError(f"{type(error).__name__}: {error}")
        return "error", error
    finally:
        signal.setitimer(signal.ITIMER_PROF, 0)  # idle time between tasks is nobody's


def _pid():
    return os.getpid()


class _Slot:
    def __init__(self, number):
        self.number, self.executor, self.progress, self.generation, self.calls = number, None, None, 0, 0


class WorkPool:
    """``size`` worker processes for one kind of work.

    Args:
        name: the pool's name (logs).
        size: worker processes, each running one request at a time.
        initializer, initargs: run once in each new worker (load TensorFlow, warm models).
        cpu_seconds: CPU time a request may use (the worker is ended past it).
        wall_seconds: how long the server waits for a request before it kills the worker.
        memory_mb: address space a worker may grow by after its start-up. 0: no cap.
        niceness: added to the workers' niceness.
        warm: a task run in every new worker as soon as it starts (None: nothing).
        recycle_after: requests after which a worker is replaced by a fresh one, between two
            requests (what a long-lived TensorFlow process accumulates goes back to the system).
        start_seconds: how long a request may wait in its worker before it starts (a new worker
            loading, a warm-up before it). Default: twice ``wall_seconds``.
    """

    def __init__(self, name, size, initializer=None, initargs=(), cpu_seconds=10, wall_seconds=30,
                 memory_mb=2048, niceness=0, warm=None, recycle_after=2000, start_seconds=None):
        if size < 1:
            raise ValueError(f"`size` must be at least 1. Received: size={size}")
        self.name, self.size = name, size
        self.cpu_seconds, self.wall_seconds, self.memory_mb = cpu_seconds, wall_seconds, memory_mb
        self._init = (initializer, initargs, niceness)
        self._warm, self.recycle_after = warm, recycle_after
        self.start_seconds = start_seconds or 2 * wall_seconds
        self._slots = [_Slot(number) for number in range(size)]
        self._ready = threading.Condition()  # guards _idle; notified when a slot comes back
        self._idle = []  # the slots no request holds, the longest idle first
        self._lock = threading.Lock()
        self._broadcasts = threading.Lock()  # one broadcast at a time goes round the workers
        self._closed = False
        self.replaced = 0  # workers replaced after a crash or a bound: for tests and the soak
        for slot in self._slots:
            self._start(slot)
            self._idle.append(slot)

    def _start(self, slot):
        # A SimpleQueue writes each report to the pipe before ``report`` returns (a Queue hands it
        # to a feeder thread): every report is there to read by the time the task's answer is.
        context = worker_start.context(fallback="loky")
        forked = worker_start.forked(context)
        slot.progress = context.SimpleQueue()
        initializer, initargs, niceness = self._init
        slot.executor = loky.ProcessPoolExecutor(
            max_workers=1, context=context, initializer=_worker_init,
            initargs=(slot.progress, self.memory_mb, niceness, initializer, initargs,
                      runtime.environment() if forked else None),
            env={"MALLOC_ARENA_MAX": str(MALLOC_ARENAS)})  # a fresh interpreter's (loky's start)
        slot.generation += 1
        slot.calls = 0
        if self._warm is not None:
            slot.executor.submit(_run, *self._warm, self.wall_seconds)

    def _replace(self, slot, why, counted=True):
        (log.warning if counted else log.info)("%s worker %d replaced: %s", self.name, slot.number, why)
        with contextlib.suppress(Exception):
            slot.executor.shutdown(wait=False, kill_workers=True)
        with contextlib.suppress(Exception):
            slot.progress.close()
        with self._lock:
            self.replaced += counted
            if not self._closed:
                self._start(slot)

    def call(self, task, *args, progress=None, cpu_seconds=None, wall_seconds=None):
        """``task(*args)`` in a free worker (waiting for one); its value, or its exception, or
        ``WorkFailed`` when the worker hit a bound or died. ``progress(event)`` gets each
        ``report``-ed dict (phases excepted)."""
        if self._closed:
            raise WorkFailed("crash", None, "the server is shutting down")
        slot = self._take()
        try:
            return self._call(slot, task, args, progress, cpu_seconds or self.cpu_seconds,
                              wall_seconds or self.wall_seconds)
        finally:
            slot.calls += 1
            if slot.calls >= self.recycle_after:
                self._replace(slot, f"recycled after {slot.calls} requests", counted=False)
            self._give(slot)

    def _take(self, slot=None, timeout=None):
        """A free slot (``slot`` itself when given), waiting for one; None after ``timeout`` s."""
        with self._ready:
            if not self._ready.wait_for(lambda: slot in self._idle if slot else self._idle, timeout):
                return None
            taken = slot or self._idle[0]
            self._idle.remove(taken)
            return taken

    def _give(self, slot):
        with self._ready:
            self._idle.append(slot)
            self._ready.notify_all()  # a broadcast may wait for this very slot, a request for any

    def _call(self, slot, task, args, progress, cpu_seconds, wall_seconds):
        phase = None
        try:
            future = slot.executor.submit(_run, task, args, cpu_seconds, True)
        except (BrokenProcessPool, RuntimeError) as error:  # died while idle: replace, then once more
            self._replace(slot, error)
            future = slot.executor.submit(_run, task, args, cpu_seconds, True)
        # Until the task starts, it may wait for a new worker to load or a warm-up to finish.
        deadline = time.monotonic() + self.start_seconds
        while True:
            try:
                status, value = future.result(timeout=POLL_S)
                break
            except TimeoutError:
                before, phase = phase, self._drain(slot, progress, phase)
                if before is None and phase is not None:
                    deadline = time.monotonic() + wall_seconds  # it started: its own time from now
                if time.monotonic() > deadline:
                    self._replace(slot, f"no answer within {wall_seconds} s" if phase else
                                  f"not started within {self.start_seconds} s")
                    raise WorkFailed("time", phase, seconds=wall_seconds) from None
            except (TerminatedWorkerError, BrokenProcessPool) as error:
                phase = self._drain(slot, progress, phase)
                reason = "time" if "SIGPROF" in str(error) else "crash"
                self._replace(slot, error)
                raise WorkFailed(reason, phase, _exit_name(error), seconds=cpu_seconds) from None
        self._drain(slot, progress, phase)
        if status == "error":
            raise value
        return value

    @staticmethod
    def _drain(slot, progress, phase):
        while True:
            try:
                if slot.progress.empty():
                    return phase
                event = slot.progress.get()
            except (EOFError, OSError, ValueError):  # the worker died mid-report
                return phase
            if "phase" in event:
                phase = event["phase"]
            elif progress is not None:
                progress(event)

    def broadcast(self, task, *args):
        """Runs ``task(*args)`` in every worker without waiting for it (warming a new checkpoint):
        one worker at a time, each between two requests, in a thread of its own, so that while
        one worker loads (seconds) the others go on answering. Each run is bounded like a request
        (its wall time: ``start_seconds``); a worker busy for ``start_seconds`` is left out (it
        loads the checkpoint when a request first needs it)."""
        threading.Thread(target=self._each_in_turn, args=(task, args), daemon=True,
                         name=f"{self.name}-broadcast").start()

    def _each_in_turn(self, task, args):
        with self._broadcasts:
            for slot in self._slots:
                if self._closed or self._take(slot, timeout=self.start_seconds) is None:
                    continue
                try:
                    self._call(slot, task, args, None, self.cpu_seconds, self.start_seconds)
                except Exception as error:  # noqa: BLE001  the worker was replaced; nobody waits for this
                    log.info("%s worker %d: %s failed: %s", self.name, slot.number, getattr(task, "__name__", task), error)
                finally:
                    self._give(slot)

    def pids(self):
        """The workers' process ids (starting any that are not running yet): for tests."""
        return [self.call(_pid) for _ in range(self.size)]

    def close(self):
        """Ends every worker (a server that shuts down)."""
        with self._lock:
            self._closed = True
        for slot in self._slots:
            with contextlib.suppress(Exception):
                slot.executor.shutdown(wait=False, kill_workers=True)


def _exit_name(error):
    """"SIGABRT" and the like from loky's message, for the log and the message's detail."""
    names = [name for name in dir(signal) if name.startswith("SIG") and not name.startswith("SIG_")
             and name in str(error)]
    return names[0] if names else "exited"
