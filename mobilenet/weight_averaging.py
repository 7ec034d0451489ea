"""The weight-averaging phase of a run (SWA: Izmailov et al., 2018), run by ``train`` after the
schedule when ``TrainConfig.swa_epochs`` > 0.

Training continues at a constant learning rate (``swa_learning_rate``), without EMA, for
``swa_epochs`` epochs; the weights at the end of each epoch are averaged. The average lies nearer
the centre of the broad region SGD wanders in, which generalises better than any single point it
visits. No step ever saw the averaged weights, so their BatchNorm statistics are then recomputed
over one pass of augmented training batches (augmented as in training: re-estimating them from
clean pictures cost the shipped cifar run 2.4 points).

Each averaging epoch's pictures are a function of (``averaging_seed``, epoch), as the schedule's
are of (seed, epoch) (``mobilenet.batches.BatchPlan``), so a phase resumed from a saved state ends
with the same average as one that ran straight through.
"""

import dataclasses
import math

import numpy as np

BN_BATCH_SIZE = 256


def averaging_config(config):
    """The ``TrainConfig`` the averaging epochs train with: constant learning rate, no EMA,
    ``swa_epochs`` epochs of ``swa_batch_size``; everything else (optimizer, weight decay,
    label smoothing, augmentation, cutout, CutMix) as in the schedule."""
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
    from mobilenet.batches import augment

    rng = np.random.default_rng(averaging_seed(config))
    images = images[rng.permutation(len(images))]
    return augment(images, rng, config.cutout) if config.augmentation else images


def compile_for_averaging(model, config, train_images):
    from mobilenet.optimizer import compile_model

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
    from mobilenet.batches import make_dataset
    from mobilenet.evaluate import recalibrate_batchnorm
    from mobilenet.progress import ProgressCallback

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

    progress = ProgressCallback(settings, steps, done, emit, stop, history, epoch_done, phase="swa")
    if done < settings.epochs:
        # the averaging epochs' own pictures: seeded by averaging_seed, epoch by epoch
        train_ds = make_dataset(x_train, y_train, settings.batch_size, training=True,
                                augmentation=config.augmentation, seed=settings.seed,
                                cutout=config.cutout, cutmix=config.cutmix, first_epoch=done,
                                epochs=settings.epochs - done)
        model.fit(train_ds, epochs=settings.epochs, initial_epoch=done, steps_per_epoch=steps,
                  validation_data=val_ds, callbacks=[progress], verbose=0, shuffle=False)

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
