"""Train tab: settings, Start/Stop, the live curves everyone sees, and the final test results."""

import dataclasses
import html
import math
import re
import time
import unicodedata

import gradio as gr
import pandas as pd

from mobilenet.data import CLASS_NAMES, DataCorruptError, DataUnavailableError
from mobilenet.model import DEPTHS, VARIANTS
from mobilenet.train import TrainConfig

from demo.architecture_tab import ALPHAS as PAPER_ALPHAS
from demo.clients import client_address
from demo.i18n import Text, UserText, add_translation, as_html, as_markdown, class_name, localize, tr
from demo.runs import ACTIVE_STATES, NotYourRun, RunBusy, RunTooLong, format_duration
from demo.teacher import BADGE, TeacherKey, TooManyTries

DEFAULTS = TrainConfig()  # the classroom run: the package tunes these, the UI only shows them
ALPHAS = sorted({*PAPER_ALPHAS, DEFAULTS.alpha})
DEPTH_CHOICES = [("shallow: 8 blocks (the paper's Table 4), learns fast", "shallow"),
                 ("full: 13 blocks (the tutorial's network)", "full")]
assert sorted(value for _, value in DEPTH_CHOICES) == sorted(DEPTHS)
BATCH_SIZES = sorted({16, 32, 64, 128, 256, DEFAULTS.batch_size})
REFRESH_SECONDS = 2
MAX_TRAIN_POINTS = 300
CURVE_COLORS = {"train": "#2563eb", "validation": "#ea580c"}
LEGEND = "(blue: train, orange: validation)"  # the plot's own legend is clipped at this height
WATCH_SECONDS = 0.5

INTRO = """
### Train your own MobileNet
Pick the settings and press **Start training**. The network sees the training pictures again and
again (*epochs*), a *batch* at a time, and nudges its weights to make fewer mistakes: the
**loss** should go down and the **accuracy** up. *Validation* pictures are never trained on, so
they show whether the network learned something general or only memorised. At the end it is
tested on the 10,000 CIFAR-10 test pictures, and the checkpoint appears in the **Classify** tab.
The server trains one model at a time; everyone sees the same curves.
"""

DEFAULT_RUN = ("The default settings are the classroom run: about a minute on 2 CPU cores. They train "
               "the **{variant}** variant (its first layer keeps the full 32×32 picture) at width "
               "**α {alpha:g}**, the paper's **{depth}** depth, for **{epochs} epochs** over **{images:,}** "
               "pictures, batch {batch}, Adam with learning rate {lr:g}: about 60 % test accuracy "
               "(chance is 10 %).")
DEFAULT_RUN_ZH = ("默认设置就是课堂训练：在 2 个 CPU 核上大约一分钟。它训练 **{variant}** 变体（第一层保留完整的 "
                  "32×32 图片），宽度 **α {alpha:g}**，论文中的 **{depth}** 深度，在 **{images:,}** 张图片上训练 "
                  "**{epochs} 轮**，批大小 {batch}，Adam，学习率 {lr:g}：测试准确率约 60 %（随机猜是 10 %）。")


def default_run_text(template=DEFAULT_RUN):
    """What the default settings train, in words (from ``TrainConfig``'s defaults)."""
    return template.format(variant=DEFAULTS.variant, alpha=DEFAULTS.alpha, depth=DEFAULTS.depth,
                           epochs=DEFAULTS.epochs, images=DEFAULTS.train_size or 50_000,
                           batch=DEFAULTS.batch_size, lr=DEFAULTS.learning_rate)


NAME_LENGTH = 30


def visitor_name(name, teacher=False):
    """A short display name as the visitor typed it (it is shown to everyone, as plain text):
    control and format characters (bidirectional overrides included) and the teacher's badge
    removed, spaces collapsed, at most ``NAME_LENGTH`` characters."""
    name = "".join(c for c in str(name or "") if c != BADGE and (
        not unicodedata.category(c).startswith("C") or c in "\t\n"))
    name = re.sub(r"\s+", " ", name).strip()[:NAME_LENGTH].strip()
    return UserText(name) if name else UserText("Teacher" if teacher else "Someone")


def person(name, teacher, lang):
    """A visitor's name in Markdown, with the teacher's badge when the server says so (no name
    can contain the badge: ``visitor_name`` removes it)."""
    return as_markdown(name) + (f" {BADGE} *{tr('teacher', lang)}*" if teacher else "")


# -- what a viewer sees ------------------------------------------------------------------------

