"""The Look inside and Mistakes tabs in a real browser (Playwright, Debian's Chromium, headless).

Screenshots go to ``test-artifacts/`` (gitignored) to be looked at.
"""

import os
import re

import pytest

from browser_support import EXAMPLES, browser_page, needs_chromium, screenshot, sync_api

pytestmark = [needs_chromium, pytest.mark.slow]


@pytest.fixture(scope="module")
def page(shared_app):
    with browser_page(shared_app[0]) as page:
        RUNNING["app"] = shared_app
        yield page


RUNNING = {}  # the app behind ``page``: its worker pools count what the network ran


def counted(function, calls):
    """``function``, appending its first argument (the task) to ``calls`` each time it is called."""
    def wrapper(*args, **kwargs):
        calls.append(args[0] if args else function.__name__)
        return function(*args, **kwargs)
    return wrapper


def pick(page, dropdown, option):
    page.locator(f"#{dropdown} input").click()
    page.get_by_role("option", name=option, exact=True).click()


def test_look_inside_shows_where_the_network_looks(page):
    expect = sync_api.expect
    page.get_by_role("tab", name="4 · Look inside").click()
    expect(page.locator("#kernel-info")).to_contain_text("conv_dw_1")  # filled when the tab opens
    page.locator("#look-picture input[type=file]").set_input_files(
        os.path.join(EXAMPLES, "photo_cat_chelsea.jpg"))
    note = page.locator("#gradcam-note")
    expect(note).to_contain_text("the network's answer")
    expect(note).to_contain_text("last layer with a map larger than 1×1")  # paper variant
    expect(page.locator("#gradcam img")).to_be_visible()
    expect(page.locator("#feature-info")).to_contain_text("2×2 map")  # the default layer
    screenshot(page, "4-look-inside")

    # Another class than the answer: the tiny test network's answer depends on the CPU it was
    # trained on (it said frog on one CI machine), so the class is picked from what it said.
    answer = note.locator("strong").first.inner_text()
    other = "truck" if answer == "frog" else "frog"
    pick(page, "explain-class", other)
    expect(note).to_contain_text(f"{other} (probability")


def test_look_inside_feature_maps_follow_the_layer(page):
    expect = sync_api.expect
    pick(page, "feature-layer", "conv_pw_3 · pointwise 1×1")
    expect(page.locator("#feature-info")).to_contain_text("conv_pw_3: 8×8 map, 32 channels")
    expect(page.locator("#feature-maps img")).to_be_visible()
    sizes = page.locator("#map-sizes").inner_text()
    assert re.search(r"conv_dw_2, conv_pw_2\s+8×8\s+16 → 32", sizes)
    page.locator("#feature-maps").scroll_into_view_if_needed()
    screenshot(page, "4-look-inside-feature-maps")

    pick(page, "kernel-block", "2")
    expect(page.locator("#kernel-info")).to_contain_text("conv_dw_2: 16 kernels of 3×3")
    expect(page.locator("#kernels img")).to_be_visible()


def test_a_page_opened_on_the_tab_lists_the_layers(page):
    """``?tab=look-inside`` opens the page on this tab, which fires no ``tab.select``: the layer
    and block lists and the first kernels are there from the start."""
    expect = sync_api.expect
    opened = page.context.browser.new_page(viewport={"width": 1366, "height": 900})
    opened.set_default_timeout(30_000)
    opened.goto(page.url.split("?")[0] + "?tab=look-inside")
    expect(opened.locator("#kernel-info")).to_contain_text("conv_dw_1: 8 kernels of 3×3")
    expect(opened.locator("#map-sizes")).to_contain_text("conv_dw_3, conv_pw_3")
    pick(opened, "feature-layer", "conv_pw_3 · pointwise 1×1")
    pick(opened, "kernel-block", "2")
    expect(opened.locator("#kernel-info")).to_contain_text("conv_dw_2: 16 kernels of 3×3")
    opened.close()


def test_look_inside_says_when_a_file_is_not_a_picture(page, tmp_path):
    expect = sync_api.expect
    fake = tmp_path / "holiday.png"
    fake.write_text("not really a picture")
    page.locator("#look-picture button[aria-label='Remove Image']").click()
    page.locator("#look-picture input[type=file]").set_input_files(str(fake))
    expect(page.get_by_text("holiday.png is not a picture")).to_be_visible()


