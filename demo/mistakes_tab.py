"""Mistakes tab: the test pictures a checkpoint gets most confidently wrong, next to its confusion matrix."""

import base64
import html

import cv2
import gradio as gr

from mobilenet.data import CLASS_NAMES, DataCorruptError, DataUnavailableError
from mobilenet.mistakes import MistakesCache
from mobilenet.report import CONFUSION_TEXTS, confusion_svg

from demo.explain_tab import checkpoint_dropdown, load_model, with_language
from demo.i18n import class_name, class_names, localize, tr

TOP_PAIRS = 5
PER_DIRECTION = 3  # cats called dog beside dogs called cat, three of each

INTRO = """
### What does the network get wrong?
The network classifies all the CIFAR-10 test pictures once (about half a minute the first
time; then it is remembered). The **confusion matrix** counts every answer: rows are the true
classes, columns the answers, blue the right ones. On the right, the class pairs it mixes up
most, both ways (cats called dogs *and* dogs called cats), each with the pictures it got wrong
**most confidently**. Some are honest mistakes; some pictures are hard even for people.
"""

# The pictures are sent at 32×32 and enlarged by the browser with visible pixels (pixelated):
# a few kilobytes each, inline, so nothing is stored on the server per request.
PAIR = ('<section class="mistakes-pair" style="margin-bottom:18px">'
        '<div style="font-size:var(--text-lg);margin-bottom:6px"><b>{a} ↔ {b}</b>{mistakes}'
        '</div><div style="display:grid;grid-template-columns:1fr 1fr;gap:18px">{directions}</div>'
        '</section>')
DIRECTION = ('<div><div style="color:var(--body-text-color-subdued);margin-bottom:4px">'
             '{label}</div><div style="display:grid;grid-template-columns:repeat({columns},1fr);'
             'gap:8px">{figures}</div></div>')
FIGURE = ('<figure style="margin:0"><img src="data:image/png;base64,{png}" alt="{caption}" '
          'style="width:100%;image-rendering:pixelated;border-radius:4px">'
          '<figcaption style="font-size:var(--text-sm);line-height:1.25">{caption}</figcaption></figure>')


def shown_class(index, lang):
    return class_name(CLASS_NAMES[index], lang)


def caption(direction, example, lang="en"):
    """ "true cat → said dog 97%" """
    return tr("true {true} → said {said} {confidence:.0%}", lang,
              true=shown_class(direction["true"], lang), said=shown_class(direction["predicted"], lang),
              confidence=example["confidence"])


def direction_label(direction, lang="en"):
    return tr("{count} {true} picture called {said}" if direction["count"] == 1 else
              "{count} {true} pictures called {said}", lang, count=direction["count"],
              true=shown_class(direction["true"], lang), said=shown_class(direction["predicted"], lang))


def png_base64(picture):
    ok, encoded = cv2.imencode(".png", cv2.cvtColor(picture, cv2.COLOR_RGB2BGR))
    return base64.b64encode(encoded.tobytes()).decode("ascii")


def pairs_html(result, x_test, lang="en"):
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
        mistakes = tr(": 1 mistake" if count == 1 else ": {count} mistakes", lang, count=count)
        sections.append(PAIR.format(a=a, b=b, mistakes=mistakes, directions="".join(directions)))
    return "".join(sections) or f"<p>{tr('No mistakes at all on this test set.', lang)}</p>"


def summary(result, entry, lang="en"):
    wrong = result["images"] - round(result["accuracy"] * result["images"])
    return tr("**{checkpoint}**: {accuracy:.1%} of {images:,} test pictures right, {wrong:,} wrong. "
              "On the right: the {pairs} pairs of classes it confuses most, most confident mistake "
              "first (the percentage is how sure it was).", lang, checkpoint=localize(entry.label, lang),
              accuracy=result["accuracy"], images=result["images"], wrong=wrong,
              pairs=len(result["pairs"]))


def confusion(result, lang="en"):
    """The confusion matrix (SVG) with its class names and words in ``lang``."""
    return confusion_svg(result["confusion_matrix"], class_names(lang),
                         {key: tr(text, lang) for key, text in CONFUSION_TEXTS.items()})


# -- callbacks -----------------------------------------------------------------------------------

