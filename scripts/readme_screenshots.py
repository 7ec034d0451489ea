"""Screenshots for the README: the real app, real CIFAR-10, the default classroom run.

    MOBILENET_CIFAR10=/path/to/cifar-10-python.tar.gz python scripts/readme_screenshots.py

Launches the app on a free port with a temporary runs folder, drives it with Playwright and
Debian's Chromium, and writes docs/architecture.png, docs/train.png and docs/classify.png.
Takes about two minutes (one default training run).
"""

import os
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

from playwright.sync_api import expect, sync_playwright  # noqa: E402

from demo.ui import build_demo, launch_options  # noqa: E402

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


def main():
    docs = os.path.join(ROOT, "docs")
    os.makedirs(docs, exist_ok=True)
    runs_dir = tempfile.mkdtemp(prefix="mobilenet-lab-runs-")
    demo = build_demo(runs_dir=runs_dir)
    _, url, _ = demo.launch(prevent_thread_lock=True, quiet=True, server_name="127.0.0.1",
                            **launch_options())
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path="/usr/bin/chromium",
                                                 headless=True, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1280, "height": 860})
            page.set_default_timeout(300_000)
            page.goto(url)
            expect(page.locator("#architecture-totals")).to_contain_text("3,239,114")
            page.screenshot(path=os.path.join(docs, "architecture.png"))

            page.get_by_role("tab", name="2 · Train").click()
            expect(page.locator("#data-status")).to_contain_text("CIFAR-10 ready", timeout=60_000)
            page.locator("#train-name textarea, #train-name input").first.fill("Teacher")
            page.click("#start-training")
            expect(page.locator("#test-results")).to_contain_text("%", timeout=300_000)
            page.wait_for_timeout(3000)
            page.screenshot(path=os.path.join(docs, "train.png"), full_page=True)

            page.get_by_role("tab", name="3 · Classify").click()
            page.locator("#picture input[type=file]").set_input_files(
                os.path.join(ROOT, "demo", "examples", "photo_cat_chelsea.jpg"))
            page.click("#classify")
            expect(page.locator("#timing")).to_contain_text("ms", timeout=60_000)
            page.screenshot(path=os.path.join(docs, "classify.png"))
            browser.close()
    finally:
        demo.close()


if __name__ == "__main__":
    main()
