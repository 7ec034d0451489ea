"""Mistakes tab: the test pictures a checkpoint gets most confidently wrong, next to its confusion matrix."""

import gradio as gr
import numpy as np

from mobilenet.data import CLASS_NAMES, DataCorruptError, DataUnavailableError
from mobilenet.mistakes import MistakesCache

from demo.explain_tab import checkpoint_dropdown, load_model
from demo.train_tab import confusion_frame

TOP_PAIRS = 6
PER_PAIR = 8
ENLARGE = 3  # 32×32 test pictures shown at 96×96, nearest-neighbour: the pixels stay visible

INTRO = """
### What does the network get wrong?
The network classifies all the CIFAR-10 test pictures once (about half a minute the first
time; then it is remembered). The **confusion matrix** counts every answer: rows are the true
classes, columns the answers, the diagonal the right ones. On the right, the class pairs it
mixes up most (both ways: cats called dogs *and* dogs called cats), each with the pictures it
got wrong **most confidently**. Some are honest mistakes; some pictures are hard even for people.
"""


def caption(example):
    return (f"true {CLASS_NAMES[example['true']]} → said {CLASS_NAMES[example['predicted']]} "
            f"{example['confidence']:.0%}")


def pair_label(pair):
    a, b = (CLASS_NAMES[c] for c in pair["classes"])
    return (f"{a} ↔ {b}: {pair['mistakes']} mistakes ({pair['a_as_b']} {a} → {b}, "
            f"{pair['b_as_a']} {b} → {a})")


def summary(result, entry):
    wrong = result["images"] - round(result["accuracy"] * result["images"])
    return (f"**{entry.label}**: {result['accuracy']:.1%} of {result['images']:,} test pictures right, "
            f"{wrong:,} wrong. The {len(result['pairs'])} pairs it confuses most are on the right, "
            "most confident mistake first.")


# -- callbacks -----------------------------------------------------------------------------------

class MistakesCallbacks:
    """Args: ``catalog`` (the app's ``CheckpointCatalog``), ``load_data`` (returns the app's
    ``Cifar10``; raises the package's data errors), ``cache`` (a ``MistakesCache``)."""

    def __init__(self, catalog, load_data, cache=None):
        self.catalog, self.load_data = catalog, load_data
        self.cache = cache or MistakesCache()

    def mistakes(self, checkpoint, progress=gr.Progress()):
        """Summary, confusion matrix and one gallery per most-confused pair."""
        model = load_model(self.catalog, checkpoint)
        entry = self.catalog.find(checkpoint)
        try:
            data = self.load_data()
        except (DataUnavailableError, DataCorruptError) as error:
            raise gr.Error(f"The CIFAR-10 test pictures are not available on this server, so "
                           f"there are no mistakes to show. {error}", title="No test pictures") from None

        def report(done, total):
            progress(done / total, desc=f"Classifying the test pictures: {done:,} of {total:,}")

        result = self.cache.mistakes(model, entry.metadata.get("weights_sha256"), data,
                                     TOP_PAIRS, PER_PAIR, progress=report)
        galleries = []
        for i in range(TOP_PAIRS):
            if i >= len(result["pairs"]):
                galleries.append(gr.Gallery(value=None, visible=False))
                continue
            pair = result["pairs"][i]
            pictures = [(enlarged(data.x_test[e["index"]]), caption(e)) for e in pair["examples"]]
            galleries.append(gr.Gallery(value=pictures, label=pair_label(pair), visible=True))
        return summary(result, entry), confusion_frame(result["confusion_matrix"]), *galleries

    def mistakes_when_ready(self, checkpoint, progress=gr.Progress()):
        """Runs when the tab opens or the checkpoint changes: problems go in the text, not a popup."""
        if not self.catalog.entries():
            return ("No trained network yet: train one on the **Train** tab.", None,
                    *[gr.Gallery(visible=False)] * TOP_PAIRS)
        try:
            return self.mistakes(checkpoint, progress)
        except gr.Error as error:
            return (f"**{error.title}.** {error.message}", None,
                    *[gr.Gallery(visible=False)] * TOP_PAIRS)


def enlarged(picture):
    return np.repeat(np.repeat(picture, ENLARGE, axis=0), ENLARGE, axis=1)


# -- layout -----------------------------------------------------------------------------------------

def build_mistakes_tab(catalog, load_data, cache=None):
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
        with gr.Row():
            with gr.Column(scale=2):
                confusion = gr.Dataframe(label="Confusion matrix (test set): rows are the true "
                                         "classes, columns the network's answers",
                                         interactive=False, elem_id="mistakes-confusion")
            with gr.Column(scale=3):
                galleries = [gr.Gallery(label=f"pair {i + 1}", visible=False, columns=4,
                                        height="auto", format="png", allow_preview=True,
                                        object_fit="contain", elem_id=f"mistakes-pair-{i + 1}")
                             for i in range(TOP_PAIRS)]

        outputs = [status, confusion, *galleries]
        # The first look at a checkpoint classifies 10,000 pictures (seconds of both CPUs):
        # one at a time; everyone else waits for it and then gets the cached answer at once.
        # preprocess=False: the key is looked up in the catalog, which says when it is unknown.
        limits = {"concurrency_limit": 1, "concurrency_id": "mistakes", "preprocess": False}
        button.click(callbacks.mistakes, inputs=checkpoint, outputs=outputs, api_name="mistakes",
                     **limits)
        tab.select(lambda current: checkpoint_dropdown(catalog, current), inputs=checkpoint,
                   outputs=checkpoint, api_visibility="undocumented", concurrency_limit=None)
        gr.on([tab.select, checkpoint.change], callbacks.mistakes_when_ready, inputs=checkpoint,
              outputs=outputs, api_name="mistakes_when_ready", api_visibility="undocumented",
              trigger_mode="always_last", **limits)
    return callbacks
