"""The Mobile tab through the API: export to LiteRT and the α trade-off plot, on a real server."""

import math
import os
import time
import xml.etree.ElementTree as ElementTree

import gradio as gr
import pytest
from gradio_client.exceptions import AppError

from app_server import SHIPPED_NAME, copy_checkpoint, running_app
from tab_support import built_alone
from classroom.catalog import CheckpointCatalog
from classroom.export_cache import KEEP_EXPORTS, ExportFolders
from classroom.settings import Settings
from demo.i18n import t
from demo.tabs import Context
from demo.tabs.mobile import MobileTab, export_note, export_table
from i18n_support import stray_marks, untranslated
from mobilenet.checkpoints import checkpoint_paths, read_metadata
from mobilenet.data import load_cifar10
from mobilenet.tradeoff import PAPER_RESOLUTION_SERIES, PAPER_WIDTH_SERIES, TEXTS
from loopback_client import api_client

pytestmark = pytest.mark.slow  # the tiers: docs/TESTS.md

SHIPPED_KEY = f"shipped/{SHIPPED_NAME}"


@pytest.fixture(scope="module")
def app(tiny_cifar, tiny_checkpoint, tmp_path_factory):
    root = str(tmp_path_factory.mktemp("app-export"))
    # The α sweep's folder holds the same tiny checkpoint: one more measured point.
    copy_checkpoint(tiny_checkpoint, os.path.join(root, "checkpoints", "sweep"), "alpha_0.25.keras")
    cache = os.path.join(root, "export-cache")
    with running_app(root, tiny_cifar[1], tiny_checkpoint, settings=Settings(export_dir=cache)) as launched:
        yield launched


@pytest.fixture
def client(app):
    return api_client(app[0])


def table_rows(frame):
    return [dict(zip(frame["headers"], row)) for row in frame["data"]]


def test_export_shows_keras_and_three_litert_files_side_by_side(client):
    note, table, files = client.predict(SHIPPED_KEY, api_name="/export")
    rows = table_rows(table)
    assert [r["model"] for r in rows] == ["Keras checkpoint (float32 weights)", "LiteRT float32",
                                          "LiteRT float16", "LiteRT int8"]
    assert "100 CIFAR-10 test pictures" in note  # the tiny test set: fewer than 2,000
    sizes = [r["size (MB)"] for r in rows]
    assert sizes[1] > sizes[2] > sizes[3]
    keras_ratio = rows[0]["× smaller than float32"]  # blank: a Keras file is no fair baseline
    assert keras_ratio is None or math.isnan(keras_ratio)
    assert [r["× smaller than float32"] for r in rows[1:]] == pytest.approx(
        [1.0, sizes[1] / sizes[2], sizes[1] / sizes[3]])
    assert rows[1]["same answer as Keras (%)"] == 100.0
    assert rows[1]["test accuracy (%)"] == rows[0]["test accuracy (%)"]
    assert all(r["latency (ms per picture)"] > 0 for r in rows)
    assert [os.path.basename(f) for f in files] == [
        "tiny_shipped_float32.tflite", "tiny_shipped_float16.tflite", "tiny_shipped_int8.tflite"]
    for path, row in zip(files, rows[1:]):
        assert abs(os.path.getsize(path) / 1e6 - row["size (MB)"]) < 0.01
        with open(path, "rb") as f:
            assert f.read(8)[4:8] == b"TFL3"  # the flatbuffer's file identifier


def test_a_second_export_reuses_the_cached_files(client, app):
    first = client.predict(SHIPPED_KEY, api_name="/export")
    started = time.monotonic()
    second = client.predict(SHIPPED_KEY, api_name="/export")
    assert time.monotonic() - started < 5
    assert table_rows(second[1]) == table_rows(first[1])  # the same measured figures
    assert len(os.listdir(os.path.join(os.path.dirname(app[1]), "export-cache"))) == 1


def test_the_export_cache_keeps_the_newest_checkpoints(tmp_path):
    exports = ExportFolders(str(tmp_path / "cache"))
    assert KEEP_EXPORTS == exports.keep == 4
    for i in range(6):
        folder = exports.folder(str(i) * 64)
        os.utime(folder, (1000 + i, 1000 + i))  # file times may be coarse: make the order plain
    assert sorted(int(name[0]) for name in os.listdir(tmp_path / "cache")) == [2, 3, 4, 5]
    exports.folder("2" * 64)  # exported again: now the newest
    exports.folder("6" * 64)
    assert sorted(int(name[0]) for name in os.listdir(tmp_path / "cache")) == [2, 4, 5, 6]
    elsewhere = str(tmp_path / "elsewhere")  # the Mobile tab's: from the settings
    assert mobile_tab(str(tmp_path), None, export_dir=elsewhere).exports.root == elsewhere


def test_export_explains_bad_input(client):
    with pytest.raises(AppError, match="not available any more"):
        client.predict("../../etc/passwd", api_name="/export")
    with pytest.raises(AppError, match="Pick a checkpoint"):
        client.predict(None, api_name="/export")


def test_export_without_cifar10_says_what_to_do(app_without_cifar10):
    with pytest.raises(AppError, match="MOBILENET_CIFAR10"):
        api_client(app_without_cifar10[0]).predict(SHIPPED_KEY, api_name="/export")


