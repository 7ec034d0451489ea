"""α and resolution: how accuracy falls as Mult-Adds shrink, in the paper and on CIFAR-10.

``paper_points()`` holds the MobileNets paper's ImageNet figures (Table 6:
width multiplier, Table 7: resolution). ``measured_points(folders)`` reads
our checkpoints' JSON (α, variant, depth, test accuracy, training recipe) and
counts each model's Mult-Adds with ``analysis``. ``sweep(...)`` trains the
app's default short run for each α so the curve has its points
(``python -m mobilenet sweep``). ``tradeoff_svg(points)`` draws them all.
Their words (series names, axes) are ``TEXTS``; pass ``texts`` with the same keys
to name the series and draw the plot in another language.

ImageNet at 224×224 costs tens of times more Mult-Adds than CIFAR-10 at
32×32, so the x axis is each model's Mult-Adds relative to the α = 1 model of
the same setting: 1.0 is the full-width network, 0.25 one quarter of its work.
"""

import dataclasses
import functools
import glob
import html
import math
import os

import pandas as pd

from mobilenet import CHECKPOINT_DIR
from mobilenet.checkpoints import CheckpointError, checkpoint_paths, model_args, read_metadata

SWEEP_DIR = os.path.join(CHECKPOINT_DIR, "sweep")
ALPHAS = (0.25, 0.5, 0.75, 1.0)
PAPER_FULL_MULT_ADDS = 569  # million, 1.0 MobileNet-224
POINT_COLUMNS = ["series", "label", "source", "alpha", "resolution", "accuracy_%", "mult_adds",
                 "relative_mult_adds", "checkpoint"]

# Howard et al., 2017, ImageNet top-1 (%) and million Mult-Adds.
PAPER_WIDTH = ((1.0, 70.6, 569), (0.75, 68.4, 325), (0.5, 63.7, 149), (0.25, 50.6, 41))  # Table 6
PAPER_RESOLUTION = ((224, 70.6, 569), (192, 69.1, 418), (160, 67.2, 290), (128, 64.4, 186))  # Table 7
TEXTS = {
    "paper_width": "ImageNet (paper, Table 6): width α at 224×224",
    "paper_resolution": "ImageNet (paper, Table 7): resolution at α 1.0",
    "ours": "CIFAR-10 (ours): {variant} variant, {depth}",
    "run": "CIFAR-10 (ours): {variant} variant, {depth}, {epochs} epochs × {images:,} images",
    "run_one_epoch": "CIFAR-10 (ours): {variant} variant, {depth}, 1 epoch × {images:,} images",
    "x_axis": "Mult-Adds relative to the α = 1.0 model of the same setting (log scale)",
    "y_axis": "top-1 accuracy (%)",
    "title": "accuracy against Mult-Adds",
    "point": "{series}: {label}, {accuracy:.1f} %, {million_mult_adds:.1f} M Mult-Adds",
}
PAPER_WIDTH_SERIES = TEXTS["paper_width"]
PAPER_RESOLUTION_SERIES = TEXTS["paper_resolution"]


def paper_points(texts=None):
    """The paper's Table 6 and Table 7 as rows of ``POINT_COLUMNS`` (series named by ``texts``)."""
    texts = {**TEXTS, **(texts or {})}
    rows = [{"series": texts["paper_width"], "label": f"α {alpha:g}", "source": "paper",
             "alpha": alpha, "resolution": 224, "accuracy_%": top1, "mult_adds": m * 1e6,
             "relative_mult_adds": m / PAPER_FULL_MULT_ADDS, "checkpoint": None}
            for alpha, top1, m in PAPER_WIDTH]
    rows += [{"series": texts["paper_resolution"], "label": f"{size} px", "source": "paper",
              "alpha": 1.0, "resolution": size, "accuracy_%": top1, "mult_adds": m * 1e6,
              "relative_mult_adds": m / PAPER_FULL_MULT_ADDS, "checkpoint": None}
             for size, top1, m in PAPER_RESOLUTION]
    return pd.DataFrame(rows, columns=POINT_COLUMNS)


@functools.lru_cache(maxsize=64)
def mult_adds(variant, alpha, depth, input_size=32, classes=10):
    """Mult-Adds of one image through that model (``analysis.layer_table``), cached."""
    from mobilenet.analysis import layer_table, model_totals
    from mobilenet.model import build_mobilenet

    model = build_mobilenet(classes=classes, input_shape=(input_size, input_size, 3), alpha=alpha,
                            variant=variant, depth=depth)
    return model_totals(layer_table(model))["mult_adds"]


