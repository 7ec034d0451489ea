"""Architecture tab: the layer table, its totals and the depthwise-separable story."""

import functools

import gradio as gr
import pandas as pd

from mobilenet.analysis import PAPER_REFERENCE, compare_tables, cost_comparison, layer_table, model_totals
from mobilenet.model import DEPTHS, VARIANTS, build_mobilenet

from demo.i18n import add_translation, tr

ALPHAS = (0.25, 0.5, 0.75, 1.0)
TUTORIAL_PARAMS = 3_238_986  # printed by the tutorial's model.summary()

INTRO = """
### What is inside MobileNet?
MobileNet is built for phones: it replaces almost every ordinary 3×3 convolution by a
**depthwise** 3×3 convolution (one small filter per channel) followed by a **pointwise** 1×1
convolution (which mixes the channels). The table lists every layer of the network as it runs
on a 32×32 CIFAR-10 picture: its output shape, how many numbers it learns (*parameters*) and
how many multiply-adds one picture costs (*Mult-Adds*).
Change **α** (the width multiplier: every layer keeps α of its filters), the **variant** or the
**depth** and watch the totals move.
"""

STORY = r"""
### Why depthwise separable convolutions are cheap
A standard convolution with a $D_K \times D_K$ kernel, $M$ input channels, $N$ output channels
and a $D_F \times D_F$ output map costs

$$\text{standard} = D_K^2 \cdot M \cdot N \cdot D_F^2$$

Split into a depthwise and a pointwise step it costs

$$\text{separable} = D_K^2 \cdot M \cdot D_F^2 + M \cdot N \cdot D_F^2$$

so the separable version needs only

$$\frac{\text{separable}}{\text{standard}} = \frac{1}{N} + \frac{1}{D_K^2}$$

of the work: with 3×3 kernels ($D_K^2 = 9$) and hundreds of channels, about **8 to 9 times
fewer** Mult-Adds. The table below checks this for each block of the model above
(*ratio* = separable / standard).
"""

PAPER_NOTE = """
### The paper's figures beside ours
The MobileNets paper (Howard et al., 2017) measured ImageNet pictures of 224×224 pixels with
1000 classes. Our pictures are 32×32 with 10 classes, so **Mult-Adds shrink with the picture
area** (the *paper* variant at 32×32 costs about (224/32)² = 49 times less than at 224×224),
while the parameters depend on the layers, not on the picture (ours are lower mainly because
the classifier has 10 outputs instead of 1000). Accuracy is the paper's, on ImageNet; see the
Train tab for CIFAR-10.
"""


@functools.lru_cache(maxsize=32)
def architecture_tables(variant, alpha, depth="full"):
    """(layer table, totals, block comparison) of one configuration; cached, rebuilt in ~0.2 s."""
    model = build_mobilenet(alpha=alpha, variant=variant, depth=depth)
    table = layer_table(model)
    return table, model_totals(table), cost_comparison(model)


def paper_comparison(variant):
    """The paper's reference rows with our own figures at 32×32 for the same α."""
    rows = []
    for _, paper in PAPER_REFERENCE.iterrows():
        _, totals, blocks = architecture_tables(variant, float(paper["alpha"]), paper["depth"])
        mult_adds, params = totals["mult_adds"], totals["params"]
        if paper["model"].startswith("Conv MobileNet"):  # every block back to a standard conv
            block_totals = blocks.iloc[-1]
            mult_adds += block_totals["standard_mult_adds"] - block_totals["separable_mult_adds"]
            params += block_totals["standard_params"] - block_totals["separable_params"]
        rows.append({**paper.to_dict(), "ours_million_mult_adds_32px": mult_adds / 1e6,
                     "ours_million_params": params / 1e6})
    return pd.DataFrame(rows)


def tutorial_difference():
    """The row behind 3,238,986 (tutorial) vs our count: the stem BN the tutorial drops."""
    ours = layer_table(build_mobilenet())
    tutorial = layer_table(build_mobilenet(seed_bn_bug=True))
    return ours, tutorial, compare_tables(ours, tutorial)


COUNT = "{:,.0f}"
LAYER_COLUMNS = {"name": ("name", None), "type": ("type", None),
                 "output_shape": ("output shape", None), "params": ("parameters", COUNT),
                 "trainable": ("trainable", COUNT), "non_trainable": ("non-trainable", COUNT),
                 "mult_adds": ("Mult-Adds", COUNT)}
TOTAL_COLUMNS = {"params": ("total parameters", COUNT), "trainable": ("trainable", COUNT),
                 "non_trainable": ("non-trainable", COUNT), "mult_adds": ("Mult-Adds per image", COUNT),
                 "size_mb_float32": ("size (MB, float32)", "{:.2f}")}
BLOCK_COLUMNS = {"block": ("block", None), "M": ("M (in)", COUNT), "N": ("N (out)", COUNT),
                 "Df": ("Df", COUNT), "standard_mult_adds": ("standard Mult-Adds", COUNT),
                 "separable_mult_adds": ("separable Mult-Adds", COUNT),
                 "standard_params": ("standard params", COUNT),
                 "separable_params": ("separable params", COUNT),
                 "ratio": ("ratio", "{:.3f}")}
PAPER_COLUMNS = {"model": ("model", None), "alpha": ("α", "{:g}"), "resolution": ("pixels", None),
                 "imagenet_top1_%": ("ImageNet top-1 %", "{:.1f}"),
                 "million_mult_adds": ("paper: M Mult-Adds", COUNT),
                 "million_params": ("paper: M params", "{:.1f}"),
                 "ours_million_mult_adds_32px": ("ours 32×32: M Mult-Adds", "{:.2f}"),
                 "ours_million_params": ("ours: M params", "{:.2f}")}


