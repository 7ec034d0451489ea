"""Look inside tab: where the network looks (Grad-CAM), what its layers compute, its 3×3 kernels."""

import cv2
import gradio as gr
import numpy as np
import pandas as pd

from mobilenet.checkpoints import CheckpointError
from mobilenet.data import CLASS_NAMES
from mobilenet.explain import depthwise_kernels, feature_maps, grad_cam, map_layers, overlay
from mobilenet.inference import to_rgb_uint8
from mobilenet.model import last_spatial_layer

from demo.classify_tab import NO_CHECKPOINT, examples, read_upload
from demo.i18n import class_name, class_names, localize, tr

SHOWN_SIDE = 320  # small pictures are enlarged (nearest-neighbour) to about this side
MAX_SHOWN_SIDE = 800  # large ones are shrunk for display only: the heat map stays exact
PREDICTED = "predicted"
MAP_COLUMNS = ["block", "layers", "map", "channels"]

INTRO = """
### Look inside the network
Pick a picture (or an example below). **Where the network looks** colours the parts of the
picture that pushed it towards a class (red: strongly, blue: not at all), computed with
*Grad-CAM* on the last layer that still has a map. **Feature maps** show what one layer
computes: each square is one channel, bright where it responds. Deeper layers have smaller
maps and more channels.
"""

KERNELS_INTRO = """
### The 3×3 depthwise kernels
Each depthwise layer learns one 3×3 filter per channel; the pointwise layer after it mixes the
channels. Red is a positive weight, blue a negative one, white zero (each filter is scaled to
its own largest weight). Many first-block filters look like edge or spot detectors.
"""


def with_language(inputs, language):
    """An event's inputs, then the language radio when the page has one (callbacks take
    ``lang`` last, default English)."""
    return [*inputs, language] if language is not None else list(inputs)


def checkpoint_dropdown(catalog, current, lang="en"):
    """The checkpoint dropdown's choices now; keeps the selection while it is still listed."""
    entries = catalog.entries()
    keys = [entry.key for entry in entries]
    value = current if current in keys else (keys[0] if keys else None)
    return gr.Dropdown(choices=[(localize(entry.label, lang), entry.key) for entry in entries],
                       value=value)


def load_model(catalog, checkpoint, lang="en"):
    """The Keras model of a listed checkpoint (shared, cached), or a ``gr.Error``."""
    if not catalog.entries():
        raise gr.Error(tr(NO_CHECKPOINT, lang).replace("**", "").replace("`", ""),
                       title=tr("No network", lang))
    try:
        return catalog.classifier(catalog.find(checkpoint)).model
    except KeyError:
        raise gr.Error(tr("That checkpoint is not available any more: pick another one.", lang),
                       title=tr("Pick a checkpoint", lang)) from None
    except (CheckpointError, OSError) as error:
        raise gr.Error(tr("That checkpoint cannot be loaded ({error}): pick another one.", lang,
                          error=error), title=tr("Broken checkpoint", lang)) from None


def enlarge(picture, side=SHOWN_SIDE):
    """A small picture enlarged by a whole factor with nearest-neighbour: its pixels stay
    visible, and the network's 32×32 resize of it (area) gives back exactly the original."""
    factor = side // max(picture.shape[:2])
    return np.repeat(np.repeat(picture, factor, axis=0), factor, axis=1) if factor > 1 else picture


def shrink(picture, side=MAX_SHOWN_SIDE):
    scale = side / max(picture.shape[:2])
    if scale >= 1:
        return picture
    size = (max(1, round(picture.shape[1] * scale)), max(1, round(picture.shape[0] * scale)))
    return cv2.resize(picture, size, interpolation=cv2.INTER_AREA)


def short_name(layer):
    return layer.removesuffix("_relu")


def layer_kind(layer, lang="en"):
    return tr("stem: 3×3 convolution" if layer.startswith("conv1") else
              "depthwise 3×3" if layer.startswith("conv_dw") else "pointwise 1×1", lang)


