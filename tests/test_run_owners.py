"""Runs have owners: only the browser tab that started a run, or the teacher, can stop it; the
teacher is whoever holds the server's key, and nobody else can appear as the teacher.

Through the running app: each ``gradio_client.Client`` is its own session, as each browser tab is.
"""

import json

import pytest
from gradio_client.exceptions import AppError

from app_server import running_app, wait_until_ended
from browser_support import browser_page, needs_chromium, screenshot, sync_api
from classroom.settings import Settings
from classroom.teacher import BADGE
from classroom.visitors import visitor_name
from loopback_client import api_client

pytestmark = pytest.mark.slow  # the tiers: docs/TESTS.md

KEY = "correct horse battery staple"
# Long enough to still be training when the others press Stop (the tiny data: 300 pictures).
LONG_RUN = {"variant": "cifar", "alpha": 0.5, "depth": "full", "train_images": 300, "epochs": 30,
            "batch_size": 16, "learning_rate": 0.01, "augmentation": False}


@pytest.fixture(scope="module")
def teacher_app(tiny_cifar, tmp_path_factory):
    """One app for the module (each test ends the runs it starts)."""
    with running_app(str(tmp_path_factory.mktemp("owners")), tiny_cifar[1], settings=Settings(teacher_key=KEY)) as app:
        yield app


def error_of(call):
    with pytest.raises(AppError) as error:
        call()
    return str(error.value)


def test_only_the_starter_or_the_teacher_can_stop_a_run(teacher_app):
    ann, bob, teacher = (api_client(teacher_app[0]) for _ in range(3))
    assert ann.predict(name="Ann", **LONG_RUN, api_name="/start_training").startswith("Started")
    refused = error_of(lambda: bob.predict("Bob", api_name="/stop_training"))
    assert "Only Ann, who started this run, or the teacher can stop it" in refused
    assert teacher_app.runs.snapshot()["run"]["state"] in ("starting", "running")

    assert "not the teacher key" in error_of(lambda: teacher.predict("guess", api_name="/teacher_sign_in"))
    assert "Only Ann" in error_of(lambda: teacher.predict("Ms Li", api_name="/stop_training"))
    signed_in = teacher.predict(KEY, api_name="/teacher_sign_in")
    assert "You are the teacher in this browser tab" in signed_in[0]
    assert teacher.predict("Ms Li", api_name="/stop_training").startswith("Stopping the run started by Ann")
    run = wait_until_ended(teacher_app.runs)
    assert run["stopped_by"] == "Ms Li" and run["stopped_by_teacher"] and not run["started_by_teacher"]

    # the starter's own tab can stop its run; nobody sees whose session that is
    assert ann.predict(name="Ann", **LONG_RUN, api_name="/start_training").startswith("Started")
    watching = bob.submit(api_name="/watch_training")
    shown = json.dumps(next(iter(watching)))  # the first view of the stream, as every viewer gets it
    watching.cancel()
    assert ann.session_hash not in shown and "owner" not in shown
    assert ann.predict("Ann", api_name="/stop_training").startswith("Stopping the run started by Ann")
    run = wait_until_ended(teacher_app.runs)
    assert run["stopped_by"] == "Ann" and not run["stopped_by_teacher"]


def test_nobody_else_can_appear_as_the_teacher(teacher_app):
    student = api_client(teacher_app[0])
    student.predict(name=f"{BADGE} Teacher {BADGE}", **{**LONG_RUN, "epochs": 1}, api_name="/start_training")
    run = wait_until_ended(teacher_app.runs)
    assert run["started_by"] == "Teacher" and not run["started_by_teacher"]
    assert visitor_name(f"{BADGE}Ms Li") == "Ms Li"
    assert visitor_name("", teacher=True) == "Teacher" and visitor_name("") == "Someone"


def test_without_the_variable_the_teacher_key_is_made_at_start(tiny_cifar, tmp_path):
    """(Guessing, the teacher link and its cookie: tests/test_teacher_link.py.)"""
    with running_app(str(tmp_path), tiny_cifar[1], settings=Settings.from_environ({})) as app:
        key = app.demo.teacher_key
        assert key.generated and len(key.key) >= 43
        client = api_client(app[0])
        assert "not the teacher key" in error_of(lambda: client.predict("", api_name="/teacher_sign_in"))
        assert "You are the teacher" in client.predict(key.key, api_name="/teacher_sign_in")[0]


@needs_chromium
def test_a_teacher_link_signs_in_and_leaves_the_address_bar(teacher_app):
    expect = sync_api.expect
    student = api_client(teacher_app[0])
    student.predict(name="Bob", **LONG_RUN, api_name="/start_training")
    with browser_page(f"{teacher_app[0]}gradio_api/teacher?tab=train&key={KEY.replace(' ', '+')}") as page:
        expect(page.locator("#run-status")).to_contain_text("Bob", timeout=30_000)
        assert "key=" not in page.url and "tab=train" in page.url
        page.locator("#train-name input, #train-name textarea").first.fill("Ms Li")
        page.locator("#stop-training").click()
        expect(page.locator("#train-reply")).to_contain_text("Stopping the run started by Bob")
        expect(page.locator("#run-status")).to_contain_text(f"Ms Li {BADGE}", timeout=60_000)
        assert f"{BADGE} teacher" not in page.locator("#run-status").inner_text()  # the badge once, no word
        # once the run has ended, Stop's answer under the buttons is gone (not left stale)
        expect(page.locator("#run-status")).to_contain_text("stopped by", timeout=60_000)
        expect(page.locator("#train-reply")).to_have_text("", timeout=15_000)
        screenshot(page, "2-train-stopped-by-teacher")
    wait_until_ended(teacher_app.runs)
    with browser_page(f"{teacher_app[0]}gradio_api/teacher?tab=train&key=wrong") as page:  # a wrong key: anyone's page
        student.predict(name="Bob", **LONG_RUN, api_name="/start_training")
        expect(page.locator("#run-status")).to_contain_text("Bob is training", timeout=30_000)
        page.locator("#stop-training").click()
        expect(page.get_by_text("Only Bob, who started this run, or the teacher can stop it")).to_be_visible()
        screenshot(page, "2-train-not-your-run")
    student.predict("Bob", api_name="/stop_training")
    wait_until_ended(teacher_app.runs)
