"""Training MobileNet on CIFAR-10: config, progress stream, cancel, checkpoints, resume.

``train(config, on_progress=..., should_stop=...)`` emits plain dicts (one
stream: the CLI prints them, the UI plots them). Event kinds:

  start    epochs, steps_per_epoch, train_images, validation_images, config
  batch    every ``config.progress_every`` steps: epoch, step, global_step,
           total_steps, loss and accuracy (running means over the epoch, as
           Keras shows them), recent_loss and recent_accuracy (over the steps
           since the previous report: what a curve should plot),
           images_per_sec, eta_s
  epoch    end of each epoch: the batch fields plus learning_rate,
           epoch_seconds, and val_loss, val_accuracy (the tutorial's Recall and
           AUC are computed once, on the test set, at the end: as per-step
           Keras metrics they cost a quarter of the training time)
  validation  half way through each epoch of a run of at most 2 epochs (so a 1-epoch run
           still draws a validation curve): epoch, epochs, step, global_step, steps_per_epoch,
           val_loss, val_accuracy (about 0.2 s for 1,000 images on 2 cores)
  stage    name in {"swa", "batchnorm", "evaluate", "save"}: what runs after the schedule
           ("swa": the weight-averaging phase starts; its "batch" and "epoch" events then
           carry phase "swa" and count its own epochs, see ``mobilenet.weight_averaging``)
  done     checkpoint, test_accuracy, stopped, duration_s

The short-run pitfall: with BatchNorm's default momentum (0.99) the moving
statistics need hundreds of steps to catch up, so a classroom run of a few
dozen steps evaluates at chance (10 %). The momentum is matched to the run
length (``bn_momentum=None``, on by default). Re-estimating the statistics
from training images after training (``bn_recalibration_batches``) is off by
default: with the matched momentum and a learning rate that decays to zero it
changed the classroom run's test accuracy by less than 0.1 points and cost 5 s.
"""

import contextlib
import dataclasses
import math
import os
import shutil
import tempfile
import time
from dataclasses import dataclass, field

import numpy as np

from mobilenet import checkpoints, keras_patches
from mobilenet.config import TrainConfig  # noqa: F401 (defined apart so that the CLI loads no TensorFlow)
from mobilenet.batches import make_dataset
from mobilenet.data import load_cifar10, stratified_subset
from mobilenet.evaluate import (Stopped, compiled_forward, evaluate, evaluate_with_flip,
                                 predict_probabilities, recalibrate_batchnorm,
                                 stored_weights_metrics, test_metrics, validation_loss)
from mobilenet.model import build_mobilenet
from mobilenet.optimizer import compile_model
from mobilenet.progress import ProgressCallback
from mobilenet.run_state import load_state, save_state


@dataclass
class TrainResult:
    checkpoint: str | None
    metrics: dict
    history: list = field(default_factory=list)
    stopped: bool = False
    duration_s: float = 0.0


def auto_bn_momentum(total_steps):
    """BN momentum whose averaging window (1 / (1 - m)) is 1/20 of the run, 4 to 20 steps.

    The moving statistics only serve evaluation; while the weights change
    fast (high learning rate, early in a run) a long window lags behind them
    and mid-run validation drops to chance. 20 batches of 128 images already
    estimate a mean and a variance well.
    """
    window = max(4.0, min(20.0, total_steps / 20))
    return 1 - 1 / window


