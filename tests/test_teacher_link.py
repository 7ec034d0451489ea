"""The teacher without a password to guess (classroom.teacher, classroom.teacher_link).

The teacher link's key is swapped for an HttpOnly, SameSite cookie by a redirect to the address
without it; the page says whether the link worked; the right key is never refused, however many
wrong ones came from the same address; wrong ones are slowed per address and overall; without
``MOBILENET_TEACHER_KEY`` the key is random and new each start. Through the running app, as a
class behind one router reaches it (``X-Forwarded-For`` from a trusted proxy names the address).
"""

import time
import types
from urllib.parse import quote, urljoin

import pytest
from gradio_client.exceptions import AppError

from app_server import running_app, wait_until_ended
from browser_support import browser_page, needs_chromium, screenshot, sync_api
from classroom.settings import Settings
from classroom.teacher import (HOLD_S, WRONG_PER_MINUTE, WRONG_PER_MINUTE_OVERALL, TeacherKey, TooManyTries,
                               startup_lines)
from classroom.teacher_link import COOKIE, NOTE_COOKIE, visit
from demo.i18n import t
from loopback_client import api_client
import loopback_client as loopback

pytestmark = pytest.mark.slow  # the tiers: docs/TESTS.md

KEY = "a long teacher key for these tests, 0123456789"
LONG_RUN = {"variant": "cifar", "alpha": 0.5, "depth": "full", "train_images": 300, "epochs": 30,
            "batch_size": 16, "learning_rate": 0.01, "augmentation": False}


@pytest.fixture(scope="module")
def app(tiny_cifar, tmp_path_factory):
    # trusted_proxy: so that X-Forwarded-For names each test's address
    with running_app(str(tmp_path_factory.mktemp("teacher")), tiny_cifar[1],
                     settings=Settings(teacher_key=KEY, trusted_proxy=True)) as running:
        yield running


def open_link(app, key, address, query="lang=zh&tab=train"):
    """GETs the teacher link with ``key`` from ``address``, without following the redirect."""
    return loopback.get(f"{app[0]}gradio_api/teacher?{query}&key={quote(key)}", headers={"X-Forwarded-For": address},
                     follow_redirects=False, timeout=30)


def set_cookies(response):
    """name -> (value, attributes) of each Set-Cookie of ``response``."""
    cookies = {}
    for header in response.headers.get_list("set-cookie"):
        pair, *attributes = [part.strip() for part in header.split(";")]
        name, _, value = pair.partition("=")
        cookies[name] = (value, attributes)
    return cookies


def page_opened_with(cookies):
    """The ``gr.Request`` of a page that sends ``cookies`` (what ``Page.open_page`` reads)."""
    return types.SimpleNamespace(request=types.SimpleNamespace(cookies=cookies))


def error_of(call):
    with pytest.raises(AppError) as error:
        call()
    return str(error.value)


def test_the_link_trades_its_key_for_an_httponly_cookie(app, capfd):
    answer = open_link(app, KEY, "10.1.0.1")
    assert answer.status_code == 303 and "no-store" in answer.headers["cache-control"]
    target = urljoin(str(answer.url), answer.headers["location"])
    assert target == f"{app[0].rstrip('/')}/?lang=zh&tab=train"  # the other parameters kept
    cookies = set_cookies(answer)
    value, attributes = cookies[COOKIE]
    assert {"HttpOnly", "SameSite=Strict", "Path=/"} <= set(attributes)
    assert KEY not in value and quote(KEY) not in value and app.demo.teacher_key.holds_cookie(value)
    page = loopback.get(target, cookies={COOKIE: value}, timeout=30)
    assert page.status_code == 200 and quote(KEY) not in page.text and KEY not in page.text

    # the page that opens is the teacher's, and says so once
    forged = value[:-1] + ("1" if value.endswith("0") else "0")
    opened = page_opened_with({COOKIE: value, NOTE_COOKIE: cookies[NOTE_COOKIE][0]})
    assert visit(app.demo.teacher_key, opened) == (True, "teacher")
    assert visit(app.demo.teacher_key, opened) == (True, None)
    assert visit(app.demo.teacher_key, page_opened_with({COOKIE: forged})) == (False, None)

    # the cookie is the teacher's through the API too: it stops a run another session started
    student = api_client(app[0])
    assert student.predict(name="Ann", **LONG_RUN, api_name="/start_training").startswith("Started")
    pretender = api_client(app[0], headers={"Cookie": f"{COOKIE}={forged}"})
    assert "Only Ann" in error_of(lambda: pretender.predict("Bob", api_name="/stop_training"))
    teacher = api_client(app[0], headers={"Cookie": f"{COOKIE}={value}"})
    assert teacher.predict("Ms Li", api_name="/stop_training").startswith("Stopping the run started by Ann")
    run = wait_until_ended(app.runs)
    assert run["stopped_by"] == "Ms Li" and run["stopped_by_teacher"]
    printed = capfd.readouterr()
    assert KEY not in printed.out + printed.err and quote(KEY) not in printed.out + printed.err


def test_a_wrong_link_sets_no_cookie_and_the_page_says_so(app):
    answer = open_link(app, "guess", "10.1.0.2", query="tab=train")
    assert answer.status_code == 303 and answer.headers["location"] == "../?tab=train"
    cookies = set_cookies(answer)
    assert COOKIE not in cookies
    note = page_opened_with({NOTE_COOKIE: cookies[NOTE_COOKIE][0]})
    assert visit(app.demo.teacher_key, note) == (False, "wrong")
    assert visit(app.demo.teacher_key, note) == (False, None)  # told once: a reload says nothing
    assert "key was wrong" in t("train.teacher.link_wrong", "en") and "密钥不对" in t("train.teacher.link_wrong", "zh")


