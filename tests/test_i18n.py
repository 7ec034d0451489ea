"""中文 / English: the language choice, the text tables, and no visible text left untranslated."""

import ast
import os
import re
import string

import gradio as gr
import pytest

from demo.i18n import LANGUAGES, TEXTS, T, Text, class_names, load_tables, localize, pick_language, t
from i18n_support import stray_marks, untranslated
from loopback_client import api_client

DEMO = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "demo")
TEXT_PROPS = ("label", "info", "placeholder")


@pytest.mark.parametrize("query, header, expected", [
    ({"lang": "zh"}, "en-US,en;q=0.9", "zh"),
    ({"lang": "en"}, "zh-CN,zh;q=0.9", "en"),
    ({}, "zh-CN,zh;q=0.9,en;q=0.8", "zh"),
    ({}, "en-GB,zh;q=0.5", "en"),
    ({}, "fr-FR,zh-TW;q=0.8,en;q=0.7", "zh"),
    ({}, "de;q=0.9,en;q=0.95", "en"),
    ({"lang": "xx"}, None, "en"),
    ({}, "", "en"),
    ({}, "zh;q=oops,en", "en"),
])
def test_language_comes_from_the_url_then_the_browser(query, header, expected):
    assert pick_language(query, header) == expected


def test_texts_by_id_with_values_and_nested_texts():
    assert t("page.checkpoint.tested", "zh", accuracy=0.5) == "测试 50.0%"
    assert class_names("zh") == ["飞机", "汽车", "鸟", "猫", "鹿", "狗", "青蛙", "马", "船", "卡车"]
    label = Text("page.checkpoint.kind", kind=Text("page.checkpoint.shipped"), variant="cifar", alpha=1.0)
    assert label == "shipped: cifar α 1.0" and localize(label, "zh") == "随附：cifar α 1.0"
    assert untranslated("训练 `conv_pw_13` 用 3×3 卷积, 12.5 ms, α 0.5, CIFAR-10") == []
    assert untranslated("训练 the network") == ["the", "network"]
    assert stray_marks("**测试准确率：**89.8%") == ["**", "**"]  # the bug CommonMark shows
    assert stray_marks("**测试准确率**：89.8% · `conv_dw_1` · $D_K$") == []


def test_a_table_entry_without_chinese_is_found(tmp_path):
    table = tmp_path / "demo_tab.toml"
    table.write_text('ok = {en = "Yes", zh = "是"}\n[nested]\nmissing = {en = "Only English"}\n')
    texts = load_tables([str(table)])
    assert set(texts) == {"demo_tab.ok", "demo_tab.nested.missing"}
    assert missing_languages(texts) == ["demo_tab.nested.missing"]


def missing_languages(texts):
    return [text_id for text_id, entry in texts.items()
            if any(not (entry.get(lang) or "").strip() for lang in LANGUAGES)]


def fields(template):
    """The ``{fields}`` of a template; None for a text never formatted (LaTeX braces)."""
    try:
        return sorted(name for _, name, _, _ in string.Formatter().parse(template) if name is not None)
    except ValueError:
        return None


def test_every_text_has_both_languages_with_the_same_fields():
    assert len(TEXTS) > 250
    assert missing_languages(TEXTS) == []
    assert {text_id: (fields(e["en"]), fields(e["zh"])) for text_id, e in TEXTS.items()
            if fields(e["en"]) != fields(e["zh"])} == {}


BILINGUAL = {"page.language"}  # "Language · 语言": readable whichever language the page is in


def test_no_english_words_left_in_the_chinese():
    leftovers = {text_id: untranslated(re.sub(r"\{[^}]*\}", " ", entry["zh"])) for text_id, entry in TEXTS.items()
                 if text_id not in BILINGUAL}
    assert {text_id: words for text_id, words in leftovers.items() if words} == {}


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_text_renders_as_markdown_without_stray_marks(lang):
    """Rendered as CommonMark, as the page does (not grepped): no literal **, _ or # in either
    language."""
    assert {text_id: stray_marks(entry[lang]) for text_id, entry in TEXTS.items()
            if stray_marks(entry[lang])} == {}


def ids_in_code():
    """Every literal id passed to T, t or Text in demo/ (ids made at run time are left out)."""
    for folder, _, names in os.walk(DEMO):
        for name in names:
            if not name.endswith(".py"):
                continue
            with open(os.path.join(folder, name), encoding="utf-8") as f:
                tree = ast.parse(f.read())
            for node in ast.walk(tree):
                if (isinstance(node, ast.Call) and getattr(node.func, "id", None) in ("T", "t", "Text")
                        and node.args and isinstance(node.args[0], ast.Constant)):
                    yield name, node.args[0].value


def test_every_id_in_the_code_is_in_a_table():
    used = list(ids_in_code())
    assert len(used) > 150
    assert [(name, text_id) for name, text_id in used if text_id not in TEXTS] == []


