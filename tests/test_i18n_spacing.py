"""Chinese texts without stray spaces, Gradio's own words in both languages, and CIFAR-10's class
order in every language.

A space between two Chinese characters shows as a gap in the sentence ("没有经过 归一化"); so
does a line break inside a Markdown paragraph (the browser draws it as a space), and a space
after a full-width bracket or stop ("损失（loss） 应该下降"). Around ``**bold**`` none is
needed: CommonMark closes ``**`` after a Chinese character without one.
"""

import re

import pytest

from demo import gradio_words
from demo.i18n import LOCALES, TABLES, TEXTS, class_names, load_tables, t
from mobilenet.data import CLASS_NAMES

CJK = "\u3000-\u303f\u3400-\u4dbf\u4e00-\u9fff\uff00-\uffef"
EMPHASIS = r"[*_~]*"
INLINE = re.compile(rf"[{CJK}]{EMPHASIS}[ \t]+{EMPHASIS}[{CJK}]|[）」』】》，。：；！？、]{EMPHASIS}[ \t]+")
# Lines that start a Markdown block: a line break before or after them is no soft break
BLOCK = re.compile(r"^\s*(#|\||>|[-*+] |\d+[.)] |```|\$\$)")


def stray_spaces(text):
    """The places in ``text`` where a space (or a soft line break) sits inside a Chinese sentence."""
    found = [match.group() for match in INLINE.finditer(text)]
    lines = text.split("\n")
    for line, following in zip(lines, lines[1:]):
        if (line.strip() and following.strip() and not BLOCK.match(line) and not BLOCK.match(following)
                and re.search(rf"[{CJK}]{EMPHASIS}$", line.rstrip())
                and re.match(rf"{EMPHASIS}[{CJK}]", following.lstrip())):
            found.append(f"{line.rstrip()[-8:]}⏎{following.lstrip()[:8]}")
    return found


@pytest.mark.parametrize("text, expected", [
    ("所以第一个卷积没有经过 归一化", ["过 归"]),
    ("我们的模型\n有 3,228 个参数", ["我们的模型⏎有 3,228 "]),
    ("**损失（loss）** 应该下降", ["）** 应"]),
    ("请在 **训练** 页训练一个", ["在 **训", "练** 页"]),
    ("### 标题\n网络把所有图片", []),  # a heading, then a paragraph
    ("输入 32×32 像素，看到的是 **32×32**", []),  # a space beside digits or Latin letters is fine
    ("**混淆矩阵**统计了每一个回答", []),
])
def test_the_finder_finds_spaces_inside_chinese_sentences(text, expected):
    assert stray_spaces(text) == expected


@pytest.mark.parametrize("table", TABLES, ids=lambda path: path.rsplit("/", 1)[-1])
def test_no_chinese_text_has_a_stray_space(table):
    found = {text_id: hits for text_id, entry in load_tables([table]).items()
             if (hits := stray_spaces(entry.get("zh", "")))}
    assert not found, found


def test_class_names_keep_cifar10_order_in_every_language():
    """Every list of classes (bars, matrices, captions) follows CIFAR-10's order, which is
    alphabetical only in English: sorting the Chinese names would give 卡车 汽车 狗 猫 船…"""
    assert class_names("en") == list(CLASS_NAMES)
    chinese = class_names("zh")
    assert chinese == [t(f"page.classes.{name}", "zh") for name in CLASS_NAMES]
    assert chinese != sorted(chinese)  # so a plot that sorts its categories shows the wrong order


def test_the_mistakes_tab_is_not_named_like_the_error_badge():
    """Gradio marks a failed output "错误" (its zh-CN ``common.error``): the tab says something else."""
    assert "错误" not in t("mistakes.tab", "zh")


def test_gradio_words_have_both_languages_and_known_keys():
    for key, text_id in gradio_words.I18N_KEYS.items():
        assert key.startswith("common.")
        assert TEXTS[text_id]["en"] and TEXTS[text_id]["zh"] != TEXTS[text_id]["en"]
    css = gradio_words.css(LOCALES, t)
    assert 'html[lang="zh-CN"] .toast-title.error::before { content: "出错了"' in css
    assert "点击打开摄像头" in css and 'html[lang="en"]' not in css  # English is Gradio's own


def test_gradio_words_were_written_for_this_gradio():
    """The toast title and the webcam prompt are reached through Gradio's markup, not an API: a
    new Gradio may show them differently, so look again (demo/gradio_words.py) when this fails."""
    import gradio

    assert gradio.__version__ == gradio_words.GRADIO_VERSION


@pytest.mark.parametrize("table", TABLES, ids=lambda path: path.rsplit("/", 1)[-1])
def test_no_chinese_text_brings_a_space_into_the_sentence_it_joins(table):
    """A text written after another ("…完成：测试准确率 10.0%。" + " 验证准确率…") brings its
    leading space into the Chinese sentence; English needs it, Chinese does not (a " · "
    separator keeps its spaces in both)."""
    found = {text_id: entry["zh"] for text_id, entry in load_tables([table]).items()
             if re.match(r"[ \t](?!·)", entry.get("zh", "")) or re.search(r"(?<!·)[ \t]$", entry.get("zh", ""))}
    assert not found, found
