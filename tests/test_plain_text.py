"""Text one visitor types is plain text to everyone else: no Markdown, HTML, link or image.

A hostile student starts runs through the API with names that would fetch an image or make a
link on every screen; a classmate's browser shows the names as typed, and nothing the names
point at is ever requested.
"""

import time

import pytest

from app_server import recording_server, wait_until_ended
from browser_support import browser_page, needs_chromium, screenshot, sync_api
from classroom.runs import StopOutcome, StopReply
from classroom.visitors import NAME_LENGTH, visitor_name
from demo.i18n import Text, UserText, as_html, as_markdown, localize
from demo.tabs.train_view import stop_reply
from loopback_client import api_client

TINY_RUN = {"variant": "paper", "alpha": 0.25, "depth": "shallow", "train_images": 200, "epochs": 1,
            "batch_size": 32, "learning_rate": 0.01, "augmentation": False}


def test_names_lose_control_and_format_characters_and_are_capped():
    assert visitor_name("  Ann\x00\x1b[31m\u202eevil\u200b  Lee ") == "Ann[31mevil Lee"
    assert visitor_name("x" * 100) == "x" * NAME_LENGTH
    assert visitor_name("\x07\u202e") == "Someone" and isinstance(visitor_name(None), UserText)


@pytest.mark.parametrize("name", ["![x](http://a.b/i.png)", "[click](http://a.b)", "<img src=x>",
                                  "**bold** _it_ `code` # h", "www.a.b a@b.c http://a.b", "\\*"])
def test_markdown_and_html_escapes_leave_no_syntax(name):
    import markdown_it

    rendered = markdown_it.MarkdownIt("commonmark", {"html": True}).render(as_markdown(name))
    assert "<a" not in rendered and "<img" not in rendered and "<strong" not in rendered
    assert "<em" not in rendered and "<code" not in rendered and "<h1" not in rendered
    assert "<" not in as_html(name)


def test_a_name_is_never_translated():
    message = Text("train.start.busy", who=UserText("cat"), when=Text("train.start.just_started"))
    assert localize(message, "zh").startswith("cat 正在训练")
    reply = stop_reply(StopReply(StopOutcome.STOPPING, "cat"), "zh")
    assert "cat" in reply and "猫" not in reply


def show_hostile_names(app, page, target, kinds=("image", "link", "html", "url", "www")):
    """Starts runs through the API with names that point at ``target`` (a ``recording_server``),
    one per kind in ``kinds`` (Markdown image and link, an HTML element, a bare URL and a www
    address: what Markdown renderers turn into fetches or links); ``page``, opened on ``app``,
    must show each name as typed. The first run finishes; each other is stopped by its owner as
    it starts (the status then names the student twice), which costs no training."""
    expect = sync_api.expect
    address = f"127.0.0.1:{target.server_address[1]}"
    every = {"image": f"![](http://{address}/i)", "link": f"[a](http://{address}/l)",
             "html": f"<img src=//{address}/h>", "url": f"http://{address}/u", "www": f"www.{address}"}
    names = [every[kind] for kind in kinds]
    assert all(len(name) <= NAME_LENGTH for name in names)
    client = api_client(app[0])
    page.get_by_role("tab", name="2 · Train").click()
    status = page.locator("#run-status")
    for index, name in enumerate(names):
        client.predict(name=name, **TINY_RUN, api_name="/start_training")
        if index:  # the others stopped by their owner at once: the name shows twice, as who and stopper
            client.predict(name, api_name="/stop_training")
        wait_until_ended(app.runs)
        ended = "finished" if not index else f"was stopped by {name}"
        expect(status).to_contain_text(f"The run by {name} {ended}", timeout=30_000)
        assert status.locator("img, a, code, em").count() == 0
        strong = status.locator("strong")
        names_shown = [strong.nth(i).inner_html() for i in range(1 if not index else 2)]
        assert names_shown == [as_html(name)] * len(names_shown)  # text, no element
    screenshot(page, "2-train-hostile-name")
    time.sleep(1)  # any request the page would make has been made by now


@needs_chromium
def test_a_classmates_page_shows_hostile_names_as_plain_text(shared_app):
    """(Behind server-side rendering: tests/test_browser_ssr.py.)"""
    with recording_server() as target, browser_page(shared_app[0]) as page:
        show_hostile_names(shared_app, page, target)
    assert target.hits == []
