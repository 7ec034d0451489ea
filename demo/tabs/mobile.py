"""Mobile tab: a checkpoint exported for phones (LiteRT float32 / float16 / int8), and the
accuracy vs Mult-Adds trade-off of the width multiplier α beside the paper's.

An export is kept as data (its report, in the ``exported`` state), so a language switch writes
its table and note again without converting anything.
"""

import functools
import os

import gradio as gr
import pandas as pd

from mobilenet.data import DataCorruptError, DataUnavailableError
from mobilenet.export import CALIBRATION_IMAGES
from mobilenet.tradeoff import TEXTS, all_points, tradeoff_svg

from classroom import work
from classroom.export_cache import ExportFolders
from demo.i18n import T, t
from demo.widgets import answers, empty, present
from demo.tabs import Tab

TEST_IMAGES = 2000  # a fixed stratified subset: four models x 10,000 images is too slow for a class

EXPORT_COLUMNS = {"model": ("mobile.export_columns.model", None),
                  "size_mb": ("mobile.export_columns.size_mb", "{:.2f}"),
                  "smaller": ("mobile.export_columns.smaller", "{:.1f}"),
                  "latency_ms": ("mobile.export_columns.latency_ms", "{:.3f}"),
                  "accuracy_%": ("mobile.export_columns.accuracy", "{:.2f}"),
                  "agreement_%": ("mobile.export_columns.agreement", "{:.1f}"),
                  "file": ("mobile.export_columns.file", None)}
EXPORT_WIDTHS = ["210px", "90px", "110px", "120px", "110px", "120px", "320px"]  # a file's name on one line
POINT_COLUMNS = {"series": ("mobile.point_columns.series", None),
                 "label": ("mobile.point_columns.label", None),
                 "accuracy_%": ("mobile.point_columns.accuracy", "{:.1f}"),
                 "million_mult_adds": ("mobile.point_columns.million_mult_adds", "{:.2f}"),
                 "relative_mult_adds": ("mobile.point_columns.relative_mult_adds", "{:.3f}")}


def model_name(row, report, lang):
    """What a row of the export report is: "Keras checkpoint (float16 weights)", "LiteRT int8"."""
    if row["kind"] == "keras":
        return t("mobile.keras_model", lang, kind=t("mobile.kinds.keras", lang), dtype=report["weights_dtype"])
    return t(f"mobile.kinds.{row['kind']}", lang)


def export_table(report, lang):
    """The export report's rows as the table students read (numbers stay numbers)."""
    rows = report["rows"]
    float32_size = next(row["size_bytes"] for row in rows if row["kind"] == "float32")
    frame = pd.DataFrame([{
        "model": model_name(row, report, lang),
        "size_mb": row["size_bytes"] / 1e6,
        # the Keras file may hold float16 weights (or an optimizer): not a fair baseline
        "smaller": None if row["kind"] == "keras" else float32_size / row["size_bytes"],
        "latency_ms": row["latency_ms"],
        "accuracy_%": row["accuracy"] * 100, "agreement_%": row["agreement"] * 100,
        "file": os.path.basename(row["path"])} for row in rows])
    return present(frame, EXPORT_COLUMNS, lang)


