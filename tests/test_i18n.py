"""中文 / English: the language choice, and no visible text left untranslated."""

import pytest

from demo.i18n import PageText, class_names, needs_translation, pick_language, tr, translated, untranslated


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


def test_templates_and_class_names():
    assert tr("Start training", "zh") == "开始训练" and tr("Start training", "en") == "Start training"
    assert class_names("zh") == ["飞机", "汽车", "鸟", "猫", "鹿", "狗", "青蛙", "马", "船", "卡车"]
    assert tr("no such text", "zh") == "no such text"  # missing: English, never a key
    assert untranslated("训练 `conv_pw_13` 用 3×3 卷积, 12.5 ms, α 0.5, CIFAR-10") == []
    assert untranslated("训练 the network") == ["the", "network"]


def test_every_static_text_of_the_page_has_chinese(tiny_cifar, tmp_path):
    from demo.ui import build_demo

    demo = build_demo(checkpoint_dir=str(tmp_path / "checkpoints"), runs_dir=str(tmp_path / "runs"),
                      data_source=tiny_cifar[1])
    (set_language,) = [f for f in demo.fns.values() if f.api_name == "set_language"]
    page_text = set_language.fn.__self__
    assert isinstance(page_text, PageText) and len(page_text.entries) > 40
    missing = [text[:80] for text in page_text.english() if needs_translation(text) and not translated(text)]
    assert missing == []
    leftovers = {text[:60]: untranslated(tr(text, "zh")) for text in page_text.english()}
    assert {text: words for text, words in leftovers.items() if words} == {}
