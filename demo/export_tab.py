"""Mobile tab: a checkpoint exported for phones (LiteRT float32 / float16 / int8), and the
accuracy vs Mult-Adds trade-off of the width multiplier α beside the paper's."""

import os
import shutil
import tempfile
import threading

import gradio as gr
import pandas as pd

from mobilenet.checkpoints import CheckpointError
from mobilenet.data import DataCorruptError, DataUnavailableError
from mobilenet.export import CALIBRATION_IMAGES, export_litert
from mobilenet.tradeoff import TEXTS, all_points, tradeoff_svg

from demo.architecture_tab import present
from demo.explain_tab import checkpoint_dropdown, with_language
from demo.i18n import request_language, tr

TAB_NAME = "6 · Mobile"
TEST_IMAGES = 2000  # a fixed stratified subset: four models x 10,000 images is too slow for a class
KEEP_EXPORTS = 4  # checkpoints whose exported files stay cached (about 25 MB each at α 1)
KIND_NAMES = {"keras": "Keras checkpoint", "float32": "LiteRT float32",
              "float16": "LiteRT float16", "int8": "LiteRT int8"}

EXPORT_INTRO = """
### The "mobile" in MobileNet: the network as a phone app would carry it
A phone does not run Keras: it runs a small **LiteRT** (TensorFlow Lite) file. Press **Export**
to convert the checkpoint three ways: **float32** (the same numbers, BatchNorm folded into the
convolutions), **float16** (each weight stored in half the bytes) and **int8** (every weight and
every activation an 8-bit integer, calibrated on training pictures: a quarter of the size and
integer arithmetic, which phone chips run fastest). The table measures each beside the Keras
model on this server's CPU; download the files below it.
"""

TRADEOFF_INTRO = """
### α and resolution: what do fewer Mult-Adds cost in accuracy?
The paper shrinks MobileNet two ways: a thinner network (width multiplier **α**, Table 6) and
smaller pictures (resolution, Table 7). Both cut Mult-Adds roughly by α² or by the pixel count,
and accuracy falls slowly at first, then faster. Our points are CIFAR-10 checkpoints: the runs
trained on the **Train** tab (try α 0.25, 0.5, 0.75 and 1.0 with the same settings) and the
α sweep (`python -m mobilenet sweep`). ImageNet at 224×224 costs about 50 times the Mult-Adds
of CIFAR-10 at 32×32, so each point's Mult-Adds are shown **relative to the α = 1 network of
the same setting**: 1.0 is the full-width network, 0.1 a tenth of its work. Compare the
shapes of the curves, not their heights: ImageNet has 1000 classes, CIFAR-10 ten.
"""

EXPORT_COLUMNS = {"model": ("model", None), "size_mb": ("size (MB)", "{:.2f}"),
                  "smaller": ("× smaller than float32", "{:.1f}"),
                  "latency_ms": ("latency (ms per picture)", "{:.3f}"),
                  "accuracy_%": ("test accuracy (%)", "{:.2f}"),
                  "agreement_%": ("same answer as Keras (%)", "{:.1f}"), "file": ("file", None)}
POINT_COLUMNS = {"series": ("series", None), "label": ("point", None),
                 "accuracy_%": ("top-1 accuracy (%)", "{:.1f}"),
                 "million_mult_adds": ("M Mult-Adds", "{:.2f}"),
                 "relative_mult_adds": ("relative Mult-Adds", "{:.3f}")}


def in_language(columns, lang):
    """``present``'s column table with the shown names in ``lang``."""
    return {key: (tr(name, lang), fmt) for key, (name, fmt) in columns.items()}


def empty_export_table(lang="en"):
    return pd.DataFrame(columns=[name for name, _ in in_language(EXPORT_COLUMNS, lang).values()])


def export_table(report, lang="en"):
    """The export report's rows as the table students read (numbers stay numbers)."""
    rows = report["rows"]
    float32_size = next(row["size_bytes"] for row in rows if row["kind"] == "float32")
    frame = pd.DataFrame([{
        "model": (tr("{kind} ({dtype} weights)", lang, kind=tr(KIND_NAMES["keras"], lang),
                     dtype=report["weights_dtype"]) if row["kind"] == "keras" else
                  tr(KIND_NAMES[row["kind"]], lang)),
        "size_mb": row["size_bytes"] / 1e6,
        # the Keras file may hold float16 weights (or an optimizer): not a fair baseline
        "smaller": None if row["kind"] == "keras" else float32_size / row["size_bytes"],
        "latency_ms": row["latency_ms"],
        "accuracy_%": row["accuracy"] * 100, "agreement_%": row["agreement"] * 100,
        "file": os.path.basename(row["path"])} for row in rows])
    return present(frame, in_language(EXPORT_COLUMNS, lang))


