"""A tiny CIFAR-10 in the official python format, made for tests.

Each class has its own colour and stripe pattern plus noise, so a model can
learn it in a few steps and a loss that goes down means something.
"""

import io
import os
import pickle
import tarfile

import numpy as np

from mobilenet.data import BATCHES_DIR, CLASS_NAMES

PER_TRAIN_BATCH = 60
TEST_IMAGES = 100


def make_images(labels, rng):
    n = len(labels)
    images = rng.normal(0, 20, size=(n, 32, 32, 3))
    for i, label in enumerate(labels):
        hue = np.array([(label * 37) % 256, (label * 91) % 256, (label * 151) % 256])
        images[i] += hue
        period = 2 + label
        images[i, :, ::period, :] += 60 if label % 2 else -60
    return np.clip(images, 0, 255).astype(np.uint8)


def batch_bytes(images, labels, name):
    planar = images.transpose(0, 3, 1, 2).reshape(len(images), -1)  # NHWC -> channel-planar rows
    batch = {b"batch_label": name.encode(), b"labels": [int(v) for v in labels],
             b"data": planar, b"filenames": [f"img_{i}.png".encode() for i in range(len(labels))]}
    return pickle.dumps(batch, protocol=2)


def write_tiny_cifar(root, seed=0):
    """Writes ``root/cifar-10-batches-py/`` and ``root/cifar-10-python.tar.gz``.

    Returns (folder path, archive path, dict of the arrays written).
    """
    rng = np.random.default_rng(seed)
    folder = os.path.join(root, BATCHES_DIR)
    os.makedirs(folder, exist_ok=True)
    arrays = {}
    names = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
    for name in names:
        n = TEST_IMAGES if name == "test_batch" else PER_TRAIN_BATCH
        labels = np.arange(n) % len(CLASS_NAMES)
        rng.shuffle(labels)
        images = make_images(labels, rng)
        arrays[name] = (images, labels)
        with open(os.path.join(folder, name), "wb") as f:
            f.write(batch_bytes(images, labels, name))
    meta = pickle.dumps({b"label_names": [c.encode() for c in CLASS_NAMES]}, protocol=2)
    with open(os.path.join(folder, "batches.meta"), "wb") as f:
        f.write(meta)
    archive = os.path.join(root, "cifar-10-python.tar.gz")
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(folder, arcname=BATCHES_DIR)
    return folder, archive, arrays


def add_bytes(tar, name, payload):
    info = tarfile.TarInfo(name)
    info.size = len(payload)
    tar.addfile(info, io.BytesIO(payload))
