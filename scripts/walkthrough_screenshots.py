"""A walk-through of the whole app in pictures: every tab, in English and 中文, on a laptop
(1366×900) and a phone (390×844), each tab after a student has used it once.

    python scripts/walkthrough_screenshots.py                # the tiny test CIFAR-10 (made here)
    python scripts/walkthrough_screenshots.py --data /path/to/cifar-10-python.tar.gz

Launches the app (the shipped checkpoints, temporary runs and export folders), trains one short
run so that Train shows curves and results, then opens each tab by its class link
(``?lang=zh&tab=classify``), uses it (a photo classified, Grad-CAM, a Mistakes pass, an export)
and saves ``test-artifacts/walkthrough/<lang>-<width>-<n>-<tab>.png`` (full page), 24 pictures
to be looked at. Takes 5-10 minutes on two cores; needs Debian's Chromium and a CJK font.
"""

import argparse
import os
import sys
import tempfile

from playwright.sync_api import expect

from screenshot_support import EXAMPLE_PICTURE, ROOT, app_page

OUT = os.path.join(ROOT, "test-artifacts", "walkthrough")
SIZES = {1366: {"viewport": {"width": 1366, "height": 900}},
         390: {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True,
               "device_scale_factor": 2}}
TABS = ("architecture", "train", "classify", "look-inside", "mistakes", "mobile")
WAIT_MS = 300_000  # an export or a Mistakes pass on two busy cores


def tiny_data():
    """The tiny CIFAR-10 of the tests (tests/cifar_fixture.py), written to a temporary folder."""
    sys.path.insert(0, os.path.join(ROOT, "tests"))
    from cifar_fixture import write_tiny_cifar

    return write_tiny_cifar(tempfile.mkdtemp(prefix="mobilenet-walkthrough-"))[1]


def train_once(page, tiny):
    """One short run, so that Train shows its curves, results and confusion matrix."""
    page.goto(page.url.split("?")[0] + "?lang=en&tab=train")
    expect(page.locator("#data-status")).to_contain_text("CIFAR-10 ready", timeout=WAIT_MS)
    page.locator("#train-name textarea, #train-name input").first.fill("Ann")
    if tiny:  # all 300 pictures of the tiny data, a few epochs
        for slider, value in (("#train-images", "300"), ("#train-epochs", "3")):
            box = page.locator(f"{slider} input[type=number]")
            box.fill(value)
            box.press("Enter")
    page.click("#start-training")
    expect(page.locator("#test-results")).to_contain_text("%", timeout=WAIT_MS)


def use_tab(page, tab):
    """What a student does first in ``tab``; returns once its answer is shown."""
    if tab == "architecture":
        expect(page.locator("#architecture-layers")).to_contain_text("conv_dw_1")
    elif tab == "train":
        expect(page.locator("#test-results")).to_contain_text("%")
    elif tab == "classify":
        page.locator("#picture input[type=file]").set_input_files(EXAMPLE_PICTURE)
        expect(page.locator("#timing")).to_contain_text("ms")
    elif tab == "look-inside":
        page.locator("#look-picture input[type=file]").set_input_files(EXAMPLE_PICTURE)
        expect(page.locator("#gradcam img")).to_be_visible()
    elif tab == "mistakes":
        page.click("#find-mistakes")
        expect(page.locator("#mistakes-confusion svg text").first).to_be_visible()  # not the spinner's svg
    elif tab == "mobile":
        page.click("#export-button")
        expect(page.locator("#export-files a")).to_have_count(3)
        expect(page.locator("#tradeoff-plot svg")).to_be_visible()
    page.wait_for_timeout(1500)  # outputs fade in after their answer
    load_lazy_pictures(page)


def load_lazy_pictures(page):
    """Scrolls through the page: a full-page screenshot does not scroll, and the pictures Gradio
    loads lazily stay blank below the fold of a phone."""
    height = page.evaluate("document.documentElement.scrollHeight")
    for y in range(0, height, 500):
        page.evaluate("y => window.scrollTo(0, y)", y)
        page.wait_for_timeout(100)
    page.wait_for_function("() => [...document.images].every(image => image.complete)")
    page.evaluate("window.scrollTo(0, 0)")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", help="CIFAR-10 archive or folder (default: the tiny test data, made here)")
    parser.add_argument("--lang", nargs="+", default=["en", "zh"], help="languages (default: en zh)")
    parser.add_argument("--tabs", nargs="+", default=list(TABS), choices=TABS, help="tabs (default: all)")
    args = parser.parse_args()
    os.makedirs(OUT, exist_ok=True)
    os.environ.setdefault("MOBILENET_EXPORT_DIR", tempfile.mkdtemp(prefix="mobilenet-walkthrough-export-"))
    expect.set_options(timeout=WAIT_MS)
    with app_page(timeout_ms=WAIT_MS, data_source=args.data or tiny_data()) as page:
        url = page.url.split("?")[0]
        if "train" in args.tabs:
            train_once(page, tiny=not args.data)
        for lang in args.lang:
            for width, options in SIZES.items():
                context = page.context.browser.new_context(**options)
                try:
                    view = context.new_page()
                    view.set_default_timeout(WAIT_MS)
                    for tab in args.tabs:
                        view.goto(f"{url}?lang={lang}&tab={tab}")
                        use_tab(view, tab)
                        name = f"{lang}-{width}-{TABS.index(tab) + 1}-{tab}.png"
                        view.screenshot(path=os.path.join(OUT, name), full_page=True)
                        print(name, flush=True)
                finally:
                    context.close()


if __name__ == "__main__":
    main()
