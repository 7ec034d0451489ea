"""The Look inside and Mistakes tabs in a real browser (Playwright, Debian's Chromium, headless).

Screenshots go to ``test-artifacts/`` (gitignored) to be looked at.
"""

import os
import re

import pytest

from app_server import running_app

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ARTIFACTS = os.path.join(ROOT, "test-artifacts")
EXAMPLES = os.path.join(ROOT, "demo", "examples")

sync_api = pytest.importorskip("playwright.sync_api")
pytestmark = pytest.mark.skipif(not os.path.exists(CHROMIUM) and not os.environ.get("CI"),
                                reason=f"needs Chromium at {CHROMIUM}")


@pytest.fixture(scope="module")
def page(tiny_cifar, tiny_checkpoint, tmp_path_factory):
    os.makedirs(ARTIFACTS, exist_ok=True)
    root = str(tmp_path_factory.mktemp("browser-look-inside"))
    with running_app(root, tiny_cifar[1], tiny_checkpoint) as (url, _, _):
        with sync_api.sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True,
                                                 args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1366, "height": 900})
            page.set_default_timeout(30_000)
            page.goto(url)
            yield page
            browser.close()


def screenshot(page, name):
    page.screenshot(path=os.path.join(ARTIFACTS, f"{name}.png"), full_page=True)


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

    pick(page, "explain-class", "frog")
    expect(note).to_contain_text("frog (probability")


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
