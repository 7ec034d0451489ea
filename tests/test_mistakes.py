"""Most-confused pairs and most confident mistakes, and their bounded cache."""

import json
import os
import re

import gradio as gr
import numpy as np
import pytest

import mobilenet.mistakes as mistakes_module
from mobilenet.data import Cifar10, load_cifar10
from mobilenet.evaluate import predict_probabilities
from mobilenet.mistakes import MistakesCache, confused_pairs, find_mistakes, mistakes_from_probabilities
from mobilenet.model import build_mobilenet
from mobilenet.report import CONFUSION_TEXTS

CAT, DOG, FROG, TRUCK = 3, 5, 6, 9


def one_hot_answers(labels, answers, confidences):
    """Probabilities that put ``confidence`` on ``answer`` and share the rest."""
    probabilities = np.full((len(labels), 10), 0.0)
    for row, (answer, confidence) in enumerate(zip(answers, confidences)):
        probabilities[row] = (1 - confidence) / 9
        probabilities[row, answer] = confidence
    return probabilities


def test_pairs_count_both_directions_and_sort_the_examples_by_confidence():
    #            cat→dog ×3,   dog→cat,  frog→cat,  truck right, cat right
    labels = np.array([CAT, CAT, CAT, DOG, FROG, TRUCK, CAT])
    answers = np.array([DOG, DOG, DOG, CAT, CAT, TRUCK, CAT])
    confidences = [0.6, 0.9, 0.7, 0.8, 0.95, 0.8, 0.5]
    result = mistakes_from_probabilities(one_hot_answers(labels, answers, confidences), labels,
                                         top_pairs=5, per_direction=2)
    assert result["images"] == 7 and result["accuracy"] == pytest.approx(2 / 7)
    first, second = result["pairs"]
    assert (first["classes"], first["mistakes"]) == ([CAT, DOG], 4)
    cat_as_dog, dog_as_cat = first["directions"]
    assert (cat_as_dog["true"], cat_as_dog["predicted"], cat_as_dog["count"]) == (CAT, DOG, 3)
    assert [e["index"] for e in cat_as_dog["examples"]] == [1, 2]  # 0.9, 0.7; 0.6 cut
    assert cat_as_dog["examples"][0]["confidence"] == pytest.approx(0.9)
    assert (dog_as_cat["count"], [e["index"] for e in dog_as_cat["examples"]]) == (1, [3])
    assert (second["classes"], second["mistakes"]) == ([CAT, FROG], 1)
    assert second["directions"][0]["examples"] == []  # no cat was called a frog
    assert json.loads(json.dumps(result)) == result  # plain JSON: indices, never pixels


def test_confused_pairs_leave_out_pairs_without_mistakes():
    confusion = np.eye(10, dtype=int) * 10
    assert confused_pairs(confusion) == []
    confusion[2, 7] = 4
    confusion[7, 2] = 1
    confusion[0, 8] = 3
    assert confused_pairs(confusion, top_pairs=1) == [(2, 7, 5)]
    assert confused_pairs(confusion) == [(2, 7, 5), (0, 8, 3)]


@pytest.fixture(scope="module")
def model():
    return build_mobilenet(alpha=0.25, dropout=0)


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(1)
    images = rng.integers(0, 256, size=(40, 32, 32, 3), dtype=np.uint8)
    return Cifar10(images[:0], np.zeros(0, np.int64), images, np.arange(40) % 10, "test-fixture")


def test_find_mistakes_classifies_the_test_set_in_batches(model, data):
    seen = []
    result = find_mistakes(model, data, batch_size=3, progress=lambda done, total: seen.append((done, total)))
    assert seen == [(12, 40), (24, 40), (36, 40), (40, 40)]
    expected = mistakes_from_probabilities(predict_probabilities(model, data.x_test), data.y_test)
    assert result["confusion_matrix"] == expected["confusion_matrix"]
    assert sum(map(sum, result["confusion_matrix"])) == 40


def test_cache_computes_once_and_keeps_few_files(model, data, tmp_path, monkeypatch):
    cache = MistakesCache(str(tmp_path), keep_files=2)
    first = cache.mistakes(model, "a" * 64, data)
    (path,) = tmp_path.iterdir()
    assert json.loads(path.read_text()) == first

    def fail(*args, **kwargs):
        raise AssertionError("computed again")

    monkeypatch.setattr(mistakes_module, "find_mistakes", fail)
    assert cache.mistakes(model, "a" * 64, data) == first  # memory
    assert MistakesCache(str(tmp_path)).mistakes(model, "a" * 64, data) == first  # disk
    monkeypatch.undo()

    for sha in "bc":
        os.utime(path, (1, 1))  # the oldest file goes first
        cache.mistakes(model, sha * 64, data)
    assert sorted(p.name[0] for p in tmp_path.iterdir()) == ["b", "c"]


