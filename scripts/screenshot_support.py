"""What every README screenshot script needs: the real app on a free port, and a page of
Debian's Chromium (driven by Playwright) open on it.

    with app_page(timeout_ms=300_000) as page:
        page.get_by_role("tab", name="2 · Train").click()
        page.screenshot(path=...)
"""

import contextlib
import os
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DOCS = os.path.join(ROOT, "docs")
sys.path.insert(0, ROOT)
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
EXAMPLE_PICTURE = os.path.join(ROOT, "demo", "examples", "photo_cat_chelsea.jpg")


@contextlib.contextmanager
def app_page(checkpoint_dir=None, runs_dir=None, timeout_ms=120_000, viewport=(1280, 860), data_source=None):
    """Yields a Playwright page open on a freshly launched app; closes both afterwards.

    ``runs_dir`` defaults to an empty temporary folder, so runs trained for a screenshot
    never land among the user's; ``checkpoint_dir`` to the shipped ``checkpoints/``;
    ``data_source`` (CIFAR-10) to the app's own (``$MOBILENET_CIFAR10``, a cache or a download).
    """
    from playwright.sync_api import sync_playwright

    from classroom.settings import Settings
    from demo.ui import build_demo, close_app, launch_on_loopback

    os.makedirs(DOCS, exist_ok=True)
    options = {"runs_dir": runs_dir or tempfile.mkdtemp(prefix="mobilenet-lab-runs-")}
    if checkpoint_dir:
        options["checkpoint_dir"] = checkpoint_dir
    if data_source:
        options["data_source"] = data_source
    demo = build_demo(**options, settings=Settings.from_environ(os.environ))
    url = launch_on_loopback(demo)
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path="/usr/bin/chromium",
                                                 headless=True, args=CHROMIUM_ARGS)
            try:
                page = browser.new_page(viewport={"width": viewport[0], "height": viewport[1]})
                page.set_default_timeout(timeout_ms)
                page.goto(url)
                yield page
            finally:
                browser.close()
    finally:
        close_app(demo)
        demo.close()