def map_sizes(model, selected=None, lang="en"):
    """One row per block: its layers, output map and channels in → out; ``selected``'s row
    highlighted. Read top to bottom, the maps shrink and the channels grow."""
    def size(name):
        return "×".join(map(str, model.get_layer(name).output.shape[1:3]))

    rows = [(tr("input", lang), tr("picture", lang), "32×32", "3")]
    channels = 3
    stem = model.get_layer("conv1_relu").output.shape[3]
    rows.append((tr("stem", lang), "conv1", size("conv1_relu"), f"{channels} → {stem}"))
    channels = stem
    for block in block_choices(model):
        out = model.get_layer(f"conv_pw_{block}_relu").output.shape[3]
        rows.append((str(block), f"conv_dw_{block}, conv_pw_{block}", size(f"conv_pw_{block}_relu"),
                     f"{channels} → {out}"))
        channels = out
    frame = pd.DataFrame(rows, columns=[tr(column, lang) for column in MAP_COLUMNS])
    chosen = short_name(selected or "")
    return frame.style.apply(lambda row: ["background-color: rgba(37, 99, 235, 0.25)"
                                          if chosen and chosen in row.iloc[1].split(", ")
                                          else ""] * len(row), axis=1)


def layer_choices(model, lang="en"):
    return [(f"{short_name(name)} · {layer_kind(name, lang)}", name) for name in map_layers(model)]


def block_choices(model):
    return [int(layer.name.rsplit("_", 1)[1]) for layer in model.layers
            if layer.name.startswith("conv_dw_") and layer.name[8:].isdigit()]


