"""The MobileNet Lab app: the page (header, language) and its seven tabs (``demo.tabs``).

``build_demo(settings=...)`` builds it with a ``classroom.settings.Settings`` (``app.py`` reads
it from the environment; tests make their own, with temporary folders and a tiny dataset);
``app.py`` launches it with ``launch_options(settings)``.
"""

import dataclasses
import threading

import gradio as gr
from starlette.middleware import Middleware

from classroom import fair_queue, gradio_patches, serve
from classroom.board_store import BoardStore
from classroom.catalog import CheckpointCatalog
from classroom.class_queue import ClassQueue
from classroom.inputs import CheckedBlocks
from classroom.runs import ACTIVE_STATES, TrainingRuns
from classroom.settings import DEFAULTS
from classroom.teacher import TeacherKey
from classroom.work import Work
from classroom.teacher_link import TeacherLink
from demo import gradio_words, i18n
from demo.i18n import LANGUAGES, T, request_language, static_text
from demo.tabs import PRIVATE, Context
from mobilenet.recipes import APP_PRESETS
from demo.tabs.architecture import ArchitectureTab
from demo.tabs.board import BoardTab
from demo.tabs.classify import ClassifyTab
from demo.tabs.look_inside import LookInsideTab
from demo.tabs.mistakes import MistakesTab
from demo.tabs.mobile import MobileTab
from demo.tabs.train import TrainTab

TABS = (ArchitectureTab, TrainTab, ClassifyTab, LookInsideTab, MistakesTab, MobileTab, BoardTab)
REFRESH_SECONDS = 2  # how often every open page asks for the shared run's progress

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
/* Wider than a phone: these scroll sideways inside the page instead of being cut off (Gradio
   writes overflow: visible on the block itself) */
#mistakes-confusion, #tradeoff-plot { overflow-x: auto !important; }
/* the 32×32 picture starts below its label (Gradio floats the label over the picture's top) */
#network-input img { padding-top: 2.2rem; box-sizing: border-box; object-fit: contain; }
/* A plot's chart takes what its label leaves: Gradio sizes the chart to the whole block, so the
   label (two lines on a phone) pushed the x axis and its title out of the block */
#loss-plot, #accuracy-plot, #per-class, #board-scatter, #board-curves { display: flex !important; flex-direction: column; }
#loss-plot .vega-embed, #accuracy-plot .vega-embed, #per-class .vega-embed, #board-scatter .vega-embed,
#board-curves .vega-embed {
  flex: 1 1 0; min-height: 0; height: auto !important; }
.show-all-checkpoints { min-width: min(240px, 100%) !important; }
#timing { min-width: min(160px, 100%) !important; }
/* A long choice ends in "…" before the dropdown's arrow instead of running under it */
input[role="combobox"], .secondary-wrap > input {
  padding-right: var(--size-8) !important; box-sizing: border-box; text-overflow: ellipsis; }
