"""Classify tab: a picture in, the network's top-5 guesses and the 32×32 image it saw out."""

import hashlib
import io
import os
import tempfile

import gradio as gr
import numpy as np
import pandas as pd
from PIL import Image
from gradio.utils import get_upload_folder, is_in_or_equal

from mobilenet.checkpoints import CheckpointError
from mobilenet.inference import FORMAT_NAMES, ImageTooLarge, TooSlowToDecode, read_image

from demo.catalog import format_created
from demo.i18n import class_name, localize, tr

EXAMPLES_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "examples")
MAX_MEGAPIXELS = 40  # decoding is the only cost that grows with the picture; 32×32 is all we keep
# (PNG and WebP have lower limits: mobilenet.inference.DECODE_MEGAPIXELS)
SHOWN_SIZE = 160  # the 32×32 network input, enlarged with visible pixels

INTRO = """
### Ask the network what it sees
Upload a picture, take one with the webcam, paste one from the clipboard, or click an example.
The network only knows ten classes (airplane, automobile, bird, cat, deer, dog, frog, horse,
ship, truck) and only sees a **32×32** version of your picture, shown on the right: small
details are lost, and a picture of something else still gets one of the ten answers.
"""

NO_CHECKPOINT = ("No trained network yet. Train one on the **Train** tab (about a minute); it "
                 "appears here when it finishes. The pretrained network "
                 "(`checkpoints/mobilenet_cifar.keras`) is not installed on this server.")


def examples(prefix):
    """Committed example files whose name starts with ``prefix``, sorted."""
    return [os.path.join(EXAMPLES_DIR, n) for n in sorted(os.listdir(EXAMPLES_DIR))
            if n.startswith(prefix) and n.endswith((".png", ".jpg"))]


def read_upload(payload, lang="en"):
    """The uploaded picture as a numpy array, or a ``gr.Error`` saying what to do.

    Only files in Gradio's upload folder are read (uploads, webcam, clipboard and the
    examples all arrive there): with ``preprocess=False`` a request could name any path.
    """
    path = (payload or {}).get("path") if isinstance(payload, dict) else None
    if not path or not isinstance(path, str):
        raise gr.Error(tr("No picture yet: upload one, take a webcam photo, paste one or click an "
                          "example.", lang), title=tr("No picture", lang))
    if not is_in_or_equal(path, get_upload_folder()):
        raise gr.Error(tr("Only pictures uploaded to this page can be classified.", lang),
                       title=tr("Not an upload", lang))
    name = os.path.basename(str(payload.get("orig_name") or tr("the file", lang)))[:80]
    if not os.path.isfile(path):
        raise gr.Error(tr("{name} is no longer on the server (uploads are kept for an hour): "
                          "upload it again.", lang, name=name), title=tr("Upload again", lang))
    try:
        return read_image(path, max_pixels=MAX_MEGAPIXELS * 1_000_000)
    except TooSlowToDecode as error:
        kind = FORMAT_NAMES.get(error.format, error.format)
        raise gr.Error(tr("{name} is a {kind} picture of more than {limit} megapixels, too many to "
                          "read quickly. Make it smaller or save it as JPEG: the network only looks "
                          "at 32×32 pixels anyway.", lang, name=name, kind=kind, limit=error.limit),
                       title=tr("Picture too large", lang)) from None
    except ImageTooLarge:
        raise gr.Error(tr("{name} is larger than {limit} megapixels. Make it smaller first: the "
                          "network only looks at 32×32 pixels anyway.", lang, name=name,
                          limit=MAX_MEGAPIXELS), title=tr("Picture too large", lang)) from None
    except ValueError:
        raise gr.Error(tr("{name} is not a picture this app can read (or it is damaged). Use a "
                          "JPEG, PNG, WebP, GIF or BMP file.", lang, name=name),
                       title=tr("Not a picture", lang)) from None


def enlarged(small):
    factor = SHOWN_SIZE // small.shape[0]
    return np.repeat(np.repeat(small, factor, axis=0), factor, axis=1)


