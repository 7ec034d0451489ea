"""The MobileNet Lab app: three tabs (Architecture, Train, Classify) in one ``gr.Blocks``.

``build_demo()`` builds it; ``app.py`` launches it with ``launch_options()``.
Folders and data come from arguments, else environment variables, else the
package's defaults, so tests can point the app at temporary folders and a
tiny dataset.
"""

import os
import time

import gradio as gr
from gradio.utils import get_upload_folder

import mobilenet
from demo import fair_queue, headers, upload_guard
from demo.clients import client_address
from demo.architecture_tab import build_architecture_tab
from demo.catalog import CheckpointCatalog
from demo.classify_tab import build_classify_tab
from demo.explain_tab import build_explain_tab
from demo.i18n import LANGUAGES, PageText, request_language
from demo.inputs import CheckedBlocks
from demo.export_tab import build_export_tab
from demo.mistakes_tab import build_mistakes_tab
from demo.runs import TrainingRuns
from demo.teacher import TooManyTries
from demo.train_tab import REFRESH_SECONDS, build_train_tab

KEEP_RUNS = 5
MAX_UPLOAD = "20mb"  # phone photos are 2-10 MB; bigger files are refused before they are stored
# Requests running at once, all endpoints together: above the sum of the expensive endpoints'
# limits (about 31), so that requests of cheap endpoints (no limit) always find a free slot.
MAX_THREADS = 64
UPLOADS_KEPT = (1800, 3600)  # every 30 min, delete uploads older than an hour
# Between those sweeps: a total budget (oldest removed first) and a rate per client
# (demo.upload_guard; MOBILENET_UPLOAD_BUDGET_MB, MOBILENET_UPLOADS_PER_MINUTE,
# MOBILENET_UPLOAD_MB_PER_MINUTE).

HEADER = """
# MobileNet Lab
MobileNet V1 on CIFAR-10: look inside the network, train one yourself, then show it pictures.
"""

# System fonts only: the page must look right in a classroom without internet access.
THEME = gr.themes.Soft(font=["ui-sans-serif", "system-ui", "Segoe UI", "Roboto", "sans-serif"],
                       font_mono=["ui-monospace", "SFMono-Regular", "Menlo", "monospace"])

CSS = """
.run-progress { margin: 4px 0 8px; }
.run-progress-bar { height: 18px; border-radius: 9px; background: var(--neutral-200); overflow: hidden; }
.run-progress-fill { height: 100%; background: var(--primary-500); transition: width 0.5s; }
.run-progress-text { margin-top: 6px; font-size: var(--text-lg); font-variant-numeric: tabular-nums; }
#architecture-totals td, #architecture-totals th { font-size: var(--text-lg); }
"""


