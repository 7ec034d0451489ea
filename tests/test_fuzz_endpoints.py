"""Every named endpoint of the running app answers every wrong value with a result or a clear message.

The endpoints are listed by the app itself (its ``/config``: every event with an ``api_name``,
documented or not), so a new one is fuzzed without touching this file. Each gets values that
Hypothesis generates for each of its inputs: every JSON type (null, booleans, integers up to
hundreds of digits, floats with NaN and ±Infinity, which Python's ``json`` reads and writes as
bare tokens), strings (empty, unicode, NUL bytes, 100 KB), lists, objects, file records with odd
paths, and the component's own valid values so that the other inputs get past the first check.
They are sent as raw JSON bodies to ``/gradio_api/call/<api_name>`` (what ``curl`` or any client
can send) and the answer is read from its event stream. Each answer must be a result, or an
error whose message is readable (not blank, not "Error", no traceback or exception class name)
and echoes at most ``ECHO`` consecutive characters of any string that was sent; and nothing the
server logs while it answers may hold a traceback.
"""

import html
import json
import math
import re
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app_server import SHIPPED_NAME, logs_recorded, wait_until_ended
import loopback_client as loopback

pytestmark = pytest.mark.slow  # the tiers: docs/TESTS.md

ECHO = 40  # at most this many consecutive characters of a sent string may come back
EXAMPLES = 20  # generated calls per endpoint
TIMEOUT = 120
SLOW = 10  # an endpoint whose calls take longer than this is named in the output
BLANK = {"", "error", "none", "null", "error raised."}
# A Python traceback, an exception's class name, a source location or an object's repr.
FAULT = re.compile(r"Traceback|\b[A-Z]\w*(Error|Exception)\b|File \"|line \d+, in|<\w+ object at 0x")
KNOWN = {"summary", "start_training", "stop_training", "watch_training", "classify", "classify_when_ready",
         "describe_checkpoint", "grad_cam", "feature_maps", "depthwise_kernels", "mistakes", "export",
         "tradeoff", "refresh", "set_language"}


# -- the app and its log ---------------------------------------------------------------------------

@pytest.fixture(scope="module")
def app(shared_app):
    with logs_recorded() as records:
        shared_app.records = records
        yield shared_app


@pytest.fixture(scope="module")
def endpoints(app):
    """{api_name: [input component's config]} of every event the app names, from its /config."""
    config = loopback.get(app[0] + "config", timeout=TIMEOUT).json()
    components = {component["id"]: component for component in config["components"]}
    return {dependency["api_name"]: [components[i] for i in dependency["inputs"]]
            for dependency in config["dependencies"] if dependency.get("api_name") and dependency["backend_fn"]}


# -- what is sent -------------------------------------------------------------------------------------

HUGE = "x" * 100_000
ODD_STRINGS = ["", " ", "\x00", "a\x00b", HUGE, "é中🙂" * 20_000, "\u202eevil", "../../../etc/passwd",
               "<script>alert(1)</script>", "NaN", "None", "1e999", "%s%n{0}", "\ud800".encode(
                   "utf-8", "surrogatepass").decode("utf-8", "replace")]
ODD_NUMBERS = [math.nan, math.inf, -math.inf, 0, -1, 2**63, -(2**64), 10**400, 1e308, -0.0, 5e-324]
ODD_PATHS = ["", "\x00", "/etc/passwd", "a\x00b.png", "/tmp/gradio/\x00/x.png", HUGE, "../" * 50 + "etc/passwd",
             "http://127.0.0.1:1/x.png", "C:\\Windows\\win.ini", "é中🙂.png"]

scalars = (st.none() | st.booleans() | st.integers() | st.sampled_from(ODD_NUMBERS)
           | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=60)
           | st.text(min_size=ECHO + 1, max_size=400) | st.sampled_from(ODD_STRINGS))
json_values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4)
                           | st.dictionaries(st.text(max_size=10), inner, max_size=4), max_leaves=8)
