"""Test-time augmentation (TTA): the views of a picture the network answers for, and how their
answers are averaged. One definition for measuring a run (``mobilenet.evaluate``) and for
answering a picture (``mobilenet.inference``), so the accuracy on screen is the answers'.

Kinds (``TrainConfig.tta_views``, recorded as ``metrics["tta_views"]``):

- ``"mirror"``: the picture and its mirror image, averaged (flip TTA): 2 views.
- ``"mirror_shift"``: airbench's second TTA level (Keller Jordan's CIFAR-10 speedruns): half the
  mirror pair's mean, half the mean of two copies shifted by one pixel (up-left and down-right,
  the border reflected), each with its own mirror image: 6 views. On the classroom run it adds
  0.3 to 0.7 points to every seed over "mirror" (docs/NOTEBOOK.md).
"""

import numpy as np

from mobilenet.config import TTA_VIEWS as KINDS  # ("mirror", "mirror_shift")
SHIFTS = ((-1, -1), (1, 1))  # (rows, columns) of each shifted copy


def view_count(kind):
    """Pictures the network sees per answer."""
    return 2 if kind == "mirror" else 2 + 2 * len(SHIFTS)


def views(x, kind):
    """The views of a batch ``x`` (N, H, W, C) after ``mobilenet.data.preprocess``: the batch
    itself first, then each other view of all N pictures: ``(view_count(kind) * N, H, W, C)``."""
    if kind not in KINDS:
        raise ValueError(f"`tta_views` must be one of {KINDS}. Received: tta_views={kind!r}")
    parts = [x, x[:, :, ::-1, :]]
    if kind == "mirror_shift":
        height, width = x.shape[1:3]
        padded = np.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)), mode="reflect")
        for rows, columns in SHIFTS:
            shifted = padded[:, 1 + rows:1 + rows + height, 1 + columns:1 + columns + width, :]
            parts += [shifted, shifted[:, :, ::-1, :]]
    return np.concatenate(parts)


def combine(probabilities, kind):
    """The answers for N pictures from the probabilities of their ``views`` (in that order)."""
    parts = np.asarray(probabilities).reshape(view_count(kind), -1, np.shape(probabilities)[-1])
    mirror = parts[:2].mean(axis=0)
    return mirror if kind == "mirror" else 0.5 * mirror + 0.5 * parts[2:].mean(axis=0)


def recorded_views(metadata):
    """The views a checkpoint's (or a run's) TTA figure was measured with; "mirror" for those
    measured before the kinds were recorded."""
    return ((metadata or {}).get("metrics") or {}).get("tta_views", "mirror")


def shifted(metadata):
    """Whether a checkpoint's (or a run's) TTA figure was measured with the shifted copies too."""
    return recorded_views(metadata) == "mirror_shift"
