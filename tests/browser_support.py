"""What the browser tests share: Debian's Chromium driven by Playwright, headless, and
screenshots in ``test-artifacts/`` (gitignored) to be looked at.

Skipped only outside CI: in CI (CI=true, ``.ci/run`` installs Chromium) a missing browser fails.
"""

import contextlib
import os
import shutil

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
# The browser tests run on the page as the app serves it (client-side rendering);
# tests/test_browser_ssr.py runs a smoke set behind server-side rendering (a Node process in front).
needs_node = pytest.mark.skipif(not shutil.which("node") and not os.environ.get("CI"),
                                reason="SSR needs Node (Debian's nodejs)")
RENDERINGS = [pytest.param(False, id="csr"), pytest.param(True, id="ssr", marks=needs_node)]
# Latin words (file names, numbers, column names) broken across two lines inside the elements
# matched by a CSS selector (page.evaluate(BROKEN_WORDS, selector)): "parame / ters", "…float32.t / flite"
BROKEN_WORDS = """selector => {
  const broken = [];
  for (const element of document.querySelectorAll(selector)) {
    const walker = document.createTreeWalker(element, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      for (const word of node.textContent.matchAll(/[A-Za-z0-9_.%-]+/g)) {
        const range = document.createRange();
        range.setStart(node, word.index);
        range.setEnd(node, word.index + word[0].length);
        const lines = new Set([...range.getClientRects()].filter(r => r.width > 0).map(r => Math.round(r.bottom)));
        if (lines.size > 1) broken.push(word[0]);
      }
    }
  }
  return broken.slice(0, 10);
}"""


_shared = []  # [(Playwright's manager, its browser)] while a module's tests use one


def shared_browser():
    """The headless Chromium of the module being run, launched on first use; each page gets a
    context of its own (its own cookies and storage: a fresh browser's). Closed after the module's
    last test (``close_shared_browser``, from ``tests/conftest.py``): Playwright's sync API runs
    an event loop in this thread while it is open, where ``asyncio.run`` cannot."""
    if _shared and not _shared[0][1].is_connected():  # crashed: a new one
        close_shared_browser()
    if not _shared:
        manager = sync_api.sync_playwright()
        playwright = manager.start()
        try:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        except BaseException:
            manager.__exit__(None, None, None)
            raise
        _shared.append((manager, browser))
    return _shared[0][1]


def close_shared_browser():
    while _shared:
        manager, browser = _shared.pop()
        with contextlib.suppress(Exception):
            browser.close()
        manager.__exit__(None, None, None)


@contextlib.contextmanager
def browser_page(url, timeout_ms=30_000, ssr=False):
    """A 1366×900 page in a context of its own (a fresh browser's cookies) of the module's
    Chromium, opened at ``url`` (served with SSR or not: ``ssr`` only names its screenshots)."""
    os.makedirs(ARTIFACTS, exist_ok=True)
    # Assertions wait as long as actions: an answer computed in a worker process on two cores that
    # a training run and a test suite share can take longer than Playwright's 5 s default.
    sync_api.expect.set_options(timeout=timeout_ms)
    context = shared_browser().new_context(viewport={"width": 1366, "height": 900})
    try:
        page = context.new_page()
        page.set_default_timeout(timeout_ms)
        page.ssr = ssr
        page.goto(url)
        yield page
    finally:
        with contextlib.suppress(Exception):
            context.close()


def screenshot(page, name):
    """Saves ``test-artifacts/NAME.png`` (``NAME-ssr.png`` when the page came through SSR)."""
    suffix = "-ssr" if getattr(page, "ssr", False) else ""
    page.screenshot(path=os.path.join(ARTIFACTS, f"{name}{suffix}.png"), full_page=True)
