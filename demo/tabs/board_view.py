"""What the Class board tab shows of the board's rows, in the viewer's language.

The store (``classroom.board_store``) keeps every run of a class board as a plain row dict (the
row contract: run id, who, status, preset, settings, results, curves); these pure functions turn
a list of rows into the tab's table, groups, scatter, curves and "try these settings", at the
edge, so that one list serves every viewer in their own language. A visitor's name is plain
text here: a ``gr.Dataframe`` column of type "str", a plot's label or a dropdown's choice shows
it as typed; only ``summary`` writes Markdown, and it writes no name.
"""

import statistics
import time

import pandas as pd

from classroom.board_store import SETTINGS_FIELDS  # the settings a row keeps
from classroom.teacher import BADGE
from demo.i18n import as_markdown, t
from demo.widgets import COUNT, empty, present

ACTIVE = ("training", "waiting")  # listed first: what the class is watching
# What the board lists, in the summary's order; a withdrawn or removed run never trained: it is no
# experiment of the class, and the queue shows it while it waits.
STATUSES = (*ACTIVE, "finished", "stopped", "failed", "interrupted")
X_AXES = ("mult_adds", "seconds")
COLOURS = (*SETTINGS_FIELDS, "preset", "name")  # what the scatter's points can be coloured by
# Tableau 10: told apart by most colour-blind viewers; more categories than colours cycle
PALETTE = ("#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7",
           "#9c755f", "#bab0ac")

# What a run got first (the long settings line last): on a narrow screen the table scrolls sideways
TABLE_COLUMNS = {"run_id": ("board.columns.run_id", None), "who": ("board.columns.who", None),
                 "status": ("board.columns.status", None), "accuracy": ("board.columns.accuracy", "{:.1f}"),
                 "tta": ("board.columns.tta", None), "seconds": ("board.columns.seconds", "{:.0f}"),
                 "speed": ("board.columns.speed", COUNT), "params": ("board.columns.params", COUNT),
                 "mult_adds": ("board.columns.mult_adds", "{:.1f}"), "seed": ("board.columns.seed", "{:.0f}"),
                 "when": ("board.columns.when", None), "preset": ("board.columns.preset", None),
                 "settings": ("board.columns.settings", None)}
GROUP_COLUMNS = {"preset": ("board.columns.preset", None), "settings": ("board.columns.settings", None),
                 "runs": ("board.groups.runs", None), "mean": ("board.groups.mean", "{:.1f}"),
                 "spread": ("board.groups.spread", "{:.1f}"), "lowest": ("board.groups.lowest", "{:.1f}"),
                 "best": ("board.groups.best", "{:.1f}")}


# -- one row in words -----------------------------------------------------------------------------

def person(row):
    """Who asked for the run, as typed (plain text), with the teacher's badge."""
    return str(row["name"]) + (f" {BADGE}" if row.get("teacher") else "")


def run_label(row):
    """"#12 Ann": how the picker, the curves and the table's first column name a run."""
    return f"#{row['run_id']} {person(row)}"


def preset_name(preset, lang):
    return t(f"board.preset.{preset}", lang) if preset in ("classroom", "quick") else str(preset)


def settings_text(settings, lang):
    """A run's settings in one short line."""
    return t("board.settings", lang, variant=settings["variant"], alpha=settings["alpha"], depth=settings["depth"],
             images=f"{settings['train_size']:,}" if settings["train_size"] else t("board.all_images", lang),
             epochs=settings["epochs"], batch=settings["batch_size"],
             lr=settings["learning_rate"], augmentation=t("board.augmented", lang) if settings["augmentation"] else "")


def status_text(row, lang):
    """The run's status in words, and whether the disk budget removed its files."""
    text = t(f"board.status.{row['status']}", lang)
    return text + t("board.file_removed", lang) if row.get("file_removed") else text


def finished(row):
    return row["status"] == "finished" and row.get("test_accuracy") is not None


def newest_first(rows):
    """The runs the board lists: training and waiting first, then the others, each newest first."""
    def moment(row):
        return row.get("finished_at") or row.get("started_at") or row.get("queued_at") or 0
    shown = [row for row in rows if row["status"] in STATUSES]
    return sorted(shown, key=lambda row: (row["status"] in ACTIVE, moment(row), row["run_id"]), reverse=True)