def checkpoint_point(path, source, texts=None):
    """One checkpoint as a row of ``POINT_COLUMNS``; None if it has no test accuracy. The
    accuracy is that of the app's answers (with flip TTA where the run measured it better)."""
    from mobilenet.inference import answer_accuracy

    metadata = read_metadata(path)
    accuracy = answer_accuracy(metadata)[0]
    if accuracy is None:  # stopped early: never tested
        return None
    args = {"variant": "paper", "depth": "full", "classes": 10, "input_shape": (32, 32, 3),
            **model_args(metadata.get("model", {}))}
    size, classes = args["input_shape"][0], args["classes"]
    cost = mult_adds(args["variant"], args["alpha"], args["depth"], size, classes)
    full = mult_adds(args["variant"], 1.0, args["depth"], size, classes)
    return {"series": recipe(metadata, texts), "label": f"α {args['alpha']:g}", "source": source,
            "alpha": args["alpha"], "resolution": args["input_shape"][0],
            "accuracy_%": accuracy * 100, "mult_adds": cost, "relative_mult_adds": cost / full,
            "checkpoint": os.path.abspath(checkpoint_paths(path)[0])}


def recipe(metadata, texts=None):
    """The series a checkpoint belongs to: same model family, same training run length."""
    texts = {**TEXTS, **(texts or {})}
    model, config = metadata.get("model", {}), metadata.get("train_config") or {}
    images = (metadata.get("dataset") or {}).get("train_images_used")
    epochs = config.get("epochs")
    template = ("ours" if not (isinstance(epochs, int) and isinstance(images, int)) else
                "run_one_epoch" if epochs == 1 else "run")
    return texts[template].format(variant=model.get("variant", "paper"),
                                  depth=model.get("depth", "full"), epochs=epochs, images=images)


def measured_points(folders, texts=None):
    """Every tested checkpoint in ``{source: folder}`` as rows of ``POINT_COLUMNS``."""
    rows = []
    for source, folder in folders.items():
        for path in sorted(glob.glob(os.path.join(glob.escape(folder), "*.keras"))):
            try:
                row = checkpoint_point(path, source, texts)
            except (CheckpointError, KeyError, TypeError, ValueError):  # half-written or foreign
                continue
            if row is not None:
                rows.append(row)
    return pd.DataFrame(rows, columns=POINT_COLUMNS)


def all_points(folders, texts=None):
    """The paper's points, then ours (series named by ``texts``, default ``TEXTS``)."""
    paper, ours = paper_points(texts), measured_points(folders, texts)
    return pd.concat([paper, ours], ignore_index=True) if len(ours) else paper


def sweep(data, out_dir=SWEEP_DIR, alphas=ALPHAS, config=None, on_progress=None,
          weights_dtype="float32"):
    """Trains ``config`` (default: the classroom run, ``mobilenet.recipes``) once per α.

    Saves ``out_dir/alpha_<α>.keras``; an α whose checkpoint already holds the same
    training config is skipped, so an interrupted sweep resumes. Progress dicts are
    those of ``train`` with ``alpha`` added. Returns the checkpoint paths.
    """
    from mobilenet.recipes import RECIPES
    from mobilenet.train import train

    base = config or RECIPES["classroom"]
    paths = []
    for alpha in alphas:
        run = dataclasses.replace(base, alpha=float(alpha)).validate(len(data.x_train))
        path = os.path.join(out_dir, f"alpha_{alpha:g}.keras")
        emit = (lambda event, alpha=alpha: on_progress({**event, "alpha": alpha})) if on_progress else None
        if not _same_run(path, run):
            train(run, data=data, checkpoint_path=path, on_progress=emit, weights_dtype=weights_dtype)
        paths.append(path)
    return paths


def _same_run(path, config):
    try:
        metadata = read_metadata(path)
    except CheckpointError:
        return False
    return metadata.get("train_config") == dataclasses.asdict(config) and os.path.exists(path)


PAPER_COLOURS = ("#2563eb", "#7c3aed")  # Table 6, Table 7
OUR_COLOURS = ("#ea580c", "#16a34a", "#dc2626", "#0891b2", "#ca8a04", "#db2777")
X_TICKS = (0.02, 0.05, 0.1, 0.2, 0.5, 1.0)
LABEL_W, LABEL_H = 40, 13  # the room a point's label ("α 0.75", "224 px") takes at font size 12


