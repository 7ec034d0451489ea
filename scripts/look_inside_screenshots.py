"""Screenshots of the Look inside and Mistakes tabs for the README, with real CIFAR-10.

    MOBILENET_CHECKPOINT_DIR=/folder/with/mobilenet_cifar.keras \
    MOBILENET_CIFAR10=/path/to/cifar-10-python.tar.gz python scripts/look_inside_screenshots.py

Launches the app on a free port, drives it with Playwright and Debian's Chromium, and writes
docs/gradcam.png, docs/feature_maps.png and docs/mistakes.png. The first look at a checkpoint's
mistakes classifies the 10,000 test pictures (about half a minute on two cores).
"""

import os

from playwright.sync_api import expect

from screenshot_support import DOCS, EXAMPLE_PICTURE, app_page


def main():
    with app_page() as page:
        page.get_by_role("tab", name="4 · Look inside").click()
        expect(page.locator("#kernel-info")).to_contain_text("conv_dw_1")
        page.locator("#look-picture input[type=file]").set_input_files(EXAMPLE_PICTURE)
        expect(page.locator("#gradcam-note")).to_contain_text("map")
        expect(page.locator("#feature-info")).to_contain_text("channels")
        page.wait_for_timeout(1000)
        page.locator("#look-where").screenshot(path=os.path.join(DOCS, "gradcam.png"))

        page.locator("#feature-layer input").click()
        # The first pointwise layer still has the picture's 32×32 grid: the cat is recognisable.
        page.get_by_role("option", name="conv_pw_1 · pointwise 1×1", exact=True).click()
        expect(page.locator("#feature-info")).to_contain_text("conv_pw_1:")
        page.wait_for_timeout(1000)
        page.locator("#look-feature-maps").screenshot(path=os.path.join(DOCS, "feature_maps.png"))

        page.get_by_role("tab", name="5 · Mistakes").click()
        expect(page.locator("#mistakes-pairs section").first).to_be_visible(timeout=300_000)
        page.wait_for_timeout(1000)
        page.locator("#mistakes-view").screenshot(path=os.path.join(DOCS, "mistakes.png"))


if __name__ == "__main__":
    main()
