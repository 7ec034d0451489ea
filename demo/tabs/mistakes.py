"""Mistakes tab: the test pictures a checkpoint gets most confidently wrong, next to its confusion matrix.

What the tab shows is kept as data (``shown``, a ``gr.State``): the result of the one pass over
the test set, or what stood in the way. A language switch draws it again from there.
"""

import base64
import functools
import html

import cv2
import gradio as gr

from mobilenet.checkpoints import CheckpointError
from mobilenet.data import CLASS_NAMES, DataCorruptError, DataUnavailableError
from mobilenet.mistakes import MistakesCache
from mobilenet.report import CONFUSION_TEXTS, confusion_svg

from classroom import work
from classroom.work_pool import WorkFailed
from demo.i18n import LANGUAGES, T, class_name, class_names, localize, t
from demo.tabs import PRIVATE, Tab
from demo.widgets import answers, label

TOP_PAIRS = 5
PER_DIRECTION = 3  # cats called dog beside dogs called cat, three of each
# The first look at a checkpoint classifies 10,000 pictures (seconds of both CPUs) in the long
# worker (classroom.work): one at a time; everyone else waits for it and then gets the cached
# answer (the worker's MistakesCache) at once.
# preprocess=False: the key is looked up in the catalog, which says when it is unknown.
LIMITS = {"concurrency_limit": 1, "concurrency_id": "mistakes", "preprocess": False}

# The pictures are sent at 32×32 and enlarged by the browser with visible pixels (pixelated):
# a few kilobytes each, inline, so nothing is stored on the server per request.
PAIR = ('<section class="mistakes-pair" style="margin-bottom:18px">'
        '<div style="font-size:var(--text-lg);margin-bottom:6px"><b>{a} ↔ {b}</b>{mistakes}'
        # side by side where there is room for both directions, one under the other on a phone
        '</div><div style="display:grid;grid-template-columns:repeat(auto-fit,minmax(min(100%,260px),1fr));'
        'gap:18px">{directions}</div>'
        '</section>')
DIRECTION = ('<div><div style="color:var(--body-text-color-subdued);margin-bottom:4px">'
             '{label}</div><div style="display:grid;grid-template-columns:repeat({columns},minmax(0,1fr));'
             'gap:8px">{figures}</div></div>')
FIGURE = ('<figure style="margin:0"><img src="data:image/png;base64,{png}" alt="{caption}" '
          'style="width:100%;image-rendering:pixelated;border-radius:4px">'
          '<figcaption style="font-size:var(--text-sm);line-height:1.25;overflow-wrap:anywhere">{caption}'
          '</figcaption></figure>')


def shown_class(index, lang):
    return class_name(CLASS_NAMES[index], lang)


def caption(direction, example, lang):
    """ "true cat → said dog 97%" """
    return t("mistakes.caption", lang, true=shown_class(direction["true"], lang),
             said=shown_class(direction["predicted"], lang), confidence=example["confidence"])


def direction_label(direction, lang):
    return t("mistakes.direction_one" if direction["count"] == 1 else "mistakes.direction", lang,
             count=direction["count"], true=shown_class(direction["true"], lang),
             said=shown_class(direction["predicted"], lang))


def png_base64(picture):
    ok, encoded = cv2.imencode(".png", cv2.cvtColor(picture, cv2.COLOR_RGB2BGR))
    return base64.b64encode(encoded.tobytes()).decode("ascii")


def pairs_html(result, x_test, lang):
    """Each most-confused pair, both directions side by side, most confident mistake first."""
    sections = []
    for pair in result["pairs"]:
        directions = []
        for direction in pair["directions"]:
            figures = "".join(FIGURE.format(png=png_base64(x_test[e["index"]]),
                                            caption=html.escape(caption(direction, e, lang)))
                              for e in direction["examples"])
            directions.append(DIRECTION.format(label=html.escape(direction_label(direction, lang)),
                                               columns=PER_DIRECTION, figures=figures))
        a, b = (html.escape(shown_class(c, lang)) for c in pair["classes"])
        count = pair["mistakes"]
        mistakes = html.escape(t("mistakes.pair_one" if count == 1 else "mistakes.pair", lang, count=count))
        sections.append(PAIR.format(a=a, b=b, mistakes=mistakes, directions="".join(directions)))
    return "".join(sections) or f"<p>{html.escape(t('mistakes.none_wrong', lang))}</p>"


def summary(result, checkpoint, lang, tested=None):
    """The status line: ``checkpoint`` (its name as shown) and how many it got right; ``tested``:
    the accuracy its name shows when that one judges each picture with its mirror image (flip TTA),
    which this pass does not do, so the line says why the two differ."""
    wrong = result["images"] - round(result["accuracy"] * result["images"])
    why = t("mistakes.why_two", lang, tested=tested) if tested is not None else ""
    return t("mistakes.summary", lang, checkpoint=checkpoint, accuracy=result["accuracy"],
             images=result["images"], wrong=wrong, pairs=len(result["pairs"]), why=why)


def confusion(result, lang):
    """The confusion matrix (SVG) with its class names and words in ``lang``."""
    return confusion_svg(result["confusion_matrix"], class_names(lang),
                         {key: t(f"mistakes.confusion.{key}", lang) for key in CONFUSION_TEXTS})


def problem(title, message, lang):
    """The status line when there is nothing to show: what stood in the way."""
    return t("mistakes.problem", lang, title=title, message=message)


