"""What the browser tests share: Debian's Chromium driven by Playwright, headless, and
screenshots in ``test-artifacts/`` (gitignored) to be looked at.

Skipped only outside CI: in CI (CI=true, ``.ci/run`` installs Chromium) a missing browser fails.
"""

import contextlib
import os

import pytest

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ARTIFACTS = os.path.join(ROOT, "test-artifacts")
EXAMPLES = os.path.join(ROOT, "demo", "examples")

sync_api = pytest.importorskip("playwright.sync_api")
needs_chromium = pytest.mark.skipif(not os.path.exists(CHROMIUM) and not os.environ.get("CI"),
                                    reason=f"needs Chromium at {CHROMIUM}")


@contextlib.contextmanager
def browser_page(url, timeout_ms=30_000):
    """A 1366×900 page of a fresh headless Chromium, opened at ``url``."""
    os.makedirs(ARTIFACTS, exist_ok=True)
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True,
                                             args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1366, "height": 900})
            page.set_default_timeout(timeout_ms)
            page.goto(url)
            yield page
        finally:
            browser.close()


def screenshot(page, name):
    page.screenshot(path=os.path.join(ARTIFACTS, f"{name}.png"), full_page=True)
