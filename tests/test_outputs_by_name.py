"""Outputs by name (issue 25): a callback that updates several components answers ``{component:
update}``, and every key is one of its event's outputs.

Gradio 6.31 finds an undeclared key only when the event runs (``ValueError: Returned component
... not specified as output of function``: the page shows "Error"), and a list in the wrong
order not at all. These tests find both without a server: the page is built, not launched, and
its callbacks are called directly with what the page would send.
"""

import asyncio
import inspect
import types

import gradio as gr
import pytest
from gradio.blocks import Block

from test_train_tab_text import RUNS


@pytest.fixture(scope="module")
def page(demo):
    (event,) = events(demo, "relabel")
    return event.fn.__self__


def events(demo, name):
    """The events whose callback is ``name`` (a method of the page or of a tab)."""
    return [event for event in demo.fns.values() if getattr(event.fn, "__name__", None) == name]


def named(block):
    return f"{type(block).__name__}({getattr(block, 'elem_id', None) or getattr(block, 'label', None)})"


def assert_fits(event, answer):
    """``answer`` is by name: a non-empty ``{component: update}`` (Gradio takes an empty dict for
    one value), every key one of ``event``'s outputs."""
    where = f"{event.fn.__qualname__} (outputs: {', '.join(named(block) for block in event.outputs)})"
    assert isinstance(answer, dict) and answer, f"{where} answered {type(answer).__name__} {answer!r:.200}"
    assert all(isinstance(key, Block) for key in answer), f"{where} answered keys that are no component"
    declared = {id(block) for block in event.outputs}
    undeclared = [named(key) for key in answer if id(key) not in declared]
    assert undeclared == [], f"{where} updates {undeclared}, not among its outputs"


def fake_request(**query):
    """What ``Page.open_page`` reads of a ``gr.Request``: the address's query, headers, cookies."""
    return types.SimpleNamespace(query_params=query, headers={}, request=types.SimpleNamespace(cookies={}))


def call(event, request=None):
    """``event``'s callback with the values its inputs show as the page is built (the language:
    English), as Gradio calls it: one dict when its inputs are a set, the request and progress
    parameters left to their defaults or ``request``."""
    values = [block.value for block in event.inputs]
    arguments = [dict(zip(event.inputs, values))] if event.inputs_as_dict else values
    parameters = inspect.signature(event.fn).parameters.values()
    filled = [p.name for p in parameters if p.name != "request" and not isinstance(p.default, gr.Progress)]
    keywords = dict(zip(filled, arguments, strict=True))
    if any(p.name == "request" for p in parameters):
        keywords["request"] = request
    answer = event.fn(**keywords)
    return asyncio.run(answer) if inspect.isawaitable(answer) else answer


def test_every_callback_with_several_outputs_answers_by_name(demo):
    answered, refused = [], []
    for event in demo.fns.values():
        if event.fn is None or len(event.outputs) < 2:
            continue
        try:
            answer = call(event, fake_request())
        except gr.Error:  # a message for the user (no network yet, no picture): nothing answered
            refused.append(event.fn.__qualname__)
            continue
        assert_fits(event, answer)
        answered.append(event.fn.__qualname__)
    assert {"Page.refresh", "Page.open_page", "Page.relabel", "ArchitectureTab.summary", "TrainTab.preset_values",
            "ClassifyTab.classify_when_ready", "LookInsideTab.look_when_ready", "LookInsideTab.choose_checkpoint",
            "MistakesTab.mistakes_when_ready", "MobileTab.tradeoff", "MobileTab.open_mobile"} <= set(answered), (
        answered, refused)


def test_a_wrong_key_or_a_list_is_caught(demo, page):
    (summary,) = events(demo, "summary")
    with pytest.raises(AssertionError, match="not among its outputs"):
        assert_fits(summary, {**call(summary), page.train.status: "a component of another tab"})
    with pytest.raises(AssertionError, match="answered tuple"):
        assert_fits(summary, tuple(call(summary).values()))


@pytest.mark.parametrize("run", RUNS, ids=lambda run: run["state"] if run else "no run")
def test_the_refresh_names_the_train_tabs_outputs_whatever_the_run(demo, page, monkeypatch, run):
    (refresh,) = events(demo, "refresh")
    snapshot = {**page.ctx.runs.snapshot(), "run": run}
    monkeypatch.setattr(page.ctx.runs, "watch", lambda *args: snapshot)
    first = page.refresh(None, None, "zh")
    assert_fits(refresh, first)
    assert {*page.train.view_outputs, page.classify.checkpoint, page.seen, page.board_version} - set(first) \
        <= {page.train.reply}
    again = page.refresh(first[page.seen], None, "zh")  # nothing new: the moving ETA at most
    assert_fits(refresh, again)
    # the board's version: a State, kept by the server (its change asks for the board)
    assert set(again) <= {page.train.progress, page.seen, page.board_version}