def grad_cam_note(model, layer, class_index, probabilities, lang="en"):
    height, width = model.get_layer(layer).output.shape[1:3]
    predicted = int(np.argmax(probabilities))
    which = tr("**{name}**, the network's answer ({probability:.0%})" if class_index == predicted else
               "**{name}** (probability {probability:.1%}; the network's answer is {answer}, "
               "{answer_probability:.0%})", lang, name=class_name(CLASS_NAMES[class_index], lang),
               probability=probabilities[class_index], answer=class_name(CLASS_NAMES[predicted], lang),
               answer_probability=probabilities[predicted])
    lines = [tr("Where the network looks for {which}, from layer `{layer}` ({height}×{width} map).",
                lang, which=which, layer=short_name(layer), height=height, width=width)]
    last = map_layers(model)[-1]
    if layer != last:
        lines.append(tr("The last block (`{last}`) has a 1×1 map, which cannot say *where*; `{layer}` "
                        "is the last layer with a map larger than 1×1.", lang,
                        last=short_name(last), layer=short_name(layer)))
    if height * width <= 16:
        lines.append(tr("A {height}×{width} map is coarse: each cell covers about {cell_height}×"
                        "{cell_width} of the 32×32 pixels the network sees, so the colours say which "
                        "part of the picture mattered, not which detail.", lang, height=height,
                        width=width, cell_height=32 // height, cell_width=32 // width))
    return ("" if lang == "zh" else " ").join(lines)  # Chinese sentences end in "。", no space


# -- callbacks -----------------------------------------------------------------------------------

class ExplainCallbacks:
    def __init__(self, catalog):
        self.catalog = catalog

    def grad_cam(self, image, checkpoint, explained_class, lang="en"):
        """The Grad-CAM heat map over the picture, and a line saying what it shows."""
        if explained_class != PREDICTED and explained_class not in CLASS_NAMES:
            raise gr.Error(tr("Pick a class to explain: one of {classes}.", lang,
                              classes=", ".join(class_names(lang))), title=tr("Unknown class", lang))
        picture = enlarge(to_rgb_uint8(read_upload(image, lang)))
        model = load_model(self.catalog, checkpoint, lang)
        class_index = None if explained_class == PREDICTED else CLASS_NAMES.index(explained_class)
        shown = shrink(picture)  # a 40-megapixel photo's heat map would take 160 MB
        heatmap, layer, class_index, probabilities = grad_cam(
            model, picture, class_index, size=(shown.shape[1], shown.shape[0]))
        return overlay(shown, heatmap), grad_cam_note(model, layer, class_index, probabilities, lang)

    def feature_maps(self, image, checkpoint, layer, lang="en"):
        """One layer's activation maps as a grid, and its map size and channels."""
        picture = read_upload(image, lang)
        model = load_model(self.catalog, checkpoint, lang)
        layer = layer or last_spatial_layer(model)
        if layer not in map_layers(model):
            raise gr.Error(tr("This network has no layer {layer!r}: pick one from the list.", lang,
                              layer=str(layer)[:40]), title=tr("Unknown layer", lang))
        grid, info = feature_maps(model, picture, layer)
        shown = len(info["shown"])
        line = tr("**{layer}**: {height}×{width} map, {channels} channels ({kind}). Showing the {shown} "
                  "most active channels, strongest first; each is scaled to its own maximum (yellow: "
                  "strong, dark: zero)." if shown < info["channels"] else
                  "**{layer}**: {height}×{width} map, {channels} channels ({kind}). Showing every "
                  "channel, strongest first; each is scaled to its own maximum (yellow: strong, dark: "
                  "zero).", lang, layer=short_name(layer), height=info["height"], width=info["width"],
                  channels=info["channels"], kind=layer_kind(layer, lang), shown=shown)
        return grid, line, map_sizes(model, layer, lang)

    def kernels(self, checkpoint, block, lang="en"):
        """The 3×3 kernels of one block's depthwise layer as a grid."""
        model = load_model(self.catalog, checkpoint, lang)
        if block not in block_choices(model):
            raise gr.Error(tr("This network has no block {block!r}: pick one of {blocks}.", lang,
                              block=block if isinstance(block, int) else str(block)[:40],
                              blocks=", ".join(map(str, block_choices(model)))),
                           title=tr("Unknown block", lang))
        grid, info = depthwise_kernels(model, block)
        line = tr("**{layer}**: {kernels} kernels of 3×3, one per input channel (the first {shown} "
                  "shown)." if info["shown"] < info["kernels"] else
                  "**{layer}**: {kernels} kernels of 3×3, one per input channel.", lang, **info)
        return grid, line

    def look_when_ready(self, image, checkpoint, explained_class, layer, lang="en"):
        """Runs on every new picture, class or layer; without a picture it clears the views."""
        if image is None or not self.catalog.entries():
            return None, "", None, "", gr.skip()
        return (*self.grad_cam(image, checkpoint, explained_class, lang),
                *self.feature_maps(image, checkpoint, layer, lang))

    def choose_checkpoint(self, checkpoint, layer, block, lang="en"):
        """Layer and block lists of the chosen network (a shallow one lacks blocks 7-11)."""
        if not self.catalog.entries():
            return gr.skip(), gr.skip(), None, None, tr(NO_CHECKPOINT, lang)
        model = load_model(self.catalog, checkpoint, lang)
        layers, blocks = map_layers(model), block_choices(model)
        layer = layer if layer in layers else last_spatial_layer(model)
        block = block if block in blocks else blocks[0]
        return (gr.Dropdown(choices=layer_choices(model, lang), value=layer),
                gr.Dropdown(choices=blocks, value=block), map_sizes(model, layer, lang),
                *self.kernels(checkpoint, block, lang))

    def relabel(self, checkpoint, layer, block, lang="en"):
        """After a language switch: the checkpoint list, and the tab's texts once it was opened."""
        listing = checkpoint_dropdown(self.catalog, checkpoint, lang)
        if layer is None:  # the tab was never opened: opening it writes them
            return listing, *[gr.skip()] * 5
        return listing, *self.choose_checkpoint(checkpoint, layer, block, lang)


# -- layout -----------------------------------------------------------------------------------------

def build_explain_tab(catalog, language=None):
    callbacks = ExplainCallbacks(catalog)
    entries = catalog.entries()
    with gr.Tab("4 · Look inside", id="look-inside") as tab:
        gr.Markdown(INTRO)
        with gr.Row(elem_id="look-where"):
            with gr.Column():
                checkpoint = gr.Dropdown([(e.label, e.key) for e in entries],
                                         value=entries[0].key if entries else None,
                                         label="Checkpoint (network)", elem_id="look-checkpoint")
                image = gr.Image(type="filepath", image_mode=None, label="Your picture",
                                 sources=["upload", "webcam", "clipboard"], height=320,
                                 elem_id="look-picture")
                button = gr.Button("Look inside", variant="primary", elem_id="look-button")
            with gr.Column():
                explained = gr.Dropdown([("the network's answer", PREDICTED)] + list(CLASS_NAMES),
                                        value=PREDICTED, label="Explain the class",
                                        elem_id="explain-class")
                heatmap = gr.Image(label="Where the network looks (Grad-CAM)", format="png",
                                   interactive=False, buttons=["download"], height=320,
                                   elem_id="gradcam")
                note = gr.Markdown(elem_id="gradcam-note")
        gr.Examples(examples("cifar10_test_") + examples("photo_"), inputs=image,
                    examples_per_page=14, label="Example pictures")
        gr.Markdown("### Feature maps")
        with gr.Row(elem_id="look-feature-maps"):
            with gr.Column(scale=3):
                layer = gr.Dropdown([], label="Layer", elem_id="feature-layer")
                maps_line = gr.Markdown(elem_id="feature-info")
                grid = gr.Image(label="Activation maps, one square per channel", show_label=False,
                                format="png", interactive=False, buttons=["download"],
                                elem_id="feature-maps")
            with gr.Column(scale=2):
                sizes = gr.Dataframe(label="Maps shrink, channels grow (each block: a depthwise "
                                     "3×3, then a pointwise 1×1 layer)", interactive=False,
                                     max_height=640, elem_id="map-sizes")
        gr.Markdown(KERNELS_INTRO)
        with gr.Row(elem_id="look-kernels"):
            with gr.Column(scale=1):
                block = gr.Dropdown([], label="Block", elem_id="kernel-block")
                kernels_line = gr.Markdown(elem_id="kernel-info")
            with gr.Column(scale=2):
                kernels = gr.Image(label="Depthwise kernels", show_label=False, format="png",
                                   interactive=False, buttons=["download"], elem_id="kernels")

        # Grad-CAM and feature maps cost a tenth of a second each on the CPU the training
        # run also uses: two at a time keep a class responsive without starving training.
        # preprocess=False: the upload arrives as Gradio's file record, decoded by the package,
        # and the callbacks check the dropdowns' values against the chosen network themselves.
        limits = {"concurrency_limit": 2, "concurrency_id": "look-inside", "preprocess": False}
        tab.select(lambda current, lang="en": checkpoint_dropdown(catalog, current, lang),
                   inputs=with_language([checkpoint], language), outputs=checkpoint,
                   api_visibility="undocumented", concurrency_limit=None)
        views = [heatmap, note, grid, maps_line, sizes]
        look_inputs = with_language([image, checkpoint, explained, layer], language)
        checkpoint_views = [layer, block, sizes, kernels, kernels_line]
        gr.on([tab.select, checkpoint.change], callbacks.choose_checkpoint,
              inputs=with_language([checkpoint, layer, block], language), outputs=checkpoint_views,
              api_name="choose_checkpoint", api_visibility="undocumented", **limits).then(
            callbacks.look_when_ready, inputs=look_inputs, outputs=views,
            api_visibility="private", **limits)
        button.click(callbacks.grad_cam, inputs=with_language([image, checkpoint, explained], language),
                     outputs=[heatmap, note], api_name="grad_cam", **limits).success(
            callbacks.feature_maps, inputs=with_language([image, checkpoint, layer], language),
            outputs=[grid, maps_line, sizes], api_name="feature_maps", **limits)
        gr.on([image.change, explained.change, layer.change], callbacks.look_when_ready,
              inputs=look_inputs, outputs=views, api_name="look_when_ready",
              api_visibility="undocumented", trigger_mode="always_last", **limits)
        block.change(callbacks.kernels, inputs=with_language([checkpoint, block], language),
                     outputs=[kernels, kernels_line], api_name="depthwise_kernels", **limits)
        if language is not None:
            language.change(callbacks.relabel, inputs=[checkpoint, layer, block, language],
                            outputs=[checkpoint, *checkpoint_views], api_visibility="private",
                            show_progress="hidden", **limits).then(
                callbacks.look_when_ready, inputs=look_inputs, outputs=views,
                api_visibility="private", show_progress="hidden", **limits)
    return callbacks