TRANSLATED_CELLS = ("model", "block")  # columns whose words are shown translated


def present(frame, columns, bold_last_row=False, lang="en"):
    """``frame`` with readable column names (in ``lang``) and number formats (the data stay
    numbers)."""
    frame = frame[list(columns)].copy()
    for column in TRANSLATED_CELLS:
        if column in frame:
            frame[column] = [tr(cell, lang) for cell in frame[column]]
    names = {key: tr(name, lang) for key, (name, _) in columns.items()}
    frame = frame.rename(columns=names)
    formats = {names[key]: fmt for key, (_, fmt) in columns.items() if fmt}
    styler = frame.style.format(formats, na_rep="")
    if bold_last_row:
        styler = styler.apply(lambda row: ["font-weight: bold" if row.name == len(frame) - 1 else ""]
                              * len(row), axis=1)
    return styler


# -- callbacks ------------------------------------------------------------------------------

def show_architecture(variant, alpha, depth="full", lang="en"):
    """Totals, layer table, block-by-block costs and paper comparison of one model.

    The radios only let known values through (Gradio checks them against their choices).
    """
    table, totals, blocks = architecture_tables(variant, float(alpha), depth)
    return (present(pd.DataFrame([totals]), TOTAL_COLUMNS, lang=lang),
            present(table, LAYER_COLUMNS, lang=lang),
            present(blocks, BLOCK_COLUMNS, bold_last_row=True, lang=lang),
            present(paper_comparison(variant), PAPER_COLUMNS, lang=lang))


# -- layout -----------------------------------------------------------------------------------

def build_architecture_tab(language=None):
    with gr.Tab("1 · Architecture", id="architecture"):
        gr.Markdown(INTRO)
        with gr.Row():
            variant = gr.Radio(list(VARIANTS), value="paper", label="Variant", elem_id="architecture-variant",
                               info="paper: first convolution has stride 2 (the tutorial's); "
                                    "cifar: stride 1, 4× the Mult-Adds")
            alpha = gr.Radio(list(ALPHAS), value=1.0, label="Width multiplier α",
                             info="every layer keeps α of its filters", elem_id="architecture-alpha")
            depth = gr.Radio(list(DEPTHS), value="full", label="Depth", elem_id="architecture-depth",
                             info="full: 13 blocks; shallow: the paper's Table 4, without the "
                                  "five repeated 512-filter blocks 7-11")
        initial = show_architecture("paper", 1.0, "full")
        totals = gr.Dataframe(initial[0], label="Totals", interactive=False,
                              elem_id="architecture-totals")
        layers = gr.Dataframe(initial[1], label="Layers", interactive=False, max_height=420,
                              wrap=True, elem_id="architecture-layers")
        gr.Markdown(STORY, latex_delimiters=[{"left": "$$", "right": "$$", "display": True},
                                             {"left": "$", "right": "$", "display": False}])
        blocks = gr.Dataframe(initial[2], label="Each block: standard convolution vs depthwise separable",
                              interactive=False, max_height=700, wrap=True,
                              elem_id="architecture-blocks")
        gr.Markdown(PAPER_NOTE)
        paper = gr.Dataframe(initial[3], label="MobileNets paper (ImageNet, 224×224) and ours (32×32)",
                             interactive=False, wrap=True, elem_id="architecture-paper")
        gr.Markdown(tutorial_note())
        add_translation(tutorial_note(), tutorial_note("zh"))

        triggers = [variant.change, alpha.change, depth.change] + ([language.change] if language else [])
        gr.on(triggers, show_architecture, inputs=[variant, alpha, depth] + ([language] if language else []),
              outputs=[totals, layers, blocks, paper], api_name="summary",
              concurrency_limit=2)  # building a model is CPU work: at most one per core
    return variant, alpha, (totals, layers, blocks, paper)


def tutorial_note(lang="en"):
    ours, tutorial, difference = tutorial_difference()
    ours_total, tutorial_total = model_totals(ours)["params"], model_totals(tutorial)["params"]
    rows = "\n".join(f"| `{r['name']}` | {r['type']} | {r['params']:,} | {r['trainable']:,} | "
                     f"{r['non_trainable']:,} |" for _, r in difference.iterrows())
    if lang == "zh":
        return f"""
### 为什么教程数出 {TUTORIAL_PARAMS:,} 个参数，而我们数出 {ours_total:,} 个
教程的 `conv_block` 调用了 `BatchNormalization()(x)`，却把结果丢掉了，所以第一个卷积没有经过
归一化就直接进入 ReLU6，那个 BatchNormalization 层也从未进入网络。按那种写法重建后，我们的模型
有 **{tutorial_total:,}** 个参数，正好是教程的数字。相差的 {ours_total - tutorial_total:,} 个参数
就是这一层（4 × 32：缩放、平移、滑动均值、滑动方差），我们的模型用上了它：

| 层 | 类型 | 参数 | 可训练 | 不可训练 |
|---|---|---|---|---|
{rows}
"""
    return f"""
### Why the tutorial counts {TUTORIAL_PARAMS:,} parameters and we count {ours_total:,}
The tutorial's `conv_block` calls `BatchNormalization()(x)` and throws the result away, so the
first convolution feeds ReLU6 without normalisation and that BatchNormalization layer never
enters the network. Rebuilt that way, our model has **{tutorial_total:,}** parameters, exactly
the tutorial's count. The {ours_total - tutorial_total:,} parameters of difference are one layer
(4 × 32: scale, shift, moving mean, moving variance), which our model uses:

| layer | type | parameters | trainable | non-trainable |
|---|---|---|---|---|
{rows}
"""