def test_the_right_key_is_accepted_after_many_wrong_ones_from_the_same_address(app):
    took = []
    for _ in range(WRONG_PER_MINUTE + 3):  # (the bucket refills a little while they are sent)
        began = time.monotonic()
        assert COOKIE not in set_cookies(open_link(app, "guess", "10.1.0.3"))
        took.append(time.monotonic() - began)
    assert took[0] < HOLD_S <= max(took)  # past the limit: slowed
    began = time.monotonic()
    assert COOKIE in set_cookies(open_link(app, KEY, "10.1.0.3"))
    assert time.monotonic() - began < HOLD_S  # the right key is not


def test_wrong_keys_are_slowed_per_address_but_never_the_right_one(app):
    guesser = api_client(app[0], headers={"X-Forwarded-For": "10.1.0.4"})
    for _ in range(WRONG_PER_MINUTE - 1):
        assert "not the teacher key" in error_of(lambda: guesser.predict("guess", api_name="/teacher_sign_in"))
    for _ in range(4):  # (the bucket refills a little while they are sent)
        began = time.monotonic()
        if "Too many wrong keys" in error_of(lambda: guesser.predict("guess", api_name="/teacher_sign_in")):
            break
    else:
        pytest.fail("wrong keys past the limit were not refused")
    assert time.monotonic() - began >= HOLD_S
    assert "You are the teacher" in guesser.predict(KEY, api_name="/teacher_sign_in")[0]
    neighbour = api_client(app[0], headers={"X-Forwarded-For": "10.1.0.5"})
    assert "not the teacher key" in error_of(lambda: neighbour.predict("guess", api_name="/teacher_sign_in"))


def test_wrong_keys_are_limited_overall_and_the_right_key_never():
    now = [0.0]
    key = TeacherKey("k" * 20, clock=lambda: now[0])
    for i in range(WRONG_PER_MINUTE_OVERALL):
        assert not key.check("guess", f"10.2.0.{i}")
    with pytest.raises(TooManyTries) as refused:
        key.check("guess", "10.2.1.1")  # an address that sent nothing yet: everyone's limit
    assert 0 < refused.value.seconds <= 60
    assert key.check("k" * 20, "10.2.0.1") and key.check(" " + "k" * 20, "10.2.1.1")
    now[0] += 60
    assert not key.check("guess", "10.2.1.1")
    assert not TeacherKey("").enabled and not TeacherKey("").check("", "10.2.0.1")


def test_without_the_variable_the_key_is_random_long_and_new_each_start(caplog):
    first, second = (TeacherKey(Settings.from_environ({"MOBILENET_TEACHER_KEY": " "}).teacher_key) for _ in range(2))
    assert first.generated and len(first.key) >= 43 and first.key != second.key
    assert set(first.key) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
    lines = startup_lines(first, "http://127.0.0.1:7860/")
    assert f"    http://127.0.0.1:7860/gradio_api/teacher?key={first.key}" in lines and "new each time" in lines[-1]
    assert startup_lines(TeacherKey(""), "http://127.0.0.1:7860/") == []

    short = TeacherKey(Settings.from_environ({"MOBILENET_TEACHER_KEY": " short key "}).teacher_key)
    assert short.key == "short key" and not short.generated
    assert "shorter than" in caplog.text and "short key" not in caplog.text  # a warning without the key
    assert startup_lines(short, "http://127.0.0.1:7860")[1] == "    http://127.0.0.1:7860/gradio_api/teacher?key=short%20key"


def test_a_teacher_cookie_expires_and_belongs_to_its_key():
    key = TeacherKey("k" * 20)
    made = key.cookie(now=1_000_000)
    assert key.holds_cookie(made, now=1_000_000 + 3600) and not key.holds_cookie(made, now=1_000_000 + 13 * 3600)
    assert not TeacherKey("j" * 20).holds_cookie(made, now=1_000_000)
    assert not any(key.holds_cookie(bad) for bad in (None, "", "1.2", "x" * 200, "１２.ab", made + "0"))


@pytest.fixture
def served(app):
    """(URL, ssr): the module's app. Behind Gradio's server-side rendering (Node serves the pages
    and forwards only Gradio's own routes to Python), ``tests/test_browser_ssr.py`` collects the
    test below with its own app."""
    return app[0], False


@needs_chromium
def test_a_teacher_link_in_the_browser(served):
    expect = sync_api.expect
    url, ssr = served
    with browser_page(f"{url}gradio_api/teacher?tab=train&key={quote(KEY)}", ssr=ssr) as page:
        expect(page.locator("#teacher-status")).to_contain_text("You are the teacher on this page", timeout=60_000)
        assert page.url == f"{url}?tab=train"  # the page, without the key
        expect(page.locator("#teacher-key")).to_be_hidden()
        screenshot(page, "2-train-teacher-link")
        page.reload()  # the cookie, not the link, keeps the page the teacher's
        expect(page.locator("#teacher-status")).to_contain_text("You are the teacher on this page", timeout=60_000)
    with browser_page(f"{url}gradio_api/teacher?lang=zh&tab=train&key=guess", ssr=ssr) as page:
        expect(page.locator("#teacher-link-wrong")).to_contain_text("密钥不对", timeout=60_000)
        assert "key=" not in page.url and "lang=zh" in page.url
        expect(page.locator("#teacher-key")).to_be_visible()
        screenshot(page, "2-train-teacher-link-wrong")
