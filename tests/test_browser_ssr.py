"""The page behind Gradio's server-side rendering: one smoke run in a real browser.

The app serves without SSR by default, on Spaces too; ``MOBILENET_SSR=1`` puts a Node process
in front of Python, which renders the first HTML and serves its own bundle. What that changes is
the page's first render, its hydration, the language it is rendered in and the headers of what
Node serves, so this module runs one test of each kind behind SSR, on one app and one browser,
instead of every browser test twice. The tests imported below are collected here again and run
with this module's fixtures (``page``, ``finished``, ``served``): the Architecture tab, the
browser's language, Look inside, a finished run's results in 中文, the teacher link; and its own:
headers, names as plain text, the class board.
"""

import pytest

from app_server import recording_server, running_app
from browser_support import browser_page, needs_chromium, needs_node, screenshot, sync_api
from classroom.settings import Settings
from test_browser import (  # noqa: F401 (collected here, behind SSR)
    test_architecture_panel_shows_the_table_and_follows_alpha,
    test_browser_language_decides_when_the_url_does_not,
)
from test_browser_class_board import STUDENTS
from test_browser_look_inside import test_look_inside_shows_where_the_network_looks  # noqa: F401
from test_browser_train_results import (  # noqa: F401
    finish_a_short_run,
    test_the_bars_of_each_class_follow_the_page_language,
)
from test_teacher_link import KEY, test_a_teacher_link_in_the_browser  # noqa: F401
from test_headers import assert_python_answers_say_nosniff
from test_plain_text import show_hostile_names

pytestmark = [needs_chromium, needs_node, pytest.mark.slow]


@pytest.fixture(scope="module")
def ssr_app(tiny_cifar, tiny_checkpoint, tmp_path_factory):
    with running_app(str(tmp_path_factory.mktemp("ssr-app")), tiny_cifar[1], tiny_checkpoint,
                     ssr_mode=True, settings=Settings(teacher_key=KEY)) as app:
        yield app


NAME = STUDENTS[1]  # Markdown and HTML: shown as typed


@pytest.fixture(scope="module")
def finished(ssr_app):
    """(URL, ssr) with a run finished on this module's app: its results and the board have rows."""
    finish_a_short_run(ssr_app, name=NAME)
    return ssr_app[0], True


@pytest.fixture
def served(ssr_app):
    """(URL, ssr) for the teacher link's test."""
    return ssr_app[0], True


@pytest.fixture(scope="module")
def app_url(ssr_app):
    return ssr_app[0]


@pytest.fixture(scope="module")
def page(app_url):
    with browser_page(app_url, ssr=True) as page:
        yield page


def test_what_python_serves_behind_node_says_nosniff(app_url):
    assert_python_answers_say_nosniff(app_url, ssr=True)


def test_a_classmates_page_rendered_by_node_shows_hostile_names_as_plain_text(ssr_app, page):
    classmate = page.context.browser.new_page(viewport={"width": 1366, "height": 900})
    classmate.set_default_timeout(30_000)
    classmate.ssr = True
    try:
        with recording_server() as target:
            classmate.goto(ssr_app[0])
            # The two that are markup (every kind, one run each, on the page without SSR:
            # tests/test_plain_text.py); each run costs a worker process's start.
            show_hostile_names(ssr_app, classmate, target, kinds=("image", "html"))
        assert target.hits == []
    finally:
        classmate.close()


def test_the_class_board_rendered_by_node_lists_the_run_as_typed(finished):
    expect = sync_api.expect
    url, _ = finished
    with browser_page(f"{url}?tab=board", ssr=True) as page:
        board = page.locator("#board-table")
        expect(board).to_contain_text(NAME, timeout=60_000)
        assert page.locator("#board-table b").count() == 0  # the <b> stayed text
        screenshot(page, "class-board")
