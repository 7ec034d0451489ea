"""中文 / English for the Look inside tab (and, through the app, the Mistakes and Mobile tabs): every
text the tab writes reads as Chinese with ``lang="zh"``, renders without stray Markdown marks in
both languages, and a language switch writes the tab's texts again without running the network.

(That every ``T``/``t`` id has both languages is ``tests/test_i18n.py``'s, for every tab.)
"""

import os
import re
import shutil
import string

import gradio as gr
import pytest
from gradio.utils import get_upload_folder
from gradio_client import handle_file
from gradio_client.exceptions import AppError

from app_server import SHIPPED_NAME, copy_checkpoint
from tab_support import built_alone
from i18n_support import stray_marks, untranslated
from classroom.catalog import CheckpointCatalog
from demo.i18n import TEXTS, class_name, t
from demo.tabs import Context
from mobilenet.data import CLASS_NAMES
from mobilenet.explain import depthwise_blocks, map_layers
from loopback_client import api_client

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHIPPED_KEY = f"shipped/{SHIPPED_NAME}"
CIFAR_DOG = os.path.join(ROOT, "demo", "examples", "cifar10_test_0007_dog.png")
CLASS_NAMES_ZH = {name: class_name(name, "zh") for name in CLASS_NAMES}
MARKDOWN_IDS = ("look_inside.intro", "look_inside.kernels_intro", "look_inside.feature_maps")


def chinese(text):
    """Asserts ``text`` reads as Chinese: some Chinese, no English words left."""
    assert re.search(r"[\u4e00-\u9fff]", text), text
    assert untranslated(text) == [], text


def clean(markdown):
    """Asserts ``markdown`` renders without ``**``, ``_`` or ``#`` showing."""
    assert stray_marks(markdown) == [], markdown


def uploaded(path):
    """Gradio's file record of ``path`` copied into the upload folder, as an upload arrives."""
    folder = os.path.join(get_upload_folder(), "test-i18n-look-inside")
    os.makedirs(folder, exist_ok=True)
    return {"path": shutil.copy(path, folder), "orig_name": os.path.basename(path)}


@pytest.fixture(scope="module")
def tab(tiny_checkpoint, tmp_path_factory, work):
    """The Look inside tab built on its own, over the tiny checkpoint."""
    from demo.tabs.look_inside import LookInsideTab

    checkpoints = str(tmp_path_factory.mktemp("i18n-look-inside-tab"))
    copy_checkpoint(tiny_checkpoint, checkpoints, SHIPPED_NAME)
    catalog = CheckpointCatalog(checkpoints, os.path.join(checkpoints, "runs"))
    return built_alone(LookInsideTab, Context(catalog=catalog, runs=None, teacher_key=None, work=work))[0]


@pytest.fixture(scope="module")
def model(tiny_checkpoint):
    from mobilenet.checkpoints import load_checkpoint

    return load_checkpoint(tiny_checkpoint)[0]


# -- the table itself -------------------------------------------------------------------------------

def test_translations_keep_fields_code_and_numbers():
    def fields(text):
        return sorted(name for _, name, _, _ in string.Formatter().parse(text) if name is not None)

    ids = [text_id for text_id in TEXTS if text_id.startswith("look_inside.")]
    assert len(ids) >= 40
    for text_id in ids:
        english, chinese_text = TEXTS[text_id]["en"], TEXTS[text_id]["zh"]
        assert fields(chinese_text) == fields(english), text_id
        assert re.findall(r"`[^`]*`", chinese_text) == re.findall(r"`[^`]*`", english), text_id
        assert sorted(re.findall(r"\d+(?:[.,×]\d+)*", chinese_text)) == sorted(
            re.findall(r"\d+(?:[.,×]\d+)*", english)), text_id
        assert untranslated(re.sub(r"\{[^}]*\}", " ", chinese_text)) == [], text_id


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_the_tabs_markdown_renders_cleanly(lang):
    for text_id in MARKDOWN_IDS:
        clean(t(text_id, lang))


# -- what the callbacks write, in Chinese -----------------------------------------------------------

