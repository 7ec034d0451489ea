"""Evaluation report pictures for a checkpoint, as self-contained SVG (no plotting library).

``python -m mobilenet report CHECKPOINT [--out docs]`` writes
``<name>_confusion.svg`` (the test-set confusion matrix, rows = true class) and
``<name>_curves.svg`` (loss and accuracy per epoch, train and validation) from
the checkpoint's JSON, and prints a Markdown summary for the README.
"""

import html
import os

from mobilenet.data import CLASS_NAMES

CELL, LABEL_WIDTH, HEADER = 46, 90, 84


# The words of the confusion matrix; pass ``texts`` (same keys) to draw it in another language.
CONFUSION_TEXTS = {"predicted": "predicted class →", "true": "true class ↓",
                   "legend": "blue: right answers; orange: mistakes (darker = larger share of the row)"}


def confusion_svg(matrix, class_names=CLASS_NAMES, texts=None):
    """The confusion matrix as an SVG grid; each cell shaded by its share of its row.

    Args:
        matrix: counts, rows = true class, columns = predicted class.
        class_names: the row and column names. Default ``CLASS_NAMES``.
        texts: replacements for ``CONFUSION_TEXTS``' words. Default None: English.
    """
    texts = {**CONFUSION_TEXTS, **(texts or {})}
    n = len(class_names)
    width, height = LABEL_WIDTH + n * CELL + 10, HEADER + n * CELL + 30
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             f'font-family="sans-serif" font-size="12">',
             f'<rect width="{width}" height="{height}" fill="white"/>',
             f'<text x="{LABEL_WIDTH}" y="14" font-size="13">{html.escape(texts["predicted"])}</text>',
             f'<text x="4" y="{HEADER - 6}" font-size="13">{html.escape(texts["true"])}</text>']
    for j, name in enumerate(class_names):
        x = LABEL_WIDTH + j * CELL + CELL / 2
        parts.append(f'<text transform="translate({x:.0f},{HEADER - 6}) rotate(-45)">'
                     f'{html.escape(name)}</text>')
    for i, (name, row) in enumerate(zip(class_names, matrix)):
        y = HEADER + i * CELL
        total = max(sum(row), 1)
        parts.append(f'<text x="{LABEL_WIDTH - 6}" y="{y + CELL / 2 + 4:.0f}" '
                     f'text-anchor="end">{html.escape(name)}</text>')
        for j, count in enumerate(row):
            share = count / total
            colour = "37,99,235" if i == j else "234,88,12"
            text = "white" if share > 0.55 else "black"
            parts.append(f'<rect x="{LABEL_WIDTH + j * CELL}" y="{y}" width="{CELL}" height="{CELL}" '
                         f'fill="rgba({colour},{min(1.0, 0.08 + share):.2f})" stroke="#ddd"/>'
                         f'<text x="{LABEL_WIDTH + j * CELL + CELL / 2:.0f}" y="{y + CELL / 2 + 4:.0f}" '
                         f'text-anchor="middle" fill="{text}">{count}</text>')
    parts.append(f'<text x="{LABEL_WIDTH}" y="{height - 8}">{html.escape(texts["legend"])}</text></svg>')
    return "\n".join(parts)


def curves_svg(history, width=720, height=260, averaging_from=None, final_validation=None):
    """Loss and accuracy per epoch (train: blue, validation: orange), side by side.

    ``averaging_from``: first epoch of a weight-averaging phase, marked by a dashed line (the
    per-epoch figures there are of the weights being averaged, not of their average);
    ``final_validation``: the finished model's validation accuracy, drawn as a dot at the end.
    """
    panel = width // 2
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             f'font-family="sans-serif" font-size="12">',
             f'<rect width="{width}" height="{height}" fill="white"/>']
    epochs = [h["epoch"] for h in history]
    for index, (title, train_key, val_key) in enumerate((("loss", "loss", "val_loss"),
                                                          ("accuracy", "accuracy", "val_accuracy"))):
        left, top, plot_w, plot_h = index * panel + 50, 24, panel - 70, height - 60
        values = sorted(h[k] for h in history for k in (train_key, val_key) if k in h)
        # loss: scaled to the bulk of the curve (the first epoch's spike is cut at the top)
        low, high = (0.0, 1.0) if title == "accuracy" else \
            (0.0, (values[int(0.98 * (len(values) - 1))] if values else 1.0) * 1.1)
        parts.append(f'<text x="{left}" y="16" font-size="13">{title} '
                     '(blue: train, orange: validation)</text>'
                     f'<rect x="{left}" y="{top}" width="{plot_w}" height="{plot_h}" '
                     'fill="none" stroke="#999"/>')
        for tick in (low, (low + high) / 2, high):
            y = top + plot_h * (1 - (tick - low) / (high - low))
            parts.append(f'<text x="{left - 6}" y="{y + 4:.0f}" text-anchor="end">{tick:.2f}</text>')
        last = max(epochs or [1])
        parts.append(f'<text x="{left + plot_w / 2:.0f}" y="{height - 12}" text-anchor="middle">'
                     f'epoch (1–{last})</text>')
        for key, colour in ((train_key, "#2563eb"), (val_key, "#ea580c")):
            points = [(h["epoch"], h[key]) for h in history if key in h]
            if not points:
                continue
            coords = " ".join(
                f"{left + plot_w * (e - 1) / max(last - 1, 1):.1f},"
                f"{top + plot_h * (1 - (min(v, high) - low) / (high - low)):.1f}" for e, v in points)
            parts.append(f'<polyline points="{coords}" fill="none" stroke="{colour}" stroke-width="2"/>')

        def x_of(epoch):
            return left + plot_w * (epoch - 1) / max(last - 1, 1)

        if averaging_from:
            x = x_of(averaging_from)
            parts.append(f'<line x1="{x:.1f}" y1="{top}" x2="{x:.1f}" y2="{top + plot_h}" '
                         'stroke="#555" stroke-dasharray="4 3"/>'
                         f'<text x="{x - 4:.1f}" y="{top + plot_h - 6}" text-anchor="end" fill="#555">SWA →</text>')
        if final_validation is not None and title == "accuracy":
            y = top + plot_h * (1 - final_validation)
            parts.append(f'<circle cx="{x_of(last):.1f}" cy="{y:.1f}" r="4" fill="#ea580c" stroke="black"/>'
                         f'<text x="{x_of(last) - 6:.1f}" y="{y + 18:.1f}" text-anchor="end">'
                         f'final {final_validation * 100:.1f} %</text>')
    parts.append("</svg>")
    return "\n".join(parts)