def static_texts(demo):
    """(component, prop, value) of every text the page shows that is not written by a callback."""
    written = {id(block) for function in demo.fns.values() for block in function.outputs}
    for block in demo.blocks.values():
        if type(block).__name__ == "Api":  # gr.api: an endpoint, nothing on the page
            continue
        for prop in TEXT_PROPS:
            yield block, prop, getattr(block, prop, None)
        if isinstance(block, (gr.Markdown, gr.Button, gr.Tab, gr.Accordion)) and id(block) not in written:
            yield block, "value", getattr(block, "value", None) if not isinstance(block, (gr.Tab, gr.Accordion)) else block.label
        if isinstance(block, (gr.Radio, gr.Dropdown)) and id(block) not in written and block.elem_id != "language":
            for shown, value in block.choices or []:
                if str(shown) != str(value):
                    yield block, "choices", shown


def test_every_static_text_of_the_page_is_a_translated_id(tiny_cifar, tmp_path):
    """Static texts are translated in the browser by Gradio's i18n: each one must be a key of the
    tables (a plain English string would stay English in the Chinese page)."""
    from demo.i18n import i18n
    from demo.ui import build_demo

    demo = build_demo(checkpoint_dir=str(tmp_path / "checkpoints"), runs_dir=str(tmp_path / "runs"),
                      data_source=tiny_cifar[1])
    texts = [(block, prop, value) for block, prop, value in static_texts(demo)
             if value is not None and str(value).strip()]
    assert len(texts) > 60
    plain = [(type(block).__name__, block.elem_id, prop, str(value)[:50]) for block, prop, value in texts
             if isinstance(value, str) and not value.startswith("__i18n__") and re.search(r"[A-Za-z]{2}", value)]
    assert plain == []
    translations = i18n().translations_dict
    keys = {value.key for _, _, value in texts if hasattr(value, "key")}
    for locale in ("en", "zh-CN"):
        assert keys <= set(translations[locale]), keys - set(translations[locale])
    assert translations["zh-CN"]["page.header"].strip().startswith("# MobileNet 实验室")


def test_a_static_text_with_values_is_formatted_once_in_both_languages():
    from demo.i18n import i18n

    key = T("page.checkpoint.tested", accuracy=0.25).key
    assert key.startswith("page.checkpoint.tested#")
    assert i18n().translations_dict["zh-CN"][key] == "测试 25.0%"


def test_classify_and_architecture_answer_in_chinese(shared_app):
    from gradio_client import handle_file
    from gradio_client.exceptions import AppError

    from app_server import SHIPPED_NAME

    photo = os.path.join(DEMO, "examples", "photo_coffee.jpg")
    client = api_client(shared_app[0])
    key = f"shipped/{SHIPPED_NAME}"
    top5, everything, _, timing = client.predict(handle_file(photo), key, "zh", api_name="/classify")
    assert {item["label"] for item in top5["confidences"]} <= set(class_names("zh"))
    assert everything["headers"] == ["类别", "概率"] and untranslated(timing) == []
    details = client.predict(key, "zh", api_name="/describe_checkpoint")
    assert "测试准确率" in details and untranslated(details) == [] and stray_marks(details) == []
    with pytest.raises(AppError, match="还没有图片"):
        client.predict(None, key, "zh", api_name="/classify")
    totals, layers, blocks, paper = client.predict("paper", 1.0, "full", "zh", api_name="/summary")
    assert "参数总数" in totals["headers"] and "输出形状" in layers["headers"]
    assert "合计" in [row[0] for row in blocks["data"]]
    assert any("标准卷积" in row[0] for row in paper["data"])
    assert "No run is training" in client.predict("Ann", api_name="/stop_training")
    assert "现在没有正在进行的训练" in client.predict("Ann", "zh", api_name="/stop_training")


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_the_shipped_checkpoint_line_shows_the_accuracy_of_what_the_app_does(lang):
    """The shipped checkpoints measured flip TTA better on their validation pictures, so the app
    answers with it and shows the flip-TTA test accuracy; the line renders as Markdown without
    stray marks in either language (rendered, as CommonMark does, not grepped)."""
    from classroom.catalog import CheckpointEntry
    from demo.tabs.classify import checkpoint_details
    from mobilenet import DEFAULT_CHECKPOINT
    from mobilenet.checkpoints import read_metadata

    metadata = read_metadata(DEFAULT_CHECKPOINT)
    entry = CheckpointEntry("shipped/x", DEFAULT_CHECKPOINT, "shipped", metadata)
    assert entry.flip and entry.test_accuracy == metadata["metrics"]["test_accuracy_tta"]
    details = checkpoint_details(entry, lang)
    assert f"{entry.test_accuracy:.1%}" in details and ("with flip TTA" if lang == "en" else "使用翻转 TTA") in details
    assert ("+ 24 epochs of weight averaging" if lang == "en" else "另加 24 轮权重平均") in details
    assert details.count("**") == 8 and stray_marks(details) == [], details


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_a_stopped_runs_checkpoint_line_says_not_measured(lang):
    from classroom.catalog import CheckpointEntry
    from demo.tabs.classify import checkpoint_details

    entry = CheckpointEntry("run/x.keras", "/runs/x.keras", "run", {"metrics": {"test_accuracy": None}, "stopped": True})
    details = checkpoint_details(entry, lang)
    assert ("not measured" if lang == "en" else "未测量") in details and not entry.flip
