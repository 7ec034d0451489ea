"""The page on a 390 × 844 phone (all seven tabs, wide things scroll inside the page, none wider
than the screen) and Gradio's own words on the 中文 page (toast titles, the footer)."""

import os

import pytest

from browser_support import BROKEN_WORDS, EXAMPLES, browser_page, needs_chromium, screenshot, sync_api

pytestmark = [needs_chromium, pytest.mark.slow]
PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True, "device_scale_factor": 2}
# Elements whose right edge passes the screen's, outside any box that scrolls sideways
TOO_WIDE = """() => {
  const width = document.documentElement.clientWidth, found = [];
  for (const element of document.querySelectorAll("body *")) {
    const box = element.getBoundingClientRect();
    if (!box.width || box.right <= width + 1) continue;
    let parent = element.parentElement, scrolled = false;
    for (; parent; parent = parent.parentElement) {
      if (["auto", "scroll"].includes(getComputedStyle(parent).overflowX)) { scrolled = true; break; }
    }
    if (!scrolled) found.push(`${element.tagName}#${element.id}.${String(element.className).slice(0, 40)}`);
  }
  return found.slice(0, 10);
}"""


def too_wide(page, settle_ms=30_000):
    """What ``TOO_WIDE`` finds once the page has settled: a plot is drawn at its container's width
    a moment after its tab shows (longer on a busy machine), and drawn again at the phone's width;
    what is still too wide after ``settle_ms`` is what a student sees."""
    try:
        page.wait_for_function(f"() => ({TOO_WIDE})().length === 0", timeout=settle_ms)
    except sync_api.TimeoutError:
        pass
    return page.evaluate(TOO_WIDE)


# How many lines an element's text takes
LINES = """e => {
  const walker = document.createTreeWalker(e, NodeFilter.SHOW_TEXT), bottoms = new Set();
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const range = document.createRange();
    range.selectNodeContents(node);
    for (const r of range.getClientRects()) if (r.width > 0) bottoms.add(Math.round(r.bottom));
  }
  return bottoms.size;
}"""
# A dropdown whose text (its input's content box) ends left of its arrow
TEXT_BEFORE_ARROW = """d => {
  const input = d.querySelector("input"), arrow = d.querySelector(".icon-wrap");
  return input.getBoundingClientRect().right - parseFloat(getComputedStyle(input).paddingRight)
         <= arrow.getBoundingClientRect().left + 1;
}"""
# A picture whose drawn part (inside its padding) starts below y
PICTURE_BELOW = "(img, y) => img.getBoundingClientRect().top + parseFloat(getComputedStyle(img).paddingTop) >= y - 1"


@pytest.fixture(scope="module")
def ssr():
    """Served by Python here; tests/test_browser_ssr.py runs these behind server-side rendering."""
    return False


@pytest.fixture(scope="module")
def app_url(shared_app):
    return shared_app[0]


@pytest.fixture(scope="module")
def browser(app_url):
    with browser_page(app_url) as page:
        yield page.context.browser


def open_phone(browser, url, ssr):
    context = browser.new_context(**PHONE)
    phone = context.new_page()
    phone.set_default_timeout(60_000)
    phone.ssr = ssr
    phone.goto(url)
    return context, phone


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_all_seven_tabs_show_on_a_phone_and_nothing_is_wider_than_it(browser, app_url, ssr, lang):
    expect = sync_api.expect
    context, phone = open_phone(browser, f"{app_url}?lang={lang}&tab=mistakes", ssr)
    try:
        expect(phone.locator("#mistakes-confusion svg")).to_be_visible(timeout=120_000)
        tabs = phone.get_by_role("tab")
        expect(tabs).to_have_count(7)
        for index in range(7):
            box = tabs.nth(index).bounding_box()
            assert box and 0 <= box["x"] and box["x"] + box["width"] <= 390, (index, box)
        expect(phone.get_by_role("button", name="More tabs")).to_have_count(0)
        # the confusion matrix is never cut off: it fits, or it scrolls sideways
        matrix = phone.locator("#mistakes-confusion")
        assert matrix.evaluate("e => getComputedStyle(e).overflowX") == "auto"
        if matrix.evaluate("e => e.scrollWidth > e.clientWidth + 1"):  # wider than the phone (long class names)
            matrix.evaluate("e => { e.scrollLeft = e.scrollWidth; }")
            assert matrix.evaluate("e => e.scrollLeft") > 0
        assert too_wide(phone) == []
        screenshot(phone, f"5-mistakes-phone-{lang}")
        phone.get_by_role("tab", name="6 · " + ("Mobile" if lang == "en" else "手机")).click()
        expect(phone.locator("#tradeoff-plot svg")).to_be_visible()
        assert too_wide(phone) == []
        # the export table's headers keep whole words: its columns keep their widths and it scrolls
        header = phone.locator("#export-table th").first
        assert header.bounding_box()["width"] >= 150
        screenshot(phone, f"6-mobile-phone-{lang}")
        phone.get_by_role("tab", name="7 · " + ("Class board" if lang == "en" else "全班看板")).click()
        expect(phone.locator("#board-table")).to_be_visible()
        assert too_wide(phone) == []  # the board's tables scroll inside themselves
        screenshot(phone, f"7-board-phone-{lang}")
    finally:
        context.close()


