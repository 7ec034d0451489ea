"""Every route that runs an event goes through the queue, with its caps and concurrency limits.

Gradio serves an event on several routes. ``/gradio_api/run/<name>``, ``/gradio_api/api/<name>``
and ``/gradio_api/run/predict`` (with an ``fn_index``) run it at once in the request, past the
queue: the app sets ``api_open=False``, and ``classroom.fair_queue.install`` queues every event
(Gradio leaves an example's loading and the browser-only steps unqueued, and its direct routes
still run unqueued events), so that they refuse every event. ``/gradio_api/call/<name>``,
``/gradio_api/call/v2/<name>`` and ``/gradio_api/queue/join`` join the queue, where
``classroom.fair_queue`` caps each tab and each address and each event group has its
concurrency limit. MCP routes are never mounted, whatever ``GRADIO_MCP_SERVER`` says.

Concurrency is measured by the server: the Classify group's callbacks (limit 4) are wrapped, for
these tests, in a probe that counts the calls running at once and holds each for a moment, so
that ten calls sent together would overlap if nothing stopped them (a control test opens the
direct routes again and sees it). The app runs as behind a Space's proxy
(``MOBILENET_TRUSTED_PROXY=1``) so that ``X-Forwarded-For`` is each client's address.
"""

import asyncio
import concurrent.futures
import contextlib
import functools
import inspect
import json
import os
import threading
import time
import uuid

import pytest

from app_server import SHIPPED_NAME, running_app
from classroom import fair_queue
from classroom.settings import Settings
import loopback_client as loopback

pytestmark = pytest.mark.slow  # the tiers: docs/TESTS.md

TIMEOUT = 120
SHIPPED = f"shipped/{SHIPPED_NAME}"
CLASSIFY_LIMIT = 4
PER_ADDRESS = 12  # lowered for the test (the default, 64, bounds a whole classroom behind one router)
HOLD_S = 0.4  # how long the probe holds each call: long enough for ten to overlap if let through
CALLS = 10
DIRECT = ("run", "api")
REFUSED = "does not accept direct HTTP POST requests"
SETTINGS = Settings(trusted_proxy=True, max_waiting_per_address=PER_ADDRESS)


@pytest.fixture(scope="module")
def app(tiny_cifar, tiny_checkpoint, tmp_path_factory):
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("GRADIO_MCP_SERVER", "true")  # Gradio's own variable: the app must say no anyway
        with running_app(str(tmp_path_factory.mktemp("routes")), tiny_cifar[1], tiny_checkpoint,
                         settings=SETTINGS) as launched:
            yield launched


@pytest.fixture(scope="module")
def classify_fns(app):
    fns = [fn for fn in app.demo.fns.values() if fn.concurrency_id == "classify" and fn.fn]
    assert {fn.api_name for fn in fns} >= {"classify", "classify_when_ready"}
    assert all(fn.concurrency_limit == CLASSIFY_LIMIT for fn in fns)
    return fns


@contextlib.contextmanager
def probe(fns, hold=HOLD_S):
    """Counts the calls of ``fns`` running at once (``now``, the most: ``most``, all: ``calls``)."""
    count = {"now": 0, "most": 0, "calls": 0}
    lock = threading.Lock()

    def enter():
        with lock:
            count["now"] += 1
            count["calls"] += 1
            count["most"] = max(count["most"], count["now"])

    def leave():
        with lock:
            count["now"] -= 1

    def wrap(original):
        if inspect.iscoroutinefunction(original):
            @functools.wraps(original)
            async def counted(*args, **kwargs):
                enter()
                try:
                    await asyncio.sleep(hold)
                    return await original(*args, **kwargs)
                finally:
                    leave()
        else:
            @functools.wraps(original)
            def counted(*args, **kwargs):
                enter()
                try:
                    time.sleep(hold)
                    return original(*args, **kwargs)
                finally:
                    leave()
        return counted

    originals = {fn: fn.fn for fn in fns}
    for fn in fns:
        fn.fn = wrap(fn.fn)
    try:
        yield count
    finally:
        for fn, original in originals.items():
            fn.fn = original


# -- the ways in ----------------------------------------------------------------------------------------

def headers(address):
    return {"content-type": "application/json", "x-forwarded-for": address}


def read_stream(client, url, done):
    """Reads the server-sent events at ``url`` until ``done(message)``; returns that message."""
    with client.stream("GET", url) as stream:
        for line in stream.iter_lines():
            if line.startswith("data:"):
                try:
                    message = json.loads(line[len("data:"):])
                except ValueError:
                    continue
                if done(message):
                    return message
    raise AssertionError(f"{url}: the stream ended first")


