"""The page on a 390 × 844 phone (all six tabs, wide things scroll inside the page, none wider
than the screen) and Gradio's own words on the 中文 page (toast titles, the footer)."""

import pytest

from browser_support import browser_page, needs_chromium, screenshot, sync_api

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
def test_all_six_tabs_show_on_a_phone_and_nothing_is_wider_than_it(browser, app_url, ssr, lang):
    expect = sync_api.expect
    context, phone = open_phone(browser, f"{app_url}?lang={lang}&tab=mistakes", ssr)
    try:
        expect(phone.locator("#mistakes-confusion svg")).to_be_visible(timeout=120_000)
        tabs = phone.get_by_role("tab")
        expect(tabs).to_have_count(6)
        for index in range(6):
            box = tabs.nth(index).bounding_box()
            assert box and 0 <= box["x"] and box["x"] + box["width"] <= 390, (index, box)
        expect(phone.get_by_role("button", name="More tabs")).to_have_count(0)
        # the confusion matrix is never cut off: it fits, or it scrolls sideways
        matrix = phone.locator("#mistakes-confusion")
        assert matrix.evaluate("e => getComputedStyle(e).overflowX") == "auto"
        if matrix.evaluate("e => e.scrollWidth > e.clientWidth + 1"):  # wider than the phone (long class names)
            matrix.evaluate("e => { e.scrollLeft = e.scrollWidth; }")
            assert matrix.evaluate("e => e.scrollLeft") > 0
        assert phone.evaluate(TOO_WIDE) == []
        screenshot(phone, f"5-mistakes-phone-{lang}")
        phone.get_by_role("tab", name="6 · " + ("Mobile" if lang == "en" else "手机")).click()
        expect(phone.locator("#tradeoff-plot svg")).to_be_visible()
        assert phone.evaluate(TOO_WIDE) == []
        # the export table's headers keep whole words: its columns keep their widths and it scrolls
        header = phone.locator("#export-table th").first
        assert header.bounding_box()["width"] >= 150
        screenshot(phone, f"6-mobile-phone-{lang}")
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