def test_grad_cam_note_in_chinese(tab):
    picture = uploaded(CIFAR_DOG)
    answer = tab.grad_cam(picture, SHIPPED_KEY, "predicted", "zh")
    note, seen = answer[tab.note], answer[tab.gradcam_state]
    chinese(note)
    clean(note)
    answer = CLASS_NAMES_ZH[seen["answer"]]
    assert f"**{answer}**，即网络的回答" in note and "`conv_pw_" in note
    assert "特征图大于 1×1 的最后一层" in note and "很粗糙" in note  # the paper variant's 2×2 map
    assert "。 " not in note  # Chinese sentences follow each other without a space
    picked = next(name for name in ("truck", "airplane") if name != seen["answer"])
    note = tab.grad_cam(picture, SHIPPED_KEY, picked, "zh")[tab.note]
    chinese(note)
    clean(note)
    assert f"**{CLASS_NAMES_ZH[picked]}**（概率" in note and f"网络的回答是{answer}" in note


def test_feature_maps_and_map_sizes_in_chinese(tab, model):
    picture = uploaded(CIFAR_DOG)
    for layer in map_layers(model):
        line = tab.feature_maps(picture, SHIPPED_KEY, layer, "zh")[tab.maps_info]
        chinese(line)
        clean(line)
    answer = tab.feature_maps(picture, SHIPPED_KEY, "conv_pw_3_relu", "zh")
    line, sizes = answer[tab.maps_info], answer[tab.sizes]
    assert line.startswith("**conv_pw_3**：8×8 特征图，32 个通道（逐点卷积 1×1）")
    frame = sizes.data
    assert list(frame.columns) == ["模块", "层", "特征图", "通道"]
    assert list(frame.iloc[0, :2]) == ["输入", "图片"] and frame.iloc[1, 0] == "主干"
    for cell in frame.astype(str).to_numpy().ravel():
        assert untranslated(cell) == [], cell


def test_kernels_and_layer_list_in_chinese(tab, model):
    for block in depthwise_blocks(model):
        line = tab.kernels(SHIPPED_KEY, block, "zh")[tab.kernels_info]
        chinese(line)
        clean(line)
    chosen = tab.choose_checkpoint(SHIPPED_KEY, None, None, "zh")
    layers, line = chosen[tab.layer], chosen[tab.kernels_info]
    assert [value for _, value in layers.choices] == map_layers(model)
    for shown, _ in layers.choices:
        chinese(shown)
    assert layers.choices[0][0] == "conv1 · 主干：3×3 卷积"
    chinese(line)


def test_errors_in_chinese(tab):
    picture = uploaded(CIFAR_DOG)
    with pytest.raises(gr.Error, match="请选择要解释的类别：飞机, 汽车") as error:
        tab.grad_cam(picture, SHIPPED_KEY, "unicorn", "zh")
    chinese(error.value.message + error.value.title)
    with pytest.raises(gr.Error, match="这个检查点已经不可用"):
        tab.grad_cam(picture, "shipped/gone.keras", "cat", "zh")
    with pytest.raises(gr.Error, match="这个网络没有 'predictions' 层") as error:
        tab.feature_maps(picture, SHIPPED_KEY, "predictions", "zh")
    chinese(re.sub("'predictions'", "", error.value.message) + error.value.title)
    with pytest.raises(gr.Error, match="这个网络没有模块 14") as error:
        tab.kernels(SHIPPED_KEY, 14, "zh")
    chinese(error.value.message + error.value.title)


# -- a language switch ---------------------------------------------------------------------------------

