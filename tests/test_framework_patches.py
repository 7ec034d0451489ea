"""The framework internals the app relies on still have the shape its patches expect.

Each patch lives in one module (``classroom.gradio_patches``, ``mobilenet.keras_patches``) whose
docstring says why there is no public way. When an upgrade of Gradio or Keras changes what a
patch touches, a test here fails naming the version the patch was written for and what to check,
instead of the app failing in a classroom (a queue that lets one client fill it, a language
switch that does nothing, a multi-worker run that stops at its first step).

Fast: Gradio's queue is driven without a server, the shipped JavaScript and Keras' source are
read as files (no browser, no TensorFlow).
"""

import ast
import asyncio
import glob
import importlib.metadata
import importlib.util
import inspect
import os
import re

import gradio as gr
import pytest
from gradio.data_classes import PredictBodyInternal
from gradio.queueing import Queue

from classroom import fair_queue, gradio_patches
from mobilenet import keras_patches

GRADIO = importlib.metadata.version("gradio")
KERAS = importlib.metadata.version("keras")
GRADIO_TEMPLATES = os.path.join(os.path.dirname(gr.__file__), "templates")
KERAS_SOURCE = os.path.join(importlib.util.find_spec("keras").submodule_search_locations[0], "src")


def gradio_changed(what, check):
    return (f"classroom/gradio_patches.py was written for {gradio_patches.WRITTEN_FOR}; with gradio "
            f"{GRADIO}, {what} changed. Check {check}, then update the patch and this test.")


def keras_changed(what, check):
    return (f"mobilenet/keras_patches.py was written for {keras_patches.WRITTEN_FOR}; with keras "
            f"{KERAS}, {what} changed. Check {check}, then update the patch and this test.")


def test_the_versions_the_patches_were_written_for_are_named():
    assert gradio_patches.WRITTEN_FOR == "gradio 6.31.x"
    assert keras_patches.WRITTEN_FOR == "keras 3.15.x"


# --- Gradio: the queue -----------------------------------------------------------------------

def demo_with_one_event():
    with gr.Blocks() as demo:
        button, text = gr.Button(), gr.Textbox()
        button.click(lambda: "answer", None, text)
    return demo.queue()


def push_all(queue, pushes):
    """Pushes (session, request) pairs into ``queue`` in order; their (success, message, state)."""
    async def run():
        return [await queue.push(PredictBodyInternal(session_hash=session, fn_index=0, data=[], request=None),
                                 request, None) for session, request in pushes]
    return asyncio.run(run())


def waiting_line(queue):
    (line,) = [group.queue for group in queue.event_queue_per_concurrency_id.values()]
    return line


def test_blocks_queue_builds_the_queue_class_the_patch_swaps():
    queue = getattr(demo_with_one_event(), "_queue", None)
    assert type(queue) is Queue, gradio_changed(
        "where Blocks.queue() keeps its queue (Blocks._queue, a gradio.queueing.Queue)",
        "Blocks.queue in gradio/blocks.py (install_queue swaps that object's class)")


def test_a_policy_queue_refuses_marks_and_places_through_gradios_push():
    class FirstInLine(gradio_patches.PolicyQueue):
        def refusal(self, session, request, pending):
            return "two at most" if sum(other == session for other, _ in pending) >= 2 else None

        def admitted(self, event, request):
            event.request_name = request

        def place(self, event, line):
            return 0

    demo = demo_with_one_event()
    gradio_patches.install_queue(demo, FirstInLine)
    try:
        answers = push_all(demo._queue, [("tab", "first"), ("tab", "second"), ("tab", "third"), ("other", "fourth")])
        line = waiting_line(demo._queue)
    except (AttributeError, KeyError, TypeError) as error:
        pytest.fail(gradio_changed(f"Queue.push or the queue's attributes ({error!r})",
                                   "Queue.push(body, request, username), Queue.event_ids_to_events, "
                                   "Queue.event_queue_per_concurrency_id[...].queue in gradio/queueing.py"))
    assert [success for success, _, _ in answers] == [True, True, False, True], gradio_changed(
        "what Queue.push returns", "Queue.push's (success, event id or message, state) in gradio/queueing.py")
    assert answers[2][1:] == ("two at most", "error")
    assert [event.request_name for event in line] == ["fourth", "second", "first"], gradio_changed(
        "the waiting line (Queue.event_queue_per_concurrency_id[id].queue, a list of Events in order)",
        "how Queue.push appends an event and how get_events takes the next one in gradio/queueing.py")
    assert [event.session_hash for event in line] == ["other", "tab", "tab"], gradio_changed(
        "Event.session_hash", "gradio.queueing.Event")