def test_cache_recomputes_a_corrupt_or_foreign_file(model, data, tmp_path):
    cache = MistakesCache(str(tmp_path))
    result = cache.mistakes(model, "d" * 64, data)
    (path,) = tmp_path.iterdir()
    path.write_text(json.dumps({**result, "images": 10_000}))  # another test set's indices
    assert MistakesCache(str(tmp_path)).mistakes(model, "d" * 64, data) == result
    path.write_text("{not json")
    assert MistakesCache(str(tmp_path)).mistakes(model, "d" * 64, data) == result


def test_a_remembered_result_is_read_without_a_network(model, data, tmp_path):
    """``remembered`` (what the app's server reads, with no network loaded) answers what another
    process computed into the shared folder, and nothing for weights or settings never computed,
    weights without a name, or a file far larger than a result is."""
    assert MistakesCache(str(tmp_path)).remembered("h" * 64, data) is None
    result = MistakesCache(str(tmp_path)).mistakes(model, "h" * 64, data)  # another process's cache
    reader = MistakesCache(str(tmp_path))
    assert reader.remembered("h" * 64, data) == result
    assert reader.remembered("h" * 64, data, top_pairs=2) is None and reader.remembered(None, data) is None
    (path,) = tmp_path.iterdir()
    path.write_text(json.dumps({**result, "padding": "x" * mistakes_module.MAX_FILE_BYTES}))
    assert reader.remembered("h" * 64, data) is None


def test_the_test_set_is_hashed_once_per_data_not_per_request(model, data, tmp_path, monkeypatch):
    hashed = []
    fingerprint = mistakes_module.test_set_fingerprint
    monkeypatch.setattr(mistakes_module, "test_set_fingerprint", lambda d: hashed.append(d) or fingerprint(d))
    cache = MistakesCache(str(tmp_path))
    result = cache.mistakes(model, "i" * 64, data)
    assert cache.remembered("i" * 64, data) == result and cache.remembered("j" * 64, data) is None
    assert hashed == [data]
    other = Cifar10(data.x_train, data.y_train, data.x_test[::-1].copy(), data.y_test, "another")
    assert cache.remembered("i" * 64, other) is None and hashed == [data, other]


def test_cache_in_memory_is_bounded(model, data):
    cache = MistakesCache(None, keep_in_memory=2)
    for sha in "efg":
        cache.mistakes(model, sha * 64, data, top_pairs=1, per_direction=1)
    assert len(cache._memory) == 2


# -- the Mistakes tab: one pass, shown and drawn again in either language ----------------------------

class FakeRuns:
    """The ``load_data`` of the app's runs: ``data``, or the error it raises."""

    def __init__(self, data=None, error=None):
        self.data, self.error = data, error

    def load_data(self):
        if self.error:
            raise self.error
        return self.data


def mistakes_tab(folder, runs, work, checkpoint=None):
    from app_server import copy_checkpoint
    from classroom.catalog import CheckpointCatalog
    from demo.tabs import Context
    from demo.tabs.mistakes import MistakesTab
    from tab_support import built_alone

    if checkpoint:
        copy_checkpoint(checkpoint, str(folder / "checkpoints"), "tiny_shipped.keras")
    return built_alone(MistakesTab, Context(CheckpointCatalog(str(folder / "checkpoints"), str(folder / "runs")),
                                            runs, None, work))[0]


def shown_parts(tab, answer):
    """(status, matrix, pairs, shown) of a callback's answer (``{component: update}``)."""
    return answer[tab.status], answer[tab.matrix], answer[tab.pairs], answer[tab.shown]


def chinese(text):
    from i18n_support import untranslated

    assert re.search(r"[\u4e00-\u9fff]", text), text
    assert untranslated(re.sub(r"<[^>]*>|data:image/png;base64,[^\"]*", " ", text)) == [], text


