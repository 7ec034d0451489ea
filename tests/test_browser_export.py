"""The Mobile tab in a real browser: export a checkpoint, download links, the trade-off plot.

Screenshots go to ``test-artifacts/`` (gitignored) to be looked at.
"""

import os
import re

import pytest

from app_server import copy_checkpoint, running_app
from browser_support import ARTIFACTS, BROKEN_WORDS, browser_page, needs_chromium, screenshot, sync_api
from classroom.settings import Settings
from demo.i18n import t

pytestmark = [needs_chromium, pytest.mark.slow]


@pytest.fixture(scope="module")
def page(tiny_cifar, tiny_checkpoint, tmp_path_factory):
    root = str(tmp_path_factory.mktemp("browser-export"))
    copy_checkpoint(tiny_checkpoint, os.path.join(root, "checkpoints", "sweep"), "alpha_0.25.keras")
    settings = Settings(export_dir=os.path.join(root, "export-cache"))
    with running_app(root, tiny_cifar[1], tiny_checkpoint, settings=settings) as (url, _, _), \
            browser_page(url, timeout_ms=60_000) as page:
        page.get_by_role("tab", name=t("mobile.tab", "en")).click()
        yield page


def test_export_fills_the_table_and_offers_three_files(page):
    expect = sync_api.expect
    page.click("#export-button")
    table = page.locator("#export-table")
    expect(table).to_contain_text("tiny_shipped_int8.tflite", timeout=120_000)
    for text in ("Keras checkpoint (float32 weights)", "LiteRT float32", "LiteRT float16", "LiteRT int8"):
        expect(table).to_contain_text(text)
    expect(page.locator("#export-note")).to_contain_text("100 CIFAR-10 test pictures")
    assert page.evaluate(BROKEN_WORDS, "#export-table td") == []  # not "tiny_shipped_int8.t / flite"
    files = page.locator("#export-files")
    expect(files.locator("a")).to_have_count(3)  # one download link per file, with its size
    for kind in ("float32", "float16", "int8"):
        expect(files.get_by_role("cell", name=f"tiny_shipped_{kind}.tflite")).to_be_visible()
    with page.expect_download() as download:
        files.get_by_role("row", name=re.compile("tiny_shipped_int8.tflite")).get_by_role("link").click()
    assert download.value.suggested_filename == "tiny_shipped_int8.tflite"
    page.set_viewport_size({"width": 390, "height": 844})  # on a phone: each file's whole name, not "tiny_s… .tflite"
    try:
        expect(files.locator(".stem")).to_have_count(3)
        assert files.locator(".stem").evaluate_all("stems => stems.every(s => s.scrollWidth <= s.clientWidth + 1)")
    finally:
        page.set_viewport_size({"width": 1366, "height": 900})
    screenshot(page, "6-mobile-export")


def test_tradeoff_plot_shows_the_paper_and_our_points(page):
    expect = sync_api.expect
    plot = page.locator("#tradeoff-plot svg")
    expect(plot).to_be_visible()
    expect(plot.locator("circle")).to_have_count(8 + 2)  # the paper's 8, the shipped and sweep copies
    expect(plot).to_contain_text("ImageNet (paper, Table 6)")
    expect(plot).to_contain_text("CIFAR-10 (ours)")
    page.click("#tradeoff-refresh")
    expect(plot.locator("circle")).to_have_count(10)
    page.locator("#tradeoff-plot").scroll_into_view_if_needed()
    page.locator("#tradeoff-plot").screenshot(path=os.path.join(ARTIFACTS, "6-mobile-tradeoff.png"))


def test_a_language_switch_writes_the_export_and_the_plot_again(page):
    """After an export: 中文 writes its table, note and the plot in Chinese, without exporting again."""
    expect = sync_api.expect
    slow = {"timeout": 30_000}  # the switch writes every tab's texts again, on a CPU a run may share
    if "tiny_shipped_int8.tflite" not in page.locator("#export-table").inner_text():  # run alone
        page.click("#export-button")
        expect(page.locator("#export-table")).to_contain_text("tiny_shipped_int8.tflite", timeout=120_000)
    page.locator("#language").get_by_text("中文").click()
    expect(page.locator("#export-table")).to_contain_text("延迟（ms/张）", **slow)
    expect(page.locator("#export-table")).to_contain_text("Keras 检查点（float32 权重）", **slow)
    expect(page.locator("#export-note")).to_contain_text("张 CIFAR-10 测试图片", **slow)
    expect(page.locator("#tradeoff-plot svg")).to_contain_text("论文表 6", **slow)
    expect(page.get_by_role("tab", name="6 · 手机")).to_be_visible(**slow)
    page.locator("#language").get_by_text("English").click()
    expect(page.locator("#export-table")).to_contain_text("latency (ms per picture)", **slow)
    expect(page.locator("#tradeoff-plot svg")).to_contain_text("ImageNet (paper, Table 6)", **slow)
