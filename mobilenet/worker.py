"""One training run in its own process: ``TrainingWorker``.

Why a process and not a thread of the web server: the worker gets the machine's
cores (its TensorFlow thread pools are sized to them), the server keeps
answering while it trains, the memory of a run goes back to the system when
the worker exits, and a crash (killed, out of memory) ends the worker, not the
server.

The worker starts at once, loads TensorFlow and CIFAR-10, says ``ready``, and
then waits for one job (a ``mobilenet.run_spec.RunSpec``), so a server can keep one
waiting (a *standby*) and a Start trains within a second. It is used for one run and
then exits. While it waits it can prepare (trace) more models, but only once its owner
says that no run trains beside it (``machine_idle``): tracing beside a run slows it.

The one progress stream stays: ``train()``'s progress dicts cross a pipe
unchanged, followed by one ``result`` or ``error`` dict. Stop is an event the
worker checks every training step (``train(should_stop=...)``); a worker that
does not answer is killed by its owner (``kill``), which never damages a
checkpoint: every save is atomic.

The worker is forked from a fork server that has loaded TensorFlow once, or spawned
(``mobilenet.worker_start``); either imports the parent's main script again in a fresh
process: a script that builds the app (or creates a worker) at module level needs
Python's ``if __name__ == "__main__":`` guard, as ``app.py`` has.
"""

import dataclasses
import errno
import functools
import os
import signal
import sys
import threading

# Training yields to the web server: a student's Classify takes milliseconds and is
# what the class waits for; training loses only those milliseconds (docs/RELIABILITY.md).
WORKER_NICENESS = 5
# After ``machine_idle`` the worker waits this long for a job before it prepares the next model:
# a Start right after a run ends (the most likely one) finds the worker waiting, not tracing.
IDLE_QUIET_SECONDS = 10
WORKER_NAME = "mobilenet-train"  # what ``top`` shows for a training worker (``worker_start.name_process``)


class WorkerExited(RuntimeError):
    """The worker process ended without a result: killed, out of memory, or crashed."""

    def __init__(self, exitcode):
        self.exitcode = exitcode
        super().__init__(f"the training process ended without a result ({describe_exit(exitcode)})")


class WorkerFailedToLoad(RuntimeError):
    """The worker could not load TensorFlow or the data; ``error`` is its ``error`` dict."""

    def __init__(self, error):
        self.error = error
        super().__init__(f"{error['type']}: {error['message']}")