def test_a_tick_of_the_page_sends_one_event_and_the_board_follows_its_version(demo, page):
    """Every open page polls: one event per tick (each costs the server and the browser), and the
    class board is asked for when the board's version, which that event returns, moves."""
    (timer,) = [block for block in demo.blocks.values() if isinstance(block, gr.Timer)]
    ticking = [event for event in demo.fns.values() if (timer._id, "tick") in event.targets]
    assert [event.fn.__name__ for event in ticking] == ["refresh"]
    (board,) = events(demo, "refresh_board")
    assert board.targets == [(page.board_version._id, "change")]
    assert page.board_version in ticking[0].outputs


def test_a_reply_is_cleared_once_when_the_run_it_answered_ends(page, monkeypatch):
    """The refresh clears Start's or Stop's answer when a run this page saw training (or did not
    see at all) has ended, once: not on the page's first refresh, which may reach the page after
    a click's answer (the teacher's "The queue is paused" was wiped so under load), nor on a
    later one (the teacher paused the queue after the run ended)."""
    training, finished = ({**RUNS[2], "run_id": 7}, {**RUNS[-1], "run_id": 7})
    snapshots = iter([{**page.ctx.runs.snapshot(), "version": version, "run": run}
                      for version, run in enumerate([finished, training, finished, finished, {**finished, "run_id": 8}])])
    monkeypatch.setattr(page.ctx.runs, "watch", lambda *args: next(snapshots))
    first = page.refresh(None, None, "en")  # the page opens after a run ended: nothing to clear
    assert page.train.reply not in first
    seen = page.refresh(first[page.seen], None, "en")[page.seen]  # a run trains
    ended = page.refresh(seen, None, "en")
    assert ended[page.train.reply] == ""
    later = page.refresh(ended[page.seen], None, "en")  # the queue paused: the version moved, no run ended
    assert page.train.status in later and page.train.reply not in later
    assert page.refresh(later[page.seen], None, "en")[page.train.reply] == ""  # a run the page never saw training


@pytest.mark.parametrize("query", [{}, {"tab": "train", "preset": "quick", "simple": "1", "lang": "zh"},
                                   {"tab": "no-such-tab", "preset": "classroom"}], ids=["plain", "quick", "unknown"])
def test_opening_the_page_names_what_it_sets(demo, page, query):
    (opening,) = events(demo, "open_page")
    answer = page.open_page(fake_request(**query))
    assert_fits(opening, answer)
    assert answer[page.ctx.language] == query.get("lang", "en")
    quick = query.get("preset") == "quick"
    assert ({page.train.preset, *page.train.preset_settings} <= set(answer)) == quick
    assert (page.tab_strip in answer) == (query.get("tab") == "train")


@pytest.mark.parametrize("teacher, wrong_link", [(True, False), (False, True), (False, False)])
def test_the_teachers_box_fits_opening_and_signing_in(demo, page, teacher, wrong_link):
    train = page.train
    shown = train.teacher_view(teacher, wrong_link)
    assert set(shown) <= set(train.teacher_outputs) and bool(shown) == (teacher or wrong_link)
    assert (train.teacher in shown) == teacher  # the session becomes the teacher's only when it is
    (sign_in,) = events(demo, "sign_in")
    assert_fits(sign_in, {train.reply: "", **shown})
    (opening,) = events(demo, "open_page")
    assert_fits(opening, {page.ctx.language: "en", **shown})


def test_a_language_switch_gives_each_tab_its_own_values_by_name(demo, page):
    (switch,) = events(demo, "relabel")
    assert switch.inputs_as_dict
    # the js that switches Gradio's locale reads the language as the first value (demo.i18n)
    assert switch.inputs[0] is page.ctx.language
    outputs = [block for tab in page.tabs for block in tab.relabel_outputs]
    assert len({id(block) for block in outputs}) == len(outputs)  # no tab writes over another's answer
    for tab in page.tabs:
        names = [name for name in inspect.signature(tab.relabel).parameters if name != "lang"]
        assert sorted(names) == sorted(tab.relabel_inputs), type(tab).__name__
        assert all(block in switch.inputs for block in tab.relabel_inputs.values())
    values = {block: block.value for block in switch.inputs}
    answer = page.relabel({**values, page.ctx.language: "zh"})
    assert_fits(switch, answer)
    assert set(page.tab_items) <= set(answer) and page.train.status in answer