/* A file's whole name, on two lines if need be (Gradio cut them all to "mobile… .tflite" on a phone) */
#export-files .filename { flex-wrap: wrap; }
#export-files .filename .stem { white-space: normal; overflow-wrap: anywhere; }
/* Words in tables stay whole (Gradio's Markdown breaks them anywhere: "parame / ters") */
.prose table { word-break: normal !important; }
@media (max-width: 640px) {
  .prose { overflow-x: auto; }  /* a table wider than the phone scrolls, its cells on one line */
  .prose th, .prose td { white-space: nowrap; }
  #page-header { flex-direction: column; gap: 4px; }
  #page-header h1 { font-size: 1.6rem; margin-bottom: 2px; }
  #language { min-width: 0 !important; }
  /* the trade-off plot's words stay readable: full size, scrolled */
  #tradeoff-plot svg { min-width: 640px; }
}
""" + gradio_words.css(i18n.LOCALES, i18n.t)

class Page:
    """The page's own callbacks: what every open page polls, how it opens, and its one language
    handler (every tab's ``relabel``)."""

    def __init__(self, ctx, tabs):
        self.ctx, self.tabs = ctx, tabs
        self.train = next(tab for tab in tabs if isinstance(tab, TrainTab))
        self.classify = next(tab for tab in tabs if isinstance(tab, ClassifyTab))
        self.board = next(tab for tab in tabs if isinstance(tab, BoardTab))
        self.tab_strip, self.tab_items = None, []  # the gr.Tabs and the gr.Tab of each tab, once built
        self.seen = self.board_seen = self.board_version = None  # the page's gr.States (wire), once built

    def refresh(self, seen, checkpoint, lang="en"):
        """What changed for this browser since ``seen``: the shared run (``classroom.runs``'s progress,
        rendered by the Train tab) and, when a run saved a checkpoint, the Classify list."""
        seen = seen if isinstance(seen, dict) else {}
        snapshot = self.ctx.runs.watch(seen.get("version"), 0)
        run = snapshot["run"]
        shown_run = [run.get("run_id"), str(run["state"])] if run else None
        # A run ended that this page last saw otherwise (training, or not at all): its Start's or
        # Stop's answer is stale. Not on the page's first refresh, nor again later: a reply given
        # since (the teacher's "paused") stays, whichever answer reaches the page first.
        ended = bool(seen) and run is not None and run["state"] not in ACTIVE_STATES and seen.get("run") != shown_run
        updates = {**self.train.view(snapshot, seen.get("version"), lang, run_ended=ended),
                   self.seen: {"version": snapshot["version"], "finished_runs": snapshot["finished_runs"],
                               "run": shown_run}}
        if seen.get("finished_runs") != snapshot["finished_runs"]:
            updates[self.classify.checkpoint] = self.classify.picker.choices(checkpoint, lang)
        updates[self.board_version] = self.ctx.board.version  # a change of it refreshes the board
        return updates

    def refresh_board(self, seen_version, board=0, x_axis="mult_adds", colour="variant", picked=None, chosen=None,
                      lang="en"):
        """The class board if it changed since ``seen_version`` (fired when ``/refresh`` sees its version move)."""
        version = self.ctx.board.version  # read before the rows: a change meanwhile is sent next time
        return {**self.board.view(seen_version if isinstance(seen_version, int) else None, lang, board=board,
                                  x_axis=x_axis, colour=colour, picked=picked, chosen=chosen),
                self.board_seen: version}

    def try_settings(self, settings, lang="en"):
        """A class board run's settings in the Train panel, and the Train tab opened."""
        if not settings:  # nothing tried yet (the State's first value): nothing changes
            return {self.tab_strip: gr.Tabs()}
        train = self.train
        return {train.preset: settings["preset"], train.train_images: settings["train_size"],
                train.epochs: settings["epochs"], train.variant: settings["variant"], train.alpha: settings["alpha"],
                train.depth: settings["depth"], train.batch_size: settings["batch_size"],
                train.learning_rate: settings["learning_rate"], train.augmentation: settings["augmentation"],
                self.tab_strip: gr.Tabs(selected=train.tab_id)}

    def relabel(self, values):
        """Every tab's texts in the language ``values`` (``{component: value}`` of the language
        radio and every tab's ``relabel_inputs``) holds; Gradio translates the static ones in the
        browser. Each tab gets its own values by name."""
        lang = values[self.ctx.language]
        updates = {}
        for tab in self.tabs:
            updates.update(tab.relabel(lang, **{name: values[component]
                                                 for name, component in tab.relabel_inputs.items()}))
        # Gradio's tab strip keeps the names it was drawn with: they are sent in the new language
        return {**updates, **{item: gr.Tab(label=static_text(item.label, lang)) for item in self.tab_items}}

    def open_page(self, request: gr.Request):
        """Language and classroom presets: ``?lang=zh&tab=train&simple=1`` (else the browser's
        language, the first tab, every control); the teacher's page when the browser holds the
        cookie a teacher link (``gradio_api/teacher?key=KEY``) set (``classroom.teacher_link``: the
        key itself never reaches the page)."""
        query = dict(request.query_params) if request else {}
        simple = query.get("simple", "").lower() in ("1", "true", "yes")
        lang = request_language(request)
        updates = {self.ctx.language: lang, self.train.advanced: gr.Column(visible=not simple),
                   **self.train.open_as(request, lang)}
        if query.get("tab") in [tab.tab_id for tab in self.tabs]:
            updates[self.tab_strip] = gr.Tabs(selected=query["tab"])
        preset = query.get("preset")
        if preset in APP_PRESETS and preset != "classroom":  # the quick run's settings in the Train panel
            updates.update({self.train.preset: preset, **self.train.preset_values(preset)})
        return updates

    def wire(self, demo, tab_strip):
        """The page's events (inside ``demo``, after the tabs are built)."""
        language, train, classify = self.ctx.language, self.train, self.classify
        self.tab_strip, self.tab_items = tab_strip, [child for child in tab_strip.children if isinstance(child, gr.Tab)]
        self.seen = seen = gr.State(None)  # what this browser was last sent: {"version", "finished_runs"}
        self.board_version = board_version = gr.State(None)  # the board store's version at the last refresh
        timer = gr.Timer(REFRESH_SECONDS)
        # Every open page polls; the answer is a cheap copy of shared state (or "no change"),
        # so no limit: thirty students must not queue behind each other to see the curve.
        gr.on([demo.load, timer.tick], self.refresh, inputs=[seen, classify.checkpoint, language],
              outputs=[*train.view_outputs, classify.checkpoint, seen, board_version], api_name="refresh",
              api_visibility="undocumented", show_progress="hidden", concurrency_limit=None)
        # The class board, live the same way (its pickers' values looked up, not trusted), asked for only when
        # the poll saw its version move (the first poll too): one event per page and tick, not two.
        board = self.board
        self.board_seen = board_seen = gr.State(None)  # the board's version this browser was last sent
        board_version.change(self.refresh_board, inputs=[board_seen, *board.view_inputs.values(), language],
                             outputs=[*board.view_outputs, board_seen], show_progress="hidden", preprocess=False,
                             concurrency_limit=None, **PRIVATE)
        demo.load(self.open_page, outputs=[language, tab_strip, train.advanced, train.preset,
                                           *train.preset_settings, *train.teacher_outputs],
                  show_progress="hidden", concurrency_limit=None, **PRIVATE).then(
            None, inputs=language, js=i18n.set_locale_js(remember=False), show_progress="hidden", **PRIVATE).then(
            classify.describe_checkpoint, inputs=[classify.checkpoint, language], outputs=classify.details,
            show_progress="hidden", concurrency_limit=None, **PRIVATE)
        # "Try these settings": the Train panel gets the run's settings, and the page its Train tab
        board.try_event.success(self.try_settings, inputs=[board.try_settings, language],
                                outputs=[tab_strip, train.preset, *train.preset_settings], show_progress="hidden",
                                concurrency_limit=None, **PRIVATE)
        # One handler for a language switch: the browser switches Gradio's locale (static texts),
        # the server writes again what callbacks wrote. Some of it is model work (a table, a
        # classification of the picture shown): a few at a time. Its inputs are a set: Gradio
        # hands them over as one {component: value} dict, in the order the components were made
        # (the language radio, made first, is the first value the js sees).
        inputs = {language, *[c for tab in self.tabs for c in tab.relabel_inputs.values()]}
        language.change(self.relabel, inputs=inputs, outputs=[*[c for tab in self.tabs for c in tab.relabel_outputs],
                                                              *self.tab_items], js=i18n.set_locale_js(remember=True),
                        api_name="set_language", api_visibility="undocumented", show_progress="hidden",
                        preprocess=False, concurrency_limit=4, concurrency_id="relabel").then(
            train.per_class_bars, inputs=language, outputs=train.per_class, show_progress="hidden",
            concurrency_limit=None, **PRIVATE)


def build_demo(checkpoint_dir=None, runs_dir=None, data_source=None, keep_runs=None, quick_workers=None,
               work=None, settings=DEFAULTS):
    """Builds the app.

    Args:
        checkpoint_dir, runs_dir, data_source, keep_runs: when given, instead of ``settings``'
            ``checkpoint_dir``, ``runs_dir``, ``cifar10`` and ``keep_runs``.
        quick_workers: worker processes for Classify and Look inside. Default: one per core, as
            memory allows (``classroom.work.pool_sizes``).
        work: the ``classroom.work.Work`` pools to use. Default: made here.
        settings: the server's ``classroom.settings.Settings``. Default: every setting's default.

    Returns:
        A queued ``gr.Blocks``; its ``settings`` are the ones it was built with.
    """
    given = {"checkpoint_dir": checkpoint_dir, "runs_dir": runs_dir, "cifar10": data_source, "keep_runs": keep_runs}
    settings = dataclasses.replace(settings, **{name: value for name, value in given.items() if value is not None})
    catalog = CheckpointCatalog(settings.checkpoint_dir, settings.runs_dir)
    # Every picture a request reads and every network it runs: in worker processes, bounded
    # (classroom.work). The first checkpoint is loaded in them as they start.
    entries = catalog.entries()
    work = work or Work(settings.cifar10, first_checkpoint=entries[0].path if entries else None, quick=quick_workers)
    # A new run's checkpoint is loaded (and converted to LiteRT) as soon as it is saved,
    # not when the first student classifies with it.
    runs = TrainingRuns(settings.runs_dir, settings.cifar10, keep=settings.keep_runs, on_checkpoint=work.warm,
                        max_run_minutes=settings.max_run_minutes, standby=settings.standby,
                        devices=settings.train_devices)
    # The class's runs: those waiting their turn and every one that ended, kept in SQLite beside
    # the runs' checkpoints (a restart keeps the board and the queue)
    board = BoardStore(settings.runs_dir)
    queue = ClassQueue(runs, board, settings.queue_length, settings.queue_minutes)
    ctx = Context(catalog, runs, TeacherKey(settings.teacher_key), work, settings, queue=queue, board=board)
    tabs = [tab(ctx) for tab in TABS]
    page = Page(ctx, tabs)

    with CheckedBlocks(i18n, title="MobileNet Lab", analytics_enabled=False, delete_cache=serve.UPLOADS_KEPT) as demo:
        with gr.Row(equal_height=True, elem_id="page-header"):
            gr.Markdown(T("page.header"))
            ctx.language = gr.Radio([(name, code) for code, name in LANGUAGES.items()], value="en",
                                    label=T("page.language"), elem_id="language", scale=0, min_width=160)
        # "wrap": on a phone all seven tab names show (on two lines), none hidden behind a "…" menu
        with gr.Tabs(overflow_behavior="wrap") as tab_strip:
            for tab in tabs:
                tab.build()
        page.wire(demo, tab_strip)

    runs.preload_data()
    runs.prepare_worker()
    threading.Thread(target=start_waiting_runs, args=(runs, queue), name="queue-after-restart", daemon=True).start()
    demo.training_runs, demo.work = runs, work  # so that whoever closes the app can end its workers
    demo.app_tabs = tabs  # the tabs' objects (tests call their callbacks on the running app)
    demo.teacher_key = ctx.teacher_key  # for the teacher link (classroom.teacher_link) and app.py's start-up lines
    demo.board_store = board  # the class board's database (closed by close_app)
    demo.settings = settings  # for launch_options and whoever launches it
    # api_open=False: Gradio's direct REST routes (/run/<name>, /api/<name>) would skip the queue
    # and with it the per-client caps and every concurrency limit; every call joins the queue.
    return fair_queue.install(demo.queue(max_size=256, api_open=False), settings.max_waiting_per_session,
                              settings.max_waiting_per_address, settings.trusted_proxy)


def close_app(demo):
    """Ends what ``build_demo`` started: the training run (marked interrupted on the board), the
    worker processes, the class board's database (its WAL folded back into the file), and Node
    when the page was rendered on the server."""
    gradio_patches.stop_server_side_rendering(demo)
    demo.training_runs.close()
    demo.work.close()
    demo.board_store.close()


def start_waiting_runs(runs, queue):
    """Runs that waited when the server stopped: the first starts once CIFAR-10 is loaded (without
    it they wait, and the page says why)."""
    try:
        runs.load_data()
    except Exception:  # the Train panel says why the data is missing; they wait
        return
    queue.start_next()


def launch_options(settings=DEFAULTS):
    """``launch()`` arguments of the app wherever it runs: the classroom server's
    (``classroom.serve``, with ``settings``), and the page's theme, styles and texts in every
    language (Gradio 6 takes them there). Call it after ``build_demo``: the texts are gathered
    while it builds."""
    middleware = [Middleware(TeacherLink, trust_proxy=settings.trusted_proxy), Middleware(i18n.PageLanguage)]
    options = serve.server_options(settings, middleware, upload_refusal=i18n.too_many_uploads,
                                   body_refusal=i18n.request_too_large)
    return {**options, "theme": THEME, "css": CSS, "i18n": i18n.i18n()}


def launch_on_loopback(demo, ssr=None, timeout=120):
    """``classroom.serve.launch_on_loopback`` with the app's options and ``demo.settings``
    (``ssr``: when given, instead of its ``ssr``): for tests and scripts."""
    settings = demo.settings if ssr is None else dataclasses.replace(demo.settings, ssr=ssr)
    return serve.launch_on_loopback(demo, launch_options(settings), settings, timeout,
                                    busy=i18n.too_many_connections())