def by_call(url, api_name, data, session, address, names=None, read=True):
    """(status, detail) of one call through ``/gradio_api/call/<name>`` (with ``names``: the v2
    route, which takes the parameters by name and no session), its answer read unless not ``read``."""
    version = "v2/" if names else ""
    with loopback.http_client(timeout=TIMEOUT) as client:
        body = dict(zip(names, data)) if names else {"data": data, "session_hash": session}
        posted = client.post(f"{url}gradio_api/call/{version}{api_name}", json=body, headers=headers(address))
        if posted.status_code != 200:
            return posted.status_code, posted.json().get("detail")
        event_id = posted.json()["event_id"]
        if read:
            read_stream(client, f"{url}gradio_api/call/{version}{api_name}/{event_id}", lambda _: True)
        return 200, event_id


def by_join(url, fn_index, data, session, address, read=True):
    """(status, detail) of one ``/gradio_api/queue/join``, its answer read from ``/queue/data``
    unless not ``read`` (a session has one reader: a tab's calls are read by their sender)."""
    with loopback.http_client(timeout=TIMEOUT) as client:
        posted = client.post(f"{url}gradio_api/queue/join", headers=headers(address),
                             json={"data": data, "fn_index": fn_index, "session_hash": session})
        if posted.status_code != 200:
            return posted.status_code, posted.json().get("detail")
        event_id = posted.json()["event_id"]
        if read:
            read_stream(client, f"{url}gradio_api/queue/data?session_hash={session}",
                        lambda m: m.get("msg") == "process_completed" and m.get("event_id") == event_id)
        return 200, event_id


def direct(url, route, api_name, data, fn_index=None):
    """(status, detail) of one POST to a direct route, ``/gradio_api/<route>/<api_name>``."""
    body = {"data": data, **({"fn_index": fn_index} if fn_index is not None else {})}
    answer = loopback.post(f"{url}gradio_api/{route}/{api_name}", json=body, timeout=TIMEOUT)
    return answer.status_code, answer.text


def at_once(calls):
    """Runs the ``calls`` (functions of nothing) together; returns their answers in order."""
    with concurrent.futures.ThreadPoolExecutor(len(calls)) as pool:
        return [future.result() for future in [pool.submit(call) for call in calls]]


def drained(app, timeout=30):
    deadline = time.monotonic() + timeout
    while app.demo._queue.event_ids_to_events:
        assert time.monotonic() < deadline, "the queue did not empty"
        time.sleep(0.1)


# -- no way past the queue --------------------------------------------------------------------------------

def test_every_event_is_queued_and_the_direct_routes_are_closed(app):
    assert app.demo.api_open is False
    unqueued = [fn.api_name or fn._id for fn in app.demo.fns.values() if not fn.queue]
    assert unqueued == []  # Gradio's direct routes run an unqueued event even with api_open=False


def test_the_direct_routes_refuse_every_event(app, classify_fns):
    url = app[0]
    with probe(classify_fns) as count:
        for fn in app.demo.fns.values():
            if fn.api_name:
                for route in DIRECT:
                    status, text = direct(url, route, fn.api_name, [None] * len(fn.inputs))
                    assert (status, REFUSED in text) == (404, True), (route, fn.api_name, status, text[:200])
            status, text = direct(url, "run", "predict", [None] * len(fn.inputs), fn_index=fn._id)
            assert (status, REFUSED in text) == (404, True), ("run/predict", fn._id, status, text[:200])
    assert count["calls"] == 0


def test_no_mcp_server_even_when_the_environment_asks(app):
    assert os.environ.get("GRADIO_MCP_SERVER") == "true" and not app.demo.mcp_server
    for path in ("gradio_api/mcp/sse", "gradio_api/mcp/", "gradio_api/mcp/schema", "gradio_api/mcp/messages/"):
        assert loopback.get(app[0] + path, timeout=TIMEOUT).status_code == 404, path
        assert loopback.post(app[0] + path, json={}, timeout=TIMEOUT).status_code in (404, 405), path


# -- the queue's limits hold on every queued route ------------------------------------------------------------

