"""The weight-averaging phase of a run (SWA: Izmailov et al., 2018), run by ``train`` after the
schedule when ``TrainConfig.swa_epochs`` > 0.

Training continues at a constant learning rate (``swa_learning_rate``), without EMA, for
``swa_epochs`` epochs; the weights at the end of each epoch are averaged. The average lies nearer
the centre of the broad region SGD wanders in, which generalises better than any single point it
visits. No step ever saw the averaged weights, so their BatchNorm statistics are then recomputed
over one pass of augmented training batches (augmented as in training: re-estimating them from
clean pictures cost the shipped cifar run 2.4 points).

Each averaging epoch's pictures are shuffled and augmented up front from a seed of its own
(``epoch_pictures``), so that two runs resumed from the same ``state_dir`` end with the same
average. A phase entered straight from the schedule in one call does not yet end as a resumed
one does (``tests/test_recipes.py`` pins that as an expected failure).
"""

import dataclasses
import math

import numpy as np

BN_BATCH_SIZE = 256


def averaging_config(config):
    """The ``TrainConfig`` the averaging epochs train with: constant learning rate, no EMA,
    ``swa_epochs`` epochs of ``swa_batch_size``; everything else (optimizer, weight decay,
    label smoothing, augmentation, cutout) as in the schedule."""
    return dataclasses.replace(
        config, epochs=config.swa_epochs, batch_size=config.swa_batch_size or config.batch_size,
        learning_rate=averaging_learning_rate(config), schedule="constant", warmup_epochs=0,
        ema=False, seed=averaging_seed(config), swa_epochs=0)


def averaging_learning_rate(config):
    return config.swa_learning_rate if config.swa_learning_rate is not None else config.learning_rate / 5


def averaging_seed(config):
    """The shipped runs trained with seed 1 and averaged with seed 2."""
    return config.seed + 1


def running_mean(average, weights, count):
    """The mean of ``count`` weight lists, from the mean of the first ``count - 1``."""
    if average is None:
        return [np.array(w) for w in weights]
    return [(a * (count - 1) + w) / count for a, w in zip(average, weights)]


def batchnorm_images(images, config):
    """The pictures the averaged weights' BN statistics are computed over: one pass of the
    training pictures, augmented when the run augments, in a seeded order."""
    seed = averaging_seed(config)
    return _augmented(images, config, seed)[np.random.default_rng(seed).permutation(len(images))]


def epoch_pictures(images, labels, config, epoch):
    """The training pictures of averaging epoch ``epoch`` (from 0), shuffled and augmented up
    front in one seeded call: a function of the epoch alone. (The schedule's pipeline augments
    in parallel workers that draw from one random state in no fixed order.)"""
    seed = averaging_seed(config) + 1 + epoch
    order = np.random.default_rng(seed).permutation(len(images))
    return _augmented(images[order], config, seed), labels[order]


def _augmented(images, config, seed):
    """``images`` augmented as the run augments (crop, flip, cutout) from ``seed``, or as they are."""
    import keras

    from mobilenet.data import augment

    if not config.augmentation:
        return images
    keras.utils.set_random_seed(seed)
    return np.asarray(augment(images, seed=seed, cutout=config.cutout))


def compile_for_averaging(model, config, train_images):
    from mobilenet.train import compile_model

    settings = averaging_config(config)
    compile_model(model, settings, math.ceil(train_images / settings.batch_size))


def average_weights(model, config, x_train, y_train, val_ds, resumed, emit, stop, save):
    """Runs the averaging epochs on ``model`` (trained by the schedule), puts the average in it
    and recomputes its BN statistics.

    ``resumed``: the ``swa`` part of a saved state (``epoch``, ``history``, ``average``), the model
    then already compiled for averaging with its optimizer state loaded; else None.
    ``save(record, average)`` is called after each epoch with the record so far.

    Returns (record, stopped); the record goes to the checkpoint's metadata as ``swa``.
    """
    from mobilenet.data import make_dataset
    from mobilenet.evaluate import recalibrate_batchnorm
    from mobilenet.train import _ProgressCallback

    settings = averaging_config(config)
    steps = math.ceil(len(x_train) / settings.batch_size)
    if resumed is None:
        compile_for_averaging(model, config, len(x_train))
    done = resumed["epoch"] if resumed else 0
    history = list(resumed["history"]) if resumed else []
    average = {"weights": resumed["average"] if resumed else None}
    emit({"event": "stage", "name": "swa", "epochs": settings.epochs, "initial_epoch": done,
          "learning_rate": settings.learning_rate, "batch_size": settings.batch_size,
          "steps_per_epoch": steps})

    def epoch_done(epoch):
        average["weights"] = running_mean(average["weights"], [np.asarray(w) for w in model.weights],
                                          epoch)
        save(record(epoch), average["weights"])

    def record(epoch):
        return {"epochs": epoch, "learning_rate": settings.learning_rate,
                "batch_size": settings.batch_size, "cutout": config.cutout, "seed": settings.seed,
                "history": history,
                "training_seconds": round(sum(h.get("epoch_seconds", 0) for h in history), 1)}

    progress = _ProgressCallback(settings, steps, done, emit, stop, history, epoch_done, phase="swa")
    for epoch in range(done, settings.epochs):
        if stop():
            progress.stopped = True
            break
        x, y = epoch_pictures(x_train, y_train, config, epoch)
        train_ds = make_dataset(x, y, settings.batch_size)  # in that order, as they are
        model.fit(train_ds, epochs=epoch + 1, initial_epoch=epoch, validation_data=val_ds,
                  callbacks=[progress], verbose=0, shuffle=False)
        if progress.stopped:
            break

    if average["weights"] is not None:
        model.set_weights(average["weights"])
    emit({"event": "stage", "name": "batchnorm"})
    images = batchnorm_images(x_train, config)
    batches = max(1, len(images) // BN_BATCH_SIZE)  # fewer pictures than a batch: still one
    if progress.stopped:  # the user is waiting: a few batches make the model usable
        batches = min(batches, 4)
    batches = recalibrate_batchnorm(model, images, batch_size=BN_BATCH_SIZE, max_batches=batches)
    result = record(len(history))
    result["bn_statistics"] = (f"recomputed over {batches} "
                               f"{'augmented ' if config.augmentation else ''}batches of up to "
                               f"{BN_BATCH_SIZE}")
    return result, progress.stopped