class MistakesCallbacks:
    """Args: ``catalog`` (the app's ``CheckpointCatalog``), ``load_data`` (returns the app's
    ``Cifar10``; raises the package's data errors), ``cache`` (a ``MistakesCache``)."""

    def __init__(self, catalog, load_data, cache=None):
        self.catalog, self.load_data = catalog, load_data
        self.cache = cache or MistakesCache()

    def mistakes(self, checkpoint, lang="en", progress=gr.Progress()):
        """Summary, confusion matrix (SVG) and the most-confused pairs with their pictures (HTML)."""
        model = load_model(self.catalog, checkpoint, lang)
        entry = self.catalog.find(checkpoint)
        try:
            data = self.load_data()
        except (DataUnavailableError, DataCorruptError) as error:
            raise gr.Error(tr("The CIFAR-10 test pictures are not available on this server, so there "
                              "are no mistakes to show. {error}", lang, error=error),
                           title=tr("No test pictures", lang)) from None

        def report(done, total):
            progress(done / total, desc=tr("Classifying the test pictures: {done:,} of {total:,}", lang,
                                           done=done, total=total))

        result = self.cache.mistakes(model, entry.metadata.get("weights_sha256"), data,
                                     TOP_PAIRS, PER_DIRECTION, progress=report)
        return summary(result, entry, lang), confusion(result, lang), pairs_html(result, data.x_test, lang)

    def mistakes_when_ready(self, checkpoint, lang="en", progress=gr.Progress()):
        """Runs when the tab opens or the checkpoint changes: problems go in the text, not a popup."""
        if not self.catalog.entries():
            return tr("No trained network yet: train one on the **Train** tab.", lang), "", ""
        try:
            return self.mistakes(checkpoint, lang, progress)
        except gr.Error as error:
            return tr("**{title}.** {message}", lang, title=error.title, message=error.message), "", ""

    def relabel(self, checkpoint, status, lang="en", progress=gr.Progress()):
        """After a language switch: the checkpoint list, and the mistakes again if they were shown
        (from the cache: no second pass over the test set)."""
        listing = checkpoint_dropdown(self.catalog, checkpoint, lang)
        if not status:
            return listing, gr.skip(), gr.skip(), gr.skip()
        return listing, *self.mistakes_when_ready(checkpoint, lang, progress)


# -- layout -----------------------------------------------------------------------------------------

def build_mistakes_tab(catalog, load_data, cache=None, language=None):
    callbacks = MistakesCallbacks(catalog, load_data, cache)
    entries = catalog.entries()
    with gr.Tab("5 · Mistakes", id="mistakes") as tab:
        gr.Markdown(INTRO)
        with gr.Row():
            checkpoint = gr.Dropdown([(e.label, e.key) for e in entries],
                                     value=entries[0].key if entries else None, scale=3,
                                     label="Checkpoint (network)", elem_id="mistakes-checkpoint")
            button = gr.Button("Find its mistakes", variant="primary", scale=1,
                               elem_id="find-mistakes")
        status = gr.Markdown(elem_id="mistakes-status")
        with gr.Row(elem_id="mistakes-view"):
            with gr.Column(scale=0, min_width=580):
                confusion = gr.HTML(elem_id="mistakes-confusion")
            with gr.Column(scale=1):
                pairs = gr.HTML(elem_id="mistakes-pairs")

        outputs = [status, confusion, pairs]
        # The first look at a checkpoint classifies 10,000 pictures (seconds of both CPUs):
        # one at a time; everyone else waits for it and then gets the cached answer at once.
        # preprocess=False: the key is looked up in the catalog, which says when it is unknown.
        limits = {"concurrency_limit": 1, "concurrency_id": "mistakes", "preprocess": False}
        button.click(callbacks.mistakes, inputs=with_language([checkpoint], language), outputs=outputs,
                     api_name="mistakes", **limits)
        tab.select(lambda current, lang="en": checkpoint_dropdown(catalog, current, lang),
                   inputs=with_language([checkpoint], language), outputs=checkpoint,
                   api_visibility="undocumented", concurrency_limit=None)
        gr.on([tab.select, checkpoint.change], callbacks.mistakes_when_ready,
              inputs=with_language([checkpoint], language), outputs=outputs,
              api_name="mistakes_when_ready", api_visibility="undocumented",
              trigger_mode="always_last", **limits)
        if language is not None:
            language.change(callbacks.relabel, inputs=[checkpoint, status, language],
                            outputs=[checkpoint, *outputs], api_visibility="private",
                            show_progress="hidden", **limits)
    return callbacks
