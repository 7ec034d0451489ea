"""What the Train tab shows of the server's run, in the viewer's language.

``classroom.runs`` keeps the run as data (a ``RunState``, a ``Stage``, a visitor's name, a failure
dict); these functions word it, from a snapshot (``TrainingRuns.watch``), at the edge: the
same snapshot serves every viewer, each in their own language.
"""

import html
import math

import pandas as pd

from mobilenet.data import CLASS_NAMES
from mobilenet.duration import format_duration
from mobilenet.inference import answer_accuracy
from mobilenet.recipes import MEASURED, MEASURED_ON, RECIPES
from mobilenet.tta import shifted

from classroom.run_record import ACTIVE_STATES
from classroom.runs import RunState, StopOutcome
from classroom.teacher import BADGE
from demo.i18n import as_markdown, class_name, t

MAX_TRAIN_POINTS = 300
CURVE_COLORS = {"train": "#2563eb", "validation": "#ea580c"}
# The package's names of the sets a run evaluates on (its "stage" events' "split").
SPLITS = {"validation": "train.split.validation", "test": "train.split.test",
          "test (float16 storage)": "train.split.test_float16"}

# -- names -------------------------------------------------------------------------------------

def person(name, teacher):
    """A visitor's name in Markdown, with the teacher's badge when the server says so (no name
    can contain the badge: ``visitor_name`` removes it). The badge alone: a word after it would
    repeat a name that already says it ("王老师 🎓 老师")."""
    return as_markdown(name) + (f" {BADGE}" if teacher else "")


# -- the presets ------------------------------------------------------------------------------

def default_run_values():
    """What the presets train (``mobilenet.recipes``) and reached (``MEASURED``), for
    ``train.default_run``."""
    classroom, quick = RECIPES["classroom"], RECIPES["quick"]
    return {"variant": classroom.variant, "alpha": classroom.alpha, "depth": classroom.depth,
            "epochs": classroom.epochs, "images": classroom.train_size or 49_000,
            "batch": classroom.batch_size, "lr": classroom.learning_rate, "smoothing": classroom.label_smoothing,
            "accuracy": MEASURED["classroom"]["mean"], "lowest": MEASURED["classroom"]["min"],
            "seconds": MEASURED["classroom"]["seconds"], "cpu": MEASURED_ON,
            "quick_images": quick.train_size or 49_000, "quick_epochs": quick.epochs,
            "quick_accuracy": MEASURED["quick"]["mean"], "quick_seconds": MEASURED["quick"]["seconds"]}


# -- the run in words ----------------------------------------------------------------------------

def data_message(data, lang="en"):
    """The data set's state (the snapshot's ``data``) in Markdown."""
    state = data["state"]
    if state == "loading":
        return t("train.data.loading", lang)
    if state == "ready":
        return t("train.data.ready", lang, train=data["train"], test=data["test"])
    if state == "unavailable":  # the reason is the package's own words: shown as they are, quoted
        return t("train.data.unavailable", lang) + "\n\n" + (
            data["detail"] if lang == "en" else f"`{data['detail']}`")
    return ""


def stopper(run, lang):
    """Who stopped ``run``: a visitor's name as typed, or the server's time limit."""
    if run.get("stopped_by_time_limit"):
        return t("train.status.time_limit", lang)
    if run["stopped_by"] is None:
        return t("train.status.someone", lang)
    return person(run["stopped_by"], run.get("stopped_by_teacher"))


def stage_text(run, lang):
    """What the run does after its training steps (``run["stage"]``), and on which set."""
    stage = t(f"train.stage.{run['stage']}", lang)
    split = run.get("stage_split")
    if not split:
        return stage
    return t("train.stage.on_split", lang, stage=stage, split=t(SPLITS[split], lang) if split in SPLITS else split)


def failure_text(error, lang):
    """Why a run failed (``classroom.runs.failure_reason``) or saved nothing, in Markdown."""
    values = {key: value for key, value in error.items() if key != "reason"}
    if "detail" in values:  # the system's words, shown in a code span
        values["detail"] = str(values["detail"]).replace("`", "'")
    return t(f"train.failure.{error['reason']}", lang, **values)


def status_message(run, lang="en"):
    """The run's status line (Markdown): who, what, how far, and how it ended."""
    if run is None:
        return t("train.status.none", lang)
    config, who = run["config"], person(run["started_by"], run.get("started_by_teacher"))
    setup = t("train.status.setup", lang, variant=config["variant"], alpha=config["alpha"],
              depth=config.get("depth", "full"), images=f"{run['train_images']:,}" if run["train_images"] else "…", epochs=config["epochs"],
              batch=config["batch_size"], lr=config["learning_rate"],
              augmentation=t("train.status.on" if config["augmentation"] else "train.status.off", lang))
    values = {"who": who, "setup": setup, "elapsed": format_duration(run["elapsed_s"])}
    state = run["state"]
    if state == RunState.STARTING:
        return t("train.status.starting", lang, **values)
    if state in (RunState.RUNNING, RunState.STOPPING):
        doing = (t("train.status.finishing", lang, stage=stage_text(run, lang)) if run["stage"]
                 else t("train.status.training", lang))
        stop = (t("train.status.stop_pressed", lang, who=stopper(run, lang))
                if state == RunState.STOPPING else "")
        return t("train.status.active", lang, doing=doing, **values) + stop
    if state == RunState.FAILED:
        return t("train.status.failed", lang, reason=failure_text(run["error"], lang), **values)
    metrics = run["metrics"] or {}
    validation = metrics.get("validation_accuracy")
    checked = t("train.status.validation", lang, accuracy=validation) if validation is not None else ""
    if state == RunState.STOPPED and not run["checkpoint"]:
        return t("train.status.stopped_unsaved", lang, stopper=stopper(run, lang),
                 reason=failure_text(run["error"], lang), **values)
    if state == RunState.STOPPED:
        return (t("train.status.stopped", lang, stopper=stopper(run, lang), **values) + checked
                + t("train.status.saved", lang))
    accuracy, flip = answer_accuracy({"metrics": metrics})
    return (t("train.status.finished", lang, accuracy=accuracy, **values)
            + (t("train.status.with_flip_shift" if shifted({"metrics": metrics}) else "train.status.with_flip", lang)
               if flip else "") + checked + t("train.status.try_it", lang))