def test_the_queue_computes_no_statistics_for_the_monitoring_dashboard():
    demo = demo_with_one_event()
    gradio_patches.install_queue(demo, gradio_patches.PolicyQueue)
    queue = demo._queue
    assert "compute_analytics_summary" in vars(Queue), gradio_changed(
        "Queue.compute_analytics_summary (the monitoring dashboard's statistics, after every event)",
        "gradio/queueing.py: what the queue computes after each event")
    queue.events_recorded = queue.ANAYLTICS_CACHE_FREQUENCY + 1  # Gradio would compute now
    records = [{"function": "f", "status": "success", "process_time": 0.1}] * 3
    assert queue.compute_analytics_summary(records) is queue.cached_event_analytics_summary
    assert queue.cached_event_analytics_summary == {"functions": {}}
    assert Queue.compute_analytics_summary(queue, records)["functions"]["f"], gradio_changed(
        "what Queue.compute_analytics_summary computes", "gradio/queueing.py")


def test_the_queue_sleeps_between_looks_when_it_has_nothing_to_do(monkeypatch):
    """Patch 6: the installed queue's loops look for work every 20 ms and 100 ms, not every 1 ms
    and 10 ms (Gradio's own on Linux)."""
    for loop, attribute in ((Queue.start_processing, "sleep_when_free"),
                            (Queue.start_progress_updates, "progress_update_sleep_when_free")):
        assert f"asyncio.sleep(self.{attribute})" in inspect.getsource(loop), gradio_changed(
            f"how {loop.__qualname__} waits when there is nothing to do (Queue.{attribute})",
            "gradio/queueing.py: the queue's loops and what they sleep between looks")
    demo = demo_with_one_event()
    gradio_patches.install_queue(demo, gradio_patches.PolicyQueue)
    queue = demo._queue
    assert (queue.sleep_when_free, queue.progress_update_sleep_when_free) == (
        gradio_patches.IDLE_POLL_S, gradio_patches.PROGRESS_POLL_S)
    sleeps, real_sleep, loop = [], asyncio.sleep, []

    async def counted_sleep(seconds, *args):  # this loop's: a running app in this process has its own
        if asyncio.get_running_loop() in loop:
            sleeps.append(seconds)
        return await real_sleep(seconds, *args)

    async def idle_for(seconds):
        loop.append(asyncio.get_running_loop())
        loops = [asyncio.create_task(queue.start_processing()), asyncio.create_task(queue.start_progress_updates())]
        await real_sleep(seconds)
        queue.stopped = True
        await asyncio.gather(*loops, return_exceptions=True)

    monkeypatch.setattr(asyncio, "sleep", counted_sleep)
    asyncio.run(idle_for(0.5))
    assert len(sleeps) <= 0.5 / gradio_patches.IDLE_POLL_S + 0.5 / gradio_patches.PROGRESS_POLL_S + 4, \
        f"the idle queue woke {len(sleeps)} times in 0.5 s"