def data_message(data, lang="en"):
    message = localize(data["message"], lang)
    if data["state"] == "unavailable":
        # the reason is the package's own words: shown as they are, quoted
        return (tr("**No CIFAR-10 here, so training is off** (the other tabs work).", lang)
                + "\n\n" + (message if lang == "en" else f"`{message}`"))
    return message


def stopper(run, lang):
    """Who stopped ``run``: a visitor's name as typed, or the server's own reason (a ``Text``)."""
    who = run["stopped_by"]
    if who is None:
        return tr("someone", lang)
    return localize(who, lang) if isinstance(who, Text) else person(who, run.get("stopped_by_teacher"), lang)


def status_message(run, lang="en"):
    if run is None:
        return tr("No run yet. Choose the settings and press **Start training**.", lang)
    config, who = run["config"], person(run["started_by"], run.get("started_by_teacher"), lang)
    setup = tr("{variant}, α {alpha:g}, {depth}, {images} training images, {epochs} epochs, "
               "batch {batch}, learning rate {lr:g}, augmentation {augmentation}", lang,
               variant=config["variant"], alpha=config["alpha"], depth=config.get("depth", "full"),
               images=run["train_images"] or "…", epochs=config["epochs"],
               batch=config["batch_size"], lr=config["learning_rate"],
               augmentation=tr("on" if config["augmentation"] else "off", lang))
    values = {"who": who, "setup": setup, "elapsed": format_duration(run["elapsed_s"])}
    state = run["state"]
    if state == "starting":
        return tr("**{who}** started a run ({setup}): loading the data and building the model ...",
                  lang, **values)
    if state in ("running", "stopping"):
        doing = (tr("finishing: {stage}", lang, stage=localize(run["stage"], lang)) if run["stage"]
                 else tr("training", lang))
        stop = (tr(" Stop was pressed by **{who}**.", lang, who=stopper(run, lang))
                if state == "stopping" else "")
        return tr("**{who}** is {doing} ({setup}), for {elapsed} so far.", lang, doing=doing,
                  **values) + stop
    if state == "failed":
        return tr("The run by **{who}** failed: {reason}", lang, reason=localize(run["error"], lang),
                  **values)
    metrics = run["metrics"] or {}
    validation = metrics.get("validation_accuracy")
    checked = (tr(" Validation accuracy: **{accuracy:.1%}**.", lang, accuracy=validation)
               if validation is not None else "")
    if state == "stopped" and not run["checkpoint"]:
        return tr("The run by **{who}** was stopped by **{stopper}** after {elapsed}: {reason}", lang,
                  stopper=stopper(run, lang),
                  reason=localize(run["error"], lang), **values)
    if state == "stopped":
        return tr("The run by **{who}** was stopped by **{stopper}** after {elapsed}.", lang,
                  stopper=stopper(run, lang),
                  **values) + checked + tr(
            " What it learned is saved and listed in the **Classify** tab.", lang)
    return tr("The run by **{who}** finished in {elapsed}: test accuracy **{accuracy:.1%}** "
              "(chance is 10 %).", lang, accuracy=metrics["test_accuracy"], **values) + checked + tr(
        " Try it in the **Classify** tab.", lang)


def progress_html(run, lang="en"):
    latest = (run or {}).get("latest") or {}
    done = latest.get("global_step", 0)
    total = (run or {}).get("total_steps") or 0
    share = done / total if total else 0.0
    if run is None:
        text = tr("Waiting for a run", lang)
    elif not latest:
        text = tr("Starting ...", lang)
    else:
        left = run["seconds_left"]
        text = tr("Epoch {epoch} / {epochs} · step {done:,} / {total:,} · {rate:,.0f} images/s",
                  lang, epoch=latest["epoch"], epochs=latest["epochs"], done=done, total=total,
                  rate=latest["images_per_sec"])
        if left is not None and run["state"] == "running" and not run["stage"]:
            text += tr(" · about {duration} left", lang, duration=format_duration(left))
    return (f'<div class="run-progress"><div class="run-progress-bar" role="progressbar" '
            f'aria-valuenow="{share * 100:.0f}" aria-valuemin="0" aria-valuemax="100">'
            f'<div class="run-progress-fill" style="width:{share * 100:.1f}%"></div></div>'
            f'<div class="run-progress-text">{html.escape(text)}</div></div>')