def progress_html(run, lang="en"):
    """The progress bar and its line: epoch, step, speed and the time left."""
    latest = (run or {}).get("latest") or {}
    done = latest.get("global_step", 0)
    total = (run or {}).get("total_steps") or 0
    share = done / total if total else 0.0
    if run is None:
        text = t("train.progress.waiting", lang)
    elif not latest:  # no step yet: starting, or ended before its first step (stopped, failed)
        text = t("train.progress.starting" if run["state"] in ACTIVE_STATES else "train.progress.no_step", lang)
    else:
        left = run["seconds_left"]
        text = t("train.progress.steps", lang, epoch=latest["epoch"], epochs=latest["epochs"], done=done,
                 total=total, rate=latest["images_per_sec"])
        if left is not None and run["state"] == RunState.RUNNING and not run["stage"]:
            text += t("train.progress.left", lang, duration=format_duration(left))
    return (f'<div class="run-progress"><div class="run-progress-bar" role="progressbar" '
            f'aria-valuenow="{share * 100:.0f}" aria-valuemin="0" aria-valuemax="100">'
            f'<div class="run-progress-fill" style="width:{share * 100:.1f}%"></div></div>'
            f'<div class="run-progress-text">{html.escape(text)}</div></div>')


def stop_reply(reply, lang="en"):
    """What Stop did (a ``classroom.runs.StopReply``), in Markdown."""
    if reply.outcome == StopOutcome.NO_RUN:
        return t("train.stop_reply.no_run", lang)
    return t(f"train.stop_reply.{reply.outcome}", lang, who=as_markdown(reply.started_by))


# -- curves and results --------------------------------------------------------------------------

def curves(run):
    """(loss frame, accuracy frame) in long form: epoch, value, curve (train/validation).

    At most about ``MAX_TRAIN_POINTS`` training points (long runs are thinned, so thirty
    browsers are not sent thousands of points every few seconds). None before the first
    point: Gradio's plot stops drawing lines after an empty frame.
    """
    history = (run or {}).get("history", [])
    batches = [event for event in history if event["event"] == "batch"]
    stride = math.ceil(len(batches) / MAX_TRAIN_POINTS) or 1
    # The curves' names are the same in every language: a plot whose page switched language
    # would not draw names missing from its first frame (the translated label names the colours).
    train, validation_name = "train", "validation"
    rows = [(e["global_step"] / e["steps_per_epoch"], e.get("recent_loss", e["loss"]),
             e.get("recent_accuracy", e["accuracy"]), train)
            for e in batches[::-stride][::-1]]  # counted from the end: the newest point stays
    validation = [(e["global_step"] / e["steps_per_epoch"], e["val_loss"], e["val_accuracy"],
                   validation_name) for e in history
                  if e["event"] in ("epoch", "validation") and "val_loss" in e]
    if not rows:
        return None, None
    # Gradio's plot never draws a colour that was missing from its first frame: until the first
    # validation point, an empty (NaN) one keeps "validation" in the legend and the colour scale.
    rows += validation or [(0.0, math.nan, math.nan, validation_name)]
    frame = pd.DataFrame(rows, columns=["epoch", "loss", "accuracy", "curve"])
    return frame[["epoch", "loss", "curve"]], frame[["epoch", "accuracy", "curve"]]


def confusion_frame(matrix, lang="en"):
    """The confusion matrix with class names, each cell shaded by its share of the row."""
    names = [class_name(name, lang) for name in CLASS_NAMES]
    frame = pd.DataFrame(matrix, columns=names)
    shares = frame.div(frame.sum(axis=1).clip(lower=1), axis=0)
    frame.insert(0, t("train.plot.true_predicted", lang), names)
    shading = pd.DataFrame("", index=frame.index, columns=frame.columns)
    shading[names] = shares.map(lambda s: f"background-color: rgba(37, 99, 235, {0.6 * s:.2f})")
    return frame.style.apply(lambda _: shading, axis=None)


def results_view(run, lang="en"):
    """(visible, summary, per-class frame, confusion) of a run tested on the test set."""
    metrics = (run or {}).get("metrics") or {}
    if metrics.get("test_accuracy") is None:
        return False, "", None, None
    per_class = pd.DataFrame([(class_name(name, lang), accuracy) for name, accuracy
                              in metrics["per_class_accuracy"].items()], columns=["class", "accuracy"])
    accuracy, flip = answer_accuracy({"metrics": metrics})
    summary = t("train.results", lang, accuracy=accuracy, images=metrics.get("test_images", 0))
    if flip:
        summary += t("train.results_flip_shift" if shifted({"metrics": metrics}) else "train.results_flip", lang,
                     alone=metrics["test_accuracy"])
    return True, summary, per_class, confusion_frame(metrics["confusion_matrix"], lang)
