"""Look inside tab: where the network looks (Grad-CAM), what its layers compute, its 3×3 kernels.

What the network is made of (its layers, blocks and map sizes) comes from ``mobilenet.explain``;
how it is shown, in which language, from ``demo.tabs.look_inside_view``.
"""

import gradio as gr

from mobilenet.data import CLASS_NAMES

from classroom import work
from classroom.inputs import choices_change
from demo.i18n import T, class_names, t
from demo.tabs import PRIVATE, Tab
from demo.tabs.look_inside_view import (MAX_SHOWN_SIDE, SHOWN_SIDE, gradcam_note, kernels_line, kernels_seen,
                                        layer_choices, maps_line, maps_seen, sizes_table)
from demo.widgets import MAX_MEGAPIXELS, answers, examples, picture_file, picture_input, upload_path

PREDICTED = "predicted"
# Grad-CAM and feature maps cost a tenth of a second each in a quick worker (classroom.work), one
# request per worker at a time (the gradient tape is not safe in threads). preprocess=False: the
# upload arrives as Gradio's file record, read in the worker, and the callbacks check the
# dropdowns' values against the chosen network themselves.
LIMITS = {"concurrency_limit": 2, "concurrency_id": "look-inside", "preprocess": False}
MAX_PIXELS = MAX_MEGAPIXELS * 1_000_000


