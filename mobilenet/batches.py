"""Training batches, in NumPy on every Keras backend: augmentation (crop, flip, cutout,
CutMix), the order of each epoch, and every batch of a run as a function of its index
(``BatchPlan``), fed to Keras as a ``tf.data.Dataset`` or a ``PyDataset``.

Everything here is a function of (seed, epoch, index), so a run resumed at any epoch sees what
an uninterrupted one saw, on TensorFlow and JAX alike.
"""

import functools
import math

import numpy as np

from mobilenet.cifar10 import NUM_CLASSES
from mobilenet.data import preprocess


def augment(images, rng=None, cutout=0):
    """Random crop after 4-pixel zero padding and random horizontal flip, on a uint8 batch
    ``(N, H, W, C)``, in NumPy (so on every Keras backend, and the same on all of them).

    ``rng``: a ``numpy.random.Generator`` or a seed for one (None: fresh entropy).
    ``cutout`` > 0 also paints a random ``cutout`` x ``cutout`` square (clipped
    at the borders) mid-grey, as in DeVries & Taylor (2017).
    """
    rng = np.random.default_rng(rng)
    images = np.asarray(images)
    n, h, w = images.shape[:3]
    padded = np.pad(images, ((0, 0), (4, 4), (4, 4), (0, 0)))
    shift_y, shift_x = rng.integers(0, 9, (2, n))
    flip = rng.random(n) < 0.5
    rows = shift_y[:, None] + np.arange(h)
    cols = shift_x[:, None] + np.arange(w)
    cols = np.where(flip[:, None], cols[:, ::-1], cols)  # a mirrored crop reads its columns backwards
    out = padded[np.arange(n)[:, None, None], rows[:, :, None], cols[:, None, :]]
    if cutout:
        centre_y, centre_x = rng.integers(0, h, n), rng.integers(0, w, n)
        inside = ((np.abs(np.arange(h)[None, :, None] - centre_y[:, None, None]) * 2 < cutout)
                  & (np.abs(np.arange(w)[None, None, :] - centre_x[:, None, None]) * 2 < cutout))
        out[inside] = 128
    return out


