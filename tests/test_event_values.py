"""Every event checks its values against what its controls offer, internal events included.

An event with ``preprocess=False`` gets none of Gradio's checks (choices, ranges):
``classroom.inputs.CheckedBlocks`` does them. The language switch (``/set_language``, the page's
one handler for every tab's texts) is such an event, and it used to take any α up to 4 (the
Architecture tab builds the model it names: 50 million parameters and gigabytes of memory for α 4)
and answer α 5, ``"abc"``, an unknown variant, depth or language with a blank error and a
traceback in the log. These tests send such values as raw JSON to
``/gradio_api/call/set_language`` on the running app, in English and in Chinese, and check the
message, the log and the server's memory. The checkpoint pickers (``choices_change``) are the
one exception: their callbacks look keys up in the catalog, which may list runs newer than the page.
"""

import json
import math

import gradio as gr
import pytest

from app_server import SHIPPED_NAME, logs_recorded
from classroom.inputs import problem
import loopback_client as loopback

pytestmark = pytest.mark.slow  # the tiers: docs/TESTS.md

TIMEOUT = 120
SHIPPED = f"shipped/{SHIPPED_NAME}"
RSS_GROWTH_MB = 100  # the server's memory over 16 refused language switches
ALPHAS = "0.25, 0.5, 0.75, 1.0"


@pytest.fixture(scope="module")
def app(shared_app):
    with logs_recorded() as records:
        shared_app.records = records
        yield shared_app


@pytest.fixture(scope="module")
def switch(app):
    """``switch(**values)``: the values of a language switch (every input of ``/set_language``
    at what the page shows, states as None), with ``values`` by elem_id in place."""
    config = loopback.get(app[0] + "config", timeout=TIMEOUT).json()
    components = {component["id"]: component for component in config["components"]}
    inputs = next(d["inputs"] for d in config["dependencies"] if d.get("api_name") == "set_language")
    shown = [components[i] for i in inputs]

    def values(**changed):
        data = [None if c["type"] == "state" else c.get("props", {}).get("value") for c in shown]
        for name, value in changed.items():
            data[[c.get("props", {}).get("elem_id") for c in shown].index(name.replace("_", "-"))] = value
        return data
    return values


def call(url, api_name, data):
    """(event, payload) of one call: "complete" and the outputs, or "error" and its message dict."""
    with loopback.http_client(timeout=TIMEOUT) as client:
        posted = client.post(f"{url}gradio_api/call/{api_name}", content=json.dumps({"data": data}),
                             headers={"content-type": "application/json"})
        assert posted.status_code == 200, (posted.status_code, posted.text[:300])
        event = None
        with client.stream("GET", f"{url}gradio_api/call/{api_name}/{posted.json()['event_id']}") as stream:
            for line in stream.iter_lines():
                if line.startswith("event:"):
                    event = line[len("event:"):].strip()
                elif line.startswith("data:") and event in ("complete", "error"):
                    return event, json.loads(line[len("data:"):])
    raise AssertionError(f"/{api_name}: the event stream ended without an answer")


def refused(app, api_name, data, capfd):
    """The message of a refused call; fails on an answer, a blank message or a logged traceback."""
    capfd.readouterr()
    del app.records.texts[:]
    event, payload = call(app[0], api_name, data)
    out, err = capfd.readouterr()
    logged = "\n".join([out, err, *app.records.texts])
    assert "Traceback" not in logged, f"/{api_name} logged a traceback:\n{logged[-3000:]}"
    assert event == "error", f"/{api_name} answered {str(payload)[:300]}"
    return payload.get("error") if isinstance(payload, dict) else payload


def rss_mb():
    with open("/proc/self/status") as status:  # the app runs in this process
        return next(int(line.split()[1]) for line in status if line.startswith("VmRSS:")) / 1024


# -- the language switch -------------------------------------------------------------------------------

SWITCHES = {  # elem_id=value: the message, in English and Chinese
    "alpha_4": ({"architecture_alpha": 4}, f"Width multiplier α: 4 is not one of the choices ({ALPHAS}).",
                f"宽度乘子 α：4 不是可选的值（{ALPHAS}）。"),
    "alpha_5": ({"architecture_alpha": 5}, f"Width multiplier α: 5 is not one of the choices ({ALPHAS}).",
                f"宽度乘子 α：5 不是可选的值（{ALPHAS}）。"),
    "alpha_text": ({"architecture_alpha": "abc"}, f'Width multiplier α: "abc" is not one of the choices ({ALPHAS}).',
                   f'宽度乘子 α："abc" 不是可选的值（{ALPHAS}）。'),
    "alpha_nan": ({"architecture_alpha": math.nan}, f"Width multiplier α: NaN is not one of the choices ({ALPHAS}).",
                  f"宽度乘子 α：NaN 不是可选的值（{ALPHAS}）。"),
    "alpha_none": ({"architecture_alpha": None}, "Choose a value for Width multiplier α.", "请为宽度乘子 α选择一个值。"),
    "variant": ({"architecture_variant": "resnet"}, 'Variant: "resnet" is not one of the choices ("paper", "cifar").',
                '变体："resnet" 不是可选的值（"paper", "cifar"）。'),
    "depth": ({"architecture_depth": "medium"}, 'Depth: "medium" is not one of the choices ("full", "shallow").',
              '深度："medium" 不是可选的值（"full", "shallow"）。'),
    "depth_number": ({"architecture_depth": 13}, 'Depth: 13 is not one of the choices ("full", "shallow").',
                     '深度：13 不是可选的值（"full", "shallow"）。'),
}