def test_a_language_switch_writes_the_texts_again_without_the_network(tab, monkeypatch):
    picture = uploaded(CIFAR_DOG)
    looked = tab.look_when_ready(picture, SHIPPED_KEY, "predicted", None, "en")
    note, gradcam, maps_line, maps = (looked[block] for block in (tab.note, tab.gradcam_state, tab.maps_info,
                                                                  tab.maps_state))
    chosen = tab.choose_checkpoint(SHIPPED_KEY, "conv_pw_3_relu", 2, "en")
    listed, kernels = chosen[tab.listed_state], chosen[tab.kernels_state]
    looked = tab.look_when_ready(picture, SHIPPED_KEY, "predicted", None, "zh")
    zh_note, zh_maps_line, zh_sizes = looked[tab.note], looked[tab.maps_info], looked[tab.sizes]
    zh_kernels_line = tab.choose_checkpoint(SHIPPED_KEY, "conv_pw_3_relu", 2, "zh")[tab.kernels_info]

    def no_network(*args, **kwargs):
        raise AssertionError("a language switch ran the network")

    monkeypatch.setattr(tab.work.quick, "call", no_network)  # every network runs in a worker
    assert len(tab.relabel_inputs) == 6 and len(tab.relabel_outputs) == 6
    relabelled = tab.relabel("zh", SHIPPED_KEY, listed["default"], listed, gradcam, maps, kernels)
    assert set(relabelled) == set(tab.relabel_outputs)
    checkpoint, layers, sizes, note_zh, maps_zh, kernels_zh = (relabelled[block] for block in tab.relabel_outputs)
    assert (note_zh, maps_zh) == (zh_note, zh_maps_line)
    assert kernels_zh == zh_kernels_line and kernels_zh.startswith("**conv_dw_2**：16 个 3×3 卷积核")
    assert layers.value == listed["default"] and layers.choices[-1][0] == "conv_pw_13 · 逐点卷积 1×1"
    assert sizes.data.equals(zh_sizes.data)
    assert [value for _, value in checkpoint.choices] == [SHIPPED_KEY]
    back = tab.relabel("en", SHIPPED_KEY, listed["default"], listed, gradcam, maps, kernels)
    assert (back[tab.note], back[tab.maps_info]) == (note, maps_line)
    assert list(back[tab.sizes].data.columns) == ["block", "layers", "map", "channels"]
    # before any picture: nothing to write but the lists and the table
    before = tab.relabel("zh", SHIPPED_KEY, listed["default"], listed, None, None, kernels)
    assert (before[tab.note], before[tab.maps_info]) == ("", "")


# -- the app's endpoints in Chinese ------------------------------------------------------------------

@pytest.fixture(scope="module")
def app(tiny_cifar, tiny_checkpoint, tmp_path_factory):
    """(the built app, its URL) with the tiny checkpoint shipped and one sweep point."""
    from demo.ui import build_demo, close_app, launch_on_loopback

    root = str(tmp_path_factory.mktemp("i18n-look-inside"))
    checkpoints = os.path.join(root, "checkpoints")
    copy_checkpoint(tiny_checkpoint, checkpoints, SHIPPED_NAME)
    copy_checkpoint(tiny_checkpoint, os.path.join(checkpoints, "sweep"), "alpha_0.25.keras")
    demo = build_demo(checkpoint_dir=checkpoints, runs_dir=os.path.join(checkpoints, "runs"),
                      data_source=tiny_cifar[1])
    url = launch_on_loopback(demo)
    yield demo, url
    close_app(demo)
    demo.close()


@pytest.fixture
def client(app):
    return api_client(app[1])


def a_class_it_does_not_answer(client, picture):
    """A class other than the checkpoint's answer (it depends on the CPU's float arithmetic)."""
    answer = client.predict(handle_file(picture), SHIPPED_KEY, api_name="/classify")[0]["label"]
    return next(name for name in ("truck", "airplane") if name != answer)


def test_look_inside_answers_in_chinese(client):
    picked = a_class_it_does_not_answer(client, CIFAR_DOG)
    _, note = client.predict(handle_file(CIFAR_DOG), SHIPPED_KEY, picked, "zh", api_name="/grad_cam")
    chinese(note)
    assert f"**{CLASS_NAMES_ZH[picked]}**（概率" in note and "`conv_pw_" in note
    assert any(name in note for name in CLASS_NAMES_ZH.values() if name != CLASS_NAMES_ZH[picked])  # the answer
    _, line, sizes = client.predict(handle_file(CIFAR_DOG), SHIPPED_KEY, "conv_pw_3_relu", "zh",
                                    api_name="/feature_maps")
    chinese(line)
    assert line.startswith("**conv_pw_3**：8×8 特征图，32 个通道（逐点卷积 1×1）")
    assert sizes["headers"] == ["模块", "层", "特征图", "通道"]
    assert sizes["data"][0][:2] == ["输入", "图片"] and sizes["data"][1][0] == "主干"
    _, kernels_line = client.predict(SHIPPED_KEY, 1, "zh", api_name="/depthwise_kernels")
    chinese(kernels_line)
    layers, _, _, _, _ = client.predict(SHIPPED_KEY, None, None, "zh", api_name="/choose_checkpoint")
    for shown, _ in layers["choices"]:
        chinese(shown)


