"""Train tab: settings, Start/Stop, the live curves everyone sees, and the final test results.

The server's one run is ``classroom.runs.TrainingRuns`` (``self.runs``), kept as data; this tab words
it (``demo.tabs.train_view``) for each viewer, in their language. Every viewer gets the run's
progress one way, ``TrainingRuns.watch``: the page asks it every few seconds (``demo.ui``'s
refresh, which renders the answer with ``view``), API clients stream it (``watch_training``).
"""

import asyncio
import dataclasses
import time

import gradio as gr

from mobilenet.duration import format_duration
from mobilenet.config import DEPTHS, VARIANTS
from mobilenet.tradeoff import ALPHAS as PAPER_ALPHAS
from mobilenet.recipes import APP_PRESETS, RECIPES
from mobilenet.run_spec import RunSpec

from classroom.class_queue import Queued
from classroom.clients import client_address
from classroom.runs import ACTIVE_STATES, NotYourRun
from classroom import teacher_link
from classroom.teacher import BADGE, HOLD_S, TooManyTries
from classroom.visitors import NAME_LENGTH, visitor_name
from demo.i18n import LANGUAGES, T, as_html, as_markdown, class_names, t
from demo.tabs import PRIVATE, Tab, session_of
from demo.tabs.train_queue import START_REFUSALS, QueuePanel, queued_reply, start_refusal
from demo.tabs.train_view import (CURVE_COLORS, curves, data_message, default_run_values, progress_html,
                                  results_view, status_message, stop_reply)

DEFAULTS = RECIPES["classroom"]  # the classroom run: the package tunes these, the UI only shows them
PRESETS = [(T(f"train.preset_{name}"), name) for name in APP_PRESETS]
ALPHAS = sorted({*PAPER_ALPHAS, DEFAULTS.alpha})
DEPTH_CHOICES = [(T("train.depth_shallow"), "shallow"), (T("train.depth_full"), "full")]
assert sorted(value for _, value in DEPTH_CHOICES) == sorted(DEPTHS)
BATCH_SIZES = sorted({16, 32, 64, 128, 256, DEFAULTS.batch_size})
WATCH_SECONDS = 0.5  # the API stream sends at most two updates a second ...
WATCH_WAIT_SECONDS = 2  # ... and one at least every 2 s (the ETA moves without a change)
# Streams for API clients: each holds one of the server's request slots for as long as the run,
# so at most 8 at once (the others wait for one to end); the page polls and never waits for these.
WATCH_LIMIT = 8