def write_report(metadata, name, out_dir):
    """Writes the two SVGs; returns (their paths, a Markdown summary)."""
    os.makedirs(out_dir, exist_ok=True)
    metrics = metadata.get("metrics") or {}
    paths = []
    if metrics.get("confusion_matrix"):
        paths.append(os.path.join(out_dir, f"{name}_confusion.svg"))
        with open(paths[-1], "w", encoding="utf-8") as f:
            f.write(confusion_svg(metrics["confusion_matrix"]))
    if metadata.get("history"):
        paths.append(os.path.join(out_dir, f"{name}_curves.svg"))
        with open(paths[-1], "w", encoding="utf-8") as f:
            swa = metadata.get("swa")
            f.write(curves_svg(full_history(metadata),
                               averaging_from=len(metadata["history"]) + 1 if swa else None,
                               final_validation=metrics.get("validation_accuracy")))
    return paths, markdown_summary(metadata)


def full_history(metadata):
    """The per-epoch history, with the epochs of a weight-averaging phase (``swa``,
    ``TrainConfig.swa_epochs``) appended after the main run's."""
    history = list(metadata.get("history") or [])
    last = history[-1]["epoch"] if history else 0
    for record in (metadata.get("swa") or {}).get("history", []):
        history.append({**record, "epoch": last + record["epoch"]})
    return history


def markdown_summary(metadata):
    metrics, dataset = metadata.get("metrics") or {}, metadata.get("dataset") or {}
    model, config = metadata.get("model", {}), metadata.get("train_config") or {}

    def percent(value):
        return "not measured" if value is None else f"{value * 100:.2f} %"

    images = dataset.get("train_images_used")
    swa = metadata.get("swa")
    # training_seconds counts the weight averaging too: the main run's line shows its own part
    main_seconds = metadata.get("training_seconds", 0) - (swa or {}).get("training_seconds", 0)
    cores = (metadata.get("versions") or {}).get("cpu_cores", "?")
    lines = [f"- model: {model.get('variant')} variant, α {model.get('alpha')}",
             f"- test accuracy: {percent(metrics.get('test_accuracy'))}"
             + (f" ({percent(metrics['test_accuracy_tta'])} with flip TTA)"
                if metrics.get("test_accuracy_tta") is not None else ""),
             f"- data: CIFAR-10 test set, {dataset.get('copy', 'unknown copy')}",
             f"- trained: {metadata.get('epochs_completed')} of {config.get('epochs')} epochs on "
             f"{images:,} images" if isinstance(images, int) else "- trained: ?",
             f"- training time: {_duration(main_seconds)} on "
             + (f"one {metadata['trained_on']['device']} GPU ({metadata['trained_on']['backend']} "
                "backend)" if metadata.get("trained_on") else f"{cores} CPU cores")]
    if swa:
        lines.append(f"- then weight averaging (SWA): {swa['epochs']} epochs at learning rate "
                     f"{swa['learning_rate']}, {_duration(swa['training_seconds'])} on {cores} CPU cores")
    if metrics.get("test_accuracy_float16_storage") is not None:
        lines.append(f"- as stored (float16 weights restored to float32): "
                     f"{percent(metrics['test_accuracy_float16_storage'])}"
                     + (f" ({percent(metrics['test_accuracy_tta_float16_storage'])} with flip TTA)"
                        if metrics.get("test_accuracy_tta_float16_storage") is not None else ""))
    per_class = metrics.get("per_class_accuracy") or {}
    if per_class:
        lines += ["", "| " + " | ".join(per_class) + " |", "|" + "---|" * len(per_class),
                  "| " + " | ".join(f"{v * 100:.1f}" for v in per_class.values()) + " |"]
    return "\n".join(lines)


def _duration(seconds):
    return f"{seconds / 3600:.1f} h" if seconds >= 3600 else f"{seconds / 60:.0f} min"
