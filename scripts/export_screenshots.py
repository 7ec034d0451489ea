"""Screenshots of the Mobile tab for the README: docs/export.png and docs/tradeoff.png.

    MOBILENET_CIFAR10=/path/to/cifar-10-python.tar.gz python scripts/export_screenshots.py \
        [--checkpoint-dir checkpoints] [--runs-dir checkpoints/runs]

Launches the app on a free port with those folders (the trade-off plot also reads
``<checkpoint-dir>/sweep``, filled by ``python -m mobilenet sweep``), exports the first
checkpoint (about half a minute: three conversions, 2,000 test pictures each), and
photographs the export table and the trade-off plot with Playwright and Debian's Chromium.
"""

import argparse
import os
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

from playwright.sync_api import expect, sync_playwright  # noqa: E402

from demo.export_tab import TAB_NAME  # noqa: E402
from demo.ui import build_demo, launch_options  # noqa: E402

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint-dir", default=os.path.join(ROOT, "checkpoints"))
    parser.add_argument("--runs-dir", default=None, help="default: an empty temporary folder")
    args = parser.parse_args(argv)
    docs = os.path.join(ROOT, "docs")
    demo = build_demo(checkpoint_dir=args.checkpoint_dir,
                      runs_dir=args.runs_dir or tempfile.mkdtemp(prefix="mobilenet-lab-runs-"))
    _, url, _ = demo.launch(prevent_thread_lock=True, quiet=True, server_name="127.0.0.1",
                            **launch_options())
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path="/usr/bin/chromium",
                                                 headless=True, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1280, "height": 860})
            page.set_default_timeout(300_000)
            page.goto(url)
            page.get_by_role("tab", name=TAB_NAME).click()
            page.click("#export-button")
            expect(page.locator("#export-table")).to_contain_text("_int8.tflite", timeout=300_000)
            page.wait_for_timeout(1000)
            box = page.locator("#export-files").bounding_box()
            page.screenshot(path=os.path.join(docs, "export.png"), full_page=True,
                            clip={"x": 0, "y": 0, "width": 1280, "height": box["y"] + box["height"] + 16})
            page.locator("#tradeoff-plot svg").screenshot(path=os.path.join(docs, "tradeoff.png"))
            browser.close()
    finally:
        demo.close()


if __name__ == "__main__":
    main()