def fit_to_data(config, available):
    """``config`` sized to a training set of ``available`` images, as the app starts its runs.

    A tenth of the images (at most ``config.validation_size``) is held out for validation, so a
    small data set still leaves nine tenths to train on; a ``train_size`` as large as what is
    left (or larger) means "all of it" (None). Returns a new ``TrainConfig``.
    """
    validation = min(config.validation_size, available // 10)
    pool = available - validation
    train_size = None if config.train_size is None or config.train_size >= pool else config.train_size
    return dataclasses.replace(config, validation_size=validation, train_size=train_size)


def split_indices(labels, config):
    """Deterministic (train, validation) indices into the training set, stratified."""
    labels = np.asarray(labels)
    val = stratified_subset(labels, config.validation_size, seed=config.seed) \
        if config.validation_size else np.array([], dtype=np.int64)
    pool = np.setdiff1d(np.arange(len(labels)), val)
    if config.train_size is None:
        return pool, val
    return pool[stratified_subset(labels[pool], config.train_size, seed=config.seed + 1)], val


@dataclass
class PreparedModel:
    """A model built and compiled as ``train`` builds it for ``config``, its training step
    already traced (see ``prepare_model``). Single use: the ``train`` that uses it takes the
    model (``model`` becomes None), so a second run never continues from trained weights."""

    config: dict           # dataclasses.asdict of the TrainConfig it was built for
    data: object           # the Cifar10 it was built for (None: only timed, never used)
    model: object
    images_per_sec: float  # measured on the warm-up steps


def prepare_model(config, data, steps=12):
    """Does now what the first step of ``train(config, data=data)`` would: builds and compiles
    the model, and traces its training step by running ``steps`` + 2 steps on the first
    training images; then puts every variable (weights, BatchNorm statistics, random seeds,
    optimizer state) back as built. ``train(config, data=data, prepared=...)`` then trains as
    it would have from scratch, to the same weights, without the 6-7 s (on 2 cores) that
    TensorFlow takes to trace and optimise the step.

    Returns a ``PreparedModel``, with the images/s of the last ``steps`` steps.
    """
    import keras

    try:
        config.validate(len(data.x_train))
    except ValueError:  # fewer images than the config trains on (a test's small data set)
        config.validate()
        keras.utils.set_random_seed(config.seed)
        model, train_idx, prepared_for = _new_model(config, data, len(data.x_train)), \
            np.arange(len(data.x_train)), None  # timed only: train() will not match it
    else:
        model, train_idx, _ = _build(config, data)
        prepared_for = data
    variables = list(model.variables) + list(model.optimizer.variables)
    initial = [np.array(v) for v in variables]
    stamps = []

    class Timer(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            stamps.append(time.perf_counter())

    take = train_idx[np.arange((steps + 2) * config.batch_size) % len(train_idx)]
    model.fit(make_dataset(data.x_train[take], data.y_train[take], config.batch_size, training=True,
                           augmentation=config.augmentation, seed=config.seed, cutout=config.cutout,
                           cutmix=config.cutmix, flip=config.flip),
              epochs=1, steps_per_epoch=steps + 2, verbose=0, callbacks=[Timer()], shuffle=False)
    for variable, value in zip(variables, initial):
        variable.assign(value)
    rate = (len(stamps) - 2) * config.batch_size / (stamps[-1] - stamps[1])
    return PreparedModel(dataclasses.asdict(config), prepared_for, model, round(rate, 1))


def _build(config, data, prepared=None):
    """(compiled model, train indices, validation indices) for ``config``: ``prepared``'s
    model when it was prepared for this config and data, else a new one."""
    import keras

    keras.utils.set_random_seed(config.seed)
    train_idx, val_idx = split_indices(data.y_train, config)
    if (prepared is not None and prepared.model is not None
            and prepared.config == dataclasses.asdict(config) and prepared.data is data):
        model, prepared.model = prepared.model, None  # single use: its weights are about to train
        return model, train_idx, val_idx
    return _new_model(config, data, len(train_idx)), train_idx, val_idx


def _new_model(config, data, train_images):
    steps_per_epoch = math.ceil(train_images / config.batch_size)
    model = build_mobilenet(**config.model_config(data.x_train.shape[1:]),
                            bn_momentum=run_bn_momentum(config, steps_per_epoch),
                            synchronized_batchnorm=config.sync_batchnorm)
    compile_model(model, config, steps_per_epoch)
    return model


def run_bn_momentum(config, steps_per_epoch):
    return config.bn_momentum or auto_bn_momentum(steps_per_epoch * config.epochs)


def train(config, data=None, source=None, checkpoint_path=None, on_progress=None,
          should_stop=None, state_dir=None, weights_dtype="float32", prepared=None,
          devices=None):
    """Trains a MobileNet on CIFAR-10 and saves a checkpoint.

    Args:
        config: a ``TrainConfig``.
        data: a loaded ``Cifar10``; else loaded from ``source`` (see ``load_cifar10``).
        checkpoint_path: where to write the final ``.keras`` (+ ``.json``);
            None skips saving.
        on_progress: called with each progress dict (see module doc).
        should_stop: called every step; when it returns True the run stops
            within one step, re-estimates BN statistics and still saves what
            was learned (marked ``stopped``; the test set is not evaluated).
        state_dir: folder for the resumable state (model, optimizer, epoch),
            written atomically after every epoch. If it holds a state of the
            same config, training resumes from it.
        weights_dtype: storage of the final checkpoint ("float32"/"float16").
        prepared: a ``PreparedModel`` from ``prepare_model``: used when it was made for this
            config and data (the run then starts without tracing), else ignored.
        devices: train on this many local devices (GPUs, or logical CPU devices), data
            parallel, through the backend's engine (``mobilenet.distribute``); None: one. A
            process that ``TF_CONFIG`` (TensorFlow) or ``KERAS_DISTRIBUTION_*`` (JAX) makes one
            worker of several trains with the others; only the chief writes the checkpoint and
            the state (the others write to a scratch folder, removed at the end).

    Returns:
        A ``TrainResult``.
    """
    from mobilenet import distribute

    if devices not in (None, 1) or distribute.multi_worker():
        prepared = None  # built outside the strategy: its variables are not the strategy's
    with contextlib.ExitStack() as cleanup:
        if not distribute.is_chief():
            scratch = tempfile.mkdtemp(prefix="mobilenet-worker-")
            cleanup.callback(shutil.rmtree, scratch, ignore_errors=True)
            if checkpoint_path:
                checkpoint_path = os.path.join(scratch, os.path.basename(checkpoint_path))
            if state_dir:  # resumes from the chief's state; writes its own
                own = os.path.join(scratch, "state")
                if os.path.isdir(state_dir):
                    shutil.copytree(state_dir, own)
                state_dir = own
        cleanup.enter_context(distribute.scope(devices))
        return _train(config, data, source, checkpoint_path, on_progress, should_stop, state_dir,
                      weights_dtype, prepared)


def _train(config, data, source, checkpoint_path, on_progress, should_stop, state_dir,
           weights_dtype, prepared):
    emit = on_progress or (lambda event: None)
    stop = should_stop or (lambda: False)
    data = data if data is not None else load_cifar10(source)
    config.validate(len(data.x_train))
    model, train_idx, val_idx = _build(config, data, prepared)
    steps_per_epoch = math.ceil(len(train_idx) / config.batch_size)
    total_steps = steps_per_epoch * config.epochs
    model_config = config.model_config(data.x_train.shape[1:])
    bn_momentum = run_bn_momentum(config, steps_per_epoch)

    resumed = load_state(model, state_dir, config, len(train_idx)) if state_dir else None
    initial_epoch, history = (resumed["epoch"], resumed["history"]) if resumed else (0, [])
    keras_patches.fit_under_several_workers(model, data.x_train[train_idx[:1]], data.y_train[train_idx[:1]])
    emit({"event": "start", "epochs": config.epochs, "steps_per_epoch": steps_per_epoch,
          "total_steps": total_steps, "train_images": len(train_idx),
          "validation_images": len(val_idx), "initial_epoch": initial_epoch,
          "swa_epochs": config.swa_epochs, "bn_momentum": bn_momentum,
          "config": dataclasses.asdict(config)})

    started = time.monotonic()
    # One traced forward pass for every validation and the test set (each trace costs ~1 s).
    forward = compiled_forward(model)
    validate = (lambda: _validation(model, data.x_train[val_idx], data.y_train[val_idx], config,
                                    forward)) if len(val_idx) else None
    progress = ProgressCallback(config, steps_per_epoch, initial_epoch, emit, stop, history,
                                 lambda epoch: save_state(model, state_dir, config, epoch, history)
                                 if state_dir else None, validate=validate)
    train_ds = make_dataset(data.x_train[train_idx], data.y_train[train_idx], config.batch_size,
                            training=True, augmentation=config.augmentation, seed=config.seed,
                            cutout=config.cutout, cutmix=config.cutmix, flip=config.flip,
                            first_epoch=initial_epoch,
                            epochs=config.epochs - initial_epoch)
    if initial_epoch < config.epochs:
        model.fit(train_ds, epochs=config.epochs, initial_epoch=initial_epoch,
                  steps_per_epoch=steps_per_epoch, callbacks=[progress],
                  verbose=0, shuffle=False)  # the batches come in their planned order
    stopped = progress.stopped
    if config.ema and not stopped:
        # fit() ends by putting the averaged weights in the model; a run resumed after its last
        # epoch skips fit(): the same (idempotent) call then puts them in from the loaded state
        model.optimizer.finalize_variable_values(model.trainable_variables)

    swa, before_swa = None, {}
    if config.swa_epochs and not stopped:
        from mobilenet.weight_averaging import average_weights

        resumed_swa = (resumed or {}).get("swa")
        if resumed_swa:
            before_swa = resumed_swa["before"]
        elif len(val_idx):
            before_swa = {"validation_accuracy_before_swa": evaluate(
                model, data.x_train[val_idx], data.y_train[val_idx])["accuracy"]}
        val_ds = make_dataset(data.x_train[val_idx], data.y_train[val_idx], 500) if len(val_idx) else None
        swa, stopped = average_weights(
            model, config, data.x_train[train_idx], data.y_train[train_idx], val_ds, resumed_swa,
            emit, stop, lambda record, average: save_state(
                model, state_dir, config, config.epochs, history,
                swa={"epoch": record["epochs"], "history": record["history"], "before": before_swa},
                average=average) if state_dir else None)
    else:
        emit({"event": "stage", "name": "batchnorm"})
        if config.bn_recalibration_batches:
            # After a Stop the user is waiting: a few batches are enough to make the model usable.
            batches = min(config.bn_recalibration_batches, 4) if stopped else config.bn_recalibration_batches
            recalibrate_batchnorm(model, data.x_train[train_idx], max_batches=batches)
    metrics = _final_metrics(model, data, val_idx, config, stopped, stop, emit, forward)
    metrics.update(before_swa)
    stopped = stopped or metrics.pop("stopped_during_evaluation", False)
    duration = time.monotonic() - started
    if weights_dtype == "float16" and metrics.get("test_accuracy") is not None:
        # the accuracy of the weights as the checkpoint will restore them, measured before saving
        emit({"event": "stage", "name": "evaluate", "split": "test (float16 storage)"})
        metrics.update(stored_weights_metrics(checkpoints.float16_round_trip(model),
                                              data.x_test, data.y_test, tta=config.tta,
                                              views=config.tta_views))
    if checkpoint_path:
        emit({"event": "stage", "name": "save"})
        metadata = checkpoint_metadata(config, bn_momentum, metrics, history, swa, stopped, duration,
                                       data, len(train_idx), len(val_idx))
        checkpoint_path = checkpoints.save_checkpoint(model, checkpoint_path, model_config, metadata,
                                                      weights_dtype=weights_dtype, overwrite=True)
    emit({"event": "done", "checkpoint": checkpoint_path, "test_accuracy": metrics.get("test_accuracy"),
          "test_accuracy_tta": metrics.get("test_accuracy_tta"),
          "answers_with_flip": metrics.get("answers_with_flip", False), "tta_views": metrics.get("tta_views"),
          "validation_accuracy": metrics.get("validation_accuracy"), "stopped": stopped,
          "duration_s": round(duration, 1)})
    return TrainResult(checkpoint_path, metrics, history, stopped, duration)


def checkpoint_metadata(config, bn_momentum, metrics, history, swa, stopped, duration, data,
                        train_images, validation_images):
    """What a checkpoint's JSON says about the run that made it: the config that was run (the
    weight-averaging phase included), what it measured, its per-epoch history (``swa``: the
    averaging phase's, when it ran)."""
    metadata = {"train_config": dataclasses.asdict(config), "bn_momentum": bn_momentum,
                "metrics": metrics, "history": history, "stopped": stopped,
                "epochs_completed": len(history), "duration_s": round(duration, 1),
                # over every session of a resumed run (epochs saved before timing was
                # recorded count zero), the averaging phase included
                "training_seconds": round(sum(h.get("epoch_seconds", 0) for h in history)
                                          + (swa["training_seconds"] if swa else 0), 1),
                "dataset": {**data.describe(), "train_images_used": train_images,
                            "validation_images": validation_images}}
    if swa is not None:
        metadata["swa"] = swa
    return metadata


def _validation(model, images, labels, config, forward):
    """``val_loss`` and ``val_accuracy`` of the model as it is now (inference mode)."""
    probabilities = predict_probabilities(model, images, forward=forward)
    return {"val_loss": validation_loss(probabilities, labels, config.label_smoothing),
            "val_accuracy": float(np.mean(np.argmax(probabilities, axis=1) == labels))}


def _final_metrics(model, data, val_idx, config, stopped, stop, emit, forward=None):
    metrics = {}
    if len(val_idx):
        emit({"event": "stage", "name": "evaluate", "split": "validation"})
        # with tta, the TTA accuracy decides whether the app answers with the views averaged
        val, flipped = evaluate_with_flip(model, data.x_train[val_idx], data.y_train[val_idx],
                                          tta=config.tta and not stopped, forward=forward,
                                          views=config.tta_views)
        metrics["validation_accuracy"] = val["accuracy"]
        if flipped is not None:
            metrics["validation_accuracy_tta"] = flipped
    if stopped:
        metrics["test_accuracy"] = None
        return metrics
    emit({"event": "stage", "name": "evaluate", "split": "test"})
    try:
        # with tta the app answers as the validation pictures measured better (flip_helps)
        flip = metrics.get("validation_accuracy_tta", -1) > metrics.get("validation_accuracy", 1)
        metrics.update(test_metrics(model, data.x_test, data.y_test, tta=config.tta, should_stop=stop,
                                    forward=forward, answers_with_flip=flip, views=config.tta_views))
    except Stopped:
        metrics.update(test_accuracy=None, stopped_during_evaluation=True)
    return metrics