def clock(row):
    """When the run ended, started or was queued: HH:MM on the server's clock (the classroom's)."""
    moment = row.get("finished_at") or row.get("started_at") or row.get("queued_at")
    return time.strftime("%H:%M", time.localtime(moment)) if moment else ""


def percent(accuracy):
    return None if accuracy is None else accuracy * 100


# -- the tables ---------------------------------------------------------------------------------

def board_table(rows, lang="en"):
    """Every run, newest first, for a ``gr.Dataframe``: numbers stay numbers (sortable), texts
    are plain."""
    shown = newest_first(rows)
    if not shown:
        return empty(TABLE_COLUMNS, lang)
    frame = pd.DataFrame([{
        "run_id": row["run_id"], "who": person(row), "status": status_text(row, lang),
        "preset": preset_name(row["preset"], lang), "settings": settings_text(row["settings"], lang),
        "accuracy": percent(row.get("test_accuracy")),
        "tta": t("board.flip_tta", lang) if row.get("tta") and row.get("test_accuracy") is not None else "",
        "seconds": row.get("seconds"), "speed": row.get("images_per_sec"), "params": row.get("params"),
        "mult_adds": None if row.get("mult_adds") is None else row["mult_adds"] / 1e6,
        "seed": row.get("seed"), "when": clock(row)} for row in shown])
    return present(frame, TABLE_COLUMNS, lang)


def setting_key(row):
    """What makes two runs "the same settings": the preset and the settings, seed aside."""
    return row["preset"], tuple(row["settings"][key] for key in SETTINGS_FIELDS)


def group_table(rows, lang="en"):
    """The finished runs grouped by settings: how many, mean ± population standard deviation
    (the spread from seed to seed), lowest and best test accuracy; best mean first."""
    groups = {}
    for row in rows:
        if finished(row):
            groups.setdefault(setting_key(row), []).append(row)
    if not groups:
        return empty(GROUP_COLUMNS, lang)
    lines = []
    for members in groups.values():
        accuracies = [row["test_accuracy"] * 100 for row in members]
        lines.append({"preset": preset_name(members[0]["preset"], lang),
                      "settings": settings_text(members[0]["settings"], lang), "runs": len(members),
                      "mean": statistics.fmean(accuracies), "spread": statistics.pstdev(accuracies),
                      "lowest": min(accuracies), "best": max(accuracies)})
    frame = pd.DataFrame(lines).sort_values("mean", ascending=False, kind="stable")
    return present(frame, GROUP_COLUMNS, lang)


# -- the plots ----------------------------------------------------------------------------------

def colour_value(row, colour, lang):
    """A run's value of the setting ``colour`` as the scatter's legend shows it."""
    if colour == "name":
        return person(row)
    if colour == "preset":
        return preset_name(row["preset"], lang)
    value = row["settings"][colour]
    if colour == "augmentation":
        return t("board.on" if value else "board.off", lang)
    return f"{value:g}" if isinstance(value, float) else f"{value:,}" if isinstance(value, int) else str(value)


def colour_order(row, colour):
    """The legend's order: numbers as numbers (2 before 10), texts alphabetically."""
    value = row["name"] if colour == "name" else row["preset"] if colour == "preset" else row["settings"][colour]
    return (0, value, "") if isinstance(value, (int, float)) else (1, 0, str(value))


def colour_map(values):
    """``{value: colour}`` for a plot's ``color_map``. Sent with every frame on purpose: Gradio
    6.31's plots keep the colour scale of the frame they were drawn with (new values get no
    colour) and draw again only when a setting such as ``color_map`` changes."""
    return {value: PALETTE[index % len(PALETTE)] for index, value in enumerate(values)}


def scatter_frame(rows, x_axis="mult_adds", colour="variant", lang="en"):
    """(frame, colour map) of the finished runs for a ``gr.ScatterPlot``: test accuracy (%)
    against Mult-Adds (millions) or time (s), coloured by ``colour``; (None, {}) when no run
    has both."""
    points = sorted((row for row in rows if finished(row) and row.get(x_axis) is not None),
                    key=lambda row: colour_order(row, colour))
    if not points:
        return None, {}
    frame = pd.DataFrame([{"x": row[x_axis] / 1e6 if x_axis == "mult_adds" else row[x_axis],
                           "accuracy": row["test_accuracy"] * 100, "colour": colour_value(row, colour, lang),
                           "run": run_label(row)} for row in points])
    return frame, colour_map(list(dict.fromkeys(frame["colour"])))


