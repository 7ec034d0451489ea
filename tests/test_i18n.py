"""中文 / English: the language choice, and no visible text left untranslated."""

import re

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


def test_train_tab_messages_in_chinese():
    from demo.i18n import Text
    from demo.runs import failure_reason
    from mobilenet.worker import describe_error
    from demo.train_tab import data_message, progress_html, results_view, status_message

    config = {"variant": "paper", "alpha": 1.0, "depth": "shallow", "epochs": 3, "batch_size": 128,
              "learning_rate": 0.01, "augmentation": False}
    latest = {"epoch": 2, "epochs": 3, "global_step": 500, "images_per_sec": 1200.0}
    metrics = {"test_accuracy": 0.62, "validation_accuracy": 0.6, "test_images": 10000,
               "per_class_accuracy": {"cat": 0.4, "dog": 0.5}, "confusion_matrix": [[1] * 10] * 10}
    base = {"config": config, "started_by": "小明", "checkpoint": "run.keras", "train_images": 35000, "elapsed_s": 75,
            "stage": None, "stopped_by": None, "error": None, "metrics": None, "latest": latest,
            "total_steps": 822, "seconds_left": 20}
    runs = [None, {**base, "state": "starting", "latest": None},
            {**base, "state": "running"},
            {**base, "state": "stopping", "stopped_by": "小红",
             "stage": Text("{stage} on the {split} set", stage=Text("evaluating"), split=Text("test"))},
            {**base, "state": "failed", "error": failure_reason(describe_error(MemoryError()))},
            {**base, "state": "failed", "error": failure_reason({"event": "exited", "exitcode": -9})},
            {**base, "state": "failed", "error": failure_reason({"event": "exited", "exitcode": 1})},
            {**base, "state": "stopped", "stopped_by": Text("the time limit"), "metrics": metrics},
            {**base, "state": "stopped", "stopped_by": "小红", "checkpoint": None, "error": Text(
                "it did not answer Stop within {seconds} s and was ended; nothing of this run was saved "
                "(the checkpoints saved before are intact).", seconds=5)},
            {**base, "state": "stopped", "stopped_by": "小红", "metrics": metrics},
            {**base, "state": "done", "metrics": metrics}]
    texts = [status_message(run, "zh") for run in runs] + [progress_html(run, "zh") for run in runs]
    texts += [data_message({"state": "ready", "message": Text(
        "CIFAR-10 ready: {train:,} training and {test:,} test images.", train=50000, test=10000)}, "zh")]
    visible, summary, per_class, _ = results_view(runs[-1], "zh")
    assert visible and list(per_class["class"]) == ["猫", "狗"]
    for text in texts + [summary]:
        assert untranslated(text) == [], text
    assert "62.0%" in status_message(runs[-1], "zh") and "小明" in status_message(runs[-1], "zh")
    assert status_message(runs[-1], "en").startswith("The run by **小明** finished")


def test_classify_and_architecture_answer_in_chinese(tiny_cifar, tiny_checkpoint, tmp_path):
    import os

    from gradio_client import Client, handle_file
    from gradio_client.exceptions import AppError

    from app_server import SHIPPED_NAME, running_app

    photo = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "demo",
                         "examples", "photo_coffee.jpg")
    with running_app(str(tmp_path), tiny_cifar[1], tiny_checkpoint) as (url, _, _):
        client = Client(url, verbose=False)
        key = f"shipped/{SHIPPED_NAME}"
        top5, everything, _, timing = client.predict(handle_file(photo), key, "zh", api_name="/classify")
        assert {item["label"] for item in top5["confidences"]} <= set(class_names("zh"))
        assert everything["headers"] == ["类别", "概率"] and untranslated(timing) == []
        details = client.predict(key, "zh", api_name="/describe_checkpoint")
        assert "测试准确率" in details and untranslated(details) == []
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
    import os

    from markdown_it import MarkdownIt

    from demo.catalog import CheckpointEntry
    from demo.classify_tab import checkpoint_details
    from mobilenet import DEFAULT_CHECKPOINT
    from mobilenet.checkpoints import read_metadata

    metadata = read_metadata(DEFAULT_CHECKPOINT)
    entry = CheckpointEntry("shipped/x", DEFAULT_CHECKPOINT, os.path.basename(DEFAULT_CHECKPOINT), metadata)
    assert entry.flip and entry.test_accuracy == metadata["metrics"]["test_accuracy_tta"]
    details = checkpoint_details(entry, lang)
    assert f"{entry.test_accuracy:.1%}" in details and ("flip TTA" if lang == "en" else "翻转 TTA") in details
    assert ("+ 24 epochs of weight averaging" if lang == "en" else "另加 24 轮权重平均") in details
    html = MarkdownIt("commonmark").render(details)
    text = re.sub(r"<[^>]+>", "", html)
    assert html.count("<strong>") == 4 and not re.search(r"\*\*|(?<!\w)_|#", text), html


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_a_stopped_runs_checkpoint_line_says_not_measured(lang):
    from demo.catalog import CheckpointEntry
    from demo.classify_tab import checkpoint_details

    entry = CheckpointEntry("run/x.keras", "/runs/x.keras", "x", {"metrics": {"test_accuracy": None}, "stopped": True})
    details = checkpoint_details(entry, lang)
    assert ("not measured" if lang == "en" else "未测量") in details and not entry.flip

