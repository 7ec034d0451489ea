"""Screenshots for the README: the real app, real CIFAR-10, the default classroom run.

    MOBILENET_CIFAR10=/path/to/cifar-10-python.tar.gz python scripts/readme_screenshots.py

Launches the app on a free port with a temporary runs folder, drives it with Playwright and
Debian's Chromium, and writes docs/architecture.png, docs/train.png, docs/classify.png and
docs/classroom_link_zh.png (needs a CJK font, e.g. Debian's fonts-noto-cjk). Takes about two
minutes (one default training run).
"""

import os

from playwright.sync_api import expect

from screenshot_support import DOCS, EXAMPLE_PICTURE, app_page


def main():
    with app_page(timeout_ms=300_000) as page:
        expect(page.locator("#architecture-totals")).to_contain_text("3,239,114")
        page.screenshot(path=os.path.join(DOCS, "architecture.png"))

        page.get_by_role("tab", name="2 · Train").click()
        expect(page.locator("#data-status")).to_contain_text("CIFAR-10 ready", timeout=60_000)
        page.locator("#train-name textarea, #train-name input").first.fill("Teacher")
        page.click("#start-training")
        expect(page.locator("#test-results")).to_contain_text("%", timeout=300_000)
        page.wait_for_timeout(3000)
        page.screenshot(path=os.path.join(DOCS, "train.png"), full_page=True)

        page.get_by_role("tab", name="3 · Classify").click()
        page.locator("#picture input[type=file]").set_input_files(
            EXAMPLE_PICTURE)
        page.click("#classify")
        expect(page.locator("#timing")).to_contain_text("ms", timeout=60_000)
        page.wait_for_timeout(2000)  # the outputs fade in after the answer arrives
        page.screenshot(path=os.path.join(DOCS, "classify.png"))

        # The teacher's link: the Train panel in Chinese with only the classroom settings
        page.goto(page.url.split("?")[0] + "?lang=zh&tab=train&simple=1")
        expect(page.locator("#run-status")).to_contain_text("测试准确率", timeout=60_000)
        expect(page.get_by_text("通过 API 使用")).to_be_visible()
        page.wait_for_timeout(3000)
        page.screenshot(path=os.path.join(DOCS, "classroom_link_zh.png"))


if __name__ == "__main__":
    main()
