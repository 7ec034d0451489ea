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

from playwright.sync_api import expect

from screenshot_support import DOCS, ROOT, app_page


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint-dir", default=os.path.join(ROOT, "checkpoints"))
    parser.add_argument("--runs-dir", default=None, help="default: an empty temporary folder")
    args = parser.parse_args(argv)
    from demo.i18n import t

    with app_page(args.checkpoint_dir, args.runs_dir, timeout_ms=300_000) as page:
        page.get_by_role("tab", name=t("mobile.tab", "en")).click()
        page.click("#export-button")
        expect(page.locator("#export-table")).to_contain_text("_int8.tflite", timeout=300_000)
        page.wait_for_timeout(1000)
        box = page.locator("#export-files").bounding_box()
        page.screenshot(path=os.path.join(DOCS, "export.png"), full_page=True,
                        clip={"x": 0, "y": 0, "width": 1280, "height": box["y"] + box["height"] + 16})
        page.locator("#tradeoff-plot svg").screenshot(path=os.path.join(DOCS, "tradeoff.png"))


if __name__ == "__main__":
    main()
