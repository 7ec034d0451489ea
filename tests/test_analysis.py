import pytest

from mobilenet.analysis import (PAPER_REFERENCE, TUTORIAL_PARAMS, architecture_tables, compare_tables,
                                cost_comparison, layer_table, model_totals, paper_comparison, tutorial_difference,
                                with_standard_convs)
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


def test_architecture_tables_are_built_once_per_configuration():
    architecture_tables.cache_clear()
    table, figures, blocks = architecture_tables("paper", 0.5, "shallow")
    assert figures == model_totals(table) == totals(alpha=0.5, depth="shallow")
    assert list(blocks["block"])[-1] == "total" and len(blocks) == 8 + 1  # 8 blocks when shallow
    assert architecture_tables("paper", 0.5, "shallow")[0] is table
    assert architecture_tables.cache_info().hits == 1


def test_with_standard_convs_swaps_every_block_back():
    _, t, blocks = architecture_tables("paper", 1.0, "full")
    mult_adds, params = with_standard_convs(t, blocks)
    first = blocks.iloc[0]  # conv_dw_1 + conv_pw_1 at 16×16: M=32, N=64
    assert first["standard_mult_adds"] - first["separable_mult_adds"] == 9 * 32 * 64 * 256 - (9 * 32 + 32 * 64) * 256
    assert mult_adds - t["mult_adds"] == sum(blocks["standard_mult_adds"][:-1] - blocks["separable_mult_adds"][:-1])
    assert params - t["params"] == sum(blocks["standard_params"][:-1] - blocks["separable_params"][:-1])
    assert params > 8 * t["params"]  # the paper's Table 4: 29.3 M against 4.2 M


def test_paper_comparison_puts_ours_beside_each_row():
    table = paper_comparison("paper").set_index("model")
    assert list(table.index) == list(PAPER_REFERENCE["model"])
    one = table.loc["1.0 MobileNet-224"]
    assert one["ours_million_params"] == pytest.approx(3_239_114 / 1e6)
    assert one["ours_million_mult_adds_32px"] == pytest.approx(totals()["mult_adds"] / 1e6)
    shallow = table.loc["Shallow MobileNet"]
    assert shallow["ours_million_mult_adds_32px"] == pytest.approx(totals(depth="shallow")["mult_adds"] / 1e6)
    assert table.loc["0.25 MobileNet-224", "ours_million_params"] == pytest.approx(totals(alpha=0.25)["params"] / 1e6)
    conv = table.loc["Conv MobileNet (standard convs)"]
    _, t, blocks = architecture_tables("paper", 1.0, "full")
    assert conv["ours_million_params"] * 1e6 == pytest.approx(with_standard_convs(t, blocks)[1])
    # the paper's ratio of standard to separable (4866 / 569 Mult-Adds) holds at 32×32 too, roughly
    assert 7 < conv["ours_million_mult_adds_32px"] / one["ours_million_mult_adds_32px"] < 10
    cifar = paper_comparison("cifar").set_index("model")  # stride 1: about 4× the Mult-Adds
    assert cifar.loc["1.0 MobileNet-224", "ours_million_mult_adds_32px"] == pytest.approx(
        4 * one["ours_million_mult_adds_32px"], rel=0.02)


def test_tutorial_difference_is_the_stem_batchnorm():
    ours, tutorial, difference = tutorial_difference()
    assert (ours, tutorial) == (3_239_114, TUTORIAL_PARAMS)
    assert list(difference["name"]) == ["conv1_bn"] and int(difference["params"].sum()) == ours - tutorial


# -- the Architecture tab names and formats these figures -------------------------------------------

def test_architecture_tab_in_both_languages():
    from demo.i18n import static_text
    from demo.tabs.architecture import show_architecture, tutorial_note
    from i18n_support import stray_marks, untranslated

    totals_table, layers, blocks, paper = (styler.data for styler in show_architecture("paper", 1.0, "full", "zh"))
    assert list(totals_table.columns) == ["参数总数", "可训练", "不可训练", "每张图片的乘加运算", "大小（MB，float32）"]
    assert totals_table.iloc[0, 0] == 3_239_114  # numbers stay numbers
    assert list(layers.columns)[:3] == ["名称", "类型", "输出形状"] and layers.iloc[1, 0] == "conv1"
    assert blocks.iloc[-1, 0] == "合计" and blocks.iloc[0, 0] == "conv_dw_1 + conv_pw_1"
    assert list(paper.iloc[:3, 0]) == ["标准卷积 MobileNet（Conv MobileNet）", "1.0 MobileNet-224", "浅层 MobileNet（Shallow）"]
    for name in [*totals_table.columns, *layers.columns, *blocks.columns, *paper.columns, *paper.iloc[:, 0]]:
        assert untranslated(name) == [], name
    english = [styler.data for styler in show_architecture("paper", 1.0, "full", "en")]
    assert list(english[0].columns)[0] == "total parameters" and english[2].iloc[-1, 0] == "total"
    assert architecture_tables("paper", 1.0, "full")[2].iloc[-1]["block"] == "total"  # the cache is untouched

    note = tutorial_note()
    for lang, heading in (("en", "### Why the tutorial counts 3,238,986 parameters and we count 3,239,114"),
                          ("zh", "### 为什么教程数出 3,238,986 个参数，而我们数出 3,239,114 个")):
        text = static_text(note, lang)
        assert text.startswith(heading) and "| `conv1_bn` | BatchNormalization | 128 | 64 | 64 |" in text
        assert stray_marks(text) == [], lang
    assert untranslated(static_text(note, "zh")) == []
