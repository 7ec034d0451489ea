"""The resumable state of a run: written atomically after every epoch, read back by a run
started again with the same state folder and config (``mobilenet.train.train(state_dir=...)``).
"""

import dataclasses
import json
import os

import numpy as np

from mobilenet import checkpoints

STATE_FILE = "state.json"
# Config fields added after states were first saved, with the value they implicitly had.
LEGACY_CONFIG = {"depth": "full", "swa_epochs": 0, "swa_learning_rate": None, "swa_batch_size": None,
                  "sync_batchnorm": False, "cutmix": 0.0, "flip": False}
# Settings of what happens after the last epoch (or of the display): a resumed run may change them.
AFTER_TRAINING = ("progress_every", "bn_recalibration_batches", "tta", "tta_views")


def save_state(model, state_dir, config, epoch, history, swa=None, average=None):
    """The resumable state after a completed epoch: the model with its optimizer state, and
    state.json naming it; in the averaging phase (``swa``: its epoch, history and what was
    measured before it) also the running ``average`` of the weights. Each file is written
    atomically, state.json last; then the files it no longer names are removed."""
    os.makedirs(state_dir, exist_ok=True)
    stem = f"swa-epoch-{swa['epoch']:04d}" if swa else f"epoch-{epoch:04d}"
    weights = os.path.join(state_dir, stem + ".keras")
    checkpoints.atomic_write(weights, model.save)
    record = {"config": dataclasses.asdict(config), "epoch": epoch, "history": history,
              "weights_file": os.path.basename(weights)}
    if swa:
        average_file = os.path.join(state_dir, stem + "-average.npz")
        checkpoints.atomic_write(average_file, lambda tmp: write_arrays(tmp, average))
        record["swa"] = {**swa, "average_file": os.path.basename(average_file)}
    checkpoints.atomic_write(os.path.join(state_dir, STATE_FILE),
                             lambda tmp: open(tmp, "w").write(json.dumps(record, indent=1)))
    named = {record["weights_file"], record.get("swa", {}).get("average_file")}
    for name in os.listdir(state_dir):  # the state now points at the new files
        if name.startswith(("epoch-", "swa-epoch-")) and name.endswith((".keras", ".npz")) \
                and name not in named:
            os.remove(os.path.join(state_dir, name))


def write_arrays(path, arrays):
    with open(path, "wb") as f:
        np.savez(f, *arrays)


def load_state(model, state_dir, config, train_images):
    path = os.path.join(state_dir, STATE_FILE)
    if not os.path.exists(path):
        return None
    with open(path) as f:
        record = json.load(f)
    saved = {k: v for k, v in {**LEGACY_CONFIG, **record["config"]}.items() if k not in AFTER_TRAINING}
    wanted = {k: v for k, v in dataclasses.asdict(config).items() if k not in AFTER_TRAINING}
    if saved != wanted:
        changed = sorted(k for k in wanted if saved.get(k) != wanted[k])
        raise ValueError(f"the training state in '{state_dir}' was made with another config "
                         f"(differs in {changed}); use another folder or the same settings")
    if record.get("swa"):  # saved in the averaging phase: its optimizer's state is in the file
        from mobilenet.weight_averaging import compile_for_averaging

        compile_for_averaging(model, config, train_images)
    if not model.optimizer.built:
        model.optimizer.build(model.trainable_variables)
    model.load_weights(os.path.join(state_dir, record["weights_file"]))
    if record.get("swa"):
        with np.load(os.path.join(state_dir, record["swa"]["average_file"])) as f:
            record["swa"]["average"] = [f[f"arr_{i}"] for i in range(len(f.files))]
    return record
