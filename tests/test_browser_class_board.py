"""The class's runs in three browsers at once: the teacher pauses the queue, two students press
Start, every page shows both runs waiting; the teacher resumes, both train in turn, and the class
board of every page lists them, names as typed (plain text). Behind SSR, the board rendered by
Node: ``tests/test_browser_ssr.py``.
"""

import pytest

from app_server import running_app, wait_until_ended
from browser_support import needs_chromium, screenshot, shared_browser, sync_api

pytestmark = [needs_chromium, pytest.mark.slow]  # an app of its own, browsers: docs/TESTS.md

KEY = "the teacher key of the class board's browser test"
STUDENTS = ("Ann", "**Bo** <b>x</b>")  # the second name is Markdown and HTML: shown as typed


def test_three_browsers_see_the_queue_and_the_board_change(tiny_cifar, tmp_path):
    from classroom.settings import Settings

    expect = sync_api.expect
    expect.set_options(timeout=90_000)
    with running_app(str(tmp_path), tiny_cifar[1], settings=Settings(teacher_key=KEY)) as app:
        browser = shared_browser()
        pages = []
        for _ in range(3):  # three browser contexts: three students' own cookies and sessions
            page = browser.new_context(viewport={"width": 1366, "height": 900}).new_page()
            page.set_default_timeout(90_000)
            pages.append(page)
        teacher, students = pages[0], pages[1:]
        teacher.goto(f"{app[0]}gradio_api/teacher?tab=train&key={KEY}")  # the teacher link: a cookie, then the page
        expect(teacher.locator("#queue-teacher")).to_be_visible()
        teacher.locator("#queue-pause").click()
        expect(teacher.locator("#train-reply")).to_contain_text("The queue is paused")
        for page, name in zip(students, STUDENTS):
            page.goto(f"{app[0]}?tab=train")
            expect(page.locator("#queue-teacher")).to_be_hidden()
            page.locator("#train-name textarea, #train-name input").first.fill(name)
            page.locator("#train-images input[type=number]").fill("100")
            page.locator("#train-images input[type=number]").press("Enter")
            page.locator("#start-training").click()
            expect(page.locator("#train-reply")).to_contain_text("paused the queue, so your run waits")
        for page in pages:  # every page sees both runs waiting, in order, names as typed
            table = page.locator("#queue-table")
            expect(table).to_contain_text(STUDENTS[0])
            expect(table).to_contain_text(STUDENTS[1])
            expect(page.locator("#queue-heading")).to_contain_text("paused")
        screenshot(students[0], "class-queue-student")
        teacher.locator("#queue-resume").click()
        for page in pages:
            expect(page.locator("#queue-heading")).to_contain_text("No run is waiting", timeout=180_000)
        wait_until_ended(app.runs)
        for page in pages:  # the board of every page lists both, without a reload
            page.get_by_role("tab", name="7 · Class board").click()
            board = page.locator("#board-table")
            expect(board).to_contain_text(STUDENTS[0])
            expect(board).to_contain_text(STUDENTS[1])
            assert page.locator("#board-table b").count() == 0  # the <b> stayed text
        screenshot(pages[2], "class-board")
        for page in pages:
            page.context.close()
