"""Training on several devices or machines through the engines that do it: data parallelism,
each device taking a slice of every batch, gradients averaged by the engine.

  TensorFlow  one machine: ``tf.distribute.MirroredStrategy`` over N GPUs, or N logical CPU
              devices where there are none (to try it, or to test it on a laptop);
              several machines: ``tf.distribute.MultiWorkerMirroredStrategy``, set up by the
              ``TF_CONFIG`` each worker's environment holds (its own address and everyone's).
  JAX         one machine: ``keras.distribution.DataParallel`` over N devices; several
              machines: ``keras.distribution.initialize()`` first (``jax.distributed``), set up
              by ``KERAS_DISTRIBUTION_JOB_ADDRESSES`` / ``_NUM_PROCESSES`` / ``_PROCESS_ID``.

``train(..., devices=N)`` and ``python -m mobilenet train --devices N`` use ``scope(N)``. The
batch size stays the global one: with 2 devices each takes half of every batch. BatchNorm
statistics are each device's own (as in every data-parallel recipe), so a run on 2 devices is
close to, not equal to, the same run on one (``tests/test_distribute.py`` states how close).
"""

import contextlib

from mobilenet import runtime


class DistributionError(ValueError):
    """The devices asked for are not there, or not usable now."""


def backend():
    import keras

    return keras.backend.backend()


def multi_worker():
    """True when this process is one worker of several: ``TF_CONFIG`` (TensorFlow) or Keras'
    ``KERAS_DISTRIBUTION_*`` variables (JAX) name other workers."""
    if backend() == "tensorflow":
        cluster = runtime.tf_config().get("cluster", {})
        return sum(len(addresses) for addresses in cluster.values()) > 1
    return runtime.distribution_processes() > 1


def prepare(devices):
    """Readies ``devices`` local devices before the engine starts: on TensorFlow without GPUs,
    splits the CPU into that many logical devices (possible only before TensorFlow's first
    operation; the CLI calls this first thing). Does nothing for ``devices`` None or 1."""
    if not devices or devices == 1 or backend() != "tensorflow":
        return
    import tensorflow as tf

    if tf.config.list_physical_devices("GPU"):
        return
    cpu = tf.config.list_physical_devices("CPU")[0]
    try:
        tf.config.set_logical_device_configuration(
            cpu, [tf.config.LogicalDeviceConfiguration() for _ in range(devices)])
    except RuntimeError:  # already running: scope() says whether there are enough
        pass


def scope(devices=None):
    """A context to build, compile and fit a model in, spreading it over ``devices`` local
    devices (None or 1: one device; with several workers: every local GPU, or the CPU).
    Raises ``DistributionError`` naming what is missing."""
    if devices is not None and (not isinstance(devices, int) or isinstance(devices, bool)
                                or devices < 1):
        raise DistributionError(f"`devices` must be a positive integer. Received: devices={devices!r}")
    if backend() == "tensorflow":
        return _tensorflow_scope(devices)
    if backend() == "jax":
        return _jax_scope(devices)
    if devices not in (None, 1) or multi_worker():
        raise DistributionError(f"several devices need the tensorflow or jax backend, not {backend()}")
    return contextlib.nullcontext()


def _tensorflow_scope(devices):
    import tensorflow as tf

    if multi_worker():
        communication = tf.distribute.experimental.CommunicationImplementation
        return tf.distribute.MultiWorkerMirroredStrategy(
            communication_options=tf.distribute.experimental.CommunicationOptions(
                implementation=communication.AUTO)).scope()
    if devices in (None, 1):
        return contextlib.nullcontext()
    gpus = tf.config.list_logical_devices("GPU")
    local = gpus or tf.config.list_logical_devices("CPU")
    if len(local) < devices:
        kind = "GPUs" if gpus else "CPU devices"
        raise DistributionError(
            f"{devices} devices were asked for and TensorFlow has {len(local)} {kind}. "
            + ("" if gpus else "CPU devices must be made before TensorFlow starts: use "
               "`python -m mobilenet train --devices N`, or call mobilenet.distribute.prepare(N) "
               "before anything else runs TensorFlow."))
    return tf.distribute.MirroredStrategy([device.name for device in local[:devices]]).scope()


@contextlib.contextmanager
def _jax_scope(devices):
    import jax
    import keras

    if multi_worker() and not jax.distributed.is_initialized():
        keras.distribution.initialize()  # reads KERAS_DISTRIBUTION_* (jax.distributed)
    available = jax.devices()
    wanted = len(available) if multi_worker() and devices in (None, 1) else devices or 1
    if wanted == 1 and not multi_worker():
        yield
        return
    if len(available) < wanted:
        raise DistributionError(f"{wanted} devices were asked for and JAX has {len(available)} "
                                f"({available[0].platform}). On a CPU, "
                                f"XLA_FLAGS=--xla_force_host_platform_device_count={wanted} "
                                "makes that many.")
    previous = keras.distribution.distribution()
    keras.distribution.set_distribution(keras.distribution.DataParallel(devices=available[:wanted]))
    try:
        yield
    finally:
        keras.distribution.set_distribution(previous)


def is_chief():
    """Whether this process writes the run's files: always, but on a worker of several that is
    not the chief (TensorFlow: task 0 of "chief", else of "worker"; JAX: process 0)."""
    if not multi_worker():
        return True
    if backend() == "tensorflow":
        config = runtime.tf_config()
        task = config.get("task", {})
        has_chief = bool(config.get("cluster", {}).get("chief"))
        return task.get("type") == "chief" or (not has_chief and task.get("type") == "worker"
                                               and int(task.get("index", 0)) == 0)
    import jax

    return jax.process_index() == 0
