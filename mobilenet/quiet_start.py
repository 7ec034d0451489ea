"""TensorFlow's start-up notices, held back from the command line (``python -m mobilenet``).

TensorFlow 2.21 writes these lines on every start (measured on this project's CPU machines):

- absl's "WARNING: All log messages before absl::InitializeLog() is called are written to
  STDERR", then the INFO lines "oneDNN custom operations are on" (port.cc) and "Could not find
  cuda drivers on your machine" (cudart_stub.cc), each pair twice (two shared libraries). They
  come before absl's logging is set up, so no ``TF_CPP_MIN_LOG_LEVEL`` silences them, not even 3.
- "failed call to cuInit" (cuda_platform.cc, ERROR) when it looks for GPUs on a machine with the
  CUDA libraries but no GPU. ``TF_CPP_MIN_LOG_LEVEL=3`` hides it, but with every real error
  too; ``CUDA_VISIBLE_DEVICES=""`` does not.

C++ writes them straight to file descriptor 2, out of reach of Python's logging and warnings
filters. So ``quiet_start()`` points descriptor 2 at a temporary file while TensorFlow loads and
finds its devices, then writes every line that is not one of these notices back to stderr:
warnings and errors of that window still show, only later. (A crash inside the window loses its
lines; ``--verbose`` shows them.)
"""

import contextlib
import os
import re
import sys
import tempfile

STARTUP_NOTICES = re.compile(
    r"^WARNING: All log messages before absl::InitializeLog\(\) is called are written to STDERR$"
    r"|^[IE]\d{4} [\d:.]+ +\d+ (?:port\.cc:\d+\] oneDNN custom operations are on"
    r"|cudart_stub\.cc:\d+\] Could not find cuda drivers on your machine"
    r"|cuda_platform\.cc:\d+\] failed call to cuInit)")


@contextlib.contextmanager
def quiet_start():
    """Runs the block with file descriptor 2 captured; then writes its lines to stderr, less
    TensorFlow's known start-up notices (``STARTUP_NOTICES``)."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            captured.seek(0)
            kept = [line for line in captured.read().decode(errors="replace").splitlines(keepends=True)
                    if not STARTUP_NOTICES.match(line.rstrip("\n"))]
            sys.stderr.write("".join(kept))
            sys.stderr.flush()


def start_tensorflow():
    """Loads Keras (and TensorFlow, its usual backend) and lets TensorFlow look for its devices,
    the two moments its start-up notices come from. Opens no TensorFlow runtime: thread counts
    and logical devices can still be set afterwards (``mobilenet.runtime``, ``mobilenet.distribute``)."""
    import keras

    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        tf.config.list_physical_devices()