def test_node_is_stopped_by_the_function_the_app_calls():
    import subprocess
    import sys

    from gradio import node_server

    assert callable(getattr(node_server, "stop_node_process", None)), gradio_changed(
        "gradio.node_server.stop_node_process (how the app stops Node when it closes)", "gradio/node_server.py")
    process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])

    class Demo:
        node_process = process

    gradio_patches.stop_server_side_rendering(Demo)
    assert process.poll() is not None
    gradio_patches.stop_server_side_rendering(Demo)  # stopped already: nothing to do
    assert "self.node_process" in inspect.getsource(gr.Blocks.launch), gradio_changed(
        "Blocks.node_process (the Node process of server-side rendering)", "Blocks.launch in gradio/blocks.py")


def test_every_event_is_queued():
    demo = demo_with_one_event()
    for fn in demo.fns.values():
        fn.queue = False
    gradio_patches.queue_every_event(demo)
    assert all(fn.queue is True for fn in demo.fns.values()), gradio_changed(
        "Blocks.fns (BlockFunction.queue)", "gradio.blocks.BlockFunction")


def test_the_fair_queue_puts_a_newcomer_before_a_flooders_second_request():
    demo = demo_with_one_event()
    fair_queue.install(demo, per_session=3, per_address=3)

    def scope(address):
        return {"type": "http", "headers": [], "client": (address, 1)}

    answers = push_all(demo._queue, [("flood-1", scope("10.0.0.9")), ("flood-2", scope("10.0.0.9")),
                                     ("flood-3", scope("10.0.0.9")), ("flood-4", scope("10.0.0.9")),
                                     ("student", scope("10.0.0.1"))])
    assert [success for success, _, _ in answers] == [True, True, True, False, True]
    assert answers[3][1] == fair_queue.TOO_MANY_FROM_ADDRESS.format(count=3)
    assert [event.session_hash for event in waiting_line(demo._queue)] == [
        "flood-1", "student", "flood-2", "flood-3"]


# --- Gradio: the page's locale setter --------------------------------------------------------

SETTER = re.compile(gradio_patches.LOCALE_SETTER_SOURCE.strip("^$"))


def shipped_scripts(folder):
    """(path, text) of the JavaScript files under ``folder`` (brotli-compressed ones unpacked)."""
    for path in sorted(glob.glob(os.path.join(folder, "**", "*.js"), recursive=True)):
        with open(path, encoding="utf-8", errors="replace") as f:
            yield path, f.read()
    for path in sorted(glob.glob(os.path.join(folder, "**", "*.js.br"), recursive=True)):
        brotli = pytest.importorskip("brotli")
        with open(path, "rb") as f:
            yield path, brotli.decompress(f.read()).decode("utf-8", "replace")


def i18n_modules(folder):
    """The shipped scripts the page's lookup would import: those that set ``fallbackLocale``."""
    return [(path, text) for path, text in shipped_scripts(folder) if "fallbackLocale" in text]


def test_the_page_finds_gradios_locale_setter_without_server_side_rendering():
    modules = i18n_modules(os.path.join(GRADIO_TEMPLATES, "frontend"))
    found = [path for path, text in modules
             if re.search(r"\bexport\s*\{[^}]*\bas changeLocale\b", text) or SETTER.search(text)]
    assert found, gradio_changed(
        "the locale setter in templates/frontend (a script setting fallbackLocale that exports "
        "changeLocale, or a function like `function y(e){r.set(e)}`)",
        f"{[os.path.basename(p) for p, _ in modules]} for Gradio's locale store and its setter")


def test_the_page_finds_gradios_locale_setter_with_server_side_rendering():
    client = os.path.join(GRADIO_TEMPLATES, "node", "build", "client")
    if not os.path.isdir(client):
        pytest.skip(f"gradio {GRADIO} ships no server-side rendering client")
    modules = i18n_modules(client)
    assert any(SETTER.search(text) for _, text in modules), gradio_changed(
        "the locale setter in templates/node/build/client (a chunk setting fallbackLocale with a "
        "function like `function y(e){r.set(e)}`, exported under a minified name)",
        f"{[os.path.basename(p) for p, _ in modules]} for Gradio's locale store and its setter")