def test_look_inside_errors_in_chinese(client):
    with pytest.raises(AppError, match='要解释的类别："独角兽" 不是可选的值') as error:  # the sent value is shown back
        client.predict(handle_file(CIFAR_DOG), SHIPPED_KEY, "独角兽", "zh", api_name="/grad_cam")
    chinese(str(error.value))
    with pytest.raises(AppError, match="这个检查点已经不可用"):
        client.predict(handle_file(CIFAR_DOG), "shipped/gone.keras", "cat", "zh", api_name="/grad_cam")
    with pytest.raises(AppError, match="这个网络没有模块 14"):
        client.predict(SHIPPED_KEY, 14, "zh", api_name="/depthwise_kernels")


def test_mistakes_answer_in_chinese(client):
    status, confusion, pairs = client.predict(SHIPPED_KEY, "zh", api_name="/mistakes")
    chinese(status)
    assert "随附：paper α 0.25 · 测试" in status and "张测试图片中答对" in status
    chinese(confusion)
    assert "预测类别 →" in confusion and all(f">{name}</text>" in confusion for name in CLASS_NAMES_ZH.values())
    chinese(pairs)
    first = pairs.split("<section")[1]
    a, b = re.search(r"<b>(\w+) ↔ (\w+)</b>：\d+ 次错误", first).groups()
    assert {a, b} <= set(CLASS_NAMES_ZH.values())
    assert re.search(rf"alt=\"({a} → {b}|{b} → {a}) \d+%\"", first)


def test_mobile_answers_in_chinese(client):
    svg, points = client.predict("zh", api_name="/tradeoff")
    chinese(svg)
    assert "ImageNet（论文表 6）：224×224 下的宽度 α" in svg and "CIFAR-10（我们的）：paper 变体" in svg
    assert svg.count("<circle") == 10  # the paper's 8, the shipped and the sweep checkpoint
    assert points["headers"] == ["系列", "数据点", "top-1 准确率（%）", "乘加运算（百万次）", "相对乘加运算"]
    for row in points["data"]:
        chinese(row[0])
    with pytest.raises(AppError, match="请先选择(要导出的|一个)检查点") as error:  # the picker's own words
        client.predict(None, "zh", api_name="/export")
    chinese(str(error.value))


def test_export_table_and_note_in_chinese():
    from demo.tabs.mobile import export_note, export_table

    report = {"weights_dtype": "float16",
              "settings": {"test_images": 2000, "latency_runs": 50, "threads": 2, "calibration_images": 200},
              "rows": [{"kind": kind, "size_bytes": size, "latency_ms": 1.0, "accuracy": 0.8,
                        "agreement": 1.0, "path": f"/tmp/m_{kind}.tflite"}
                       for kind, size in (("keras", 900), ("float32", 800), ("float16", 400), ("int8", 200))]}
    note = export_note(report, "zh")
    chinese(note)
    assert "**2,000 张 CIFAR-10 测试图片**" in note and "`tf.function`" in note
    frame = export_table(report, "zh").data
    assert list(frame.columns) == ["模型", "大小（MB）", "比 float32 小（倍）", "延迟（ms/张）",
                                   "测试准确率（%）", "与 Keras 回答相同（%）", "文件"]
    assert list(frame["模型"]) == ["Keras 检查点（float16 权重）", "LiteRT float32", "LiteRT float16",
                                  "LiteRT int8"]
    for text in [*frame.columns, *frame["模型"]]:
        assert untranslated(text) == [], text