def export_note(report, lang):
    settings = report["settings"]
    return t("mobile.note", lang, per_class=settings["test_images"] // 10, **settings)


def tradeoff_texts(lang):
    """``mobilenet.tradeoff.TEXTS`` in ``lang``."""
    return {key: t(f"mobile.tradeoff.{key}", lang) for key in TEXTS}


class MobileTab(Tab):
    """``exports``: the exported files (``ExportFolders``); ``sweep_dir``: the α sweep's
    checkpoints (``<checkpoint_dir>/sweep``), points of the trade-off plot."""

    tab_id = "mobile"

    def __init__(self, ctx):
        super().__init__(ctx)
        self.exports = ExportFolders(self.ctx.settings.export_dir)
        self.sweep_dir = os.path.join(self.catalog.checkpoint_dir, "sweep")

    # -- callbacks ---------------------------------------------------------------------------
    def export(self, key, progress=gr.Progress(), lang="en"):
        """How it was measured, the side-by-side table, the three .tflite files, and the report
        (the ``exported`` state)."""
        entry = self.picker.entry(key, lang)
        try:
            self.runs.load_data()  # said here, with the package's reason; the worker reads its own copy
        except (DataUnavailableError, DataCorruptError) as error:
            raise gr.Error(t("mobile.no_data", lang, error=error), title=t("mobile.no_data_title", lang)) from None
        with answers(lang, self.picker, entry):  # converted and measured in the long worker
            report = self.work.long.call(work.export, entry.path, self.exports.folder(entry.metadata["weights_sha256"]),
                                         TEST_IMAGES, CALIBRATION_IMAGES,
                                         progress=functools.partial(self.on_progress, progress, lang))
        files = [row["path"] for row in report["rows"] if row["kind"] != "keras"]
        return {self.note: export_note(report, lang), self.table: export_table(report, lang), self.files: files,
                self.exported: report}

    def on_progress(self, progress, lang, event):
        """Gradio's progress bar, as the export converts and measures each file."""
        doing = "mobile.converting" if event["name"] == "convert" else "mobile.measuring"
        progress((event["step"] - 1) / event["steps"],
                 desc=t(doing, lang, kind=t(f"mobile.kinds.{event['kind']}", lang)))

    def tradeoff_figures(self, lang):
        """(plot as SVG, its points): the paper's, then every tested checkpoint."""
        texts = tradeoff_texts(lang)
        points = all_points({"shipped": self.catalog.checkpoint_dir, "run": self.catalog.runs_dir,
                             "sweep": self.sweep_dir}, texts)
        table = points.assign(million_mult_adds=points["mult_adds"] / 1e6)
        return tradeoff_svg(points, texts=texts), present(table, POINT_COLUMNS, lang)

    def tradeoff(self, lang="en"):
        """The trade-off plot and its points, with the checkpoints of the moment."""
        plot, points = self.tradeoff_figures(lang)
        return {self.plot: plot, self.points: points}

    def open_mobile(self, current, lang="en"):
        return {self.checkpoint: self.picker.choices(current, lang), **self.tradeoff(lang)}

    def relabel(self, lang, current, exported):
        """The checkpoint list, the trade-off, and the export's note and table (its headers while
        nothing was exported)."""
        shown = ({self.note: export_note(exported, lang), self.table: export_table(exported, lang)} if exported
                 else {self.table: empty(EXPORT_COLUMNS, lang)})
        return {**self.open_mobile(current, lang), **shown}

    # -- layout ------------------------------------------------------------------------------
    def build(self):
        # The plot as the page is built; drawn again with the checkpoints of the moment whenever
        # the tab is opened (``?tab=mobile`` too), and in the page's language by ``relabel``.
        initial_plot, initial_points = self.tradeoff_figures("en")
        with gr.Tab(T("mobile.tab"), id=self.tab_id) as tab:
            gr.Markdown(T("mobile.export_intro"))
            with gr.Row(equal_height=True):
                self.checkpoint = checkpoint = self.picker.build("export-checkpoint", scale=3)
                button = gr.Button(T("mobile.export"), variant="primary", scale=1, elem_id="export-button")
            self.note = note = gr.Markdown(elem_id="export-note")
            # widths in pixels: on a phone the table scrolls sideways instead of breaking its headers
            # letter by letter (and the ``model`` column's long names no longer crowd the others out)
            self.table = table = gr.Dataframe(empty(EXPORT_COLUMNS, "en"), interactive=False, label=T("mobile.table"),
                                              wrap=True, column_widths=EXPORT_WIDTHS, elem_id="export-table")
            self.files = files = gr.File(label=T("mobile.files"), file_count="multiple", interactive=False,
                                         elem_id="export-files")
            self.exported = exported = gr.State(None)
            gr.Markdown(T("mobile.tradeoff_intro"))
            self.plot = plot = gr.HTML(initial_plot, elem_id="tradeoff-plot")
            refresh = gr.Button(T("mobile.refresh"), size="sm", elem_id="tradeoff-refresh")
            with gr.Accordion(T("mobile.points"), open=False):
                self.points = points = gr.Dataframe(initial_points, interactive=False, wrap=True,
                                                    elem_id="tradeoff-points")

        # Converting and measuring keeps the CPU busy for half a minute: one export at a time
        # for the whole server; a second click on the same checkpoint reuses the cached files.
        # preprocess=False: the key is looked up in the catalog as it is now, which may list
        # runs finished after this page was built.
        button.click(self.export, inputs=[checkpoint, self.lang], outputs=[note, table, files, exported],
                     api_name="export", preprocess=False, concurrency_limit=1)
        refresh.click(self.tradeoff, inputs=[self.lang], outputs=[plot, points], api_name="tradeoff",
                      concurrency_limit=2)
        tab.select(self.open_mobile, inputs=[checkpoint, self.lang], outputs=[checkpoint, plot, points],
                   api_name="open_mobile", api_visibility="undocumented", show_progress="hidden",
                   concurrency_limit=2)
        self.relabel_inputs = {"current": checkpoint, "exported": exported}
        self.relabel_outputs = [checkpoint, plot, points, note, table]
