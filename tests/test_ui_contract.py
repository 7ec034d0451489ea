"""demo/'s shape: each tab one module with the same contract, callbacks before the layout, every
event either named in the API or private, small files, no model logic."""

import ast
import inspect
import os
import textwrap

import pytest

from demo.tabs import Tab
from demo.ui import TABS

DEMO = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "demo")
# The app's API: what scripts, tests and API clients call (docs/RELIABILITY.md lists the limits).
API = {"summary", "start_training", "stop_training", "teacher_sign_in", "watch_training", "refresh",
       "classify", "classify_when_ready", "describe_checkpoint", "choose_checkpoint", "look_when_ready",
       "grad_cam", "feature_maps", "depthwise_kernels", "mistakes", "mistakes_when_ready", "export",
       "tradeoff", "open_mobile", "set_language",
       # the class's runs (demo.tabs.train_queue, demo.ui): the queue and the board
       "withdraw_run", "queue_first", "queue_up", "queue_down", "queue_remove", "queue_pause", "queue_resume",
       "queue_new_board", "class_board", "run_queue"}
# Keras and TensorFlow are the library's business: the tabs call mobilenet's functions.
MODEL_MODULES = ("keras", "tensorflow")


def python_files():
    for folder, _, names in os.walk(DEMO):
        yield from (os.path.join(folder, name) for name in names if name.endswith(".py"))


@pytest.mark.parametrize("path", sorted(python_files()), ids=lambda p: os.path.relpath(p, DEMO))
def test_a_file_stays_small_and_imports_no_model_library(path):
    with open(path, encoding="utf-8") as f:
        source = f.read()
    assert source.count("\n") <= 300
    imported = {alias.name.split(".")[0] for node in ast.walk(ast.parse(source))
                if isinstance(node, ast.Import) for alias in node.names}
    imported |= {node.module.split(".")[0] for node in ast.walk(ast.parse(source))
                 if isinstance(node, ast.ImportFrom) and node.module}
    assert not imported & set(MODEL_MODULES), imported & set(MODEL_MODULES)


@pytest.mark.parametrize("tab", TABS, ids=lambda tab: tab.tab_id)
def test_a_tab_lays_out_and_wires_only_with_its_callbacks_defined_before(tab):
    assert issubclass(tab, Tab) and tab.tab_id and tab.build is not Tab.build
    tree = ast.parse(textwrap.dedent(inspect.getsource(tab)))
    methods = [node for node in tree.body[0].body if isinstance(node, ast.FunctionDef)]
    assert methods[-1].name == "build"  # callbacks first, then the layout
    inner = [type(node).__name__ for node in ast.walk(methods[-1])
             if isinstance(node, (ast.Lambda, ast.FunctionDef)) and node is not methods[-1]]
    assert inner == []  # build defines no callback of its own


def test_the_server_keeps_a_bounded_number_of_sessions(demo):
    """Every page and every API call without a session makes Gradio keep a session state (its
    copy of the components' configs made only when read: patch 7);
    ``classroom.serve.SESSIONS_KEPT`` of them at most, the
    least recently used dropped first (a page asks for progress every 2 s)."""
    import tracemalloc

    from gradio.state_holder import SessionState, StateHolder

    from classroom import gradio_patches, serve
    from demo.ui import launch_options

    assert launch_options()["state_session_capacity"] == serve.SESSIONS_KEPT  # the running app: test_headers.py
    gradio_patches.lazy_session_configs()  # as the app's launch does
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        sessions = [SessionState(demo) for _ in range(3)]
        per_session = (tracemalloc.get_traced_memory()[0] - before) / len(sessions)
    finally:
        tracemalloc.stop()
    # what the comment beside SESSIONS_KEPT says: 13 KB each (Gradio's own: 328 KB), 1,000 of
    # them under 50 MB
    assert per_session < 50_000 and serve.SESSIONS_KEPT * per_session < 50e6, per_session
    holder = StateHolder()
    holder.set_blocks(demo)
    holder.capacity = 3  # Gradio's eviction, at a size a test can fill
    for session in ("a", "b", "c", "a", "d", "e"):
        holder[session]
    assert list(holder.session_data) == ["a", "d", "e"]  # b and c, the least recently used, dropped


def test_every_event_is_in_the_api_or_private_and_relabel_fits(demo):
    public = {fn.api_name for fn in demo.fns.values() if fn.api_visibility != "private"}
    assert {name for name in public if not name.startswith("load_example")} == API  # gr.Examples' own
    (set_language,) = [fn for fn in demo.fns.values() if fn.api_name == "set_language"]
    page = set_language.fn.__self__
    values = {component: component.value for component in set_language.inputs}
    answer = page.relabel({**values, page.ctx.language: "zh"})  # by name: tests/test_outputs_by_name.py
    assert answer and set(answer) <= set(set_language.outputs)
    assert len({tab.tab_id for tab in page.tabs}) == len(TABS)
    # written by the page's load in its language: built in English, it flashed on a Chinese page
    details = [block for block in demo.blocks.values() if getattr(block, "elem_id", None) == "checkpoint-details"]
    assert [block.value for block in details] in ([""], [None])