def curve_accuracy(row):
    """(name of the curve, [(epoch, accuracy %)]) of a run: validation where the run measured it,
    else training."""
    curves = row.get("curves") or []
    validation = [(point["epoch"], point["val_accuracy"] * 100) for point in curves
                  if point.get("val_accuracy") is not None]
    return validation or [(point["epoch"], point["accuracy"] * 100) for point in curves
                          if point.get("accuracy") is not None]


def with_curves(rows):
    """The run ids of the finished runs that have a curve, newest first."""
    return [row["run_id"] for row in newest_first(rows) if finished(row) and curve_accuracy(row)]


def curves_frame(rows, picked):
    """(frame, colour map) of the picked runs' accuracy curves, overlaid, for a ``gr.LinePlot``
    (epoch, accuracy %, run); (None, {}) when none has a curve."""
    by_id = {row["run_id"]: row for row in rows}
    lines = [(run_label(by_id[run_id]), point) for run_id in picked if run_id in by_id
             for point in curve_accuracy(by_id[run_id])]
    if not lines:
        return None, {}
    frame = pd.DataFrame([(epoch, accuracy, label) for label, (epoch, accuracy) in lines],
                         columns=["epoch", "accuracy", "run"])
    return frame, colour_map(list(dict.fromkeys(frame["run"])))


# -- pickers, settings and the summary ------------------------------------------------------------

def run_choices(rows, lang, finished_only=False):
    """``[(label, run id)]`` of the listed runs for a dropdown: "#12 Ann · 87.3% · classroom"."""
    choices = []
    for row in newest_first(rows):
        if finished_only and not finished(row):
            continue
        result = (f"{row['test_accuracy']:.1%}" if finished(row) else status_text(row, lang))
        choices.append((f"{run_label(row)} · {result} · {preset_name(row['preset'], lang)}", row["run_id"]))
    return choices


def settings_of(row):
    """What "Try these settings" puts in the Train panel."""
    return {"preset": row["preset"], **{key: row["settings"][key] for key in SETTINGS_FIELDS}}


def board_title(board, lang):
    """A board's name: the teacher's title, else "Lesson N"."""
    return board["title"] or t("board.lesson", lang, n=board["board_id"])


def board_choices(boards, current, lang):
    """``[(label, board id)]`` for the board picker: the current board (0: whichever is current
    when the page asks), then the old ones, newest first."""
    now = [board for board in boards if board["board_id"] == current]
    old = sorted((board for board in boards if board["board_id"] != current), key=lambda board: -board["board_id"])
    choices = [(t("board.picker.current", lang, title=board_title(board, lang), runs=board["runs"]), 0) for board in now]
    return choices + [(t("board.picker.old", lang, title=board_title(board, lang), runs=board["runs"],
                         date=time.strftime("%Y-%m-%d %H:%M", time.localtime(board["started_at"]))), board["board_id"])
                      for board in old]


def recovered_note(recovered, lang="en"):
    """What the server did with a damaged database file at its start (``BoardStore.recovered``),
    or ""."""
    if not recovered:
        return ""
    return t("board.recovered", lang, moved_to=as_markdown(recovered["moved_to"]), runs=recovered["rebuilt_runs"],
             reason=as_markdown(recovered["reason"]))


def summary(rows, title, lang="en"):
    """One Markdown line: the board's title and how many runs are in each state, or that it is
    empty."""
    shown = newest_first(rows)
    if not shown:
        return t("board.empty", lang, title=as_markdown(title))
    counts = {status: sum(row["status"] == status for row in shown) for status in STATUSES}
    parts = t("board.separator", lang).join(t(f"board.count.{status}", lang, count=count)
                                            for status, count in counts.items() if count)
    key = "board.summary_one" if len(shown) == 1 else "board.summary"
    return t(key, lang, title=as_markdown(title), runs=len(shown), counts=parts)
