"""The app in a real browser: Playwright driving Debian's Chromium, headless.

Screenshots of each panel go to ``test-artifacts/`` (gitignored) to be looked at.
"""

import os
import re
import time

import pytest

from browser_support import EXAMPLES, browser_page, needs_chromium, screenshot, sync_api

pytestmark = [needs_chromium, pytest.mark.slow]


@pytest.fixture(scope="module")
def app_url(shared_app):
    return shared_app[0]


@pytest.fixture(scope="module")
def page(app_url):
    with browser_page(app_url) as page:
        yield page


def open_tab(page, name):
    page.get_by_role("tab", name=name).click()


def test_architecture_panel_shows_the_table_and_follows_alpha(page):
    expect = sync_api.expect
    open_tab(page, "1 · Architecture")
    expect(page.locator("#architecture-totals")).to_contain_text("3,239,114")
    expect(page.locator("#architecture-layers")).to_contain_text("conv_dw_1")
    expect(page.locator("#architecture-blocks")).to_contain_text("total")
    expect(page.get_by_text("Why the tutorial counts 3,238,986")).to_be_visible()
    page.locator("#architecture-alpha").get_by_label("0.5").check()
    expect(page.locator("#architecture-totals")).to_contain_text("834,666")
    page.locator("#architecture-alpha").get_by_label("1.0").check()
    expect(page.locator("#architecture-totals")).to_contain_text("3,239,114")
    screenshot(page, "1-architecture")


def curve_segments(page, plot):
    """How many line marks the plot has drawn (Vega renders SVG paths)."""
    return page.locator(f"#{plot} .mark-line path").count()


def current_step(page):
    match = re.search(r"step ([\d,]+)", page.inner_text("#train-progress"))
    return int(match.group(1).replace(",", "")) if match else 0


def test_train_panel_runs_plots_and_stops(page):
    expect = sync_api.expect
    open_tab(page, "2 · Train")
    expect(page.locator("#data-status")).to_contain_text("CIFAR-10 ready")
    page.locator("#train-name textarea, #train-name input").first.fill("Teacher")
    page.locator("#train-alpha").get_by_label("0.25").check()
    for slider, value in (("#train-images", "300"), ("#train-epochs", "30")):
        box = page.locator(f"{slider} input[type=number]")
        box.fill(value)
        box.press("Enter")
    page.locator("#train-batch input").click()
    page.get_by_role("option", name="16", exact=True).click()
    page.locator("#train-learning-rate input").fill("0.01")
    page.click("#start-training")
    expect(page.locator("#train-reply")).to_contain_text("Started")
    # Right after the app starts, its training worker may still be loading TensorFlow and the
    # data (the status says so meanwhile): the run starts training once it is ready.
    expect(page.locator("#run-status")).to_contain_text("Teacher is training", timeout=120_000)
    expect(page.locator("#run-status")).to_contain_text("270 training images, 30 epochs, batch 16")

    deadline = time.monotonic() + 90
    while curve_segments(page, "loss-plot") == 0 or current_step(page) < 40:
        assert time.monotonic() < deadline, "the curve did not appear"
        page.wait_for_timeout(500)
    first_step = current_step(page)
    page.wait_for_function(  # the page keeps updating by itself
        f"() => /step ([\\d,]+)/.test(document.querySelector('#train-progress').innerText) && "
        f"parseInt(document.querySelector('#train-progress').innerText.match(/step ([\\d,]+)/)[1]"
        f".replace(',', '')) > {first_step}")
    # Step 40 of 17-step epochs is past two epoch ends: train and validation are both drawn.
    for plot in ("loss-plot", "accuracy-plot"):
        expect(page.locator(f"#{plot} .mark-line path")).to_have_count(2)
        # the whole chart, x axis and its title included, inside the block (not cut off under its label)
        assert page.locator(f"#{plot}").evaluate(
            "b => b.querySelector('svg.marks').getBoundingClientRect().bottom <= b.getBoundingClientRect().bottom + 1")
        expect(page.locator(f"#{plot} svg.marks")).to_contain_text("epoch")
    screenshot(page, "2-train-running")

    page.click("#stop-training")
    expect(page.locator("#run-status")).to_contain_text("was stopped by Teacher", timeout=60_000)
    assert current_step(page) < 510  # 30 epochs of 17 steps (all 270 pictures, batch 16) were not all run
    screenshot(page, "2-train-stopped")


def test_classify_panel_labels_an_upload_and_lists_the_new_run(page):
    expect = sync_api.expect
    open_tab(page, "3 · Classify")
    expect(page.locator("#checkpoint-details")).to_contain_text("Test accuracy")
    page.locator("#checkpoint input").click()
    expect(page.get_by_role("option", name=re.compile("trained here.*stopped early"))).to_be_visible()
    page.keyboard.press("Escape")

    page.locator("#picture input[type=file]").set_input_files(
        os.path.join(EXAMPLES, "photo_cat_chelsea.jpg"))
    expect(page.locator("#top5")).to_contain_text("%")
    labels = page.locator("#top5").inner_text()
    assert sum(name in labels for name in ("airplane", "automobile", "bird", "cat", "deer", "dog",
                                           "frog", "horse", "ship", "truck")) == 5
    expect(page.locator("#network-input img")).to_be_visible()
    expect(page.locator("#timing")).to_contain_text("ms")
    screenshot(page, "3-classify")