class TrainingWorker:
    """A child process that trains once.

    Args:
        data_source: CIFAR-10 for ``load_cifar10`` (None: a cache or a download), loaded while
            the worker waits for its job.
        cores: TensorFlow threads (default ``mobilenet.runtime.cpu_cores()``).
        niceness: added to the worker's scheduling niceness. Default ``WORKER_NICENESS``.
        prepare: ``TrainConfig``s (a recipe, usually: the likely next run) whose models the worker
            builds and traces before it says ``ready`` (``mobilenet.train.prepare_model``), sized
            to the data it loaded as the app sizes its runs (``mobilenet.train.fit_to_data``): a
            job of one of these configs then trains from its first step at full speed. The first
            one's steps time this machine: a ``speed`` event before ``ready``. Default none.
        prepare_when_idle: more ``TrainConfig``s, prepared one at a time after ``ready`` once the
            owner calls ``machine_idle`` (a job that comes first takes the worker at once, one
            that comes during a preparation waits for it, a few seconds). Default none.
        devices: local devices the job may train on (``mobilenet.distribute.prepare``, before
            TensorFlow starts: logical CPU devices where there is no GPU). None: one.
    """

    def __init__(self, data_source=None, cores=None, niceness=WORKER_NICENESS, prepare=(),
                 prepare_when_idle=(), devices=None):
        from mobilenet import runtime, worker_start

        context = worker_start.context()  # forked from a loaded fork server, or spawned: never from a process that runs TensorFlow
        self.start_method = context.get_start_method()  # "forkserver" or "spawn"
        self._conn, child_conn = context.Pipe()
        self._stop = context.Event()
        self.devices = devices
        prepare, later = ([dataclasses.asdict(config) for config in configs]
                          for configs in (prepare, prepare_when_idle))
        self.process = context.Process(target=_worker_main, name="mobilenet-training", daemon=True,
                                       args=(child_conn, self._stop, data_source, cores, niceness,
                                             prepare, later, devices, runtime.environment()))
        self.process.start()
        child_conn.close()
        self.ready = False
        self.info = None           # the ``ready`` event: cores used, oneDNN on or off
        self.startup_error = None  # the ``error`` event of a worker that could not load
        self.speed = None          # the ``speed`` event of the prepared model, if one was asked for
        self.started_job = False
        self._startup_lock = threading.Lock()

    def wait_ready(self, timeout=None):
        """Blocks until the worker has loaded (True), failed to load (False: see
        ``startup_error``) or ``timeout`` seconds passed (None)."""
        with self._startup_lock:  # one reader: a second one could take the job's first events
            while not self.ready and self.startup_error is None:
                if not self._conn.poll(timeout):
                    return None
                self._read_startup_event()
        return self.ready

    def _read_startup_event(self):
        try:
            event = self._conn.recv()
        except (EOFError, OSError):
            self.process.join(5)
            self.startup_error = {"event": "exited", "exitcode": self.process.exitcode}
            return
        if event["event"] == "ready":
            self.ready, self.info = True, event
        elif event["event"] == "speed":
            self.speed = event
        else:
            self.startup_error = event

    def machine_idle(self):
        """Tells the worker that no run trains beside it: it may prepare its ``prepare_when_idle``."""
        try:
            self._conn.send({"event": "machine_idle"})
        except (OSError, ValueError):
            pass  # it has ended: its owner finds out when it starts a job

    def start(self, spec, checkpoint_path, trainer=None):
        """Sends the job: ``train(spec.config(), checkpoint_path=..., **spec.train_options())``
        for ``spec`` (a ``RunSpec``; or ``trainer``, a picklable function with ``train``'s
        signature, e.g. to inject a fault in a test)."""
        if not self.wait_ready():
            if self.startup_error is None or self.startup_error["event"] == "exited":
                raise WorkerExited(self.process.exitcode)
            raise WorkerFailedToLoad(self.startup_error)
        self._conn.send({"spec": spec, "checkpoint_path": checkpoint_path, "trainer": trainer})
        self.started_job = True

    def next_event(self, timeout):
        """The next progress dict, or None after ``timeout`` seconds without one.

        Raises ``WorkerExited`` when the worker ended without sending ``result``/``error``.
        """
        try:
            if not self._conn.poll(timeout):
                if self.process.is_alive():
                    return None
                if not self._conn.poll(0):
                    raise EOFError
            return self._conn.recv()
        except (EOFError, OSError):
            self.process.join(5)
            raise WorkerExited(self.process.exitcode) from None

    def request_stop(self):
        """Asks ``train`` to stop within a step (it still saves what was learned)."""
        self._stop.set()

    def kill(self):
        """Ends the worker now (SIGKILL); nothing it wrote is left half-written."""
        if self.process.is_alive():
            self.process.kill()
        self.process.join(10)

    def close(self, timeout=10):
        """Lets a finished worker exit, or ends an unused one."""
        if not self.started_job:
            try:
                self._conn.send(None)
            except (OSError, ValueError):
                pass
        self.process.join(timeout)
        if self.process.is_alive():
            self.kill()
        self._conn.close()


def describe_exit(exitcode):
    """How a worker process ended, in words: ``"exit code 1"``, ``"signal SIGSEGV"``."""
    if exitcode is not None and exitcode < 0:
        try:
            return f"signal {signal.Signals(-exitcode).name}"
        except ValueError:
            return f"signal {-exitcode}"
    return f"exit code {exitcode}"


