"""MobileNet Lab: MobileNet V1 on CIFAR-10, to teach and demonstrate.

Modules: ``model`` (builder), ``analysis`` (layer table, Mult-Adds), ``data``
(CIFAR-10), ``train``, ``evaluate``, ``checkpoints``, ``inference``; the CLI is
``python -m mobilenet``.
"""

import os

from mobilenet.runtime import configure_environment

# Before anything imports TensorFlow: oneDNN on whatever the CPU (see mobilenet.runtime).
configure_environment()

__version__ = "0.1.0"

# Checkpoints shipped with the repository, and the runs trained by the app or CLI.
CHECKPOINT_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                              "checkpoints")
RUNS_DIR = os.path.join(CHECKPOINT_DIR, "runs")
DEFAULT_CHECKPOINT = os.path.join(CHECKPOINT_DIR, "mobilenet_cifar.keras")
