"""中文 / English for the Look inside, Mistakes and Mobile tabs: every static text has its
Chinese, and with ``lang="zh"`` their endpoints answer in Chinese (class names included)."""

import ast
import os
import re
import string

import pytest
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError

from app_server import SHIPPED_NAME, copy_checkpoint
from demo.classify_tab import NO_CHECKPOINT
from demo.explain_tab import MAP_COLUMNS
from demo.export_tab import EXPORT_COLUMNS, KIND_NAMES, POINT_COLUMNS
from demo.i18n import CLASS_NAMES_ZH, PageText, translated, untranslated
from demo.zh_look_inside import ZH
from mobilenet.report import CONFUSION_TEXTS
from mobilenet.tradeoff import TEXTS

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MODULES = [os.path.join(ROOT, "demo", f"{name}.py") for name in ("explain_tab", "mistakes_tab", "export_tab")]
TAB_IDS = ("look-inside", "mistakes", "mobile")
SHIPPED_KEY = f"shipped/{SHIPPED_NAME}"
CIFAR_DOG = os.path.join(ROOT, "demo", "examples", "cifar10_test_0007_dog.png")


@pytest.fixture(scope="module")
def app(tiny_cifar, tiny_checkpoint, tmp_path_factory):
    """(the built app, its URL) with the tiny checkpoint shipped and one sweep point."""
    from demo.ui import build_demo, launch_on_loopback

    root = str(tmp_path_factory.mktemp("i18n-look-inside"))
    checkpoints = os.path.join(root, "checkpoints")
    copy_checkpoint(tiny_checkpoint, checkpoints, SHIPPED_NAME)
    copy_checkpoint(tiny_checkpoint, os.path.join(checkpoints, "sweep"), "alpha_0.25.keras")
    demo = build_demo(checkpoint_dir=checkpoints, runs_dir=os.path.join(checkpoints, "runs"),
                      data_source=tiny_cifar[1])
    url = launch_on_loopback(demo)
    yield demo, url
    demo.close()


@pytest.fixture
def client(app):
    return Client(app[1], verbose=False)


def a_class_it_does_not_answer(client, picture):
    """A class other than the checkpoint's answer (it depends on the CPU's float arithmetic)."""
    answer = client.predict(handle_file(picture), SHIPPED_KEY, api_name="/classify")[0]["label"]
    return next(name for name in ("truck", "airplane") if name != answer)


def chinese(text):
    """Asserts ``text`` reads as Chinese: some Chinese, no English words left."""
    assert re.search(r"[\u4e00-\u9fff]", text), text
    assert untranslated(text) == [], text


def descendants(block):
    yield block
    for child in getattr(block, "children", None) or []:
        yield from descendants(child)


# -- the tables themselves ----------------------------------------------------------------------

def test_every_static_text_of_the_three_tabs_has_chinese(app):
    demo, _ = app
    tabs = [block for block in demo.blocks.values() if getattr(block, "id", None) in TAB_IDS]
    assert len(tabs) == 3
    mine = {id(block): block for tab in tabs for block in descendants(tab)}
    # as the page harvests them: before the language switch itself writes every harvested text
    written = [block for function in demo.fns.values() if function.api_name != "set_language"
               for block in function.outputs]
    texts = list(PageText(mine, written=written).english())
    assert {"4 · Look inside", "5 · Mistakes", "6 · Mobile", "the network's answer", "cat"} <= set(texts)
    assert not any("shipped" in text for text in texts)  # checkpoint labels are the callbacks'
    assert [text for text in texts if not translated(text)] == []


def test_every_text_the_callbacks_write_has_chinese():
    """Each literal given to ``tr`` in the three tabs, and the package's chart words."""
    literals = []
    for path in MODULES:
        with open(path, encoding="utf-8") as f:
            tree = ast.parse(f.read())
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "tr":
                first = node.args[0]
                options = [first.body, first.orelse] if isinstance(first, ast.IfExp) else [first]
                literals += [option.value for option in options if isinstance(option, ast.Constant)]
    assert len(literals) > 40
    words = [*literals, *TEXTS.values(), *CONFUSION_TEXTS.values(), NO_CHECKPOINT, KIND_NAMES["keras"],
             *MAP_COLUMNS, *(name for name, _ in [*EXPORT_COLUMNS.values(), *POINT_COLUMNS.values()])]
    assert [text for text in words if not translated(text)] == []


def test_translations_keep_fields_code_and_numbers():
    def fields(text):
        return sorted(name for _, name, _, _ in string.Formatter().parse(text) if name is not None)

    for english, chinese_text in ZH.items():
        assert fields(chinese_text) == fields(english), english
        assert re.findall(r"`[^`]*`", chinese_text) == re.findall(r"`[^`]*`", english), english
        assert sorted(re.findall(r"\d+(?:[.,×]\d+)*", chinese_text)) == sorted(
            re.findall(r"\d+(?:[.,×]\d+)*", english)), english
        assert untranslated(re.sub(r"\{[^}]*\}", " ", chinese_text)) == [], english


# -- the endpoints in Chinese ---------------------------------------------------------------------

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
    with pytest.raises(AppError, match="请选择要解释的类别：飞机, 汽车") as error:
        client.predict(handle_file(CIFAR_DOG), SHIPPED_KEY, "unicorn", "zh", api_name="/grad_cam")
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
    with pytest.raises(AppError, match="请先选择要导出的检查点") as error:
        client.predict(None, "zh", api_name="/export")
    chinese(str(error.value))


def test_export_table_and_note_in_chinese():
    from demo.export_tab import export_note, export_table

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
