"""A finished run's results in the browser, in both languages: the bars of each class named in
the page's language (in CIFAR-10's order) and every plot's axes inside its block.

Gradio 6.31's plot keeps its old bars when an update changes a setting too (axis titles, order),
so a 中文 page showed the bars under English names; the x axis of each plot was cut off under its
label.
"""

import pytest

from app_server import running_app, wait_until_ended
from browser_support import browser_page, needs_chromium, screenshot, sync_api
from demo.i18n import class_names
from loopback_client import api_client

pytestmark = [needs_chromium, pytest.mark.slow]  # an app of its own, a browser: docs/TESTS.md
SHORT_RUN = {"variant": "cifar", "alpha": 0.25, "depth": "shallow", "train_images": 300, "epochs": 1,
             "batch_size": 32, "learning_rate": 0.01, "augmentation": False}
# Whether the chart of a plot block (its svg) ends inside the block
CHART_INSIDE = "b => b.querySelector('svg.marks').getBoundingClientRect().bottom <= b.getBoundingClientRect().bottom + 1"


def finish_a_short_run(app, name="Ann"):
    """Trains ``SHORT_RUN`` on ``app`` (a ``RunningApp``) through its API; waits for it to end."""
    api_client(app[0]).predict(name=name, **SHORT_RUN, api_name="/start_training")
    assert wait_until_ended(app.runs)["state"] == "finished"


@pytest.fixture(scope="module")
def finished(tiny_cifar, tmp_path_factory):
    """(URL, ssr) of an app whose run has finished and been tested (behind SSR:
    ``tests/test_browser_ssr.py`` collects the test below with its own)."""
    with running_app(str(tmp_path_factory.mktemp("train-results")), tiny_cifar[1]) as app:
        finish_a_short_run(app)
        yield app[0], False


def bar_names(page):
    return page.locator("#per-class svg.marks").text_content()


def test_the_bars_of_each_class_follow_the_page_language(finished):
    expect = sync_api.expect
    url, ssr = finished
    with browser_page(f"{url}?lang=zh&tab=train", ssr=ssr) as page:
        bars = page.locator("#per-class svg.marks")
        expect(bars).to_contain_text("类别", timeout=60_000)  # the axis title
        expect(bars).to_contain_text("".join(class_names("zh")))  # every class, in CIFAR-10's order
        assert "airplane" not in bar_names(page)
        for plot in ("loss-plot", "accuracy-plot", "per-class"):
            assert page.locator(f"#{plot}").evaluate(CHART_INSIDE), plot
        screenshot(page, "2-train-results-zh")
        page.locator("#language").get_by_label("English").check()
        expect(bars).to_contain_text("".join(class_names("en")))
        assert "飞机" not in bar_names(page) and "class" in bar_names(page)