def test_mistakes_tab_shows_pairs_beside_the_confusion_matrix(page):
    expect = sync_api.expect
    page.get_by_role("tab", name="5 · Mistakes").click()
    expect(page.locator("#mistakes-status")).to_contain_text("of 100 test pictures right")
    expect(page.locator("#mistakes-confusion svg")).to_contain_text("predicted class")
    first = page.locator("#mistakes-pairs section").first
    expect(first).to_contain_text(re.compile(r"\w+ ↔ \w+: \d+ mistakes"))
    expect(first).to_contain_text(re.compile(r"\d+ \w+ pictures? called \w+"))
    expect(first).to_contain_text(re.compile(r"true \w+ → said \w+ \d+%"))
    picture = first.locator("img").first
    expect(picture).to_be_visible()
    assert picture.evaluate("img => img.naturalWidth") == 32  # loaded, shown enlarged
    assert picture.bounding_box()["width"] > 64
    screenshot(page, "5-mistakes")


def test_the_three_tabs_in_chinese_and_back(page, monkeypatch):
    """``?lang=zh``: tab names, labels and every text the tabs write in Chinese; switching to
    English re-writes the texts already shown (Look inside's from what they were made of: the
    network does not run again)."""
    expect = sync_api.expect
    runs, quick = [], RUNNING["app"].demo.work.quick
    monkeypatch.setattr(quick, "call", counted(quick.call, runs))  # every network runs through it
    slow = {"timeout": 30_000}  # each answer runs on a CPU that a training run may share
    zh = page.context.browser.new_page(viewport={"width": 1366, "height": 900})
    zh.set_default_timeout(30_000)
    zh.goto(page.url.split("?")[0] + "?lang=zh")
    zh.get_by_role("tab", name="4 · 看看内部").click()
    expect(zh.get_by_text("要解释的类别")).to_be_visible(**slow)
    expect(zh.locator("#kernel-info")).to_contain_text("conv_dw_1：8 个 3×3 卷积核", **slow)
    zh.locator("#look-picture input[type=file]").set_input_files(
        os.path.join(EXAMPLES, "photo_cat_chelsea.jpg"))
    expect(zh.locator("#gradcam-note")).to_contain_text("网络在图片的哪里寻找", **slow)
    expect(zh.locator("#feature-info")).to_contain_text("2×2 特征图", **slow)
    expect(zh.locator("#map-sizes")).to_contain_text("通道", **slow)
    screenshot(zh, "4-look-inside-zh")

    zh.get_by_role("tab", name="5 · 认错的图片").click()
    expect(zh.locator("#mistakes-status")).to_contain_text("张测试图片中答对", **slow)
    expect(zh.locator("#mistakes-confusion svg")).to_contain_text("预测类别", **slow)
    expect(zh.locator("#mistakes-pairs section").first).to_contain_text("次错误", **slow)
    screenshot(zh, "5-mistakes-zh")

    zh.get_by_role("tab", name="6 · 手机").click()
    expect(zh.locator("#tradeoff-plot svg")).to_contain_text("论文表 6", **slow)
    expect(zh.locator("#export-table")).to_contain_text("延迟", **slow)
    screenshot(zh, "6-mobile-zh")

    ran = len(runs)
    zh.locator("#language").get_by_text("English").click()
    expect(zh.get_by_role("tab", name="6 · Mobile")).to_be_visible(**slow)
    expect(zh.locator("#tradeoff-plot svg")).to_contain_text("paper, Table 6", **slow)
    expect(zh.locator("#export-table")).to_contain_text("latency", **slow)
    expect(zh.locator("#mistakes-status")).to_contain_text("test pictures right", **slow)
    zh.get_by_role("tab", name="4 · Look inside").click()
    expect(zh.locator("#gradcam-note")).to_contain_text("Where the network looks for", **slow)
    expect(zh.locator("#map-sizes")).to_contain_text("channels", **slow)
    expect(zh.locator("#feature-info")).to_contain_text("2×2 map", **slow)
    expect(zh.locator("#kernel-info")).to_contain_text("8 kernels of 3×3", **slow)
    assert len(runs) == ran
    zh.close()