class MistakesTab(Tab):
    tab_id = "mistakes"

    def __init__(self, ctx):
        super().__init__(ctx)
        # The long worker's cache, read here: a pass it remembers is answered without waiting
        # for the worker, which may be busy for a minute with someone's export.
        self.remembered = MistakesCache()

    # -- callbacks ---------------------------------------------------------------------------
    def mistakes(self, checkpoint, progress=gr.Progress(), lang="en"):
        """Summary, confusion matrix (SVG), the most-confused pairs with their pictures (HTML), and
        what was shown (the ``shown`` state)."""
        entry = self.picker.entry(checkpoint, lang)
        try:
            data = self.runs.load_data()  # the pictures shown; the long worker reads its own copy
        except (DataUnavailableError, DataCorruptError) as error:
            raise gr.Error(t("mistakes.no_data", lang, error=error),
                           title=t("mistakes.no_data_title", lang)) from None
        with answers(lang, self.picker, entry):
            return self.find(entry, data, progress, lang)

    def mistakes_when_ready(self, checkpoint, progress=gr.Progress(), lang="en"):
        """Runs when the tab opens or the checkpoint changes: problems go in the text, not a popup."""
        if not self.catalog.entries():
            shown = {"no_network": True}
        else:
            try:
                entry = self.picker.entry(checkpoint, lang)
                return self.find(entry, self.runs.load_data(), progress, lang)
            except gr.Error:
                shown = {"checkpoint": checkpoint}
            except (DataUnavailableError, DataCorruptError) as error:
                shown = {"no_data": str(error)}
            except (CheckpointError, OSError, WorkFailed) as error:
                shown = {"checkpoint": checkpoint, "error": error}
        return {**self.render(shown, lang), self.shown: shown}

    def find(self, entry, data, progress, lang):
        """The one pass over the test set in the long worker, or the result of it the worker
        remembers (read here, without waiting for the worker), shown."""
        on_progress = functools.partial(self.on_progress, progress, lang)
        result = self.remembered.remembered(entry.metadata.get("weights_sha256"), data, TOP_PAIRS, PER_DIRECTION)
        if result is None:
            result = self.work.long.call(work.mistakes, entry.path, TOP_PAIRS, PER_DIRECTION, progress=on_progress)
        else:
            on_progress({"done": result["images"], "total": result["images"]})  # as a remembered pass ends
        shown = {"result": result, "checkpoint": {code: localize(label(entry), code) for code in LANGUAGES},
                 "tested": entry.test_accuracy if entry.flip else None}
        return {**self.render(shown, lang), self.shown: shown}

    def on_progress(self, progress, lang, event):
        """Gradio's progress bar, as the pass over the test set goes."""
        progress(event["done"] / event["total"], desc=t("mistakes.progress", lang, **event))

    def failure(self, shown, lang):
        """(title, message) in ``lang`` of what stood in the way of ``shown["checkpoint"]``."""
        try:
            entry = self.picker.entry(shown["checkpoint"], lang)
            if "error" in shown:
                with answers(lang, self.picker, entry):
                    raise shown["error"]
        except gr.Error as error:
            return error.title, error.message
        return None

    def render(self, shown, lang):
        """The status, confusion matrix and pairs in ``lang`` of what ``shown`` holds: a result, no
        network, no test pictures, or a checkpoint that cannot be used (looked up again: that
        fails at once)."""
        if "result" in shown:
            result = shown["result"]
            return {self.status: summary(result, shown["checkpoint"][lang], lang, shown.get("tested")),
                    self.matrix: confusion(result, lang),
                    self.pairs: pairs_html(result, self.runs.load_data().x_test, lang)}
        if "no_network" in shown:
            status = t("mistakes.no_network", lang)
        elif "no_data" in shown:
            status = problem(t("mistakes.no_data_title", lang), t("mistakes.no_data", lang, error=shown["no_data"]),
                             lang)
        else:
            failed = self.failure(shown, lang)
            status = problem(*failed, lang) if failed else ""
        return {self.status: status, self.matrix: "", self.pairs: ""}

    def relabel(self, lang, checkpoint, shown):
        """The checkpoint list, and what was shown drawn again (no second pass over the test set)."""
        return {self.checkpoint: self.picker.choices(checkpoint, lang), **(self.render(shown, lang) if shown else {})}

    # -- layout ------------------------------------------------------------------------------
    def build(self):
        with gr.Tab(T("mistakes.tab"), id=self.tab_id) as tab:
            gr.Markdown(T("mistakes.intro"))
            with gr.Row():
                self.checkpoint = checkpoint = self.picker.build("mistakes-checkpoint", scale=3)
                button = gr.Button(T("mistakes.find"), variant="primary", scale=1, elem_id="find-mistakes")
            self.status = status = gr.Markdown(elem_id="mistakes-status")
            with gr.Row(elem_id="mistakes-view"):
                with gr.Column(scale=0, min_width=580):
                    self.matrix = matrix = gr.HTML(elem_id="mistakes-confusion")
                with gr.Column(scale=1):
                    self.pairs = pairs = gr.HTML(elem_id="mistakes-pairs")
            self.shown = shown = gr.State(None)

        outputs = [status, matrix, pairs, shown]
        button.click(self.mistakes, inputs=[checkpoint, self.lang], outputs=outputs, api_name="mistakes",
                     **LIMITS)
        tab.select(self.picker.choices, inputs=[checkpoint, self.lang], outputs=checkpoint, concurrency_limit=None,
                   **PRIVATE)
        gr.on([tab.select, checkpoint.change], self.mistakes_when_ready, inputs=[checkpoint, self.lang],
              outputs=outputs, api_name="mistakes_when_ready", api_visibility="undocumented",
              trigger_mode="always_last", **LIMITS)
        self.relabel_inputs = {"checkpoint": checkpoint, "shown": shown}
        self.relabel_outputs = [checkpoint, status, matrix, pairs]