def shown_file(small):
    """The enlarged 32×32 input as a PNG in Gradio's cache, written once per content.

    Gradio saves a returned array under its hash by rewriting that file in place, so a class
    classifying the same example at once downloads a file being rewritten (truncated
    responses). Here it is written under a temporary name and renamed, never rewritten.
    """
    buffer = io.BytesIO()
    Image.fromarray(enlarged(small)).save(buffer, "PNG")
    data = buffer.getvalue()
    folder = os.path.join(get_upload_folder(), hashlib.sha256(data).hexdigest())
    path = os.path.join(folder, "network_input.png")
    if not os.path.exists(path):
        os.makedirs(folder, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=".network_input.")
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    return path


def checkpoint_details(entry, lang="en"):
    if entry is None:
        return tr(NO_CHECKPOINT, lang)
    metadata = entry.metadata
    model, config = metadata.get("model", {}), metadata.get("train_config") or {}
    accuracy, images = entry.test_accuracy, (metadata.get("dataset") or {}).get("train_images_used")
    if accuracy is None:
        measured = tr("**Test accuracy:** not measured (the run was stopped early)", lang)
    elif entry.flip:
        measured = tr("**Test accuracy:** {accuracy:.1%} with flip TTA (each picture is also classified "
                      "as its mirror image, and the two answers averaged, as this page does)", lang,
                      accuracy=accuracy)
    else:
        measured = tr("**Test accuracy:** {accuracy:.1%}", lang, accuracy=accuracy)
    lines = [measured,
             tr("**Created:** {created}", lang,
                created=localize(format_created(metadata.get("created")), lang)),
             tr("**Model:** {variant} variant, α {alpha}, {depth} depth", lang,
                variant=model.get("variant"), alpha=model.get("alpha"), depth=model.get("depth", "full"))]
    if config:
        averaged = (metadata.get("swa") or {}).get("epochs")
        lines.append(tr("**Trained:** {done} of {epochs} epochs", lang,
                        done=metadata.get("epochs_completed", "?"), epochs=config["epochs"])
                     + (tr(" + {averaged} epochs of weight averaging", lang, averaged=averaged)
                        if isinstance(averaged, int) and averaged else "")
                     + (tr(" on {images:,} images", lang, images=images) if isinstance(images, int) else ""))
    return " · ".join(lines)


# -- callbacks -----------------------------------------------------------------------------------

class ClassifyCallbacks:
    def __init__(self, catalog):
        self.catalog = catalog

    def classify(self, image, checkpoint, lang="en"):
        """Top-5 classes, all ten probabilities, the 32×32 input and the time it took."""
        if not self.catalog.entries():
            raise gr.Error(tr(NO_CHECKPOINT, lang).replace("**", ""), title=tr("No network", lang))
        picture = read_upload(image, lang)
        try:
            entry = self.catalog.find(checkpoint)
            classifier = self.catalog.classifier(entry)
        except KeyError:
            raise gr.Error(tr("That checkpoint is not available any more: pick another one.", lang),
                           title=tr("Pick a checkpoint", lang)) from None
        except (CheckpointError, OSError) as error:
            # The reason without the server's folders: students see file names only.
            reason = str(error).replace(os.path.dirname(entry.path) + os.sep, "")
            raise gr.Error(tr("That checkpoint cannot be loaded ({reason}): pick another one.", lang,
                              reason=reason if lang == "en" else f"`{reason}`"),
                           title=tr("Broken checkpoint", lang)) from None
        result = classifier.classify(picture, k=5)
        column, probability = tr("class", lang), tr("probability", lang)
        everything = pd.DataFrame(sorted(((class_name(name, lang), p) for name, p
                                          in result["probabilities"].items()), key=lambda kv: -kv[1]),
                                  columns=[column, probability])
        timing = tr("The network took **{ms:.1f} ms** for this picture and its mirror image "
                    "({width}×{height} pixels in, 32×32 seen)." if result["tta"] else
                    "The network took **{ms:.1f} ms** for this picture ({width}×{height} pixels in, "
                    "32×32 seen).", lang, ms=result["milliseconds"], width=picture.shape[1],
                    height=picture.shape[0])
        top = {class_name(name, lang): p for name, p in result["top_k"]}
        return (top, everything.style.format({probability: "{:.2%}"}),
                shown_file(result["network_input"]), timing)

    def classify_when_ready(self, image, checkpoint, lang="en"):
        """Runs on every new picture or checkpoint; without a picture it clears the outputs."""
        if image is None or not self.catalog.entries():
            return None, None, None, ""
        return self.classify(image, checkpoint, lang)

    def checkpoint_list(self, current, lang="en"):
        """The dropdown's choices now; keeps the selection while it is still listed."""
        entries = self.catalog.entries()
        keys = [entry.key for entry in entries]
        value = current if current in keys else (keys[0] if keys else None)
        return gr.Dropdown(choices=[(localize(entry.label, lang), entry.key) for entry in entries],
                           value=value)

    def describe_checkpoint(self, checkpoint, lang="en"):
        try:
            return checkpoint_details(self.catalog.find(checkpoint), lang)
        except KeyError:
            return checkpoint_details(None, lang) if not self.catalog.entries() else ""


