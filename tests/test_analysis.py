import pytest

from mobilenet.analysis import (PAPER_REFERENCE, compare_tables, cost_comparison, layer_table,
                                model_totals)
from mobilenet.model import build_mobilenet


def totals(**kwargs):
    return model_totals(layer_table(build_mobilenet(**kwargs)))


def test_imagenet_figures_match_the_paper():
    t = totals(classes=1000, input_shape=(224, 224, 3))
    assert t["mult_adds"] == pytest.approx(569e6, rel=0.002)  # paper Table 4: 569 M
    assert t["params"] == 4_253_864  # 4.2 M (paper), keras.applications with BN
    assert t["trainable"] + t["non_trainable"] == t["params"]


def test_cifar_figures():
    assert totals(variant="paper")["mult_adds"] == pytest.approx(11.6e6, rel=0.005)
    assert totals(variant="cifar")["mult_adds"] == pytest.approx(46.3e6, rel=0.005)
    assert totals()["size_mb_float32"] == pytest.approx(3_239_114 * 4 / 1e6)


def test_layer_table_rows():
    table = layer_table(build_mobilenet())
    conv1 = table.set_index("name").loc["conv1"]
    assert conv1["type"] == "Conv2D" and conv1["output_shape"] == "16 x 16 x 32"
    assert conv1["params"] == 3 * 3 * 3 * 32
    assert conv1["mult_adds"] == 3 * 3 * 3 * 32 * 16 * 16
    bn = table.set_index("name").loc["conv1_bn"]
    assert (bn["trainable"], bn["non_trainable"], bn["mult_adds"]) == (64, 64, 0)
    dense = table.set_index("name").loc["predictions"]
    assert dense["mult_adds"] == 1024 * 10 and dense["params"] == 10250


def test_the_128_parameter_difference_is_conv1_bn():
    diff = compare_tables(layer_table(build_mobilenet()),
                          layer_table(build_mobilenet(seed_bn_bug=True)))
    assert list(diff["name"]) == ["conv1_bn"]
    assert int(diff["params"].sum()) == 3_239_114 - 3_238_986 == 128


def test_cost_comparison_uses_the_tutorials_formulas():
    table = cost_comparison(build_mobilenet(variant="cifar"))
    first = table.iloc[0]  # conv_dw_1: M=32, N=64, Df=32
    assert (first["M"], first["N"], first["Df"]) == (32, 64, 32)
    assert first["standard_mult_adds"] == 9 * 32 * 64 * 32 * 32
    assert first["separable_mult_adds"] == 9 * 32 * 32 * 32 + 32 * 64 * 32 * 32
    assert first["separable_mult_adds"] / first["standard_mult_adds"] == pytest.approx(1 / 64 + 1 / 9)
    assert first["standard_params"] == 9 * 32 * 64 and first["separable_params"] == 9 * 32 + 32 * 64
    total = table.iloc[-1]
    assert total["block"] == "total" and len(table) == 14
    assert 0.11 < total["ratio"] < 0.12


def test_paper_reference_figures():
    ref = PAPER_REFERENCE.set_index("model")
    assert ref.loc["1.0 MobileNet-224", "imagenet_top1_%"] == 70.6
    assert ref.loc["Conv MobileNet (standard convs)", "million_mult_adds"] == 4866
    assert list(ref["million_params"]) == [29.3, 4.2, 2.9, 2.6, 1.3, 0.5]


def test_shallow_mobilenet_matches_the_papers_table_4():
    t = totals(classes=1000, input_shape=(224, 224, 3), depth="shallow")
    assert t["mult_adds"] == pytest.approx(307e6, rel=0.002)  # paper Table 4: 307 M, 2.9 M
    assert t["params"] - t["non_trainable"] - 1000 * 1025 == pytest.approx(2.9e6 - 1025e3, rel=0.02)
