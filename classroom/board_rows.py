"""A run's row on the class board, from what the server knows of it (``classroom.run_record.Run``).

Data only: the settings as the Train panel shows them, the results as the app reports them (the
test accuracy with flip TTA where it measured better: ``mobilenet.inference.answer_accuracy``),
the run's cost (parameters and Mult-Adds of its network: ``mobilenet.analysis``, cached per
network) and its curves, thinned to what a plot of a few runs needs.
"""

import time

from classroom.board_store import SETTINGS_FIELDS  # the settings a row keeps
from classroom.run_record import RunState
from mobilenet.analysis import architecture_tables
from mobilenet.inference import answer_accuracy

MAX_CURVE_POINTS = 200  # a row stays small however long its run was
STATUS = {RunState.FINISHED: "finished", RunState.STOPPED: "stopped", RunState.FAILED: "failed"}


def settings_of(config):
    """The settings the Train panel shows, of a ``TrainConfig`` (or its dict)."""
    values = config if isinstance(config, dict) else {name: getattr(config, name) for name in SETTINGS_FIELDS}
    return {name: values[name] for name in SETTINGS_FIELDS}


def cost_of(config):
    """(parameters, Mult-Adds) of the network ``config`` (a dict) trains."""
    totals = architecture_tables(config["variant"], float(config["alpha"]), config["depth"])[1]
    return int(totals["params"]), int(totals["mult_adds"])


def curves_of(history):
    """The run's training and validation curves: one point per progress event, by epoch."""
    points = []
    for event in history:
        if event["event"] not in ("batch", "epoch") or not event.get("steps_per_epoch"):
            continue
        epoch = event["epoch"] - 1 + event["step"] / event["steps_per_epoch"]
        points.append({"epoch": round(epoch, 3), "loss": event.get("loss"), "accuracy": event.get("accuracy"),
                       "val_loss": event.get("val_loss"), "val_accuracy": event.get("val_accuracy")})
    step = max(1, -(-len(points) // MAX_CURVE_POINTS))
    return points[::step] if points[-1:] == points[::step][-1:] else points[::step] + points[-1:]


def ended_fields(run):
    """The board's fields of ``run`` once it has ended."""
    accuracy, flip = answer_accuracy({"metrics": run.metrics or {}})
    latest = next((event for event in reversed(run.history) if event.get("images_per_sec")), {})
    params, mult_adds = cost_of(run.config)
    note = (run.error or {}).get("reason")
    return {"status": STATUS.get(run.state, "failed"), "test_accuracy": accuracy, "tta": bool(flip and accuracy),
            "seconds": round((run.finished_at or time.time()) - run.started_at, 1),
            "images_per_sec": latest.get("images_per_sec"), "params": params, "mult_adds": mult_adds,
            "finished_at": run.finished_at, "started_at": run.started_at,
            "checkpoint": run.checkpoint and run.checkpoint.replace("\\", "/").rsplit("/", 1)[-1],
            "curves": curves_of(run.history), "note": note}