def cutmix(images, labels, rng, probability=0.5):
    """CutMix (Yun et al., 2019) on a uint8 batch ``(N, H, W, C)`` and its one-hot (or soft)
    ``labels``: with ``probability``, one box is cut from each picture and filled with the same
    box of a partner picture (a random permutation of the batch), and the labels are mixed by
    the share of pixels each picture keeps. The box's area is a uniform fraction of the
    picture's (their Beta(1, 1)), its centre anywhere, clipped at the borders. Otherwise the
    batch comes back as it is. NumPy, so the same on every backend."""
    images, labels = np.asarray(images), np.asarray(labels, np.float32)
    n, h, w = images.shape[:3]
    if n < 2 or rng.random() >= probability:
        return images, labels
    side = np.sqrt(1 - rng.random())
    cut_h, cut_w = int(h * side), int(w * side)
    centre_y, centre_x = rng.integers(0, h), rng.integers(0, w)
    y0, y1 = max(centre_y - cut_h // 2, 0), min(centre_y + cut_h // 2, h)
    x0, x1 = max(centre_x - cut_w // 2, 0), min(centre_x + cut_w // 2, w)
    partner = rng.permutation(n)
    mixed = images.copy()
    mixed[:, y0:y1, x0:x1] = images[partner, y0:y1, x0:x1]
    pasted = np.float32((y1 - y0) * (x1 - x0) / (h * w))
    return mixed, (1 - pasted) * labels + pasted * labels[partner]


def epoch_order(size, seed, epoch):
    """The order training epoch ``epoch`` (from 0) visits ``size`` pictures in: a function of
    (seed, epoch) alone, so a run resumed at any epoch sees what an uninterrupted one saw."""
    return np.random.default_rng([seed, epoch]).permutation(size)


class BatchPlan:
    """Every batch of a run as a function of its index, in NumPy: (preprocessed images, one-hot
    labels). Training batch ``i`` (counted from ``first_epoch``'s first) is batch ``i %
    steps_per_epoch`` of epoch ``first_epoch + i // steps_per_epoch``: pictures in
    ``epoch_order``, augmented (random crop + flip, + ``cutout``, then ``cutmix`` with that
    probability) from a generator seeded by (seed, epoch, batch). Whichever thread, process or
    backend makes a batch, and whether the run was resumed, it is the same batch. Without
    ``training`` the plan is one pass in order.

    ``flip`` (without ``augmentation``): airbench's alternating flip. A random half of the
    pictures (drawn once from ``seed``) is mirrored in even epochs, the other half in odd ones,
    so two epochs show every picture both ways at no cost, which random flips do not promise.
    """

    def __init__(self, images, labels, batch_size, training=False, augmentation=False, seed=0,
                 num_classes=NUM_CLASSES, cutout=0, first_epoch=0, epochs=1, cutmix=0.0,
                 flip=False):
        self.images, self.labels = images, np.asarray(labels, np.int64)
        self.batch_size, self.training, self.seed = batch_size, training, seed
        self.augmentation, self.cutout = training and augmentation, cutout
        self.cutmix = cutmix if training else 0.0
        self.one_hot = np.eye(num_classes, dtype=np.float32)
        self.steps_per_epoch = math.ceil(len(images) / batch_size)
        self.first_epoch = first_epoch
        self.epochs = epochs if training else 1
        self._order = (None, None)
        self.flipped = np.random.default_rng([seed, 7]).random(len(images)) < 0.5 \
            if training and flip and not self.augmentation else None

    def __len__(self):
        return self.steps_per_epoch * self.epochs

    def __call__(self, index):
        epoch, step = divmod(int(index), self.steps_per_epoch)
        span = slice(step * self.batch_size, (step + 1) * self.batch_size)
        chosen = span
        if self.training:
            epoch += self.first_epoch
            cached_epoch, order = self._order
            if cached_epoch != epoch:  # two threads may both compute it: the same array
                order = epoch_order(len(self.images), self.seed, epoch)
                self._order = (epoch, order)
            chosen = order[span]
        x, y = self.images[chosen], self.one_hot[self.labels[chosen]]
        if self.flipped is not None:
            mirror = self.flipped[chosen] ^ bool(epoch % 2)
            x = np.where(mirror[:, None, None, None], x[:, :, ::-1], x)
        if self.augmentation or self.cutmix:
            rng = np.random.default_rng([self.seed, epoch, step])
            if self.augmentation:
                x = augment(x, rng, self.cutout)
            if self.cutmix:
                x, y = cutmix(x, y, rng, self.cutmix)
        return preprocess(x), y


def make_dataset(images, labels, batch_size, training=False, augmentation=False, seed=0,
                 num_classes=NUM_CLASSES, cutout=0, first_epoch=0, epochs=1, cutmix=0.0, flip=False):
    """The batches of ``BatchPlan`` in the form the Keras backend feeds best: on TensorFlow a
    ``tf.data`` pipeline that makes two batches at once ahead of the step (and that
    ``tf.distribute`` strategies split across devices and workers); on other backends (JAX) a
    ``keras.utils.PyDataset``. A training run passes ``steps_per_epoch=plan.steps_per_epoch``
    to ``fit``: the dataset holds all its ``epochs``, from ``first_epoch``.
    """
    plan = BatchPlan(images, labels, batch_size, training, augmentation, seed, num_classes,
                     cutout, first_epoch, epochs, cutmix, flip)
    import keras

    if keras.backend.backend() == "tensorflow":
        return _tf_dataset(plan)
    return _py_dataset_class()(plan)


def _tf_dataset(plan):
    import tensorflow as tf

    shape = plan.images.shape[1:]

    def make(index):
        x, y = tf.numpy_function(plan, [index], (tf.float32, tf.float32), stateful=False)
        x.set_shape((None, *shape))
        y.set_shape((None, plan.one_hot.shape[0]))
        return x, y

    # Fixed parallelism, no autotuning: its model thread made the end of every training run
    # wait up to 15 s (idle) while the iterator was destroyed; two batches in flight keep
    # the cores busy as well (measured: same images/s).
    options = tf.data.Options()
    options.autotune.enabled = False
    # Several workers (MultiWorkerMirroredStrategy): each takes its share of every global batch.
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return (tf.data.Dataset.range(len(plan)).map(make, num_parallel_calls=2, deterministic=True)
            .prefetch(2).with_options(options))


@functools.cache
def _py_dataset_class():
    import keras

    class PlannedBatches(keras.utils.PyDataset):
        """A ``BatchPlan`` for ``fit`` on backends without tf.data. ``fit`` reuses one
        iterator across epochs when given ``steps_per_epoch``; batches are made in the
        training thread (JAX dispatches the step asynchronously, so they overlap)."""

        def __init__(self, plan):
            super().__init__(workers=1, use_multiprocessing=False)
            self.plan = plan

        def __len__(self):
            return len(self.plan)

        def __getitem__(self, index):
            if not 0 <= index < len(self.plan):
                raise IndexError(index)
            return self.plan(index)

    return PlannedBatches
