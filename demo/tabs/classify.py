"""Classify tab: a picture in, the network's top-5 guesses and the 32×32 image it saw out."""

import gradio as gr
import pandas as pd

from mobilenet.display import enlarge
from mobilenet.tta import shifted

from classroom import work
from demo.i18n import T, class_name, localize, t
from demo.tabs import Tab
from demo.widgets import (MAX_MEGAPIXELS, answers, examples, format_created, picture_file, picture_input,
                          upload_path)

SHOWN_SIZE = 160  # the 32×32 network input, enlarged with visible pixels
LIMITS = {"concurrency_limit": 4, "concurrency_id": "classify", "preprocess": False}


def checkpoint_details(entry, lang):
    """One line about a checkpoint: the test accuracy of what this page does, its date, model and
    training."""
    if entry is None:
        return t("page.checkpoint.none", lang)
    metadata = entry.metadata
    model, config = metadata.get("model", {}), metadata.get("train_config") or {}
    accuracy, images = entry.test_accuracy, (metadata.get("dataset") or {}).get("train_images_used")
    measured = (t("classify.details.not_measured", lang) if accuracy is None else
                t(("classify.details.accuracy_tta_shift" if shifted(metadata) else "classify.details.accuracy_tta")
                  if entry.flip else "classify.details.accuracy", lang,
                  accuracy=accuracy))
    lines = [measured,
             t("classify.details.created", lang, created=localize(format_created(metadata.get("created")), lang)),
             t("classify.details.model", lang, variant=model.get("variant"), alpha=model.get("alpha"),
               depth=model.get("depth", "full"))]
    if config:
        averaged = (metadata.get("swa") or {}).get("epochs")
        lines.append(t("classify.details.trained", lang, done=metadata.get("epochs_completed", "?"),
                       epochs=config["epochs"])
                     + (t("classify.details.averaged", lang, averaged=averaged)
                        if isinstance(averaged, int) and averaged else "")
                     + (t("classify.details.images", lang, images=images) if isinstance(images, int) else ""))
    return " · ".join(lines)


class ClassifyTab(Tab):
    tab_id = "classify"

    # -- callbacks ---------------------------------------------------------------------------
    def classify(self, image, checkpoint, lang="en"):
        """Top-5 classes, all ten probabilities, the 32×32 input and the time it took."""
        entry = self.picker.entry(checkpoint, lang)  # no network, or a stale key: said before the picture
        path, name = upload_path(image, lang)
        with answers(lang, self.picker, entry, name):  # read and classified in a worker process
            result = self.work.quick.call(work.classify, path, entry.path, MAX_MEGAPIXELS * 1_000_000)
        column, probability = t("classify.class", lang), t("classify.probability", lang)
        everything = pd.DataFrame(sorted(((class_name(name, lang), p) for name, p in result["probabilities"].items()),
                                         key=lambda kv: -kv[1]), columns=[column, probability])
        timing = t(("classify.timing_tta_shift" if result.get("views") == "mirror_shift" else "classify.timing_tta")
                   if result["tta"] else "classify.timing", lang, ms=result["milliseconds"],
                   width=result["width"], height=result["height"])
        top = {class_name(name, lang): p for name, p in result["top_k"]}
        shown = picture_file(enlarge(result["network_input"], SHOWN_SIZE), "network_input.png")
        return {self.top5: top, self.everything: everything.style.format({probability: "{:.2%}"}),
                self.seen: shown, self.timing: timing}

    def classify_when_ready(self, image, checkpoint, lang="en"):
        """Runs on every new picture or checkpoint; without a picture it clears the outputs."""
        if image is None or not self.catalog.entries():
            return {self.top5: None, self.everything: None, self.seen: None, self.timing: ""}
        return self.classify(image, checkpoint, lang)

    def describe_checkpoint(self, checkpoint, lang="en"):
        try:
            return checkpoint_details(self.catalog.find(checkpoint), lang)
        except KeyError:
            return checkpoint_details(None, lang) if not self.catalog.entries() else ""

    def relabel(self, lang, image, checkpoint):
        return {self.checkpoint: self.picker.choices(checkpoint, lang),
                self.details: self.describe_checkpoint(checkpoint, lang),
                **self.classify_when_ready(image, checkpoint, lang)}

    # -- layout ------------------------------------------------------------------------------
    def build(self):
        with gr.Tab(T("classify.tab"), id=self.tab_id):
            gr.Markdown(T("classify.intro"))
            with gr.Row():
                with gr.Column():
                    self.checkpoint = checkpoint = self.picker.build("checkpoint")
                    # written by the page's load in the page's language (demo.ui): drawn here in
                    # English, it showed for a moment on a Chinese page
                    self.details = details = gr.Markdown(elem_id="checkpoint-details")
                    image = picture_input("picture")
                    button = gr.Button(T("classify.classify"), variant="primary", elem_id="classify")
                with gr.Column():
                    self.top5 = gr.Label(num_top_classes=5, label=T("classify.top5"), elem_id="top5")
                    with gr.Row():
                        # min widths (the timing's in demo.ui's CSS: Gradio's Markdown drops min_width):
                        # on a phone each takes a line of its own, the picture's label on one line
                        self.seen = gr.Image(label=T("classify.seen"), format="png", buttons=[], interactive=False,
                                             height=200, width=200, min_width=240, elem_id="network-input")
                        self.timing = gr.Markdown(elem_id="timing")
                    with gr.Accordion(T("classify.all"), open=False):
                        self.everything = gr.Dataframe(interactive=False, elem_id="all-probabilities")
            with gr.Row():
                gr.Examples(examples("cifar10_test_"), inputs=image, examples_per_page=10,
                            label=T("classify.examples_cifar"))
                gr.Examples(examples("photo_") + examples("drawing_"), inputs=image,
                            label=T("classify.examples_photos"))

        outputs = [self.top5, self.everything, self.seen, self.timing]
        # preprocess=False: the upload arrives as Gradio's file record and a worker decodes it
        # with the package's reader, so a bad file gets a clear message instead of a crash.
        # Classifying takes milliseconds in one of the quick workers (classroom.work): a few
        # requests wait side by side for them so a class of thirty never waits long.
        button.click(self.classify, inputs=[image, checkpoint, self.lang], outputs=outputs,
                     api_name="classify", **LIMITS)
        gr.on([image.change, checkpoint.change], self.classify_when_ready, inputs=[image, checkpoint, self.lang],
              outputs=outputs, api_name="classify_when_ready", api_visibility="undocumented",
              trigger_mode="always_last", **LIMITS)
        checkpoint.change(self.describe_checkpoint, inputs=[checkpoint, self.lang], outputs=details,
                          api_name="describe_checkpoint", preprocess=False, concurrency_limit=None)
        self.relabel_inputs = {"image": image, "checkpoint": checkpoint}
        self.relabel_outputs = [checkpoint, details, *outputs]