@pytest.mark.parametrize("case", list(SWITCHES))
@pytest.mark.parametrize("lang", ["en", "zh"])
def test_the_language_switch_refuses_what_no_control_offers(case, lang, app, switch, capfd):
    changed, english, chinese = SWITCHES[case]
    message = refused(app, "set_language", switch(language=lang, **changed), capfd)
    assert message == (english if lang == "en" else chinese)


@pytest.mark.parametrize("language", ["fr", "", 1, math.nan, None, "zh" * 200])
def test_the_language_itself_is_checked(language, app, switch, capfd):
    message = refused(app, "set_language", switch(language=language), capfd)
    if language is None:
        assert message == "Choose a value for Language · 语言."
    else:
        assert message.startswith("Language · 语言: ") and message.endswith(' is not one of the choices ("en", "zh").')


def test_the_language_switch_still_switches(app, switch):
    event, outputs = call(app[0], "set_language", switch(language="zh", architecture_alpha=0.25,
                                                         architecture_depth="shallow"))
    assert event == "complete"
    assert "参数" in json.dumps(outputs, ensure_ascii=False)  # the Architecture totals, in Chinese
    event, _ = call(app[0], "set_language", switch(language="en", architecture_alpha=1))  # 1 is the choice 1.0
    assert event == "complete"


def test_refused_switches_build_nothing(app, switch, capfd):
    """16 switches asking for the largest models the old handler built: memory stays put."""
    refused(app, "set_language", switch(language="en", architecture_alpha=4), capfd)  # warm: first answers allocate
    before = rss_mb()
    for i in range(16):
        alpha = (4, 3.75, 3.5, 2)[i % 4]
        refused(app, "set_language", switch(language=("en", "zh")[i % 2], architecture_alpha=alpha,
                                            architecture_variant="cifar"), capfd)
    assert rss_mb() - before < RSS_GROWTH_MB, f"server memory grew from {before:.0f} MB to {rss_mb():.0f} MB"


# -- the other unpreprocessed events ---------------------------------------------------------------------

def test_a_checkpoint_picker_is_looked_up_by_its_callback(app, capfd):
    """A key the page did not list reaches the callback, which says it is not available (it would
    be a run finished after the page was built if it were there)."""
    message = refused(app, "mistakes", ["run/finished_later.keras", "en"], capfd)
    assert message == "That checkpoint is not available any more: pick another one."


def test_a_fixed_dropdown_of_an_unpreprocessed_event_is_checked(app, capfd):
    upload = {"path": "/nowhere.png", "meta": {"_type": "gradio.FileData"}}
    message = refused(app, "grad_cam", [upload, SHIPPED, "unicorn", "zh"], capfd)
    assert message.startswith('要解释的类别："unicorn" 不是可选的值（"predicted", "airplane", ')
    message = refused(app, "classify", [upload, SHIPPED, "klingon"], capfd)  # the language of Classify
    assert message == 'Language · 语言: "klingon" is not one of the choices ("en", "zh").'


def test_every_unchecked_choice_is_a_list_that_changes_while_a_page_is_open(app):
    """Only controls whose choices change while a page is open escape the check, and never the language:
    the checkpoint lists, Look inside's layers and blocks, the class board's boards and runs (their
    callbacks look each value up)."""
    unchecked = {block.elem_id for fn in app.demo.fns.values() if not fn.preprocess for block in fn.inputs
                 if isinstance(block, (gr.Radio, gr.Dropdown)) and getattr(block, "choices_change", False)}
    assert unchecked == {"checkpoint", "look-checkpoint", "export-checkpoint", "mistakes-checkpoint",
                         "feature-layer", "kernel-block", "board-picker", "board-picked", "board-try-run"}


# -- ranges, without preprocessing -------------------------------------------------------------------------

@pytest.mark.parametrize("value,reason", [(1, None), (30, None), (12, None), (0, "page.invalid.range"),
                                          (31, "page.invalid.range"), (1.5, "page.invalid.step"),
                                          (math.nan, "page.invalid.number"), (True, "page.invalid.number")])
def test_a_slider_is_checked_for_its_range_and_steps(value, reason):
    slider = gr.Slider(1, 30, step=1, label="Epochs")
    assert problem(slider, value, preprocess=False) == reason
    assert problem(slider, value, preprocess=True) == (reason if reason == "page.invalid.number" else None)


def test_fine_slider_steps_and_number_bounds():
    rate = gr.Slider(1e-5, 1.0, step=1e-4)
    assert problem(rate, 1e-5 + 499 * 1e-4, preprocess=False) is None  # float steps: not exact, still on them
    assert problem(rate, 0.05, preprocess=False) == "page.invalid.step"
    assert problem(gr.Number(minimum=0), -1, preprocess=False) == "page.invalid.at_least"
    assert problem(gr.Number(maximum=1), 2, preprocess=False) == "page.invalid.at_most"
    assert problem(gr.Number(minimum=0, maximum=1), 0.123, preprocess=False) is None  # a number box takes any step