def ways_in(app, fn):
    """{route: call(data, session, address)} of the routes that queue ``fn``."""
    url = app[0]
    info = loopback.get(f"{url}gradio_api/info", timeout=TIMEOUT).json()["named_endpoints"][f"/{fn.api_name}"]
    names = [parameter["parameter_name"] for parameter in info["parameters"]]
    return {"call": functools.partial(by_call, url, fn.api_name), "call/v2": functools.partial(by_call, url, fn.api_name, names=names),
            "queue/join": functools.partial(by_join, url, fn._id)}


@pytest.mark.parametrize("route", ["call", "call/v2", "queue/join"])
def test_ten_classify_calls_run_at_most_four_at_a_time(route, app, classify_fns):
    fn = next(fn for fn in classify_fns if fn.api_name == "classify")
    send = ways_in(app, fn)[route]
    with probe(classify_fns) as count:
        answers = at_once([functools.partial(send, [None, SHIPPED, "en"], uuid.uuid4().hex, "10.0.1.1")
                           for _ in range(CALLS)])
    drained(app)
    assert [status for status, _ in answers] == [200] * CALLS
    assert count["calls"] == CALLS
    assert 2 <= count["most"] <= CLASSIFY_LIMIT, count


def test_the_probe_sees_calls_that_skip_the_queue(app, classify_fns):
    """Control: with Gradio's direct routes open again, the same ten calls all run at once."""
    app.demo.api_open = True
    try:
        with probe(classify_fns) as count:
            answers = at_once([functools.partial(direct, app[0], "run", "classify", [None, SHIPPED, "en"])
                               for _ in range(CALLS)])
    finally:
        app.demo.api_open = False
    assert {status for status, _ in answers} <= {200, 500}  # answered in the request, past the queue
    assert count["calls"] == CALLS and count["most"] > CLASSIFY_LIMIT, count


@pytest.mark.parametrize("route", ["call", "queue/join"])  # call/v2 takes no session: every call is its own tab
def test_one_tab_is_capped_on_every_queued_route(route, app, classify_fns):
    fn = next(fn for fn in classify_fns if fn.api_name == "classify")
    send, session = ways_in(app, fn)[route], uuid.uuid4().hex
    with probe(classify_fns, hold=1.0):
        answers = at_once([functools.partial(send, [None, SHIPPED, "en"], session, "10.0.2.2", read=False)
                           for _ in range(CALLS)])
        drained(app)
    refused = [detail for status, detail in answers if status != 200]
    assert len(refused) == CALLS - fair_queue.PER_SESSION, answers
    assert all(status == 400 for status, _ in answers if status != 200)
    assert refused[0] == fair_queue.TOO_MANY_FROM_TAB.format(count=fair_queue.PER_SESSION)


@pytest.mark.parametrize("route", ["call", "call/v2", "queue/join"])
def test_one_address_is_capped_on_every_queued_route(route, app, classify_fns):
    fn = next(fn for fn in classify_fns if fn.api_name == "classify")
    send, calls = ways_in(app, fn)[route], PER_ADDRESS + 4
    with probe(classify_fns, hold=1.0):
        answers = at_once([functools.partial(send, [None, SHIPPED, "en"], uuid.uuid4().hex, "10.0.3.3")
                           for _ in range(calls)])
        drained(app)
    refused = [detail for status, detail in answers if status != 200]
    assert len(refused) == calls - PER_ADDRESS, answers
    assert set(refused) == {fair_queue.TOO_MANY_FROM_ADDRESS.format(count=PER_ADDRESS)}


def test_a_step_run_only_in_the_browser_is_answered_by_the_queue(app, capfd):
    """Steps with no server function (the page's JavaScript) are queued too: joining one gets an
    answer, and no traceback in the log."""
    browser_only = [fn for fn in app.demo.fns.values() if fn.fn is None]
    assert browser_only
    for fn in browser_only:
        capfd.readouterr()
        session = uuid.uuid4().hex
        with loopback.http_client(timeout=TIMEOUT) as client:
            posted = client.post(f"{app[0]}gradio_api/queue/join", headers=headers("10.0.4.4"),
                                 json={"data": [block.value for block in fn.inputs], "fn_index": fn._id,
                                       "session_hash": session})
            assert posted.status_code == 200
            event_id = posted.json()["event_id"]
            done = read_stream(client, f"{app[0]}gradio_api/queue/data?session_hash={session}",
                               lambda m: m.get("msg") == "process_completed" and m.get("event_id") == event_id)
        out, err = capfd.readouterr()
        assert "Traceback" not in out + err, (out + err)[-3000:]
        assert done["output"]["error"] == "This step runs in the browser only: the server has nothing to do for it."