def curves(run, lang="en"):
    """(loss frame, accuracy frame) in long form: epoch, value, curve (train/validation).

    At most about ``MAX_TRAIN_POINTS`` training points (long runs are thinned, so thirty
    browsers are not sent thousands of points every few seconds). None before the first
    point: Gradio's plot stops drawing lines after an empty frame.
    """
    history = (run or {}).get("history", [])
    batches = [event for event in history if event["event"] == "batch"]
    stride = math.ceil(len(batches) / MAX_TRAIN_POINTS) or 1
    train, validation_name = tr("train", lang), tr("validation", lang)
    rows = [(e["global_step"] / e["steps_per_epoch"], e.get("recent_loss", e["loss"]),
             e.get("recent_accuracy", e["accuracy"]), train)
            for e in batches[::-stride][::-1]]  # counted from the end: the newest point stays
    validation = [(e["global_step"] / e["steps_per_epoch"], e["val_loss"], e["val_accuracy"],
                   validation_name) for e in history if e["event"] == "epoch" and "val_loss" in e]
    if not rows:
        return None, None
    # Gradio's plot never draws a colour that was missing from its first frame: until the first
    # validation point, an empty (NaN) one keeps "validation" in the legend and the colour scale.
    rows += validation or [(0.0, math.nan, math.nan, validation_name)]
    frame = pd.DataFrame(rows, columns=["epoch", "loss", "accuracy", "curve"])
    return frame[["epoch", "loss", "curve"]], frame[["epoch", "accuracy", "curve"]]


def confusion_frame(matrix, lang="en"):
    """The confusion matrix with class names, each cell shaded by its share of the row."""
    names = [class_name(name, lang) for name in CLASS_NAMES]
    frame = pd.DataFrame(matrix, columns=names)
    shares = frame.div(frame.sum(axis=1).clip(lower=1), axis=0)
    frame.insert(0, tr("true \\ predicted", lang), names)
    shading = pd.DataFrame("", index=frame.index, columns=frame.columns)
    shading[names] = shares.map(lambda s: f"background-color: rgba(37, 99, 235, {0.6 * s:.2f})")
    return frame.style.apply(lambda _: shading, axis=None)


def results_view(run, lang="en"):
    """(visible, summary, per-class frame, confusion) of a run tested on the test set."""
    metrics = (run or {}).get("metrics") or {}
    if metrics.get("test_accuracy") is None:
        return False, "", None, None
    per_class = pd.DataFrame([(class_name(name, lang), accuracy) for name, accuracy
                              in metrics["per_class_accuracy"].items()], columns=["class", "accuracy"])
    summary = tr("### Test accuracy: {accuracy:.1%}\non {images:,} CIFAR-10 test pictures the "
                 "network never saw (chance: 10 %). Below: each class, and the confusion matrix, "
                 "whose diagonal counts the right answers.", lang,
                 accuracy=metrics["test_accuracy"], images=metrics.get("test_images", 0))
    return True, summary, per_class, confusion_frame(metrics["confusion_matrix"], lang)


# -- callbacks -------------------------------------------------------------------------------