class TrainTab(Tab):
    tab_id = "train"

    # -- callbacks ---------------------------------------------------------------------------
    async def sign_in(self, key, lang="en", request: gr.Request = None):
        """Makes this browser tab the teacher's when ``key`` is the server's teacher key (always
        accepted; a wrong key past the limit is answered after ``HOLD_S`` seconds, without a
        thread held meanwhile: ``classroom.teacher``)."""
        teacher_key = self.ctx.teacher_key
        if not teacher_key.enabled:
            raise gr.Error(t("train.teacher.none", lang))
        try:
            right = teacher_key.check(key, client_address(request, self.ctx.settings.trusted_proxy))
        except TooManyTries as wait:
            await asyncio.sleep(HOLD_S)
            raise gr.Error(t("train.teacher.too_many", lang, duration=format_duration(wait.seconds))) from None
        if not right:
            raise gr.Error(t("train.teacher.wrong", lang))
        return {self.reply: t("train.teacher.signed_in", lang, badge=BADGE), **self.teacher_view(True)}

    def open_as(self, request, lang="en"):
        """``teacher_outputs`` for a page being opened: the teacher's when its browser holds the
        teacher cookie (``classroom.teacher_link``); a toast when a teacher link just led here."""
        teacher, outcome = teacher_link.visit(self.ctx.teacher_key, request)
        if outcome == "teacher" and teacher:
            gr.Info(t("train.teacher.link_worked", lang, badge=BADGE))
        elif outcome == "wrong":
            gr.Warning(t("train.teacher.link_wrong", lang))
        return self.teacher_view(teacher, wrong_link=outcome == "wrong")

    def teacher_view(self, teacher, wrong_link=False):
        """Updates of ``teacher_outputs``: the session is the teacher's (the box says so, without
        a key field), or a teacher link's key was wrong (the box says that, open), or none."""
        if not (teacher or wrong_link):
            return {}
        shown = {self.teacher_box: gr.Accordion(open=True), self.key: gr.Textbox(value="", visible=not teacher),
                 self.sign_in_button: gr.Button(visible=not teacher), self.signed_in: gr.Markdown(visible=teacher),
                 self.wrong_link: gr.Markdown(visible=wrong_link and not teacher),
                 self.queue_panel.teacher_box: gr.Column(visible=teacher)}
        return {self.teacher: True, **shown} if teacher else shown

    def is_teacher(self, teacher, request):
        """The session's teacher state, or its browser's teacher cookie (an API client's)."""
        return teacher is True or teacher_link.holds_cookie(self.ctx.teacher_key, request)

    def preset_values(self, preset, lang="en"):
        """The settings controls' values (``preset_settings``) of the recipe ``preset``."""
        config = RECIPES[preset if preset in APP_PRESETS else "classroom"]
        return {self.train_images: config.train_size or 50_000, self.epochs: config.epochs,
                self.variant: config.variant, self.alpha: config.alpha, self.depth: config.depth,
                self.batch_size: config.batch_size, self.learning_rate: config.learning_rate,
                self.augmentation: config.augmentation}

    def start_training(self, name, variant, alpha, depth, train_images, epochs, batch_size,
                       learning_rate, augmentation, preset="classroom", seed=None, teacher=False, lang="en",
                       request: gr.Request = None):
        """Starts a run on the server, or says why not. The run belongs to this browser tab (its
        session): only it, or the teacher, can stop it.

        The settings shown replace those of the recipe ``preset`` (``mobilenet.recipes``: what
        the panel does not show, such as label smoothing, comes from it). Gradio has already
        checked the radios, dropdown and slider against their choices and ranges; an emptied
        number box arrives as None (the seed: the recipe's).
        """
        if learning_rate is None:
            raise gr.Error(t("train.start.no_learning_rate", lang))
        config = dataclasses.replace(
            RECIPES[preset if preset in APP_PRESETS else "classroom"], variant=variant, alpha=float(alpha), depth=depth, train_size=int(train_images),
            epochs=int(epochs), batch_size=int(batch_size), learning_rate=float(learning_rate),
            augmentation=bool(augmentation), **({} if seed is None else {"seed": int(seed)}))
        teacher = self.is_teacher(teacher, request)
        who = visitor_name(name, teacher)
        try:
            spec = RunSpec.of(config, preset if preset in APP_PRESETS else "classroom",
                              devices=self.ctx.settings.train_devices)
            answer = self.ctx.queue.submit(spec, who, owner=session_of(request), teacher=teacher,
                                           address=client_address(request, self.ctx.settings.trusted_proxy))
        except START_REFUSALS as refused:
            raise start_refusal(refused, lang) from None
        if isinstance(answer, Queued):
            return queued_reply(answer, lang)
        return t("train.start.started", lang, who=as_markdown(who))

    def stop_training(self, name, teacher=False, lang="en", request: gr.Request = None):
        """Stops the run if this browser tab started it, or is the teacher's; it still saves
        what it learned."""
        teacher = self.is_teacher(teacher, request)
        try:
            reply = self.runs.stop(visitor_name(name, teacher), owner=session_of(request), teacher=teacher)
        except NotYourRun as refused:
            raise gr.Error(t("train.stop_reply.not_yours", lang, who=as_html(refused.who)),
                           title=t("train.stop_reply.not_yours_title", lang)) from None
        return stop_reply(reply, lang)

    def watch_training(self) -> dict:
        """Streams the run's snapshot (progress, history, results) until it ends.

        A loop over ``TrainingRuns.watch``, the one channel the page's refresh reads too."""
        snapshot = self.runs.watch()
        while True:
            yield snapshot
            run = snapshot["run"]
            if run is None or run["state"] not in ACTIVE_STATES:
                return
            time.sleep(WATCH_SECONDS)
            snapshot = self.runs.watch(snapshot["version"], WATCH_WAIT_SECONDS)

    def view(self, snapshot, seen_version, lang="en", run_ended=False):
        """Updates of ``view_outputs`` from ``snapshot`` for a page that has ``seen_version``
        (None: everything, e.g. after a language change; unchanged: only the moving ETA, or
        nothing). ``run_ended``: the run ended since the page last looked (its Start's or Stop's
        answer is cleared, unless a run waits)."""
        run = snapshot["run"]
        active = run is not None and run["state"] in ACTIVE_STATES
        if seen_version is not None and seen_version == snapshot["version"]:
            return {self.progress: progress_html(run, lang)} if active else {}
        loss, accuracy = curves(run)
        axis = {"x_title": t("train.plot.epoch", lang), "x_lim": [0, run["config"]["epochs"]] if run else None,
                "color_map": CURVE_COLORS}
        visible, summary, per_class, confusion = results_view(run, lang)
        queue = self.ctx.queue.view()
        everything = {
            self.data_status: data_message(snapshot["data"], lang), self.status: status_message(run, lang),
            self.progress: progress_html(run, lang),
            self.loss_plot: gr.LinePlot(loss, y_title=t("train.plot.loss", lang), **axis),
            self.accuracy_plot: gr.LinePlot(accuracy, y_title=t("train.plot.accuracy", lang), **axis),
            self.results: gr.Column(visible=visible), self.summary: summary,
            self.per_class: gr.BarPlot(per_class, x_title=t("train.plot.class", lang),
                                       y_title=t("train.plot.accuracy", lang)),
            self.confusion_section: gr.Column(visible=visible), self.confusion: confusion,
            **self.queue_panel.view(queue, lang)}
        # Start's or Stop's answer ("Started…") is stale once the run has ended and none waits: cleared
        return {**everything, self.reply: ""} if run_ended and not (active or queue["waiting"]) else everything

    def relabel(self, lang):
        return self.view(self.runs.watch(), None, lang)

    def per_class_bars(self, lang="en"):
        """The bars of each class alone, sent again after ``relabel``: Gradio 6.31's plot keeps its
        old bars (the other language's names) when an update also changes its axis titles."""
        return gr.BarPlot(results_view(self.runs.watch()["run"], lang)[2])

    # -- layout ------------------------------------------------------------------------------
    def build(self):
        with gr.Tab(T("train.tab"), id=self.tab_id):
            gr.Markdown(T("train.intro"))
            gr.Markdown(T("train.default_run", **default_run_values()), elem_id="train-default")
            self.data_status = gr.Markdown(elem_id="data-status")
            with gr.Row():
                with gr.Column(scale=1, min_width=300):
                    name = gr.Textbox(label=T("train.name"), max_length=NAME_LENGTH, elem_id="train-name")
                    self.preset = preset = gr.Radio(PRESETS, value="classroom", label=T("train.preset"),
                                                    elem_id="train-preset")
                    self.train_images = train_images = gr.Slider(
                        100, 50_000, value=DEFAULTS.train_size or 50_000, step=100, label=T("train.train_images"),
                        info=T("train.train_images_info"), elem_id="train-images")
                    self.epochs = epochs = gr.Slider(1, 30, value=DEFAULTS.epochs, step=1, label=T("train.epochs"),
                                                     elem_id="train-epochs")
                    # hidden by the classroom preset ?simple=1: the defaults are the one-minute run
                    with gr.Column(elem_id="train-advanced") as self.advanced:
                        self.variant = variant = gr.Radio(list(VARIANTS), value=DEFAULTS.variant,
                                                          label=T("train.variant"), elem_id="train-variant")
                        self.alpha = alpha = gr.Radio(ALPHAS, value=DEFAULTS.alpha, label=T("train.alpha"),
                                                      elem_id="train-alpha")
                        self.depth = depth = gr.Radio(DEPTH_CHOICES, value=DEFAULTS.depth, label=T("train.depth"),
                                                      elem_id="train-depth")
                        self.batch_size = batch_size = gr.Dropdown(
                            BATCH_SIZES, value=DEFAULTS.batch_size, label=T("train.batch_size"), elem_id="train-batch")
                        self.learning_rate = learning_rate = gr.Number(
                            DEFAULTS.learning_rate, label=T("train.learning_rate"), minimum=1e-5, maximum=1.0,
                            step=1e-4, elem_id="train-learning-rate")
                        # A run's random draw (initial weights, batches): the class board puts runs
                        # that differ only by it side by side, so the class sees how much is luck
                        self.seed = seed = gr.Number(DEFAULTS.seed, precision=0, minimum=0, maximum=2**31 - 1,
                                                     label=T("train.seed"), info=T("train.seed_info"), elem_id="train-seed")
                        self.augmentation = augmentation = gr.Checkbox(
                            DEFAULTS.augmentation, label=T("train.augmentation"), info=T("train.augmentation_info"),
                            elem_id="train-augmentation")
                    with gr.Row():
                        start = gr.Button(T("train.start_button"), variant="primary", elem_id="start-training")
                        stop = gr.Button(T("train.stop_button"), variant="stop", elem_id="stop-training")
                    self.reply = reply = gr.Markdown(elem_id="train-reply")
                    self.teacher = teacher = gr.State(False)  # kept on the server: a client cannot set it
                    self.queue_panel = QueuePanel(self)
                    self.queue_panel.build_controls(reply, teacher)
                    with gr.Accordion(T("train.teacher.title"), open=False, visible=self.ctx.teacher_key.enabled,
                                      elem_id="teacher-sign-in") as self.teacher_box:
                        self.signed_in = gr.Markdown(T("train.teacher.link_worked", badge=BADGE), visible=False,
                                                     elem_id="teacher-status")
                        self.wrong_link = gr.Markdown(T("train.teacher.link_wrong"), visible=False,
                                                      elem_id="teacher-link-wrong")
                        self.key = key = gr.Textbox(label=T("train.teacher.key"), type="password", max_length=200,
                                                    elem_id="teacher-key")
                        self.sign_in_button = sign_in = gr.Button(T("train.teacher.sign_in"),
                                                                  elem_id="teacher-sign-in-button")
                    self.teacher_outputs = [teacher, self.teacher_box, key, sign_in, self.signed_in, self.wrong_link,
                                            self.queue_panel.teacher_box]
                with gr.Column(scale=2):
                    self.status = gr.Markdown(elem_id="run-status")
                    self.progress = gr.HTML(progress_html(None), elem_id="train-progress")
                    self.queue_panel.build_table()
                    # No legend: the plots' labels name the colours (Gradio's legend under a 260 px
                    # plot showed its title only); slanted epoch labels do not run into each other.
                    curve_style = {"color": "curve", "color_map": CURVE_COLORS, "colors_in_legend": [],
                                   "x_label_angle": -40, "height": 260}
                    with gr.Row():
                        self.loss_plot = gr.LinePlot(x="epoch", y="loss", label=T("train.loss_plot"),
                                                     elem_id="loss-plot", **curve_style)
                        self.accuracy_plot = gr.LinePlot(x="epoch", y="accuracy", y_lim=[0, 1],
                                                         label=T("train.accuracy_plot"), elem_id="accuracy-plot",
                                                         **curve_style)
                    with gr.Column(visible=False) as self.results:
                        self.summary = gr.Markdown(elem_id="test-results")
                        # in CIFAR-10's order in every language, as the confusion matrix beside it (the
                        # plot would sort the names): one order for all, so that it never changes
                        self.per_class = gr.BarPlot(
                            x="class", y="accuracy", y_lim=[0, 1], height=260, x_label_angle=-40,
                            sort=[name for lang in LANGUAGES for name in class_names(lang)], elem_id="per-class",
                            label=T("train.per_class"))
            with gr.Column(visible=False) as self.confusion_section:
                self.confusion = gr.Dataframe(label=T("train.confusion"), interactive=False,
                                              elem_id="confusion-matrix")
            # The stream for API clients (its endpoint is a component of the page: inside the tab).
            gr.api(self.watch_training, api_name="watch_training", concurrency_limit=WATCH_LIMIT)

        settings = [name, variant, alpha, depth, train_images, epochs, batch_size, learning_rate, augmentation,
                    preset, seed]
        self.preset_settings = [train_images, epochs, variant, alpha, depth, batch_size, learning_rate, augmentation]
        # a preset fills the controls with its recipe's values (changed values still count)
        preset.input(self.preset_values, inputs=[preset, self.lang], outputs=self.preset_settings,
                     show_progress="hidden", concurrency_limit=None, **PRIVATE)
        # The run trains in the server's own thread, so Start returns at once; one Start at a time
        # (runs.start is single-flight anyway) and the others get "who is training" when it ends.
        start.click(self.start_training, inputs=[*settings, teacher, self.lang], outputs=reply,
                    api_name="start_training", concurrency_limit=1)
        # Stop only sets a flag: never queue it behind anything.
        stop.click(self.stop_training, inputs=[name, teacher, self.lang], outputs=reply,
                   api_name="stop_training", concurrency_limit=None)
        gr.on([sign_in.click, key.submit], self.sign_in, inputs=[key, self.lang], outputs=[reply, *self.teacher_outputs],
              api_name="teacher_sign_in", concurrency_limit=None)
        self.view_outputs = [self.data_status, self.status, self.progress, self.loss_plot, self.accuracy_plot,
                             self.results, self.summary, self.per_class, self.confusion_section, self.confusion, reply,
                             *self.queue_panel.outputs]
        self.relabel_outputs = self.view_outputs