paths = st.sampled_from(ODD_PATHS) | st.text(max_size=40)
file_records = st.fixed_dictionaries(
    {"path": paths | json_values},
    optional={"orig_name": paths | json_values, "url": paths | json_values, "size": json_values,
              "mime_type": json_values, "meta": st.just({"_type": "gradio.FileData"}) | json_values})


def valid_values(component):
    """Values the component's own control could send: they let the other inputs be reached."""
    props = component.get("props", {})
    values = [props.get("value")]
    values += [value for _, value in props.get("choices") or []]
    values += [props[key] for key in ("minimum", "maximum") if props.get(key) is not None]
    if component["type"] == "checkbox":
        values += [True, False]
    return [value for value in values if value is not None or component["type"] in ("textbox", "number")]


def value_for(component):
    near = valid_values(component)
    kinds = [json_values, file_records] + ([st.sampled_from(near)] * 2 if near else [])
    return st.one_of(kinds)


def arguments(inputs):
    return st.tuples(*[value_for(component) for component in inputs])


# -- what comes back ----------------------------------------------------------------------------------

def call(url, api_name, data):
    """(event, payload) of one call: "complete" and the outputs, or "error" and its message dict."""
    body = json.dumps({"data": list(data)})  # NaN and Infinity as bare tokens, as Python sends them
    with loopback.http_client(timeout=TIMEOUT) as client:
        posted = client.post(f"{url}gradio_api/call/{api_name}", content=body,
                             headers={"content-type": "application/json"})
        if posted.status_code == 413:  # over the body limit (classroom.door): refused at the door, with a message
            return "error", {"error": posted.text}
        assert posted.status_code == 200, (posted.status_code, posted.text[:300])
        event = None
        with client.stream("GET", f"{url}gradio_api/call/{api_name}/{posted.json()['event_id']}") as stream:
            for line in stream.iter_lines():
                if line.startswith("event:"):
                    event = line[len("event:"):].strip()
                elif line.startswith("data:") and event in ("complete", "error"):
                    return event, json.loads(line[len("data:"):])
    raise AssertionError(f"/{api_name}: the event stream ended without an answer")


def sent_strings(value):
    if isinstance(value, str):
        yield value
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from sent_strings(item)
    elif isinstance(value, dict):
        for key, item in value.items():
            yield key
            yield from sent_strings(item)


def longest_echo(message, sent):
    """The longest run of ``message`` (more than ECHO characters) found in a sent string, else ""."""
    for string in {s for s in sent if len(s) > ECHO}:
        forms = (string, html.escape(string), json.dumps(string)[1:-1], repr(string)[1:-1])
        for start in range(len(message) - ECHO):
            window = message[start:start + ECHO + 1]
            if any(window in form for form in forms):
                return window
    return ""


def check(app, api_name, data, capfd):
    capfd.readouterr()
    del app.records.texts[:]
    event, payload = call(app[0], api_name, data)
    if event == "error":
        message = payload.get("error") if isinstance(payload, dict) else payload
        assert isinstance(message, str) and message.strip().lower() not in BLANK, (
            f"/{api_name} answered a blank error: {payload!r}")
        assert not FAULT.search(message), f"/{api_name} answered a fault, not a message: {message[:500]}"
        echo = longest_echo(message, list(sent_strings(data)))
        assert not echo, f"/{api_name} echoed {len(echo)}+ characters of what was sent: {message[:300]}"
    elif api_name == "start_training":  # a run really started: let it end before the next call
        app.runs.stop("fuzz")
        wait_until_ended(app.runs)
    out, err = capfd.readouterr()
    logged = "\n".join([out, err, *app.records.texts])
    assert "Traceback" not in logged, f"/{api_name} logged a traceback:\n{logged[-3000:]}"
    return event, payload


# -- the tests ------------------------------------------------------------------------------------------

def test_the_app_lists_every_endpoint(endpoints):
    assert KNOWN <= set(endpoints), KNOWN - set(endpoints)