def describe_error(error):
    """An exception raised in the worker as a plain dict (exceptions of TensorFlow do not
    always cross a pipe)."""
    out_of_memory = isinstance(error, MemoryError) or type(error).__name__ == "ResourceExhaustedError"
    return {"event": "error", "type": type(error).__name__, "message": str(error)[:1000],
            "errno": getattr(error, "errno", None) if isinstance(error, OSError) else None,
            "strerror": getattr(error, "strerror", None) if isinstance(error, OSError) else None,
            "out_of_memory": out_of_memory,
            "disk_full": isinstance(error, OSError) and error.errno in (errno.ENOSPC, errno.EDQUOT)}


def _worker_main(conn, stop, data_source, cores, niceness, prepare, later, devices, environment):
    """The worker process: load, prepare (timing the first model), wait for the job (preparing
    more while the machine is idle), train, report, exit."""
    from mobilenet import distribute, runtime, worker_start

    runtime.adopt_environment(environment)  # the owner's now (a fork server's may be older)
    worker_start.name_process(WORKER_NAME)
    try:
        os.nice(niceness)
    except OSError:
        pass

    try:
        distribute.prepare(devices)  # before TensorFlow starts, as the CLI does
        runtime.set_threads(cores)
        from mobilenet.data import load_cifar10
        from mobilenet.duration import speed_from_run
        from mobilenet.train import TrainConfig, fit_to_data, prepare_model, train

        data = load_cifar10(data_source)

        def prepare_one(fields):
            config = fit_to_data(TrainConfig(**fields), len(data.x_train))
            return config, prepare_model(config, data)

        prepared = []
        for index, fields in enumerate(prepare):
            config, model = prepare_one(fields)
            prepared.append(model)
            if index == 0:
                conn.send({"event": "speed", "images_per_sec": model.images_per_sec,
                           "speed": speed_from_run(config, model.images_per_sec)})
    except Exception as error:  # the owner reports it; the traceback would only show paths
        conn.send(describe_error(error))
        return
    conn.send({"event": "ready", "cores": cores or runtime.cpu_cores(), "onednn": runtime.onednn_enabled()})
    try:
        job = _wait_for_job(conn, later, lambda fields: prepared.append(prepare_one(fields)[1]))
    except (EOFError, OSError):
        _exit_now()  # the owner is gone
    if job is None:
        _exit_now()
    spec = job["spec"]
    config = spec.config()
    # the prepared model of this config, if there is one (train() checks the match again)
    match = next((model for model in prepared if model.config == dataclasses.asdict(config)), None)
    trainer = job["trainer"] or functools.partial(train, prepared=match)
    try:
        result = trainer(config, data=data, checkpoint_path=job["checkpoint_path"],
                         on_progress=conn.send, should_stop=stop.is_set, **spec.train_options())
    except Exception as error:
        conn.send(describe_error(error))
        _exit_now()
    conn.send({"event": "result", "checkpoint": result.checkpoint, "metrics": result.metrics,
               "stopped": result.stopped, "duration_s": result.duration_s})
    _exit_now()


def _exit_now():
    """Ends the worker without Python's and TensorFlow's shutdown (0.9-1.0 s measured on 2 cores,
    which the next run would wait for): its last message is in the pipe, its checkpoint saved and
    closed."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (AttributeError, OSError, ValueError):
            pass
    os._exit(0)


def _wait_for_job(conn, later, prepare_one):
    """The owner's job (None: none will come). Once told ``machine_idle``, prepares the ``later``
    configs one at a time, each after ``IDLE_QUIET_SECONDS`` without a job."""
    later, idle = list(later), False
    while True:
        if conn.poll(IDLE_QUIET_SECONDS if idle and later else None):
            message = conn.recv()
            if message is not None and message.get("event") == "machine_idle":
                idle = True
                continue
            return message
        try:
            prepare_one(later.pop(0))
        except Exception:  # a model not prepared only traces when it trains; the job still comes
            pass
