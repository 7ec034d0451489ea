"""Architecture tab: the layer table, its totals and the depthwise-separable story.

The figures are ``mobilenet.analysis``'s; this tab only names and formats them.
"""

import gradio as gr
import pandas as pd

from mobilenet.analysis import TUTORIAL_PARAMS, architecture_tables, paper_comparison, tutorial_difference
from mobilenet.config import DEPTHS, VARIANTS
from mobilenet.tradeoff import ALPHAS

from demo.i18n import T, t
from demo.widgets import COUNT, present
from demo.tabs import Tab

LATEX = [{"left": "$$", "right": "$$", "display": True}, {"left": "$", "right": "$", "display": False}]

LAYER_COLUMNS = {"name": ("architecture.layer_columns.name", None),
                 "type": ("architecture.layer_columns.type", None),
                 "output_shape": ("architecture.layer_columns.output_shape", None),
                 "params": ("architecture.layer_columns.params", COUNT),
                 "trainable": ("architecture.layer_columns.trainable", COUNT),
                 "non_trainable": ("architecture.layer_columns.non_trainable", COUNT),
                 "mult_adds": ("architecture.layer_columns.mult_adds", COUNT)}
TOTAL_COLUMNS = {"params": ("architecture.total_columns.params", COUNT),
                 "trainable": ("architecture.layer_columns.trainable", COUNT),
                 "non_trainable": ("architecture.layer_columns.non_trainable", COUNT),
                 "mult_adds": ("architecture.total_columns.mult_adds", COUNT),
                 "size_mb_float32": ("architecture.total_columns.size_mb_float32", "{:.2f}")}
BLOCK_COLUMNS = {"block": ("architecture.block_columns.block", None),
                 "M": ("architecture.block_columns.M", COUNT),
                 "N": ("architecture.block_columns.N", COUNT),
                 "Df": ("architecture.block_columns.Df", COUNT),
                 "standard_mult_adds": ("architecture.block_columns.standard_mult_adds", COUNT),
                 "separable_mult_adds": ("architecture.block_columns.separable_mult_adds", COUNT),
                 "standard_params": ("architecture.block_columns.standard_params", COUNT),
                 "separable_params": ("architecture.block_columns.separable_params", COUNT),
                 "ratio": ("architecture.block_columns.ratio", "{:.3f}")}
PAPER_COLUMNS = {"model": ("architecture.paper_columns.model", None),
                 "alpha": ("architecture.paper_columns.alpha", "{:g}"),
                 "resolution": ("architecture.paper_columns.resolution", None),
                 "imagenet_top1_%": ("architecture.paper_columns.top1", "{:.1f}"),
                 "million_mult_adds": ("architecture.paper_columns.mult_adds", COUNT),
                 "million_params": ("architecture.paper_columns.params", "{:.1f}"),
                 "ours_million_mult_adds_32px": ("architecture.paper_columns.ours_mult_adds", "{:.2f}"),
                 "ours_million_params": ("architecture.paper_columns.ours_params", "{:.2f}")}
# In pixels, wide enough for each header's longest word ("pixels" broke as "pixel s" when Gradio
# sized the columns by their numbers); on a phone the table scrolls sideways.
PAPER_WIDTHS = ["250px", "60px", "90px", "120px", "130px", "130px", "150px", "130px"]
# The paper's rows whose name is said differently in Chinese (``mobilenet.analysis.PAPER_REFERENCE``)
MODEL_NAMES = {"Conv MobileNet (standard convs)": "architecture.models.conv",
               "Shallow MobileNet": "architecture.models.shallow"}


def block_name(block, lang):
    """A block's name (``conv_dw_1 + conv_pw_1``); the totals row in ``lang``."""
    return t("architecture.total", lang) if block == "total" else block


def model_name(model, lang):
    return t(MODEL_NAMES[model], lang) if model in MODEL_NAMES else model