def test_every_endpoint_answers_every_value(app, endpoints, capfd):
    for api_name, inputs in sorted(endpoints.items()):
        if not inputs:  # nothing to fuzz: it must still answer
            check(app, api_name, [], capfd)
            continue

        @settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=True,
                  suppress_health_check=list(HealthCheck))
        @given(data=arguments(inputs))
        def fuzz(data):
            check(app, api_name, data, capfd)

        started = time.monotonic()
        fuzz()
        if time.monotonic() - started > SLOW:
            with capfd.disabled():
                print(f"\n/{api_name}: {EXAMPLES} calls in {time.monotonic() - started:.1f} s")


SHIPPED = f"shipped/{SHIPPED_NAME}"
NAMED = {"name": "Ann", "variant": "paper", "alpha": 0.25, "depth": "shallow", "train_images": 200, "epochs": 1,
         "batch_size": 32, "learning_rate": 0.01, "augmentation": False, "preset": "classroom", "seed": 0,
         "lang": "en"}


def settings_with(**changes):
    return list({**NAMED, **changes}.values())


# The bad values found by hand before this test existed, and a few more, each through the running app,
# with the message docs/RELIABILITY.md shows for it.
PICTURE = "Your picture needs a file uploaded to this page, not "
FOUND_BY_HAND = {
    "nan_slider": ("start_training", settings_with(epochs=math.nan), "Epochs needs a number, not NaN."),
    "nan_images": ("start_training", settings_with(train_images=math.nan),
                   "Training images needs a number, not NaN."),
    "bool_number": ("start_training", settings_with(train_images=True),
                    "Training images needs a number, not true."),
    "inf_number": ("start_training", settings_with(learning_rate=-math.inf),
                   "Learning rate needs a number, not -Infinity."),
    "huge_integer": ("start_training", settings_with(epochs=10**400),
                     "Epochs needs a number, not 10000000000000000000000000000…"),
    "bool_radio": ("summary", ["paper", True, "full", "en"],
                   "Width multiplier α: true is not one of the choices (0.25, 0.5, 0.75, 1.0)."),
    "null_radio": ("summary", ["paper", None, "full", "en"], "Choose a value for Width multiplier α."),
    "nul_path": ("classify", [{"path": "a\x00b.png", "orig_name": "a.png"}, SHIPPED, "en"],
                 PICTURE + '{"path": "a\\u0000b.png", "ori….'),
    "number_as_image": ("classify", [5, SHIPPED, "en"], PICTURE + "5."),
    "huge_dropdown": ("start_training", settings_with(batch_size=HUGE),
                      'Batch size: "xxxxxxxxxxxxxxxxxxxxxxxxxxxx… is not one of the choices (16, 32, 64, 128, 256).'),
    # the language handler takes every tab's values after the radio (padded with None below)
    "huge_radio": ("set_language", [HUGE], 'Language · 语言: "xxxxxxxxxxxxxxxxxxxxxxxxxxxx… is not one of the '
                                           'choices ("en", "zh").'),
    "huge_block": ("depthwise_kernels", [SHIPPED, HUGE, "en"],
                   'Block: "xxxxxxxxxxxxxxxxxxxxxxxxxxxx… is not one of the choices.'),
    "long_block": ("depthwise_kernels", [SHIPPED, "7" * 200, "en"],  # short enough for a choice
                   "This network has no block '" + "7" * 40 + "': pick one of 1, 2,"),
    "list_as_text": ("stop_training", [["Ann"], "en"],
                     'Your name (optional, shown to others while you train) needs text, not ["Ann"].'),
    "not_an_example": ("load_example", [99], "CIFAR-10 test pictures (32×32, one per class): 99 is not one "
                                             "of the examples."),
    "too_few_values": ("start_training", ["Ann", HUGE], "This event takes 12 values; 2 were sent."),
    "in_chinese": ("start_training", settings_with(epochs=math.nan, lang="zh"), "轮次（epoch）需要一个数，而不是 NaN。"),
}


@pytest.mark.parametrize("case", list(FOUND_BY_HAND))
def test_values_found_by_hand(case, app, endpoints, capfd):
    api_name, data, expected = FOUND_BY_HAND[case]
    if api_name == "set_language":
        data = list(data) + [None] * (len(endpoints[api_name]) - len(data))
    event, payload = check(app, api_name, data, capfd)
    assert event == "error" and expected in payload["error"], payload  # each is wrong: a message
