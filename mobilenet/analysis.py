"""Per-layer table and cost analysis of a MobileNet (what the Architecture panel shows).

Mult-Adds count multiply-accumulates of the layers that do them: Conv2D,
DepthwiseConv2D and Dense. BatchNormalization, ReLU6, pooling and dropout
count zero, as in the MobileNets paper (Tables 2-8): the BN of a trained
model folds into the preceding convolution, and the rest is cheap.

``architecture_tables(variant, alpha, depth)`` is everything the panel shows of one
configuration; ``paper_comparison`` puts our figures beside the paper's, and
``tutorial_difference`` explains why the tutorial counts 128 parameters fewer.
"""

import functools
import re
import math

import pandas as pd
from keras import layers

from mobilenet.model import build_mobilenet

# The MobileNets paper (Howard et al., 2017), ImageNet top-1 at 224x224.
# Table 4 (full conv vs MobileNet) and Table 6 (width multiplier).
PAPER_REFERENCE = pd.DataFrame(
    [
        ("Conv MobileNet (standard convs)", 1.0, "full", 224, 71.7, 4866, 29.3),
        ("1.0 MobileNet-224", 1.0, "full", 224, 70.6, 569, 4.2),
        ("Shallow MobileNet", 1.0, "shallow", 224, 65.3, 307, 2.9),
        ("0.75 MobileNet-224", 0.75, "full", 224, 68.4, 325, 2.6),
        ("0.5 MobileNet-224", 0.5, "full", 224, 63.7, 149, 1.3),
        ("0.25 MobileNet-224", 0.25, "full", 224, 50.6, 41, 0.5),
    ],
    columns=["model", "alpha", "depth", "resolution", "imagenet_top1_%", "million_mult_adds",
             "million_params"],
)

TUTORIAL_PARAMS = 3_238_986  # printed by the tutorial's model.summary()

TABLE_COLUMNS = ["name", "type", "output_shape", "params", "trainable", "non_trainable",
                 "mult_adds"]


def layer_mult_adds(layer):
    """Multiply-accumulates of one forward pass of ``layer`` for one image."""
    if isinstance(layer, layers.DepthwiseConv2D):
        kh, kw = layer.kernel_size
        _, h, w, c_out = layer.output.shape
        return kh * kw * c_out * h * w
    if isinstance(layer, layers.Conv2D):
        kh, kw = layer.kernel_size
        c_in = layer.input.shape[-1] // layer.groups
        _, h, w, c_out = layer.output.shape
        return kh * kw * c_in * c_out * h * w
    if isinstance(layer, layers.Dense):
        return layer.input.shape[-1] * layer.units
    return 0


def layer_table(model):
    """One row per layer: name, type, output shape, parameters, Mult-Adds.

    Returns a DataFrame with columns ``TABLE_COLUMNS``. Totals are in
    ``model_totals``.
    """
    rows = []
    for layer in model.layers:
        trainable = sum(math.prod(w.shape) for w in layer.trainable_weights)
        non_trainable = sum(math.prod(w.shape) for w in layer.non_trainable_weights)
        shape = tuple(layer.output.shape[1:])
        rows.append({
            "name": layer.name,
            "type": type(layer).__name__,
            "output_shape": " x ".join(str(d) for d in shape),
            "params": trainable + non_trainable,
            "trainable": trainable,
            "non_trainable": non_trainable,
            "mult_adds": layer_mult_adds(layer),
        })
    return pd.DataFrame(rows, columns=TABLE_COLUMNS)


def model_totals(table):
    """Totals of a ``layer_table``: parameters, Mult-Adds and float32 size."""
    params = int(table["params"].sum())
    return {
        "params": params,
        "trainable": int(table["trainable"].sum()),
        "non_trainable": int(table["non_trainable"].sum()),
        "mult_adds": int(table["mult_adds"].sum()),
        "size_mb_float32": params * 4 / 1e6,
    }