def build_demo(checkpoint_dir=None, runs_dir=None, data_source=None, keep_runs=None):
    """Builds the app.

    Args:
        checkpoint_dir: shipped checkpoints. Default ``$MOBILENET_CHECKPOINT_DIR`` or
            ``mobilenet.CHECKPOINT_DIR``.
        runs_dir: where runs trained in the app are saved. Default ``$MOBILENET_RUNS_DIR``
            or ``mobilenet.RUNS_DIR``.
        data_source: CIFAR-10 for training (see ``mobilenet.data.load_cifar10``). Default
            None: ``$MOBILENET_CIFAR10``, else a cache or a download.
        keep_runs: run checkpoints kept (oldest removed). Default ``$MOBILENET_KEEP_RUNS`` or 5.

    Returns:
        A queued ``gr.Blocks``.
    """
    checkpoint_dir = checkpoint_dir or os.environ.get("MOBILENET_CHECKPOINT_DIR") or mobilenet.CHECKPOINT_DIR
    runs_dir = runs_dir or os.environ.get("MOBILENET_RUNS_DIR") or mobilenet.RUNS_DIR
    keep_runs = keep_runs or int(os.environ.get("MOBILENET_KEEP_RUNS", KEEP_RUNS))
    catalog = CheckpointCatalog(checkpoint_dir, runs_dir)
    # A new run's checkpoint is loaded (and converted to LiteRT) as soon as it is saved,
    # not when the first student classifies with it.
    runs = TrainingRuns(runs_dir, data_source, keep=keep_runs, on_checkpoint=catalog.warm, standby=True)

    with CheckedBlocks(title="MobileNet Lab", analytics_enabled=False, delete_cache=UPLOADS_KEPT) as demo:
        with gr.Row(equal_height=True):
            gr.Markdown(HEADER)
            language = gr.Radio([(name, code) for code, name in LANGUAGES.items()], value="en",
                                label="Language · 语言", elem_id="language", scale=0, min_width=200)
        with gr.Tabs() as tabs:
            build_architecture_tab(language)
            training_view, train_outputs, advanced, teacher, teacher_key = build_train_tab(runs, language)
            classify, checkpoint, _ = build_classify_tab(catalog, language)
            build_explain_tab(catalog, language=language)
            build_mistakes_tab(catalog, runs.load_data, language=language)
            build_export_tab(catalog, runs.load_data, language=language)
        seen = gr.State(None)  # what this browser was last sent: {"version", "finished_runs"}
        timer = gr.Timer(REFRESH_SECONDS)

        def refresh(seen, current_checkpoint, lang="en"):
            """Sends this browser what changed: the shared run, and new checkpoints (all of it
            again after a language change)."""
            snapshot = runs.snapshot()
            seen = seen if seen and seen.get("lang") == lang else {}
            checkpoints = (classify.checkpoint_list(current_checkpoint, lang)
                           if seen.get("finished_runs") != snapshot["finished_runs"] else gr.skip())
            return training_view(snapshot, seen.get("version"), lang) + [
                checkpoints, {"version": snapshot["version"], "finished_runs": snapshot["finished_runs"],
                              "lang": lang}]

        # Every open page polls; the answer is a cheap copy of shared state (or "no change"),
        # so no limit: thirty students must not queue behind each other to see the curve.
        gr.on([demo.load, timer.tick, language.change], refresh, inputs=[seen, checkpoint, language],
              outputs=[*train_outputs, checkpoint, seen], api_name="refresh",
              api_visibility="undocumented", show_progress="hidden", concurrency_limit=None)

        # Language and classroom presets: ?lang=zh&tab=train&simple=1 (else the browser's
        # language, the first tab, every control); a teacher link adds &teacher=KEY.
        written = [block for function in demo.fns.values() for block in function.outputs]
        page_text = PageText(demo.blocks, skip=[language], written=written)
        tab_ids = [tab.id for tab in tabs.children if getattr(tab, "id", None)]

        def open_page(request: gr.Request):
            query = dict(request.query_params) if request else {}
            tab = query.get("tab") if query.get("tab") in tab_ids else gr.skip()
            simple = query.get("simple", "").lower() in ("1", "true", "yes")
            return (request_language(request), gr.Tabs(selected=tab), gr.Column(visible=not simple),
                    teacher_link(teacher_key, query.get("teacher"), request))

        demo.load(open_page, outputs=[language, tabs, advanced, teacher], api_visibility="undocumented",
                  show_progress="hidden", concurrency_limit=None).then(
            None, js=FORGET_TEACHER_KEY, api_visibility="undocumented", show_progress="hidden")
        language.change(page_text.updates, inputs=language, outputs=page_text.components,
                        api_name="set_language", show_progress="hidden", concurrency_limit=None)

    runs.preload_data()
    runs.prepare_worker()
    catalog.warm_up()
    demo.training_runs = runs  # so that whoever closes the app can end its workers
    return fair_queue.install(demo.queue(max_size=256))


# The key of a teacher link leaves the address bar as soon as the server has read it (a projector
# shows the address bar to the class).
FORGET_TEACHER_KEY = """() => {
  const url = new URL(window.location.href);
  if (url.searchParams.has("teacher")) {
    url.searchParams.delete("teacher");
    window.history.replaceState(null, "", url);
  }
}"""


def teacher_link(teacher_key, key, request):
    """The teacher state of a page opened with ``?teacher=KEY``: True when it is the key (a wrong
    or missing key leaves the page as anyone's)."""
    if not key:
        return gr.skip()
    try:
        return teacher_key.check(key, client_address(request))
    except TooManyTries:
        return False


def launch_options(ssr=None):
    """``launch()`` arguments the app needs wherever it runs (Gradio 6 takes theme/css there).

    Server-side rendering is off unless ``ssr`` (default ``$MOBILENET_SSR``) says otherwise, on
    Spaces too (where Gradio would turn it on): with it, Node serves the HTML page and its script
    bundle without the app's security headers (``demo.headers``). Everything is served by the one
    Python server, uploads included (``num_workers=0``: no separate upload servers, which would
    bypass the upload limits). Middleware: the security headers (``demo.headers``), then the
    upload guard (``demo.upload_guard``), configured from the environment when this is called.
    """
    if ssr is None:
        ssr = os.environ.get("MOBILENET_SSR", "").lower() in ("1", "true", "yes")
    app_kwargs = headers.app_kwargs()
    app_kwargs["middleware"].append(upload_guard.app_middleware(get_upload_folder()))
    return {"theme": THEME, "css": CSS, "max_file_size": MAX_UPLOAD, "app_kwargs": app_kwargs,
            "max_threads": MAX_THREADS, "ssr_mode": bool(ssr), "num_workers": 0}


def launch_on_loopback(demo, ssr=None, timeout=120):
    """Launches ``demo`` on 127.0.0.1 (a free port) for tests and scripts; returns its URL once
    it answers. Gradio's own check gives the page 3 s and then refuses to start ("localhost is
    not accessible"); on 2 busy cores the first page has taken longer. So its check is skipped
    (``_frontend=False``) and this one waits up to ``timeout`` seconds."""
    import httpx

    _, url, _ = demo.launch(prevent_thread_lock=True, quiet=True, server_name="127.0.0.1",
                            _frontend=False, **launch_options(ssr=ssr))
    deadline = time.monotonic() + timeout
    while True:
        try:
            if httpx.get(f"{url.rstrip('/')}/config", timeout=30).status_code == 200:
                return url
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            demo.close()
            raise RuntimeError(f"the app at {url} did not answer within {timeout} s")
        time.sleep(0.5)