def test_tradeoff_plots_the_paper_and_our_checkpoints(client, tiny_checkpoint):
    svg, points = client.predict(api_name="/tradeoff")
    rows = table_rows(points)
    paper = [(r["point"], r["top-1 accuracy (%)"], r["M Mult-Adds"]) for r in rows
             if r["series"] in (PAPER_WIDTH_SERIES, PAPER_RESOLUTION_SERIES)]
    assert paper == [("α 1", 70.6, 569), ("α 0.75", 68.4, 325), ("α 0.5", 63.7, 149),
                     ("α 0.25", 50.6, 41), ("224 px", 70.6, 569), ("192 px", 69.1, 418),
                     ("160 px", 67.2, 290), ("128 px", 64.4, 186)]
    ours = [r for r in rows if r["series"].startswith("CIFAR-10")]
    accuracy = read_metadata(tiny_checkpoint)["metrics"]["test_accuracy"] * 100
    assert len(ours) == 2  # the shipped copy and the sweep copy
    assert all(r["point"] == "α 0.25" and abs(r["top-1 accuracy (%)"] - accuracy) < 1e-9 for r in ours)
    assert all(0 < r["relative Mult-Adds"] < 0.25 for r in ours)
    drawing = ElementTree.fromstring(svg)
    circles = drawing.findall(".//{http://www.w3.org/2000/svg}circle")
    assert len(circles) == len(rows)
    assert PAPER_WIDTH_SERIES in svg and "CIFAR-10 (ours)" in svg


def test_tradeoff_in_chinese(client):
    svg, points = client.predict("zh", api_name="/tradeoff")
    assert "ImageNet（论文表 6）：224×224 下的宽度 α" in svg and "CIFAR-10（我们的）：paper 变体" in svg
    assert svg.count("<circle") == 10  # the paper's 8, the shipped and the sweep checkpoint
    assert points["headers"] == ["系列", "数据点", "top-1 准确率（%）", "乘加运算（百万次）", "相对乘加运算"]
    for row in points["data"]:
        assert untranslated(row[0]) == [], row[0]
    with pytest.raises(AppError, match="请先选择一个检查点"):
        client.predict(None, "zh", api_name="/export")


def test_the_plot_words_are_translated_by_their_keys():
    assert {key: t(f"mobile.tradeoff.{key}", "en") for key in TEXTS} == TEXTS


REPORT = {"weights_dtype": "float16",
          "settings": {"test_images": 2000, "latency_runs": 50, "threads": 2, "calibration_images": 200},
          "rows": [{"kind": kind, "size_bytes": size, "latency_ms": 1.0, "accuracy": 0.8, "agreement": 1.0,
                    "path": f"/tmp/m_{kind}.tflite"}
                   for kind, size in (("keras", 900), ("float32", 800), ("float16", 400), ("int8", 200))]}


def test_export_table_and_note_in_chinese():
    note = export_note(REPORT, "zh")
    assert "**2,000 张 CIFAR-10 测试图片**" in note and "`tf.function`" in note
    assert untranslated(note) == [] and stray_marks(note) == [] and stray_marks(export_note(REPORT, "en")) == []
    frame = export_table(REPORT, "zh").data
    assert list(frame.columns) == ["模型", "大小（MB）", "比 float32 小（倍）", "延迟（ms/张）",
                                   "测试准确率（%）", "与 Keras 回答相同（%）", "文件"]
    assert list(frame["模型"]) == ["Keras 检查点（float16 权重）", "LiteRT float32", "LiteRT float16", "LiteRT int8"]
    assert list(frame["文件"]) == ["m_keras.tflite", "m_float32.tflite", "m_float16.tflite", "m_int8.tflite"]
    for text in [*frame.columns, *frame["模型"]]:
        assert untranslated(text) == [], text


class FakeRuns:
    def __init__(self, data):
        self.data = data

    def load_data(self):
        return self.data


def mobile_tab(root, work, data=None, export_dir=None):
    catalog = CheckpointCatalog(os.path.join(root, "checkpoints"), os.path.join(root, "runs"))
    settings = Settings(export_dir=export_dir or os.path.join(root, "cache"))
    return built_alone(MobileTab, Context(catalog, FakeRuns(data), None, work, settings))[0]


def test_a_language_switch_writes_the_export_again_without_exporting(tmp_path, work):
    tab = mobile_tab(str(tmp_path), work)
    shown = tab.relabel("zh", None, None)  # nothing exported yet
    table, plot, points = shown[tab.table], shown[tab.plot], shown[tab.points]
    assert tab.note not in shown and list(table.columns)[:2] == ["模型", "大小（MB）"] and len(table) == 0
    assert "ImageNet（论文表 7）" in plot and points.data.columns[0] == "系列"
    shown = tab.relabel("zh", None, REPORT)
    assert shown[tab.note] == export_note(REPORT, "zh") and shown[tab.table].data.equals(export_table(REPORT, "zh").data)
    shown = tab.relabel("en", None, REPORT)
    assert shown[tab.note].startswith("Accuracy on a fixed set of **2,000")
    assert shown[tab.table].data["model"][3] == "LiteRT int8"


def test_a_broken_checkpoint_is_named_without_the_servers_folders(tmp_path, tiny_cifar, tiny_checkpoint, work):
    broken = copy_checkpoint(tiny_checkpoint, str(tmp_path / "checkpoints"), "broken.keras")
    with open(checkpoint_paths(broken)[0], "wb") as f:
        f.write(b"not a keras file")
    tab = mobile_tab(str(tmp_path), work, load_cifar10(tiny_cifar[1]))
    for lang, said in (("en", "cannot be loaded"), ("zh", "无法加载")):
        with pytest.raises(gr.Error, match=said) as error:
            tab.export("shipped/broken.keras", lang=lang)
        assert "broken.keras" in error.value.message and str(tmp_path) not in error.value.message