def test_mistakes_tab_shows_a_pass_and_draws_it_again_in_chinese(tiny_cifar, tiny_checkpoint, tmp_path, monkeypatch,
                                                                 work):
    from i18n_support import stray_marks

    data = load_cifar10(tiny_cifar[1])
    tab = mistakes_tab(tmp_path, FakeRuns(data), work, tiny_checkpoint)
    seen = []
    status, matrix, pairs, shown = shown_parts(tab, tab.mistakes("shipped/tiny_shipped.keras",
                                                                 lambda done, desc: seen.append(desc)))
    assert seen and seen[-1] == f"Classifying the test pictures: {len(data.y_test)} of {len(data.y_test)}"
    assert status.startswith("**shipped: paper α 0.25 · test ") and "test pictures right" in status
    assert stray_marks(status) == []
    assert "predicted class →" in matrix and ">cat</text>" in matrix
    assert re.search(r"<b>\w+ ↔ \w+</b>: \d+ mistakes?", pairs) and "true " in pairs

    monkeypatch.setattr(mistakes_module, "find_mistakes", None)  # drawn again, never computed again
    again = tab.relabel("zh", "shipped/tiny_shipped.keras", shown)
    checkpoints, status, matrix, pairs = again[tab.checkpoint], again[tab.status], again[tab.matrix], again[tab.pairs]
    assert checkpoints.choices[0][0].startswith("随附：paper α 0.25 · 测试 ")
    assert status.startswith("**随附：paper α 0.25 · 测试 ") and "张测试图片中答对" in status
    assert stray_marks(status) == []
    assert "预测类别 →" in matrix and ">猫</text>" in matrix
    assert re.search(r"<b>\w+ ↔ \w+</b>：\d+ 次错误", pairs)
    for text in (status, matrix, pairs):
        chinese(text)
    english = tab.relabel("en", "shipped/tiny_shipped.keras", shown)
    assert {key: value for key, value in english.items() if key is not tab.checkpoint} == tab.render(shown, "en")
    assert list(tab.relabel("zh", "shipped/tiny_shipped.keras", None)) == [tab.checkpoint]  # nothing shown yet


def test_a_remembered_pass_does_not_wait_for_a_busy_long_worker(tiny_cifar, tiny_checkpoint, tmp_path, work):
    """The long worker may be busy for a minute with a classmate's export (one worker: exports
    and Mistakes passes take turns); a pass it has already made is read by the server instead."""
    import concurrent.futures
    import time

    import pool_tasks

    tab = mistakes_tab(tmp_path, FakeRuns(load_cifar10(tiny_cifar[1])), work, tiny_checkpoint)
    first = tab.mistakes("shipped/tiny_shipped.keras")[tab.shown]
    with concurrent.futures.ThreadPoolExecutor(1) as export:
        busy = export.submit(work.long.call, pool_tasks.sleep, 6)  # someone's export
        time.sleep(1)
        started = time.monotonic()
        again = tab.mistakes("shipped/tiny_shipped.keras")[tab.shown]
        waited, still_busy = time.monotonic() - started, not busy.done()
        assert busy.result(timeout=60) == "slept"
    assert waited < 3, f"a remembered pass waited {waited:.1f} s for the long worker"
    assert still_busy and again == first


def test_mistakes_tab_says_what_stands_in_the_way(tiny_checkpoint, tmp_path, work):
    from i18n_support import stray_marks
    from mobilenet.data import DataUnavailableError

    empty = mistakes_tab(tmp_path / "empty", FakeRuns(), work)
    status, _, _, shown = shown_parts(empty, empty.mistakes_when_ready(None))
    assert status == "No trained network yet: train one on the **Train** tab."
    assert empty.render(shown, "zh")[empty.status] == "还没有训练好的网络：请在**训练**页训练一个。"

    no_data = mistakes_tab(tmp_path / "no-data", FakeRuns(error=DataUnavailableError("set MOBILENET_CIFAR10")),
                           work, tiny_checkpoint)
    status, matrix, pairs, shown = shown_parts(no_data, no_data.mistakes_when_ready("shipped/tiny_shipped.keras"))
    assert status.startswith("**No test pictures.** The CIFAR-10 test pictures are not available")
    assert status.endswith("set MOBILENET_CIFAR10") and (matrix, pairs) == ("", "")
    assert no_data.render(shown, "zh")[no_data.status].startswith("**没有测试图片**。本服务器上没有 CIFAR-10 测试图片")
    with pytest.raises(gr.Error, match="MOBILENET_CIFAR10"):
        no_data.mistakes("shipped/tiny_shipped.keras")

    status, _, _, shown = shown_parts(no_data, no_data.mistakes_when_ready("shipped/gone.keras"))
    assert status == "**Pick a checkpoint.** That checkpoint is not available any more: pick another one."
    assert no_data.render(shown, "zh")[no_data.status] == "**请选择检查点**。这个检查点已经不可用：请换一个。"
    for lang in ("en", "zh"):
        assert stray_marks(no_data.render(shown, lang)[no_data.status]) == []


def test_the_confusion_matrix_words_are_translated_by_their_keys():
    from demo.i18n import t

    assert {key: t(f"mistakes.confusion.{key}", "en") for key in CONFUSION_TEXTS} == CONFUSION_TEXTS