class LookInsideTab(Tab):
    tab_id = "look-inside"

    # -- callbacks ---------------------------------------------------------------------------
    def network(self, checkpoint, lang):
        """(entry, structure) of ``checkpoint``: its map layers, blocks, map-size rows and the layer
        shown first (kept in a ``gr.State`` for a language switch), or the picker's ``gr.Error``."""
        entry = self.picker.entry(checkpoint, lang)
        with answers(lang, self.picker, entry):
            return entry, self.work.quick.call(work.structure, entry.path)

    def grad_cam(self, image, checkpoint, explained_class, lang="en"):
        """The Grad-CAM heat map over the picture, a line saying what it shows, and its data."""
        if explained_class != PREDICTED and explained_class not in CLASS_NAMES:
            raise gr.Error(t("look_inside.errors.unknown_class", lang, classes=", ".join(class_names(lang))),
                           title=t("look_inside.errors.unknown_class_title", lang))
        entry = self.picker.entry(checkpoint, lang)
        path, name = upload_path(image, lang)
        class_index = None if explained_class == PREDICTED else CLASS_NAMES.index(explained_class)
        with answers(lang, self.picker, entry, name):
            shown, seen = self.work.quick.call(work.grad_cam, path, entry.path, MAX_PIXELS, class_index,
                                               SHOWN_SIDE, MAX_SHOWN_SIDE)
        return {self.heatmap: picture_file(shown, "gradcam.png"), self.note: gradcam_note(seen, lang),
                self.gradcam_state: seen}

    def feature_maps(self, image, checkpoint, layer, lang="en"):
        """One layer's activation maps as a grid, its map size and channels, the map-size table,
        and the line's data."""
        path, name = upload_path(image, lang)
        entry, listed = self.network(checkpoint, lang)
        layer = layer or listed["default"]
        if layer not in listed["layers"]:
            raise gr.Error(t("look_inside.errors.unknown_layer", lang, layer=str(layer)[:40]),
                           title=t("look_inside.errors.unknown_layer_title", lang))
        with answers(lang, self.picker, entry, name):
            grid, info = self.work.quick.call(work.feature_maps, path, entry.path, MAX_PIXELS, layer)
        seen = maps_seen(info)
        return {self.grid: picture_file(grid, "feature_maps.png"), self.maps_info: maps_line(seen, lang),
                self.sizes: sizes_table(listed["table"], layer, lang), self.maps_state: seen}

    def block_kernels(self, entry, listed, block, lang):
        """(grid, line, data) of the 3×3 kernels of one block's depthwise layer."""
        blocks = listed["blocks"]
        if block not in blocks:
            raise gr.Error(t("look_inside.errors.unknown_block", lang,
                             block=block if isinstance(block, int) else str(block)[:40],
                             blocks=", ".join(map(str, blocks))),
                           title=t("look_inside.errors.unknown_block_title", lang))
        with answers(lang, self.picker, entry):
            grid, info = self.work.quick.call(work.kernels, entry.path, blocks[blocks.index(block)])  # 1.0, True: 1
        seen = kernels_seen(info)
        return picture_file(grid, "kernels.png"), kernels_line(seen, lang), seen

    def kernels(self, checkpoint, block, lang="en"):
        """The 3×3 kernels of one block's depthwise layer as a grid, and a line about them."""
        grid, line, seen = self.block_kernels(*self.network(checkpoint, lang), block, lang)
        return {self.kernels_image: grid, self.kernels_info: line, self.kernels_state: seen}

    def look_when_ready(self, image, checkpoint, explained_class, layer, lang="en"):
        """Runs on every new picture, class or layer; without a picture it clears the views (the
        map-size table stays: it belongs to the network)."""
        if image is None or not self.catalog.entries():
            return {self.heatmap: None, self.note: "", self.gradcam_state: None, self.grid: None, self.maps_info: "",
                    self.maps_state: None}
        return {**self.grad_cam(image, checkpoint, explained_class, lang),
                **self.feature_maps(image, checkpoint, layer, lang)}

    def checkpoint_views(self, checkpoint, layer, block, lang):
        """The chosen network's structure, the layer and block (kept while the network has them),
        its map-size table and kernels (grid, line, data)."""
        entry, listed = self.network(checkpoint, lang)
        layer = layer if layer in listed["layers"] else listed["default"]
        block = block if block in listed["blocks"] else listed["blocks"][0]
        return (listed, layer, block, sizes_table(listed["table"], layer, lang),
                *self.block_kernels(entry, listed, block, lang))

    def choose_checkpoint(self, checkpoint, layer, block, lang="en"):
        """Layer and block lists of the chosen network (a shallow one lacks blocks 7-11)."""
        if not self.catalog.entries():
            return {self.sizes: None, self.kernels_image: None, self.kernels_info: t("page.checkpoint.none", lang),
                    self.kernels_state: None}
        listed, layer, block, sizes, grid, line, seen = self.checkpoint_views(checkpoint, layer, block, lang)
        return {self.layer: gr.Dropdown(choices=layer_choices(listed["layers"], lang), value=layer),
                self.block: gr.Dropdown(choices=listed["blocks"], value=block), self.sizes: sizes,
                self.kernels_image: grid, self.kernels_info: line, self.listed_state: listed, self.kernels_state: seen}

    def opening(self):
        """What the tab shows before any event, from the first checkpoint (as ``checkpoint_views``):
        a page opened on this tab (``?tab=look-inside``) fires no ``tab.select``."""
        entries = self.catalog.entries()
        try:
            return self.checkpoint_views(entries[0].key, None, None, "en") if entries else None
        except gr.Error:  # a broken checkpoint: said when the tab is used
            return None

    def relabel(self, lang, checkpoint, layer, listed, gradcam, maps, kernels):
        """The texts in ``lang`` from the data they were made from: nothing is computed again."""
        texts = {self.checkpoint: self.picker.choices(checkpoint, lang), self.note: gradcam_note(gradcam, lang),
                 self.maps_info: maps_line(maps, lang),
                 self.kernels_info: kernels_line(kernels, lang) if kernels or self.catalog.entries()
                 else t("page.checkpoint.none", lang)}
        if not listed:
            return texts
        return {**texts, self.layer: gr.Dropdown(choices=layer_choices(listed["layers"], lang), value=layer),
                self.sizes: sizes_table(listed["table"], layer, lang)}

    # -- layout ------------------------------------------------------------------------------
    def build(self):
        listed, first_layer, first_block, first_sizes, first_kernels, first_line, first_seen = (
            self.opening() or (None, None, None, None, None, "", None))
        with gr.Tab(T("look_inside.tab"), id=self.tab_id) as tab:
            gr.Markdown(T("look_inside.intro"))
            with gr.Row(elem_id="look-where"):
                with gr.Column():
                    self.checkpoint = checkpoint = self.picker.build("look-checkpoint")
                    image = picture_input("look-picture")
                    button = gr.Button(T("look_inside.look"), variant="primary", elem_id="look-button")
                with gr.Column():
                    explained = gr.Dropdown([(T("look_inside.answer"), PREDICTED)]
                                            + [(T(f"page.classes.{name}"), name) for name in CLASS_NAMES],
                                            value=PREDICTED, label=T("look_inside.explain_class"),
                                            elem_id="explain-class")
                    self.heatmap = heatmap = gr.Image(label=T("look_inside.gradcam"), format="png", interactive=False,
                                                      buttons=["download"], height=320, elem_id="gradcam")
                    self.note = note = gr.Markdown(elem_id="gradcam-note")
            gr.Examples(examples("cifar10_test_") + examples("photo_"), inputs=image, examples_per_page=14,
                        label=T("look_inside.examples"))
            gr.Markdown(T("look_inside.feature_maps"))
            with gr.Row(elem_id="look-feature-maps"):
                with gr.Column(scale=3):
                    self.layer = layer = choices_change(gr.Dropdown(
                        layer_choices(listed["layers"], "en") if listed else [], value=first_layer,
                        label=T("look_inside.layer"), elem_id="feature-layer"))
                    self.maps_info = maps_info = gr.Markdown(elem_id="feature-info")
                    self.grid = grid = gr.Image(label=T("look_inside.activation_maps"), show_label=False,
                                                format="png", interactive=False, buttons=["download"],
                                                elem_id="feature-maps")
                with gr.Column(scale=2):
                    self.sizes = sizes = gr.Dataframe(first_sizes, label=T("look_inside.sizes"), interactive=False,
                                                      max_height=640, elem_id="map-sizes")
            gr.Markdown(T("look_inside.kernels_intro"))
            with gr.Row(elem_id="look-kernels"):
                with gr.Column(scale=1):
                    self.block = block = choices_change(gr.Dropdown(
                        listed["blocks"] if listed else [], value=first_block, label=T("look_inside.block"),
                        elem_id="kernel-block"))
                    self.kernels_info = kernels_info = gr.Markdown(first_line, elem_id="kernel-info")
                with gr.Column(scale=2):
                    self.kernels_image = kernels = gr.Image(
                        first_kernels, label=T("look_inside.kernels"), show_label=False, format="png",
                        interactive=False, buttons=["download"], elem_id="kernels")
            # What the texts were made from, for a language switch (look_inside_view)
            self.listed_state = listed_state = gr.State(listed)
            self.gradcam_state = gradcam_state = gr.State(None)
            self.maps_state = maps_state = gr.State(None)
            self.kernels_state = kernels_state = gr.State(first_seen)

        tab.select(self.picker.choices, inputs=[checkpoint, self.lang], outputs=checkpoint,
                   concurrency_limit=None, **PRIVATE)
        views = [heatmap, note, gradcam_state, grid, maps_info, sizes, maps_state]
        look_inputs = [image, checkpoint, explained, layer, self.lang]
        # The lists are filled when the page is built; a network listed later (the tab's select
        # refreshes the list) changes the dropdown's value, which fills them again.
        gr.on([checkpoint.change], self.choose_checkpoint,
              inputs=[checkpoint, layer, block, self.lang],
              outputs=[layer, block, sizes, kernels, kernels_info, listed_state, kernels_state],
              api_name="choose_checkpoint", api_visibility="undocumented", **LIMITS).then(
            self.look_when_ready, inputs=look_inputs, outputs=views, api_name="look_after_choosing", **PRIVATE,
            **LIMITS)  # a name of its own: Gradio would give it "look_when_ready", the API's
        button.click(self.grad_cam, inputs=[image, checkpoint, explained, self.lang],
                     outputs=[heatmap, note, gradcam_state], api_name="grad_cam", **LIMITS).success(
            self.feature_maps, inputs=[image, checkpoint, layer, self.lang],
            outputs=[grid, maps_info, sizes, maps_state], api_name="feature_maps", **LIMITS)
        gr.on([image.change, explained.change, layer.change], self.look_when_ready, inputs=look_inputs,
              outputs=views, api_name="look_when_ready", api_visibility="undocumented",
              trigger_mode="always_last", **LIMITS)
        block.change(self.kernels, inputs=[checkpoint, block, self.lang],
                     outputs=[kernels, kernels_info, kernels_state], api_name="depthwise_kernels", **LIMITS)
        self.relabel_inputs = {"checkpoint": checkpoint, "layer": layer, "listed": listed_state,
                               "gradcam": gradcam_state, "maps": maps_state, "kernels": kernels_state}
        self.relabel_outputs = [checkpoint, layer, sizes, note, maps_info, kernels_info]