def cost_comparison(model, kernel_size=3):
    """Each depthwise separable block against the standard convolution it replaces.

    With Dk the kernel size, M input channels, N output channels and Df the
    output feature map size (the tutorial's and the paper's notation):
      standard  = Dk² · M · N · Df²         parameters Dk² · M · N
      separable = Dk² · M · Df² + M · N · Df² parameters Dk² · M + M · N
      separable / standard = 1/N + 1/Dk²
    Returns one row per block plus a final "total" row.
    """
    rows = []
    block_ids = [int(layer.name.rsplit("_", 1)[1]) for layer in model.layers
                 if re.fullmatch(r"conv_dw_\d+", layer.name)]  # 1-13, or 1-6, 12, 13 if shallow
    for block_id in block_ids:
        dw = model.get_layer(f"conv_dw_{block_id}")
        pw = model.get_layer(f"conv_pw_{block_id}")
        m, n = dw.input.shape[-1], pw.output.shape[-1]
        df = dw.output.shape[1]
        dk2 = kernel_size * kernel_size
        rows.append({
            "block": f"conv_dw_{block_id} + conv_pw_{block_id}",
            "M": m, "N": n, "Df": df,
            "standard_mult_adds": dk2 * m * n * df * df,
            "separable_mult_adds": dk2 * m * df * df + m * n * df * df,
            "standard_params": dk2 * m * n,
            "separable_params": dk2 * m + m * n,
            "ratio": 1 / n + 1 / dk2,
        })
    table = pd.DataFrame(rows)
    total = table[["standard_mult_adds", "separable_mult_adds", "standard_params",
                   "separable_params"]].sum()
    total_row = {"block": "total", "M": None, "N": None, "Df": None, **total.to_dict(),
                 "ratio": total["separable_mult_adds"] / total["standard_mult_adds"]}
    return pd.concat([table, pd.DataFrame([total_row])], ignore_index=True)


def compare_tables(ours, theirs):
    """Rows of ``ours`` whose name is missing from ``theirs`` or whose parameters differ.

    ``compare_tables(layer_table(model), layer_table(seed_model))`` shows where
    the tutorial's 128 missing parameters went (``conv1_bn``).
    """
    merged = ours.merge(theirs[["name", "params"]], on="name", how="left",
                        suffixes=("", "_other"))
    differ = merged["params_other"].isna() | (merged["params"] != merged["params_other"])
    return merged.loc[differ & (merged["params"] > 0),
                      ["name", "type", "params", "trainable", "non_trainable"]]


@functools.lru_cache(maxsize=32)
def architecture_tables(variant="paper", alpha=1.0, depth="full"):
    """(``layer_table``, ``model_totals``, ``cost_comparison``) of one CIFAR-10 configuration.

    Builds the model (about 0.2 s); cached per configuration, so the results are shared:
    read them, do not change them.
    """
    model = build_mobilenet(alpha=alpha, variant=variant, depth=depth)
    table = layer_table(model)
    return table, model_totals(table), cost_comparison(model)


def with_standard_convs(totals, blocks):
    """(Mult-Adds, parameters) of a model of ``model_totals`` ``totals`` had each of its
    depthwise separable blocks been a standard convolution (``blocks``: its
    ``cost_comparison``, whose last row is the total): the paper's "Conv MobileNet"."""
    total = blocks.iloc[-1]
    return (totals["mult_adds"] + total["standard_mult_adds"] - total["separable_mult_adds"],
            totals["params"] + total["standard_params"] - total["separable_params"])


def paper_comparison(variant="paper"):
    """``PAPER_REFERENCE`` with our figures at 32×32 for the same α and depth beside each row.

    Adds ``ours_million_mult_adds_32px`` and ``ours_million_params`` (millions); the
    "Conv MobileNet" row counts our model with standard convolutions (``with_standard_convs``).
    """
    rows = []
    for _, paper in PAPER_REFERENCE.iterrows():
        _, totals, blocks = architecture_tables(variant, float(paper["alpha"]), paper["depth"])
        mult_adds, params = totals["mult_adds"], totals["params"]
        if paper["model"].startswith("Conv MobileNet"):
            mult_adds, params = with_standard_convs(totals, blocks)
        rows.append({**paper.to_dict(), "ours_million_mult_adds_32px": mult_adds / 1e6,
                     "ours_million_params": params / 1e6})
    return pd.DataFrame(rows)


@functools.lru_cache(maxsize=1)
def tutorial_difference():
    """(our parameters, the tutorial's, the layers that make the difference).

    The tutorial's ``conv_block`` computes ``BatchNormalization()(x)`` and drops the result,
    so its model lacks the stem's BN: rebuilt that way (``seed_bn_bug=True``) it counts
    ``TUTORIAL_PARAMS``. The layers are ``compare_tables`` rows (``conv1_bn``). Cached.
    """
    ours = layer_table(build_mobilenet())
    tutorial = layer_table(build_mobilenet(seed_bn_bug=True))
    return (model_totals(ours)["params"], model_totals(tutorial)["params"],
            compare_tables(ours, tutorial))