def test_classify_panel_explains_a_file_that_is_not_a_picture(page, tmp_path):
    expect = sync_api.expect
    open_tab(page, "3 · Classify")
    fake = tmp_path / "holiday.png"
    fake.write_text("not really a picture")
    page.locator("#picture button[aria-label='Remove Image']").click()
    page.locator("#picture input[type=file]").set_input_files(str(fake))  # classified on arrival
    expect(page.get_by_text("holiday.png is not a picture")).to_be_visible()
    screenshot(page, "3-classify-bad-file")


def test_classroom_preset_opens_chinese_train_tab_without_advanced_settings(page, app_url):
    """?lang=zh&tab=train&simple=1: the teacher's link; then the language switch back."""
    expect = sync_api.expect
    context = page.context.browser.new_context(viewport={"width": 1366, "height": 900})
    student = context.new_page()
    student.set_default_timeout(30_000)
    student.ssr = page.ssr
    try:
        student.goto(f"{app_url}?lang=zh&tab=train&simple=1")
        expect(student.get_by_role("tab", name="2 · 训练")).to_have_attribute("aria-selected", "true",
                                                                            timeout=60_000)
        expect(student.get_by_role("button", name="开始训练")).to_be_visible()
        expect(student.locator("#train-epochs")).to_contain_text("轮次")
        expect(student.locator("#train-advanced")).to_be_hidden()
        expect(student.locator("#run-status")).not_to_contain_text("No run")
        # the run trained above: its curves drawn in a page that opened in English, then switched
        expect(student.locator("#loss-plot .mark-line path")).to_have_count(2)
        screenshot(student, "2-train-zh-simple")
        student.get_by_role("tab", name="3 · 分类").click()
        expect(student.get_by_text("问问网络看到了什么")).to_be_visible(timeout=30_000)
        expect(student.locator("#checkpoint-details")).to_contain_text("测试准确率")
        expect(student.locator("#top5")).to_contain_text("前 5 个猜测")  # classify.toml's top5, zh
        # Gradio's own texts follow the page's language, not the browser's (English here)
        expect(student.locator("#picture")).to_contain_text("点击上传")
        expect(student.get_by_text("通过 API 使用")).to_be_visible()
        screenshot(student, "3-classify-zh")
        student.locator("#language").get_by_label("English").check()
        expect(student.get_by_role("tab", name="3 · Classify")).to_be_visible(timeout=30_000)
        expect(student.get_by_text("Ask the network what it sees")).to_be_visible(timeout=30_000)
        expect(student.locator("#checkpoint-details")).to_contain_text("Test accuracy")
        expect(student.locator("#top5")).to_contain_text("Top 5 guesses")  # ... and en, no reload
        expect(student.get_by_text("Use via API")).to_be_visible()
        assert "lang=en" in student.url  # a reload keeps the language chosen
    finally:
        context.close()


def test_browser_language_decides_when_the_url_does_not(app_url, page):
    expect = sync_api.expect
    context = page.context.browser.new_context(locale="zh-CN", viewport={"width": 1366, "height": 900})
    try:
        visitor = context.new_page()
        visitor.ssr = page.ssr
        visitor.goto(app_url)
        expect(visitor.get_by_role("tab", name="1 · 网络结构")).to_be_visible(timeout=60_000)
        screenshot(visitor, "1-architecture-zh")
        visitor.get_by_role("tab", name="2 · 训练").click()
        expect(visitor.locator("#train-advanced")).to_be_visible()  # no ?simple=1: all settings
        expect(visitor.locator("#train-depth")).to_contain_text("学得快")
    finally:
        context.close()


def test_a_page_opened_on_look_inside_lists_the_layers(app_url, page):
    """?tab=look-inside: the tab's select event never fires, the lists are there anyway."""
    expect = sync_api.expect
    context = page.context.browser.new_context(viewport={"width": 1366, "height": 900})
    try:
        visitor = context.new_page()
        visitor.ssr = page.ssr
        visitor.goto(f"{app_url}?tab=look-inside")
        expect(visitor.get_by_role("tab", name="4 · Look inside")).to_have_attribute("aria-selected", "true",
                                                                                 timeout=60_000)
        expect(visitor.locator("#feature-layer input")).to_have_value(re.compile(r"conv_pw_\d+"))
        visitor.locator("#feature-layer input").click()
        assert visitor.get_by_role("option").count() > 4
    finally:
        context.close()


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_on_a_phone_the_header_stays_short(app_url, page, lang):
    """390 px wide: the title on one line, the language choice under it, not beside it."""
    expect = sync_api.expect
    context = page.context.browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True,
                                               has_touch=True, device_scale_factor=2)
    try:
        phone = context.new_page()
        phone.ssr = page.ssr
        phone.goto(f"{app_url}?lang={lang}")
        title = phone.locator("#page-header h1")
        expect(title).to_contain_text("MobileNet")
        expect(phone.locator("#architecture-totals")).to_contain_text("3,239,114", timeout=60_000)
        heading, choice = title.bounding_box(), phone.locator("#language").bounding_box()
        line = float(title.evaluate("e => parseFloat(getComputedStyle(e).lineHeight)"))
        assert heading["height"] < 1.5 * line, heading  # one line
        assert choice["y"] >= heading["y"] + heading["height"]  # below the title
        screenshot(phone, f"0-phone-{lang}")
    finally:
        context.close()
