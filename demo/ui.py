"""The MobileNet Lab app: the page (header, language) and its six tabs (``demo.tabs``).

``build_demo()`` builds it; ``app.py`` launches it with ``launch_options()``. Folders and data come
from arguments, else environment variables, else the package's defaults, so tests can point the
app at temporary folders and a tiny dataset.
"""

import os
import time

import gradio as gr
from gradio.utils import get_upload_folder

import mobilenet
from demo import fair_queue, headers, i18n, upload_guard
from demo.catalog import CheckpointCatalog
from demo.clients import client_address
from demo.i18n import LANGUAGES, T, request_language, static_text
from demo.inputs import CheckedBlocks
from demo.runs import TrainingRuns
from demo.tabs import PRIVATE, Context
from demo.tabs.architecture import ArchitectureTab
from demo.tabs.classify import ClassifyTab
from demo.tabs.look_inside import LookInsideTab
from demo.tabs.mistakes import MistakesTab
from demo.tabs.mobile import MobileTab
from demo.tabs.train import TrainTab
from demo.teacher import TeacherKey, TooManyTries

TABS = (ArchitectureTab, TrainTab, ClassifyTab, LookInsideTab, MistakesTab, MobileTab)
KEEP_RUNS = 5
REFRESH_SECONDS = 2  # how often every open page asks for the shared run's progress
MAX_UPLOAD = "20mb"  # phone photos are 2-10 MB; bigger files are refused before they are stored
# Requests running at once, all endpoints together: above the sum of the expensive endpoints'
# limits (about 31), so that requests of cheap endpoints (no limit) always find a free slot.
MAX_THREADS = 64
UPLOADS_KEPT = (1800, 3600)  # every 30 min, delete uploads older than an hour
# Between those sweeps: a total budget (oldest removed first) and a rate per client
# (demo.upload_guard; MOBILENET_UPLOAD_BUDGET_MB, MOBILENET_UPLOADS_PER_MINUTE,
# MOBILENET_UPLOAD_MB_PER_MINUTE).

# System fonts only: the page must look right in a classroom without internet access.
THEME = gr.themes.Soft(font=["ui-sans-serif", "system-ui", "Segoe UI", "Roboto", "sans-serif"],
                       font_mono=["ui-monospace", "SFMono-Regular", "Menlo", "monospace"])

CSS = """
.run-progress { margin: 4px 0 8px; }
.run-progress-bar { height: 18px; border-radius: 9px; background: var(--neutral-200); overflow: hidden; }
.run-progress-fill { height: 100%; background: var(--primary-500); transition: width 0.5s; }
.run-progress-text { margin-top: 6px; font-size: var(--text-lg); font-variant-numeric: tabular-nums; }
#architecture-totals td, #architecture-totals th { font-size: var(--text-lg); }
#language { flex-grow: 0; }
@media (max-width: 640px) {
  #page-header { flex-direction: column; gap: 4px; }
  #page-header h1 { font-size: 1.6rem; margin-bottom: 2px; }
  #language { min-width: 0 !important; }
}
"""

# The key of a teacher link leaves the address bar as soon as the server has read it (a projector
# shows the address bar to the class).
FORGET_TEACHER_KEY = """() => {
  const url = new URL(window.location.href);
  if (url.searchParams.has("teacher")) {
    url.searchParams.delete("teacher");
    window.history.replaceState(null, "", url);
  }
}"""