# --- Keras: fit under several TensorFlow workers ----------------------------------------------

def keras_class(relative_path, name):
    with open(os.path.join(KERAS_SOURCE, relative_path), encoding="utf-8") as f:
        tree = ast.parse(f.read())
    (found,) = [node for node in tree.body if isinstance(node, ast.ClassDef) and node.name == name] or [None]
    assert found is not None, keras_changed(f"{name} in keras/src/{relative_path}", "where it went")
    return found


def methods(cls):
    return {node.name: node for node in cls.body if isinstance(node, ast.FunctionDef)}


def arguments(method):
    return [arg.arg for arg in method.args.args]


def test_fit_still_calls_the_build_the_patch_replaces():
    trainer = methods(keras_class("backend/tensorflow/trainer.py", "TensorFlowTrainer"))
    build = trainer.get("_maybe_symbolic_build")
    assert build is not None and arguments(build) == ["self", "iterator", "data_batch"], keras_changed(
        "TensorFlowTrainer._maybe_symbolic_build(self, iterator=None, data_batch=None)",
        "keras/src/backend/tensorflow/trainer.py (the patch replaces it on the model)")
    for name in ("fit", "evaluate"):
        calls = [node for node in ast.walk(trainer[name]) if isinstance(node, ast.Call)
                 and isinstance(node.func, ast.Attribute) and node.func.attr == "_maybe_symbolic_build"]
        assert calls and all(not call.args and {k.arg for k in call.keywords} <= {"iterator", "data_batch"}
                             for call in calls), keras_changed(
            f"how TensorFlowTrainer.{name} builds the model (self._maybe_symbolic_build(iterator=...))",
            "whether fit still reduces a batch across workers before building, or builds another way")


def test_the_steps_the_patch_wraps_take_one_batch():
    trainer = methods(keras_class("backend/tensorflow/trainer.py", "TensorFlowTrainer"))
    for name in ("train_step", "test_step"):
        assert name in trainer and arguments(trainer[name]) == ["self", "data"], keras_changed(
            f"TensorFlowTrainer.{name}(self, data)", "keras/src/backend/tensorflow/trainer.py")
    make = trainer.get("_make_function")
    runs = [node for node in ast.walk(make) if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
            and node.func.attr == "run"] if make else []
    assert runs, keras_changed("TensorFlowTrainer._make_function (the step run by strategy.run(step, args=(data,)))",
                               "how the wrapped train_step/test_step are called")


def test_a_session_copies_the_page_configuration_only_when_read():
    """Patch 7: a new session holds no copy of the blocks' configuration; read (a deep link),
    it is what Gradio's eager copy would be after the same changes."""
    from gradio.state_holder import SessionState

    with gr.Blocks() as demo:
        typed, number, remembered = gr.Textbox(label="typed"), gr.Number(label="n"), gr.State({})
        gr.Markdown("text")
    gradio_patches.lazy_session_configs()
    eager = object.__new__(SessionState)
    gradio_patches.GRADIO_SESSION_INIT(eager, demo)
    lazy = SessionState(demo)
    assert set(vars(lazy)) - {"config_keys"} == set(vars(eager)), gradio_changed(
        "the attributes SessionState.__init__ sets", "SessionState in gradio/state_holder.py")
    assert lazy.config_values == {} and len(eager.config_values) == len(lazy.config_keys) > 3
    relabelled = gr.Number(value=3, label="relabelled", render=False)
    for session in (eager, lazy):  # what an event does to its session (Blocks.postprocess_data)
        session._update_value_in_config(typed._id, "a student's words")
        session[number._id] = relabelled
        session._update_config(number._id)
        session[remembered._id] = {"runs": 1}
    eager_components = list(gradio_patches.GRADIO_SESSION_COMPONENTS.fget(eager))
    assert list(lazy.components) == eager_components
    assert any(c["props"].get("value") == "a student's words" for c in eager_components)