def export_note(report, lang="en"):
    settings = report["settings"]
    return tr("Accuracy on a fixed set of **{test_images:,} CIFAR-10 test pictures** ({per_class:,} per "
              "class, to keep this quick; `python -m mobilenet export` measures all 10,000). Latency: "
              "median of {latency_runs} one-picture calls on this server's CPU ({threads} threads; "
              "LiteRT with XNNPACK, Keras as a compiled `tf.function`), the network only. When a "
              "training run shares the CPU every figure is slower, but the ratios hold. int8 was "
              "calibrated on {calibration_images:,} training pictures.", lang,
              per_class=settings["test_images"] // 10, **settings)


class ExportCallbacks:
    """Export and trade-off callbacks.

    Args:
        catalog: the app's ``CheckpointCatalog`` (read only).
        load_data: returns the loaded CIFAR-10 (the Train tab's ``TrainingRuns.load_data``).
        cache_dir: exported files, one folder per checkpoint weights; the newest
            ``KEEP_EXPORTS`` are kept. Default ``$MOBILENET_EXPORT_DIR``, else a folder in
            the system temp directory (Gradio serves files from there).
        sweep_dir: the α sweep's checkpoints. Default ``<checkpoint_dir>/sweep``.
    """

    def __init__(self, catalog, load_data, cache_dir=None, sweep_dir=None):
        self.catalog, self.load_data = catalog, load_data
        self.cache_dir = (cache_dir or os.environ.get("MOBILENET_EXPORT_DIR")
                          or os.path.join(tempfile.gettempdir(), "mobilenet-lab-export"))
        self.sweep_dir = sweep_dir or os.path.join(catalog.checkpoint_dir, "sweep")
        self._lock = threading.Lock()

    def export(self, key, lang="en", progress=gr.Progress()):
        """The side-by-side table, how it was measured, and the three .tflite files."""
        entry = self._entry(key, lang)
        try:
            data = self.load_data()
        except (DataUnavailableError, DataCorruptError) as error:
            raise gr.Error(tr("Exporting needs CIFAR-10 (int8 calibrates on training pictures, accuracy "
                              "uses test pictures): {error}", lang, error=error),
                           title=tr("No CIFAR-10", lang)) from None
        folder = self._folder(entry.metadata["weights_sha256"])

        def show(event):
            doing = "Converting to {kind}" if event["name"] == "convert" else "Measuring {kind}"
            progress((event["step"] - 1) / event["steps"],
                     desc=tr(doing, lang, kind=tr(KIND_NAMES[event["kind"]], lang)))

        try:
            report = export_litert(entry.path, folder, data=data, test_images=TEST_IMAGES,
                                   calibration_images=CALIBRATION_IMAGES, reuse=True,
                                   on_progress=show)
        except (CheckpointError, OSError) as error:
            raise gr.Error(tr("That checkpoint cannot be exported ({error}): pick another one.", lang,
                              error=error), title=tr("Broken checkpoint", lang)) from None
        files = [row["path"] for row in report["rows"] if row["kind"] != "keras"]
        return export_note(report, lang), export_table(report, lang), files

    def _entry(self, key, lang="en"):
        if not self.catalog.entries():
            raise gr.Error(tr("No trained network yet: train one on the Train tab, then export it here.",
                              lang), title=tr("No network", lang))
        if not key:
            raise gr.Error(tr("Pick a checkpoint to export first.", lang),
                           title=tr("Pick a checkpoint", lang))
        try:
            return self.catalog.find(key)
        except KeyError:
            raise gr.Error(tr("That checkpoint is not available any more: pick another one.", lang),
                           title=tr("Pick a checkpoint", lang)) from None

    def _folder(self, weights_sha256):
        """This checkpoint's cache folder (marked as just used); older ones beyond the limit go."""
        with self._lock:
            os.makedirs(self.cache_dir, exist_ok=True)
            folder = os.path.join(self.cache_dir, weights_sha256[:32])
            os.makedirs(folder, exist_ok=True)
            os.utime(folder)
            folders = sorted((os.path.join(self.cache_dir, name) for name in os.listdir(self.cache_dir)),
                             key=os.path.getmtime, reverse=True)
            for old in folders[KEEP_EXPORTS:]:
                shutil.rmtree(old, ignore_errors=True)
            return folder

    def tradeoff(self, lang="en"):
        """The plot (SVG) and its points: the paper's, then every tested checkpoint."""
        texts = {key: tr(text, lang) for key, text in TEXTS.items()}
        points = all_points({"shipped": self.catalog.checkpoint_dir, "run": self.catalog.runs_dir,
                             "sweep": self.sweep_dir}, texts)
        table = points.assign(million_mult_adds=points["mult_adds"] / 1e6)
        return tradeoff_svg(points, texts=texts), present(table, in_language(POINT_COLUMNS, lang))

    def on_open(self, current, lang="en"):
        return checkpoint_dropdown(self.catalog, current, lang), *self.tradeoff(lang)

    def relabel(self, current, note, lang="en"):
        """After a language switch: the checkpoint list, the trade-off, and the table's headers
        while nothing was exported (a shown export stays as it is until the next one)."""
        return (*self.on_open(current, lang), gr.skip() if note else empty_export_table(lang))


def in_page_language(function):
    """``function(lang)`` as a component's initial value, in the language of the page's request."""
    def initial(request: gr.Request = None):  # None: the page is being built
        return function(request_language(request))
    return initial


# -- layout -----------------------------------------------------------------------------------------

def build_export_tab(catalog, load_data, cache_dir=None, sweep_dir=None, language=None):
    callbacks = ExportCallbacks(catalog, load_data, cache_dir, sweep_dir)
    entries = catalog.entries()
    with gr.Tab(TAB_NAME, id="mobile") as tab:
        gr.Markdown(EXPORT_INTRO)
        with gr.Row(equal_height=True):
            checkpoint = gr.Dropdown([(e.label, e.key) for e in entries],
                                     value=entries[0].key if entries else None, scale=3,
                                     label="Checkpoint (network)", elem_id="export-checkpoint")
            button = gr.Button("Export", variant="primary", scale=1, elem_id="export-button")
        note = gr.Markdown(elem_id="export-note")
        table = gr.Dataframe(in_page_language(empty_export_table), interactive=False,
                             label="Keras and its LiteRT files side by side",
                             wrap=True, elem_id="export-table")
        files = gr.File(label="The LiteRT files (.tflite)", file_count="multiple",
                        interactive=False, elem_id="export-files")
        gr.Markdown(TRADEOFF_INTRO)
        plot = gr.HTML(in_page_language(lambda lang: callbacks.tradeoff(lang)[0]), elem_id="tradeoff-plot")
        refresh = gr.Button("Update with new runs", size="sm", elem_id="tradeoff-refresh")
        with gr.Accordion("The points", open=False):
            points = gr.Dataframe(in_page_language(lambda lang: callbacks.tradeoff(lang)[1]),
                                  interactive=False, wrap=True, elem_id="tradeoff-points")

        # Converting and measuring keeps the CPU busy for half a minute: one export at a time
        # for the whole server; a second click on the same checkpoint reuses the cached files.
        # preprocess=False: the key is looked up in the catalog as it is now, which may list
        # runs finished after this page was built.
        button.click(callbacks.export, inputs=with_language([checkpoint], language),
                     outputs=[note, table, files], api_name="export", preprocess=False,
                     concurrency_limit=1)
        refresh.click(callbacks.tradeoff, inputs=with_language([], language), outputs=[plot, points],
                      api_name="tradeoff", concurrency_limit=2)
        tab.select(callbacks.on_open, inputs=with_language([checkpoint], language),
                   outputs=[checkpoint, plot, points], api_name="open_mobile",
                   api_visibility="undocumented", show_progress="hidden", concurrency_limit=2)
        if language is not None:
            language.change(callbacks.relabel, inputs=[checkpoint, note, language],
                            outputs=[checkpoint, plot, points, table], api_visibility="private",
                            preprocess=False, show_progress="hidden", concurrency_limit=2)
    return callbacks