def show_architecture(variant, alpha, depth, lang):
    """Totals, layer table, block-by-block costs and the paper's figures beside ours, in ``lang``
    (the models are built once per configuration: ``architecture_tables`` is cached)."""
    table, totals, blocks = architecture_tables(variant, float(alpha), depth)
    blocks = blocks.assign(block=[block_name(block, lang) for block in blocks["block"]])
    paper = paper_comparison(variant)
    paper = paper.assign(model=[model_name(model, lang) for model in paper["model"]])
    return (present(pd.DataFrame([totals]), TOTAL_COLUMNS, lang),
            present(table, LAYER_COLUMNS, lang),
            present(blocks, BLOCK_COLUMNS, lang, bold_last_row=True),
            present(paper, PAPER_COLUMNS, lang))


def tutorial_note():
    """The tutorial note (``architecture.tutorial``) with our counts and the layer rows."""
    ours, tutorial, difference = tutorial_difference()
    rows = "\n".join(f"| `{r['name']}` | {r['type']} | {r['params']:,} | {r['trainable']:,} | "
                     f"{r['non_trainable']:,} |" for _, r in difference.iterrows())
    return T("architecture.tutorial", tutorial_params=TUTORIAL_PARAMS, ours=ours, tutorial=tutorial,
             difference=ours - tutorial, rows=rows)


class ArchitectureTab(Tab):
    tab_id = "architecture"

    # -- callbacks ---------------------------------------------------------------------------
    def summary(self, variant, alpha, depth="full", lang="en"):
        """The four tables of one configuration. The radios only let known values through
        (Gradio checks them against their choices)."""
        totals, layers, blocks, paper = show_architecture(variant, alpha, depth, lang)
        return {self.totals: totals, self.layers: layers, self.blocks: blocks, self.paper: paper}

    def relabel(self, lang, variant, alpha, depth):
        return self.summary(variant, alpha, depth, lang)

    # -- layout ------------------------------------------------------------------------------
    def build(self):
        totals, layers, blocks, paper = show_architecture("paper", 1.0, "full", "en")
        with gr.Tab(T("architecture.tab"), id=self.tab_id):
            gr.Markdown(T("architecture.intro"))
            with gr.Row():
                variant = gr.Radio(list(VARIANTS), value="paper", label=T("architecture.variant"),
                                   info=T("architecture.variant_info"), elem_id="architecture-variant")
                alpha = gr.Radio(list(ALPHAS), value=1.0, label=T("architecture.alpha"),
                                 info=T("architecture.alpha_info"), elem_id="architecture-alpha")
                depth = gr.Radio(list(DEPTHS), value="full", label=T("architecture.depth"),
                                 info=T("architecture.depth_info"), elem_id="architecture-depth")
            self.totals = gr.Dataframe(totals, label=T("architecture.totals"), interactive=False,
                                       elem_id="architecture-totals")
            self.layers = gr.Dataframe(layers, label=T("architecture.layers"), interactive=False, max_height=420,
                                       wrap=True, elem_id="architecture-layers")
            gr.Markdown(T("architecture.story"), latex_delimiters=LATEX)
            self.blocks = gr.Dataframe(blocks, label=T("architecture.blocks"), interactive=False, max_height=700,
                                       wrap=True, elem_id="architecture-blocks")
            gr.Markdown(T("architecture.paper_note"))
            self.paper = gr.Dataframe(paper, label=T("architecture.paper"), interactive=False, wrap=True,
                                      column_widths=PAPER_WIDTHS, elem_id="architecture-paper")
            gr.Markdown(tutorial_note())

        outputs = [self.totals, self.layers, self.blocks, self.paper]
        gr.on([variant.change, alpha.change, depth.change], self.summary,
              inputs=[variant, alpha, depth, self.lang], outputs=outputs, api_name="summary",
              concurrency_limit=2)  # building a model is CPU work: at most one per core
        self.relabel_inputs = {"variant": variant, "alpha": alpha, "depth": depth}
        self.relabel_outputs = outputs
