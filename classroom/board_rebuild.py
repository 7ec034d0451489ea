"""Board rows from the runs' checkpoints: what ``classroom.board_store`` rebuilds a class board
from when its database file was damaged.

Every run the app saved left ``<name>.keras`` and ``<name>.json`` in ``MOBILENET_RUNS_DIR``; the
JSON says what was trained (``train_config``, ``run_spec``), by whom (``trained_by``,
``trained_by_teacher``: ``classroom.run_record.record_trainer``), what it measured and when it was
saved. Runs that saved nothing (failed, withdrawn, still waiting) left no file and cannot come
back; neither can Params and Mult-Adds, which the server measures for new runs.

Reads JSON only (no TensorFlow): the store opens before any worker loads it, and its tests stay
in the fast tier.
"""

import datetime
import glob
import json
import logging
import os

log = logging.getLogger(__name__)

# ``mobilenet.checkpoints.FORMAT``'s family; that module imports Keras, so it is not imported here
CHECKPOINT_FORMAT_PREFIX = "mobilenet-lab-checkpoint/"


def checkpoint_rows(runs_dir):
    """``(row fields, spec)`` for each readable run checkpoint in ``runs_dir``, oldest first:
    the fields of the board row (``classroom.board_store.ROW_FIELDS``) but ``run_id`` and
    ``board_id``, and the run's RunSpec record (None for runs older than ``run_spec``).

    JSON files without their ``.keras`` (a save a crash cut short, or no checkpoint at all),
    foreign JSON and unreadable files are skipped, each with a warning."""
    found = []
    for json_path in sorted(glob.glob(os.path.join(glob.escape(runs_dir), "*.json"))):
        weights = json_path[: -len(".json")] + ".keras"
        if not os.path.exists(weights):
            continue
        try:
            with open(json_path, encoding="utf-8") as f:
                record = json.load(f)
            found.append(row_from_checkpoint(record, os.path.basename(weights),
                                             os.path.getmtime(json_path)))
        except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError, AttributeError) as error:
            log.warning("class board: not rebuilding a row from %s: %s", json_path, error)
    return sorted(found, key=lambda found_row: (found_row[0]["finished_at"], found_row[0]["checkpoint"]))


def row_from_checkpoint(record, checkpoint, saved_at):
    """``(row fields, spec)`` of the run that saved ``record`` (a checkpoint's JSON) as
    ``checkpoint`` (its file name); ``saved_at``: the file's time, where the JSON has none.
    Raises ``ValueError`` for JSON that is not a checkpoint of ours, ``KeyError``/``TypeError``
    for one without a ``train_config``."""
    if not isinstance(record, dict) or not str(record.get("format", "")).startswith(CHECKPOINT_FORMAT_PREFIX):
        raise ValueError("not a MobileNet Lab checkpoint")
    config = record["train_config"]
    spec = record.get("run_spec")
    accuracy, tta = _reported_accuracy(record.get("metrics") or {})
    seconds = record.get("duration_s", record.get("training_seconds"))
    finished_at = _timestamp(record.get("created"), saved_at)
    images_per_sec = [epoch["images_per_sec"] for epoch in record.get("history") or []
                      if epoch.get("images_per_sec")]
    fields = {
        "name": str(record.get("trained_by") or ""),
        "teacher": bool(record.get("trained_by_teacher")),
        "status": "stopped" if record.get("stopped") else "finished",
        "preset": (spec or {}).get("recipe") or "classroom",  # older runs: the app's only preset then
        "settings": {"variant": config["variant"], "alpha": float(config["alpha"]), "depth": config["depth"],
                     # None in a config means "all of it": the row says how many that was
                     "train_size": config["train_size"] or (record.get("dataset") or {}).get("train_images_used"),
                     "epochs": config["epochs"], "batch_size": config["batch_size"],
                     "learning_rate": float(config["learning_rate"]),
                     "augmentation": bool(config["augmentation"])},
        "seed": config.get("seed"),
        "test_accuracy": accuracy, "tta": tta, "seconds": seconds,
        "images_per_sec": images_per_sec[-1] if images_per_sec else None,
        "params": None, "mult_adds": None,
        "queued_at": None, "started_at": finished_at - seconds if seconds is not None else None,
        "finished_at": finished_at,
        "checkpoint": checkpoint, "file_removed": False,
        "curves": [{"epoch": float(epoch["epoch"]), "loss": epoch["loss"], "accuracy": epoch["accuracy"],
                    "val_loss": epoch.get("val_loss"), "val_accuracy": epoch.get("val_accuracy")}
                   for epoch in record.get("history") or []],
        "note": None,
    }
    return fields, spec


def _reported_accuracy(metrics):
    """``(test accuracy, tta)`` as the app reports it: the flip-TTA figure where flipping
    measured better (on validation where measured, else test). The rule of
    ``mobilenet.inference.answer_accuracy``, whose module loads TensorFlow."""
    flip = False
    for split in ("validation", "test"):
        plain, flipped = metrics.get(f"{split}_accuracy"), metrics.get(f"{split}_accuracy_tta")
        if plain is not None and flipped is not None:
            flip = flipped > plain
            break
    flip = flip and metrics.get("test_accuracy_tta") is not None
    return metrics.get("test_accuracy_tta" if flip else "test_accuracy"), flip


def _timestamp(created, fallback):
    """``time.time()`` of an ISO 8601 ``created`` (with its zone), else ``fallback``."""
    try:
        return datetime.datetime.fromisoformat(created).timestamp()
    except (TypeError, ValueError):
        return fallback