# -- layout -----------------------------------------------------------------------------------------

def build_classify_tab(catalog, language=None):
    callbacks = ClassifyCallbacks(catalog)
    entries = catalog.entries()
    with gr.Tab("3 · Classify", id="classify"):
        gr.Markdown(INTRO)
        with gr.Row():
            with gr.Column():
                checkpoint = gr.Dropdown([(e.label, e.key) for e in entries],
                                         value=entries[0].key if entries else None,
                                         label="Checkpoint (network)", elem_id="checkpoint")
                details = gr.Markdown(checkpoint_details(entries[0] if entries else None),
                                      elem_id="checkpoint-details")
                image = gr.Image(type="filepath", image_mode=None, label="Your picture",
                                 sources=["upload", "webcam", "clipboard"], height=320,
                                 elem_id="picture")
                button = gr.Button("Classify", variant="primary", elem_id="classify")
            with gr.Column():
                top5 = gr.Label(num_top_classes=5, label="Top 5 guesses", elem_id="top5")
                with gr.Row():
                    seen = gr.Image(label="What the network sees (32×32)", format="png", buttons=[],
                                    interactive=False, height=200, width=200, elem_id="network-input")
                    timing = gr.Markdown(elem_id="timing")
                with gr.Accordion("All ten probabilities", open=False):
                    everything = gr.Dataframe(interactive=False, elem_id="all-probabilities")
        with gr.Row():
            gr.Examples(examples("cifar10_test_"), inputs=image, examples_per_page=10,
                        label="CIFAR-10 test pictures (32×32, one per class)")
            gr.Examples(examples("photo_") + examples("drawing_"), inputs=image,
                        label="Larger photos and a drawing with a transparent background")

        outputs = [top5, everything, seen, timing]
        # preprocess=False: the upload arrives as Gradio's file record and read_upload decodes it
        # with the package's reader, so a bad file gets a clear message instead of a crash.
        # Classifying takes milliseconds and the model is shared: a few run side by side so a
        # class of thirty never waits long, even while a training run uses the CPUs.
        lang = [language] if language else []
        button.click(callbacks.classify, inputs=[image, checkpoint] + lang, outputs=outputs,
                     api_name="classify", preprocess=False, concurrency_limit=4,
                     concurrency_id="classify")
        switched = [language.change] if language else []
        gr.on([image.change, checkpoint.change] + switched, callbacks.classify_when_ready,
              inputs=[image, checkpoint] + lang, outputs=outputs, api_name="classify_when_ready",
              api_visibility="undocumented", preprocess=False, concurrency_limit=4,
              concurrency_id="classify", trigger_mode="always_last")
        gr.on([checkpoint.change] + switched, callbacks.describe_checkpoint,
              inputs=[checkpoint] + lang, outputs=details, api_name="describe_checkpoint",
              preprocess=False, concurrency_limit=None)
    return callbacks, checkpoint, details
