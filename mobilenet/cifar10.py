"""CIFAR-10's names, constants, errors and the ``Cifar10`` arrays: what ``mobilenet.data`` (the
loader and the batches) and ``mobilenet.data_hub`` (the Hub's copy) share, so that neither
imports the other's module for them."""

from dataclasses import dataclass

import numpy as np

CLASS_NAMES = ("airplane", "automobile", "bird", "cat", "deer",
               "dog", "frog", "horse", "ship", "truck")
NUM_CLASSES = len(CLASS_NAMES)
IMAGE_SIZE = 32
ENV_VAR = "MOBILENET_CIFAR10"  # read by the entry points (the CLI, app.py's classroom.settings)
HUB_SOURCE = "hf"  # the source that names the Hugging Face Hub's copy
ARCHIVE_NAME = "cifar-10-python.tar.gz"
BATCHES_DIR = "cifar-10-batches-py"
# Keras' own URL, hash and cache file name (keras.datasets.cifar10), so the
# archive is shared with anything else that uses Keras' CIFAR-10.
OFFICIAL_URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
OFFICIAL_SHA256 = "6d958be074577803d12ecdefd02955f39262c83c16fe9348329d7fe0b5c001ce"
KERAS_CACHE_NAME = "cifar-10-batches-py-target_archive"
# Archives we know by hash, so that reports can say which copy a figure was measured on.
KNOWN_COPIES = {
    OFFICIAL_SHA256: "official CIFAR-10 archive",
    "0436e773cac94a3573fb6b4a892f385dca4722b0e7bffc67e0a039504c25e55e":
        "offline JPEG copy (the real images after one JPEG round trip, quality 75)",
}
TRAIN_BATCHES = tuple(f"data_batch_{i}" for i in range(1, 6))
TEST_BATCH = "test_batch"

HOW_TO_PROVIDE = (
    "To provide CIFAR-10 without a network, download the official archive "
    f"'{ARCHIVE_NAME}' (from {OFFICIAL_URL}) on another machine and either pass its path "
    f"(--data PATH on the command line, source=PATH in Python), or set the environment "
    f"variable {ENV_VAR}=PATH. PATH may be the .tar.gz itself, a folder holding it, or the "
    f"extracted '{BATCHES_DIR}' folder. Or use the Hugging Face Hub's copy, usually much faster "
    f"to download: --data hf ({ENV_VAR}=hf) fetches it once into huggingface_hub's cache "
    f"(~/.cache/huggingface/hub, or $HF_HUB_CACHE) and reads it from there offline; on another "
    f"machine, 'hf download uoft-cs/cifar10 --repo-type dataset --local-dir DIR' makes a folder "
    f"DIR to pass as PATH."
)


class DataUnavailableError(RuntimeError):
    """CIFAR-10 could not be found or downloaded."""


class DataCorruptError(RuntimeError):
    """A CIFAR-10 source exists but is not a valid copy of the official format."""


@dataclass(frozen=True)
class Cifar10:
    """The dataset as uint8 NHWC RGB images and int64 labels 0-9."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    source: str

    sha256: str | None = None  # of the archive, when the source is one
    copy: str | None = None  # what the copy is, when the source says it (the Hub's files)

    def describe(self):
        """Where the data came from, for checkpoints and reports."""
        return {"name": "CIFAR-10", "source": self.source, "sha256": self.sha256,
                "copy": self.copy or KNOWN_COPIES.get(self.sha256, "unknown copy" if self.sha256
                                                      else "extracted folder"),
                "train_images": len(self.x_train), "test_images": len(self.x_test)}