class Page:
    """The page's own callbacks: what every open page polls, how it opens, and its one language
    handler (every tab's ``relabel``)."""

    def __init__(self, ctx, tabs):
        self.ctx, self.tabs = ctx, tabs
        self.train = next(tab for tab in tabs if isinstance(tab, TrainTab))
        self.classify = next(tab for tab in tabs if isinstance(tab, ClassifyTab))
        self.tab_items = []  # the gr.Tab of each tab, once built

    def refresh(self, seen, checkpoint, lang="en"):
        """What changed for this browser since ``seen``: the shared run (``demo.runs``'s progress,
        rendered by the Train tab) and, when a run saved a checkpoint, the Classify list."""
        seen = seen if isinstance(seen, dict) else {}
        snapshot = self.ctx.runs.watch(seen.get("version"), 0)
        checkpoints = (self.classify.picker.choices(checkpoint, lang)
                       if seen.get("finished_runs") != snapshot["finished_runs"] else gr.skip())
        return [*self.train.view(snapshot, seen.get("version"), lang), checkpoints,
                {"version": snapshot["version"], "finished_runs": snapshot["finished_runs"]}]

    def relabel(self, lang, *values):
        """Every tab's texts in ``lang`` (Gradio translates the static ones in the browser)."""
        updates = []
        for tab in self.tabs:
            count = len(tab.relabel_inputs)
            updates += list(tab.relabel(lang, *values[:count]))
            values = values[count:]
        # Gradio's tab strip keeps the names it was drawn with: they are sent in the new language
        return updates + [gr.Tab(label=static_text(item.label, lang)) for item in self.tab_items]

    def open_page(self, request: gr.Request):
        """Language and classroom presets: ``?lang=zh&tab=train&simple=1`` (else the browser's
        language, the first tab, every control); a teacher link adds ``&teacher=KEY``."""
        query = dict(request.query_params) if request else {}
        tab = query.get("tab") if query.get("tab") in [tab.tab_id for tab in self.tabs] else gr.skip()
        simple = query.get("simple", "").lower() in ("1", "true", "yes")
        return (request_language(request), gr.Tabs(selected=tab), gr.Column(visible=not simple),
                self.teacher_link(query.get("teacher"), request))

    def teacher_link(self, key, request):
        """The teacher state of a page opened with ``?teacher=KEY``: True when it is the key (a
        wrong or missing key leaves the page as anyone's)."""
        if not key:
            return gr.skip()
        try:
            return self.ctx.teacher_key.check(key, client_address(request))
        except TooManyTries:
            return False

    def wire(self, demo, tab_strip):
        """The page's events (inside ``demo``, after the tabs are built)."""
        language, train, classify = self.ctx.language, self.train, self.classify
        self.tab_items = [child for child in tab_strip.children if isinstance(child, gr.Tab)]
        seen = gr.State(None)  # what this browser was last sent: {"version", "finished_runs"}
        timer = gr.Timer(REFRESH_SECONDS)
        # Every open page polls; the answer is a cheap copy of shared state (or "no change"),
        # so no limit: thirty students must not queue behind each other to see the curve.
        gr.on([demo.load, timer.tick], self.refresh, inputs=[seen, classify.checkpoint, language],
              outputs=[*train.view_outputs, classify.checkpoint, seen], api_name="refresh",
              api_visibility="undocumented", show_progress="hidden", concurrency_limit=None)
        demo.load(self.open_page, outputs=[language, tab_strip, train.advanced, train.teacher],
                  show_progress="hidden", concurrency_limit=None, **PRIVATE).then(
            None, js=FORGET_TEACHER_KEY, show_progress="hidden", **PRIVATE).then(
            None, inputs=language, js=i18n.set_locale_js(remember=False), show_progress="hidden", **PRIVATE)
        # One handler for a language switch: the browser switches Gradio's locale (static texts),
        # the server writes again what callbacks wrote. Some of it is model work (a table, a
        # classification of the picture shown): a few at a time.
        language.change(self.relabel, inputs=[language, *[c for tab in self.tabs for c in tab.relabel_inputs]],
                        outputs=[*[c for tab in self.tabs for c in tab.relabel_outputs], *self.tab_items], js=i18n.set_locale_js(remember=True),
                        api_name="set_language", api_visibility="undocumented", show_progress="hidden",
                        preprocess=False, concurrency_limit=4, concurrency_id="relabel")


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
    ctx = Context(catalog, runs, TeacherKey())
    tabs = [tab(ctx) for tab in TABS]
    page = Page(ctx, tabs)

    with CheckedBlocks(title="MobileNet Lab", analytics_enabled=False, delete_cache=UPLOADS_KEPT) as demo:
        with gr.Row(equal_height=True, elem_id="page-header"):
            gr.Markdown(T("page.header"))
            ctx.language = gr.Radio([(name, code) for code, name in LANGUAGES.items()], value="en",
                                    label=T("page.language"), elem_id="language", scale=0, min_width=160)
        with gr.Tabs() as tab_strip:
            for tab in tabs:
                tab.build()
        page.wire(demo, tab_strip)

    runs.preload_data()
    runs.prepare_worker()
    catalog.warm_up()
    demo.training_runs = runs  # so that whoever closes the app can end its workers
    return fair_queue.install(demo.queue(max_size=256))


def launch_options(ssr=None):
    """``launch()`` arguments the app needs wherever it runs (Gradio 6 takes theme/css there).

    Server-side rendering is off unless ``ssr`` (default ``$MOBILENET_SSR``) says otherwise, on
    Spaces too (where Gradio would turn it on): with it, Node serves the HTML page and its script
    bundle without the app's security headers (``demo.headers``). Everything is served by the one
    Python server, uploads included (``num_workers=0``: no separate upload servers, which would
    bypass the upload limits). Middleware: the security headers (``demo.headers``), then the
    upload guard (``demo.upload_guard``), configured from the environment when this is called.
    The page's texts in every language (``demo.i18n``) go with it: call it after ``build_demo``.
    """
    if ssr is None:
        ssr = os.environ.get("MOBILENET_SSR", "").lower() in ("1", "true", "yes")
    app_kwargs = headers.app_kwargs()
    app_kwargs["middleware"].append(upload_guard.app_middleware(get_upload_folder()))
    return {"theme": THEME, "css": CSS, "max_file_size": MAX_UPLOAD, "app_kwargs": app_kwargs,
            "max_threads": MAX_THREADS, "ssr_mode": bool(ssr), "num_workers": 0, "i18n": i18n.i18n()}


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