class TrainCallbacks:
    def __init__(self, runs, teacher_key=None):
        self.runs = runs
        self.teacher_key = teacher_key or TeacherKey()

    def sign_in(self, key, lang="en", request: gr.Request = None):
        """Makes this browser tab the teacher's when ``key`` is the server's teacher key."""
        if not self.teacher_key.enabled:
            raise gr.Error(tr("This server has no teacher key (MOBILENET_TEACHER_KEY is not set).", lang))
        try:
            right = self.teacher_key.check(key, client_address(request))
        except TooManyTries as wait:
            raise gr.Error(tr("Too many wrong keys from your computer: try again in {duration}.", lang,
                              duration=format_duration(wait.args[0]))) from None
        if not right:
            raise gr.Error(tr("That is not the teacher key.", lang))
        return True, tr("You are the teacher in this browser tab: you can stop any run, and your "
                        "name is shown with {badge}.", lang, badge=BADGE), gr.Textbox(value="")

    def start_training(self, name, variant, alpha, depth, train_images, epochs, batch_size,
                       learning_rate, augmentation, teacher=False, lang="en", request: gr.Request = None):
        """Starts a run on the server, or says why not. The run belongs to this browser tab (its
        session): only it, or the teacher, can stop it.

        Gradio has already checked the radios, dropdown and slider against their choices and
        ranges; an emptied number box arrives as None.
        """
        if learning_rate is None:
            raise gr.Error(tr("Fill in the learning rate, e.g. 0.002.", lang))
        config = dataclasses.replace(
            DEFAULTS, variant=variant, alpha=float(alpha), depth=depth, train_size=int(train_images),
            epochs=int(epochs), batch_size=int(batch_size), learning_rate=float(learning_rate),
            augmentation=bool(augmentation))
        teacher = teacher is True
        who = visitor_name(name, teacher)
        try:
            self.runs.start(config, who, owner=session_of(request), teacher=teacher)
        except RunBusy as busy:
            raise gr.Error(localize(busy.args[0], lang, user_text=as_html),
                           title=tr("A run is already training", lang)) from None
        except RunTooLong as too_long:
            raise gr.Error(localize(too_long.args[0], lang, user_text=as_html),
                           title=tr("This run would take too long", lang)) from None
        except (DataUnavailableError, DataCorruptError) as error:
            detail = str(error) if lang == "en" else f"`{error}`"
            raise gr.Error(detail, title=tr("CIFAR-10 is not available", lang)) from None
        except ValueError as error:
            detail = str(error) if lang == "en" else f"`{error}`"
            raise gr.Error(tr("Check the settings: {detail}", lang, detail=detail),
                           title=tr("Cannot start", lang)) from None
        return tr("Started. {who}'s run is training; the curves update every few seconds.", lang,
                  who=as_markdown(who))

    def stop_training(self, name, teacher=False, lang="en", request: gr.Request = None):
        """Stops the run if this browser tab started it, or is the teacher's; it still saves
        what it learned."""
        teacher = teacher is True
        try:
            return localize(self.runs.stop(visitor_name(name, teacher), owner=session_of(request),
                                           teacher=teacher), lang)
        except NotYourRun as refused:
            raise gr.Error(localize(refused.args[0], lang, user_text=as_html),
                           title=tr("Not your run", lang)) from None

    def watch_training(self) -> dict:
        """Streams the run's snapshot (progress, history, results) until it ends."""
        snapshot = self.runs.snapshot()
        while True:
            yield snapshot
            run = snapshot["run"]
            if run is None or run["state"] not in ACTIVE_STATES:
                return
            time.sleep(WATCH_SECONDS)  # at most two updates a second
            snapshot = self.runs.wait_for_change(snapshot["version"], timeout=REFRESH_SECONDS)

    @staticmethod
    def training_view(snapshot, seen_version, lang="en"):
        """Updates of the Train tab from ``snapshot`` for a browser that has ``seen_version``
        (None: send everything, e.g. after a language change)."""
        run = snapshot["run"]
        if seen_version == snapshot["version"]:
            active = run is not None and run["state"] in ACTIVE_STATES
            progress = progress_html(run, lang) if active else gr.skip()  # the ETA moves
            return [gr.skip()] * 2 + [progress] + [gr.skip()] * 7
        loss, accuracy = curves(run, lang)
        x_lim = [0, run["config"]["epochs"]] if run else None
        colors = {tr(curve, lang): color for curve, color in CURVE_COLORS.items()}
        axis = {"x_title": tr("epoch", lang), "x_lim": x_lim, "color_map": colors}
        visible, summary, per_class, confusion = results_view(run, lang)
        return [data_message(snapshot["data"], lang), status_message(run, lang),
                progress_html(run, lang),
                gr.LinePlot(loss, y_title=tr("loss", lang), **axis),
                gr.LinePlot(accuracy, y_title=tr("accuracy", lang), **axis),
                gr.Column(visible=visible), summary,
                gr.BarPlot(per_class, x_title=tr("class", lang), y_title=tr("accuracy", lang)),
                gr.Column(visible=visible), confusion]


def session_of(request):
    """The browser tab's session id (Gradio's ``session_hash``): the owner of the runs it starts."""
    return getattr(request, "session_hash", None) or None


# -- layout ------------------------------------------------------------------------------------

