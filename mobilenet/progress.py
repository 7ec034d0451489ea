"""The progress stream of a training run: Keras callback hooks turned into plain dicts.

``ProgressCallback`` emits the "batch", "validation" and "epoch" events that
``mobilenet.train`` documents, stops the run within one step when asked, saves the resumable
state after each epoch (through the ``save`` it is given) and sets the dropout generators from
(seed, epoch). The weight-averaging phase (``mobilenet.weight_averaging``) uses it too, with
``phase="swa"``.
"""

import time

import keras
import numpy as np


def reseed_dropout(model, seed, epoch):
    """Sets the state of the model's random generators (its Dropout's) from (seed, epoch). Keras
    saves no generator state with the weights, so without this a run resumed at an epoch drops
    other units than the run that went on (measured: the averaging phase ended 0.2-0.4 away in
    conv1/kernel); with it, an epoch's randomness is a function of (seed, epoch), as its
    batches are (``mobilenet.batches.BatchPlan``)."""
    states = [v for v in model.variables if v.path.endswith("seed_generator_state")]
    for index, state in enumerate(states):
        state.assign(np.array([(seed * 100_003 + epoch) % 2**31, index], dtype=state.dtype))


class ProgressCallback(keras.callbacks.Callback):
    """Turns Keras callback hooks into progress dicts (see ``mobilenet.train``); stops within one
    step; validates half way through the epochs of a short run (``validate``)."""

    def __init__(self, config, steps_per_epoch, initial_epoch, emit, stop, history, save,
                 phase=None, validate=None):
        super().__init__()
        # validate(): {"val_loss", "val_accuracy"} now; None: from fit's logs (if any)
        self.validate = validate
        # half way through each epoch too, when the run has few epochs
        self.mid_epoch = steps_per_epoch // 2 if validate and config.epochs <= 2 \
            and steps_per_epoch >= 4 else None
        self.config, self.steps, self.emit, self.stop = config, steps_per_epoch, emit, stop
        self.phase = {"phase": phase} if phase else {}  # "swa": the averaging epochs
        self.history, self.save = history, save
        self.initial_epoch, self.stopped = initial_epoch, False
        self.epoch = initial_epoch
        self.images_seen, self.timer_start = 0, None

    def _timing(self, global_step):
        now = time.monotonic()
        if self.timer_start is None:  # first step includes tracing: do not time it
            self.timer_start, self.images_seen = now, 0
            return 0.0, None
        elapsed = now - self.timer_start
        rate = self.images_seen / elapsed if elapsed > 0 else 0.0
        remaining = (self.steps * self.config.epochs - global_step) * self.config.batch_size
        return rate, (remaining / rate if rate else None)

    def on_epoch_begin(self, epoch, logs=None):
        reseed_dropout(self.model, self.config.seed, epoch)
        self.epoch, self.epoch_started = epoch, time.monotonic()
        self.last_report = (0, 0.0, 0.0)  # step, running loss, running accuracy
        if self.stop():
            self.stopped = self.model.stop_training = True

    def on_train_batch_end(self, batch, logs=None):
        global_step = self.epoch * self.steps + batch + 1
        self.images_seen += self.config.batch_size
        rate, eta = self._timing(global_step)
        if self.stop():
            self.stopped = self.model.stop_training = True
        if (batch + 1) % self.config.progress_every == 0 or batch + 1 == self.steps:
            fields = self._fields(batch + 1, global_step, logs, rate, eta)
            self.emit({"event": "batch", **fields, **self._recent(batch + 1, fields)})
        if batch + 1 == self.mid_epoch and not self.stopped:
            self.emit({"event": "validation", **self.phase, "epoch": self.epoch + 1,
                       "epochs": self.config.epochs, "step": batch + 1, "global_step": global_step,
                       "steps_per_epoch": self.steps, **self._validate_timed()})

    def _validate_timed(self):
        """Validation, its time left out of the images/s figure."""
        started = time.monotonic()
        result = self.validate()
        if self.timer_start is not None:
            self.timer_start += time.monotonic() - started
        return result

    def _recent(self, step, fields):
        """Loss and accuracy of the steps since the last report, from Keras' running
        means over the epoch (which jump at each epoch start: poor curves)."""
        last_step, last_loss, last_accuracy = self.last_report
        self.last_report = (step, fields["loss"], fields["accuracy"])
        n = step - last_step
        return {"recent_loss": (fields["loss"] * step - last_loss * last_step) / n,
                "recent_accuracy": (fields["accuracy"] * step - last_accuracy * last_step) / n}

    def on_epoch_end(self, epoch, logs=None):
        if self.stopped:
            return  # a partial epoch is not a completed one: state stays at the last
        global_step = (epoch + 1) * self.steps
        rate, eta = self._timing(global_step)
        record = {**self._fields(self.steps, global_step, logs, rate, eta),
                  "learning_rate": float(np.asarray(self.model.optimizer.learning_rate)),
                  "epoch_seconds": round(time.monotonic() - self.epoch_started, 1)}
        if self.validate:
            record.update(self._validate_timed())
        for key in ("val_loss", "val_accuracy"):
            if logs and key in logs:
                record[key] = float(logs[key])
        self.history.append(record)
        self.save(epoch + 1)
        self.emit({"event": "epoch", **record})

    def _fields(self, step, global_step, logs, rate, eta):
        logs = logs or {}
        return {**self.phase, "epoch": self.epoch + 1, "epochs": self.config.epochs, "step": step,
                "steps_per_epoch": self.steps, "global_step": global_step,
                "total_steps": self.steps * self.config.epochs,
                "loss": float(logs.get("loss", float("nan"))),
                "accuracy": float(logs.get("accuracy", float("nan"))),
                "images_per_sec": round(rate, 1),
                "eta_s": None if eta is None else round(eta, 1)}
