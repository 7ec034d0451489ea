"""TensorFlow's routine notices, held back from the command line (``python -m mobilenet``).

TensorFlow 2.21 writes these lines to stderr (each measured on this project's CPU machines):

- on every start, absl's "WARNING: All log messages before absl::InitializeLog() is called are
  written to STDERR" and the INFO lines "oneDNN custom operations are on" (port.cc) and "Could
  not find cuda drivers on your machine" (cudart_stub.cc), twice over (two shared libraries).
  They come before absl's logging is set up: no ``TF_CPP_MIN_LOG_LEVEL`` silences them, not 3.
- "failed call to cuInit" (cuda_platform.cc, ERROR) when it looks for GPUs on a machine with
  the CUDA libraries but no GPU. ``TF_CPP_MIN_LOG_LEVEL=3`` hides it, but every real error with
  it; ``CUDA_VISIBLE_DEVICES=""`` does not.
- LiteRT's "INFO: Created TensorFlow Lite XNNPACK delegate for CPU." (predict, export) and
  its converter's "fully_quantize: 0, inference_type: 6, ..." (export to int8).

C++ writes them straight to file descriptor 2, out of reach of Python's logging and warnings
filters. So ``held_back()`` points descriptor 2 at a temporary file for a block, then writes
every line that is not one of these notices to stderr: warnings and errors of the block still
show, only at its end. (A crash inside the block loses them: ``--verbose`` shows them.)
"""

import contextlib
import os
import re
import sys
import tempfile

NOTICES = re.compile(
    r"WARNING: All log messages before absl::InitializeLog\(\) is called are written to STDERR"
    r"|[IE]\d{4} [\d:.]+ +\d+ (?:port\.cc:\d+\] oneDNN custom operations are on\. .*"
    r"|cudart_stub\.cc:\d+\] Could not find cuda drivers on your machine, GPU will not be used\."
    r"|cuda_platform\.cc:\d+\] failed call to cuInit: .*)"
    r"|INFO: Created TensorFlow Lite XNNPACK delegate for CPU\."
    r"|fully_quantize: \d+, inference_type: \d+, input_inference_type: \w+, output_inference_type: \w+")


@contextlib.contextmanager
def held_back():
    """Runs the block with file descriptor 2 captured, then writes the captured lines to stderr,
    less the ``NOTICES``."""
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
            lines = captured.read().decode(errors="replace").splitlines(keepends=True)
            sys.stderr.write("".join(line for line in lines if not NOTICES.fullmatch(line.rstrip("\n"))))
            sys.stderr.flush()


def start_tensorflow():
    """Loads Keras (and TensorFlow, its usual backend) and lets TensorFlow look for its devices:
    where its start-up notices come from. Starts no TensorFlow runtime: thread counts and logical
    devices can still be set afterwards (``mobilenet.runtime``, ``mobilenet.distribute``)."""
    import keras

    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        tf.config.list_physical_devices()