def build_train_tab(runs, language=None, teacher_key=None):
    """The Train tab. Returns (view function, its outputs, the advanced settings' column, the
    tab's teacher ``gr.State`` and its ``TeacherKey``, for a teacher link)."""
    callbacks = TrainCallbacks(runs, teacher_key)
    with gr.Tab("2 · Train", id="train"):
        gr.Markdown(INTRO)
        gr.Markdown(default_run_text(), elem_id="train-default")
        add_translation(default_run_text(), default_run_text(DEFAULT_RUN_ZH))
        data_status = gr.Markdown(elem_id="data-status")
        with gr.Row():
            with gr.Column(scale=1, min_width=300):
                name = gr.Textbox(label="Your name (optional, shown to others while you train)",
                                  max_length=30, elem_id="train-name")
                train_images = gr.Slider(100, 50_000, value=DEFAULTS.train_size or 50_000, step=100,
                                         label="Training images",
                                         info="more images: better, slower (50,000 = all)",
                                         elem_id="train-images")
                epochs = gr.Slider(1, 30, value=DEFAULTS.epochs, step=1, label="Epochs",
                                   elem_id="train-epochs")
                # hidden by the classroom preset ?simple=1: the defaults are the one-minute run
                with gr.Column(elem_id="train-advanced") as advanced:
                    variant = gr.Radio(list(VARIANTS), value=DEFAULTS.variant, label="Variant",
                                       elem_id="train-variant")
                    alpha = gr.Radio(ALPHAS, value=DEFAULTS.alpha, label="Width multiplier α",
                                     elem_id="train-alpha")
                    depth = gr.Radio(DEPTH_CHOICES, value=DEFAULTS.depth, label="Depth",
                                     elem_id="train-depth")
                    batch_size = gr.Dropdown(BATCH_SIZES, value=DEFAULTS.batch_size, label="Batch size",
                                             elem_id="train-batch")
                    learning_rate = gr.Number(DEFAULTS.learning_rate, label="Learning rate",
                                              minimum=1e-5, maximum=1.0, step=1e-4,
                                              elem_id="train-learning-rate")
                    augmentation = gr.Checkbox(DEFAULTS.augmentation, label="Augmentation",
                                               info="random crops and mirror images",
                                               elem_id="train-augmentation")
                with gr.Row():
                    start = gr.Button("Start training", variant="primary", elem_id="start-training")
                    stop = gr.Button("Stop", variant="stop", elem_id="stop-training")
                reply = gr.Markdown(elem_id="train-reply")
                teacher = gr.State(False)  # kept on the server: a client cannot set it
                with gr.Accordion("Teacher", open=False, visible=callbacks.teacher_key.enabled,
                                  elem_id="teacher-sign-in"):
                    key = gr.Textbox(label="Teacher key", type="password", max_length=200,
                                     elem_id="teacher-key")
                    sign_in = gr.Button("Sign in as the teacher", elem_id="teacher-sign-in-button")
            with gr.Column(scale=2):
                status = gr.Markdown(elem_id="run-status")
                progress = gr.HTML(progress_html(None), elem_id="train-progress")
                with gr.Row():
                    loss_plot = gr.LinePlot(x="epoch", y="loss", color="curve", label=f"Loss {LEGEND}",
                                            height=260, elem_id="loss-plot", color_map=CURVE_COLORS)
                    accuracy_plot = gr.LinePlot(x="epoch", y="accuracy", color="curve", y_lim=[0, 1],
                                                label=f"Accuracy {LEGEND}", height=260,
                                                elem_id="accuracy-plot", color_map=CURVE_COLORS)
                with gr.Column(visible=False) as results:
                    summary = gr.Markdown(elem_id="test-results")
                    per_class = gr.BarPlot(x="class", y="accuracy", y_lim=[0, 1], height=260,
                                           x_label_angle=-40, sort=None, elem_id="per-class",
                                           label="Test accuracy of each class")
        with gr.Column(visible=False) as confusion_section:
            confusion = gr.Dataframe(label="Confusion matrix (test set): rows are the true classes, "
                                           "columns the network's answers", interactive=False,
                                     elem_id="confusion-matrix")

        settings = [name, variant, alpha, depth, train_images, epochs, batch_size, learning_rate, augmentation]
        # The run trains in the server's own thread, so Start returns at once; one Start at a time
        # (runs.start is single-flight anyway) and the others get "who is training" when it ends.
        lang = [language] if language else []
        start.click(callbacks.start_training, inputs=settings + [teacher] + lang, outputs=reply,
                    api_name="start_training", concurrency_limit=1)
        # Stop only sets a flag: never queue it behind anything.
        stop.click(callbacks.stop_training, inputs=[name, teacher] + lang, outputs=reply,
                   api_name="stop_training", concurrency_limit=None)
        gr.on([sign_in.click, key.submit], callbacks.sign_in, inputs=[key] + lang,
              outputs=[teacher, reply, key], api_name="teacher_sign_in", concurrency_limit=None)
        # Streaming for API clients: each stream holds one of the server's request slots for as
        # long as the run, so at most 8 at once (the others wait for one to end); the page
        # itself polls (``refresh``) and never waits for these.
        gr.api(callbacks.watch_training, api_name="watch_training", concurrency_limit=8)
    outputs = [data_status, status, progress, loss_plot, accuracy_plot, results, summary, per_class,
               confusion_section, confusion]
    return callbacks.training_view, outputs, advanced, teacher, callbacks.teacher_key
