"""How TensorFlow runs here: oneDNN on everywhere, thread counts from the cores we may use;
and the one module of the package that reads the environment, for what TensorFlow and Keras
themselves read from it (the app's own settings: ``classroom.settings``, read by ``app.py``).

TensorFlow turns its oneDNN kernels on by default only on CPUs with AVX-512
VNNI / BF16 / AMX. Everywhere else (most laptops, many cloud CPUs) it falls
back to kernels about 6x slower for this network. ``mobilenet`` sets
``TF_ENABLE_ONEDNN_OPTS=1`` when it is imported, before TensorFlow is, unless
the user set the variable: every entry point (app, CLI, benchmarks, the
training worker) imports the package first.

Nothing here imports TensorFlow at module level: ``configure_environment``
must run before it is loaded.
"""

import json
import os

ENVIRONMENT_DEFAULTS = {
    "TF_ENABLE_ONEDNN_OPTS": "1",   # oneDNN kernels whatever the CPU (see module doc)
    # TensorFlow's INFO and WARNING lines out, its errors kept (3 would hide those too). Its
    # start-up notices ignore this level: the CLI holds them back (mobilenet.notices).
    "TF_CPP_MIN_LOG_LEVEL": "2",
}
# Vector extensions worth naming beside a speed figure, in the order they are named.
VECTOR_EXTENSIONS = ("avx", "avx2", "fma", "avx512f", "avx512_vnni", "avx512_bf16", "amx_tile")


def configure_environment(environ=os.environ):
    """Sets the defaults of ``ENVIRONMENT_DEFAULTS`` that the user did not set."""
    for name, value in ENVIRONMENT_DEFAULTS.items():
        environ.setdefault(name, value)


def tf_config(environ=os.environ):
    """``$TF_CONFIG`` (TensorFlow's multi-worker cluster and this worker's task) as a dict."""
    return json.loads(environ.get("TF_CONFIG") or "{}")


def distribution_processes(environ=os.environ):
    """``$KERAS_DISTRIBUTION_NUM_PROCESSES``: how many processes Keras' JAX distribution spans."""
    return int(environ.get("KERAS_DISTRIBUTION_NUM_PROCESSES") or 1)


def keras_home(environ=os.environ):
    """Keras' folder (``$KERAS_HOME``, else ``~/.keras``): Keras' own rule, read now rather
    than when Keras was imported."""
    return os.path.expanduser(environ.get("KERAS_HOME") or os.path.join("~", ".keras"))


def cpu_cores(environ=os.environ):
    """Cores this process may use: ``$CPU_CORES`` (set by Hugging Face Spaces, whose
    containers can see the host's many CPUs) if it is a positive integer, else the CPU
    affinity mask, else ``os.cpu_count()``."""
    value = environ.get("CPU_CORES", "").strip()
    if value.isdigit() and int(value) > 0:
        return int(value)
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not on Linux
        return os.cpu_count() or 1


def set_threads(cores=None):
    """Sizes TensorFlow's thread pools to ``cores`` (default ``cpu_cores()``).

    Must run before TensorFlow executes its first operation; later calls are
    ignored (TensorFlow refuses to resize running pools). Returns the count used. On another
    Keras backend (JAX) there is nothing to size.
    """
    import keras

    cores = cores or cpu_cores()
    if keras.backend.backend() != "tensorflow":
        return cores
    import tensorflow as tf

    try:
        tf.config.threading.set_intra_op_parallelism_threads(cores)
        tf.config.threading.set_inter_op_parallelism_threads(cores)
    except RuntimeError:
        pass  # the runtime is already up (e.g. a test process that trained before)
    return cores


def onednn_enabled():
    """Whether TensorFlow in this process runs its oneDNN kernels."""
    from tensorflow.python.util import _pywrap_util_port

    return bool(_pywrap_util_port.IsMklEnabled())


def cpu_description(cpuinfo="/proc/cpuinfo"):
    """The CPU's model name and vector extensions, e.g. ``"AMD EPYC (AVX, AVX2, FMA; no
    AVX-512)"``, read from ``/proc/cpuinfo`` (the machine, else ``platform``)."""
    import platform

    try:
        with open(cpuinfo, encoding="utf-8", errors="replace") as f:
            text = f.read()
    except OSError:
        return platform.processor() or platform.machine()
    model, flags = platform.machine(), set()
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "model name" and model == platform.machine():
            model = value.strip()
        elif key.strip() == "flags" and not flags:
            flags = set(value.split())
    found = [name.upper().replace("_", "-") for name in VECTOR_EXTENSIONS if name in flags]
    if not any(name.startswith("avx512") for name in flags):
        found.append("no AVX-512")
    return f"{model} ({', '.join(found)})"


def describe():
    """One line for benchmark headers: CPU, cores used, oneDNN state and its ISA cap."""
    cap = os.environ.get("ONEDNN_MAX_CPU_ISA")
    onednn = "on" if onednn_enabled() else "off"
    return (f"{cpu_description()}, {cpu_cores()} cores used, oneDNN {onednn}"
            + (f" (ONEDNN_MAX_CPU_ISA={cap})" if cap and onednn == "on" else ""))


# Variables that TensorFlow, Keras, oneDNN, the C allocator or Python read when they load: a
# process that loaded them under other values cannot take new ones (mobilenet.worker_start).
LOAD_TIME_PREFIXES = ("TF_", "TENSORFLOW", "KERAS_", "ONEDNN_", "DNNL_", "CUDA_", "XLA_", "JAX_",
                      "OMP_", "KMP_", "MKL_", "MALLOC_", "LD_", "PYTHON")


def environment(environ=os.environ):
    """A copy of this process's environment, for a worker to run under (``adopt_environment``)."""
    return dict(environ)


def load_time_environment(environ=os.environ):
    """The variables of ``environ`` that libraries read when they load (``LOAD_TIME_PREFIXES``)."""
    return {name: value for name, value in environ.items() if name.startswith(LOAD_TIME_PREFIXES)}


def adopt_environment(values, environ=os.environ):
    """Makes ``values`` this process's environment (a worker forked from a process that started
    earlier takes its owner's current one)."""
    environ.clear()
    environ.update(values)