def tradeoff_svg(points, width=900, plot_height=360, texts=None):
    """Accuracy against relative Mult-Adds (log scale), one line per series, as SVG text.

    Paper series (``source`` "paper", Table 6 first) are dashed with hollow dots, ours
    solid with filled dots; the line of a series joins the mean accuracy at each of its
    Mult-Adds. ``texts``: replacements for ``TEXTS``' axis and point words.
    """
    texts = {**TEXTS, **(texts or {})}
    series = list(dict.fromkeys(points["series"]))
    paper = list(dict.fromkeys(points.loc[points["source"] == "paper", "series"]))
    ours = [name for name in series if name not in paper]
    colours = {**dict(zip(paper, PAPER_COLOURS)),
               **{name: OUR_COLOURS[i % len(OUR_COLOURS)] for i, name in enumerate(ours)}}
    left, top, plot_w = 60, 16, width - 80
    height = top + plot_height + 52 + 18 * len(series)
    x_low = min(0.04, points["relative_mult_adds"].min() * 0.8)
    y_low = max(0, math.floor((points["accuracy_%"].min() - 4) / 10) * 10)
    y_high = min(100, math.ceil((points["accuracy_%"].max() + 3) / 10) * 10)

    def x_at(value):
        return left + plot_w * math.log(value / x_low) / math.log(1.15 / x_low)

    def y_at(value):
        return top + plot_height * (y_high - value) / (y_high - y_low)

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
             f'width="{width}" height="{height}" style="max-width:100%;height:auto" '
             'font-family="sans-serif" font-size="12" '
             f'role="img" aria-label="{html.escape(texts["title"])}">',
             f'<rect width="{width}" height="{height}" fill="white"/>']
    for value in range(y_low, y_high + 1, 10):
        parts.append(f'<line x1="{left}" x2="{left + plot_w}" y1="{y_at(value):.1f}" y2="{y_at(value):.1f}" '
                     f'stroke="#e5e7eb"/><text x="{left - 6}" y="{y_at(value) + 4:.1f}" '
                     f'text-anchor="end">{value}</text>')
    for value in (v for v in X_TICKS if v >= x_low):
        parts.append(f'<line x1="{x_at(value):.1f}" x2="{x_at(value):.1f}" y1="{top}" '
                     f'y2="{top + plot_height}" stroke="#e5e7eb"/><text x="{x_at(value):.1f}" '
                     f'y="{top + plot_height + 16}" text-anchor="middle">{value:g}</text>')
    parts.append(f'<text x="{left + plot_w / 2:.0f}" y="{top + plot_height + 34}" text-anchor="middle">'
                 f'{html.escape(texts["x_axis"])}</text>'
                 f'<text transform="translate(16,{top + plot_height / 2:.0f}) rotate(-90)" '
                 f'text-anchor="middle">{html.escape(texts["y_axis"])}</text>')
    labels = []  # (x, y) of each point label drawn so far: a label never covers another
    for index, name in enumerate(series):
        parts += _series_marks(points[points["series"] == name], colours[name],
                               paper=name in paper, x_at=x_at, y_at=y_at,
                               label_below=name not in paper[:1], point=texts["point"], labels=labels)
        y = top + plot_height + 54 + 18 * index
        dash = ' stroke-dasharray="5 3"' if name in paper else ""
        parts.append(f'<line x1="{left}" x2="{left + 24}" y1="{y - 4}" y2="{y - 4}" stroke="{colours[name]}" '
                     f'stroke-width="2"{dash}/><text x="{left + 30}" y="{y}">{html.escape(name)}</text>')
    parts.append("</svg>")
    return "\n".join(parts)


def _series_marks(rows, colour, paper, x_at, y_at, label_below, point, labels):
    means = rows.groupby("relative_mult_adds").agg(accuracy=("accuracy_%", "mean"),
                                                   label=("label", "first")).sort_index()
    dash = ' stroke-dasharray="5 3"' if paper else ""
    path = " ".join(f"{x_at(x):.1f},{y_at(r.accuracy):.1f}" for x, r in means.iterrows())
    marks = [f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="2"{dash}/>']
    for _, row in rows.iterrows():
        tip = point.format(series=row["series"], label=row["label"], accuracy=row["accuracy_%"],
                           million_mult_adds=row["mult_adds"] / 1e6)
        marks.append(f'<circle cx="{x_at(row["relative_mult_adds"]):.1f}" cy="{y_at(row["accuracy_%"]):.1f}" '
                     f'r="4.5" fill="{"white" if paper else colour}" stroke="{colour}" stroke-width="2">'
                     f'<title>{html.escape(tip)}</title></circle>')
    for x, row in means.iterrows():
        left, y = x_at(x) + 6, y_at(row.accuracy) + (17 if label_below else -8)
        while any(abs(left - x2) < LABEL_W and abs(y - y2) < LABEL_H for x2, y2 in labels):
            y += LABEL_H if label_below else -LABEL_H  # moved away from its point's line, clear of the other
        labels.append((left, y))
        marks.append(f'<text x="{left:.1f}" y="{y:.1f}" fill="{colour}">{html.escape(row.label)}</text>')
    return marks