def test_toast_titles_and_the_footer_follow_the_chinese_page(browser, app_url, ssr):
    expect = sync_api.expect
    context, phone = open_phone(browser, f"{app_url}?lang=zh&tab=classify", ssr)
    try:
        phone.locator("#classify").click()  # no picture yet: an error toast
        title = phone.locator(".toast-title.error").first
        expect(title).to_be_visible(timeout=30_000)
        assert title.evaluate("e => getComputedStyle(e, '::before').content") == '"出错了"'
        assert title.evaluate("e => getComputedStyle(e).fontSize") == "0px"  # Gradio's "Error" not drawn
        screenshot(phone, "3-classify-toast-zh")
        phone.locator("#language").get_by_label("English").check()
        expect(phone.get_by_role("tab", name="3 · Classify")).to_be_visible(timeout=30_000)
        assert phone.locator("html").get_attribute("lang") == "en"  # the English "Error" is shown again
        assert title.evaluate("e => getComputedStyle(e, '::before').content") in ("none", "normal")
    finally:
        context.close()


def test_checkpoint_pickers_and_the_32x32_picture_have_room_on_a_phone(browser, app_url, ssr):
    expect = sync_api.expect
    context, phone = open_phone(browser, f"{app_url}?lang=en&tab=classify", ssr)
    try:
        expect(phone.locator("#checkpoint-details")).to_contain_text("Test accuracy")
        for tab, picker in (("3 · Classify", "checkpoint"), ("4 · Look inside", "look-checkpoint"),
                            ("5 · Mistakes", "mistakes-checkpoint"), ("6 · Mobile", "export-checkpoint")):
            phone.get_by_role("tab", name=tab).click()
            # "Show all checkpoints (older runs too)": the width of the screen, its words on one line
            show_all = phone.locator(f"#{picker}-all")
            expect(show_all).to_be_visible()
            assert show_all.bounding_box()["width"] >= 300, tab
            assert show_all.locator(".label-text").evaluate(LINES) == 1, tab
            # the checkpoint's name ends before the dropdown's arrow, not under it
            assert phone.locator(f"#{picker}").evaluate(TEXT_BEFORE_ARROW), tab
        phone.get_by_role("tab", name="3 · Classify").click()
        phone.locator("#picture input[type=file]").set_input_files(os.path.join(EXAMPLES, "photo_cat_chelsea.jpg"))
        picture = phone.locator("#network-input img")
        expect(picture).to_be_visible()
        # "What the network sees (32×32)" on one line, above the picture rather than over it
        label = phone.locator("#network-input [data-testid=block-label]")
        assert label.evaluate(LINES) == 1
        assert picture.evaluate(PICTURE_BELOW, label.bounding_box()["y"] + label.bounding_box()["height"])
        screenshot(phone, "3-classify-phone")
    finally:
        context.close()


def test_tables_keep_their_words_whole_on_a_phone(browser, app_url, ssr):
    expect = sync_api.expect
    context, phone = open_phone(browser, f"{app_url}?lang=en&tab=architecture", ssr)
    try:
        note = phone.get_by_text("Why the tutorial counts")
        expect(note).to_be_visible()
        assert phone.evaluate(BROKEN_WORDS, ".prose table") == []  # not "parame / ters", "Batc / hNor…"
        assert too_wide(phone) == []  # a table wider than the phone scrolls
    finally:
        context.close()
