"""How a training worker's process starts: forked from a process that has loaded TensorFlow once.

A fresh interpreter per worker (``spawn``) loads TensorFlow, Keras and the package again for
every run, and the entry point's script with them (``app.py`` imports Gradio): 6 s of CPU on 2
cores before the worker can load CIFAR-10, each time a run starts or a standby is made, taken
from the run that trains beside it. Here a *fork server* (Python's ``forkserver``) loads them
once: a clean process, started from the executable like ``spawn`` (none of the web server's
threads or locks), that forks each worker. A worker then starts with TensorFlow imported but not
yet running (no thread pool, no device set up: the worker sizes them), in a tenth of a second.

Libraries read some variables once, when they load (oneDNN's, Keras' backend: ``runtime.
LOAD_TIME_PREFIXES``). A worker is forked only while those are what they were when the fork
server started; otherwise (a test or a bench that changes ``ONEDNN_MAX_CPU_ISA`` between runs)
it is spawned, as before; so it is off Linux (no fork server on Windows; macOS frameworks are
not safe to fork). Either way it runs under its owner's current environment
(``mobilenet.worker`` passes it, the worker adopts it).
"""

import contextlib
import ctypes
import multiprocessing
import sys
import threading

from mobilenet import runtime

# What the fork server loads for every worker it forks: TensorFlow, Keras and the package's
# training modules; ``preload`` adds the entry point's own (a worker imports the owner's main
# script again, as ``spawn`` does: what that script imports is then loaded already).
PRELOAD = ["mobilenet.train", "mobilenet.data", "mobilenet.duration", "mobilenet.distribute"]

PR_SET_NAME = 15  # linux/prctl.h
_lock = threading.Lock()
_modules = list(PRELOAD)
_server_environment = None  # the load-time variables the fork server started under


def preload(*modules):
    """Adds ``modules`` (names) to what the fork server loads; before the first worker starts."""
    with _lock:
        _modules.extend(name for name in modules if name not in _modules)


def context(fallback="spawn"):
    """The ``multiprocessing`` context for the next worker: the fork server's, or ``fallback``'s
    (a fresh interpreter: ``spawn``, or ``loky`` for a loky executor), also off Linux: Windows has
    no fork server, and macOS frameworks are not safe to fork once loaded."""
    global _server_environment
    if not sys.platform.startswith("linux") or "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context(fallback)
    current = runtime.load_time_environment()
    with _lock:
        if _server_environment is None:
            multiprocessing.get_context("forkserver").set_forkserver_preload(list(_modules))
            _server_environment = current  # the server starts with the first worker, as it is now
        if current == _server_environment:
            return multiprocessing.get_context("forkserver")
    return multiprocessing.get_context(fallback)


def forked(context):
    """Whether ``context`` (from ``context()``) forks its workers from the fork server."""
    return context.get_start_method() == "forkserver"


def name_process(name):
    """Names this process ``name`` (Linux's ``comm``, 15 characters: what ``top``, ``ps -o comm``
    and ``/proc/PID/comm`` show), since a worker forked from the fork server keeps the server's
    command line; a no-op elsewhere."""
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None).prctl(PR_SET_NAME, ctypes.c_char_p(name.encode()[:15]), 0, 0, 0)
