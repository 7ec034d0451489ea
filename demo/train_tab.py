"""Train tab: settings, Start/Stop, the live curves everyone sees, and the final test results."""

import dataclasses
import html
import math
import re
import time

import gradio as gr
import pandas as pd

from mobilenet.data import CLASS_NAMES, DataCorruptError, DataUnavailableError
from mobilenet.model import DEPTHS, VARIANTS
from mobilenet.train import TrainConfig

from demo.architecture_tab import ALPHAS as PAPER_ALPHAS
from demo.runs import ACTIVE_STATES, RunBusy, format_duration

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


def visitor_name(name):
    """A short, plain display name (it is shown to everyone)."""
    name = re.sub(r"\s+", " ", str(name or "")).strip()[:30]
    return html.escape(name) if name else "Someone"


# -- what a viewer sees ------------------------------------------------------------------------

def data_message(data):
    if data["state"] == "unavailable":
        return f"**No CIFAR-10 here, so training is off** (the other tabs work).\n\n{data['message']}"
    return data["message"]


def status_message(run):
    if run is None:
        return "No run yet. Choose the settings and press **Start training**."
    config, who = run["config"], run["started_by"]
    setup = (f"{config['variant']}, α {config['alpha']:g}, {config.get('depth', 'full')}, "
             f"{run['train_images'] or '…'} training images, "
             f"{config['epochs']} epochs, batch {config['batch_size']}, "
             f"learning rate {config['learning_rate']:g}, "
             f"augmentation {'on' if config['augmentation'] else 'off'}")
    elapsed = format_duration(run["elapsed_s"])
    state = run["state"]
    if state == "starting":
        return f"**{who}** started a run ({setup}): loading the data and building the model ..."
    if state in ("running", "stopping"):
        doing = f"finishing: {run['stage']}" if run["stage"] else "training"
        stop = f" Stop was pressed by **{run['stopped_by']}**." if state == "stopping" else ""
        return f"**{who}** is {doing} ({setup}), for {elapsed} so far.{stop}"
    if state == "failed":
        return f"The run by **{who}** failed: `{run['error']}`"
    metrics = run["metrics"] or {}
    validation = metrics.get("validation_accuracy")
    checked = f" Validation accuracy: **{validation:.1%}**." if validation is not None else ""
    if state == "stopped":
        return (f"The run by **{who}** was stopped by **{run['stopped_by'] or 'someone'}** after "
                f"{elapsed}.{checked} What it learned is saved and listed in the **Classify** tab.")
    return (f"The run by **{who}** finished in {elapsed}: test accuracy "
            f"**{metrics['test_accuracy']:.1%}** (chance is 10 %).{checked} "
            "Try it in the **Classify** tab.")


def progress_html(run):
    latest = (run or {}).get("latest") or {}
    done = latest.get("global_step", 0)
    total = (run or {}).get("total_steps") or 0
    share = done / total if total else 0.0
    if run is None:
        text = "Waiting for a run"
    elif not latest:
        text = "Starting ..."
    else:
        left = run["seconds_left"]
        text = (f"Epoch {latest['epoch']} / {latest['epochs']} · step {done:,} / {total:,} · "
                f"{latest['images_per_sec']:,.0f} images/s"
                + (f" · about {format_duration(left)} left" if left is not None and
                   run["state"] == "running" and not run["stage"] else ""))
    return (f'<div class="run-progress"><div class="run-progress-bar" role="progressbar" '
            f'aria-valuenow="{share * 100:.0f}" aria-valuemin="0" aria-valuemax="100">'
            f'<div class="run-progress-fill" style="width:{share * 100:.1f}%"></div></div>'
            f'<div class="run-progress-text">{html.escape(text)}</div></div>')


def curves(run):
    """(loss frame, accuracy frame) in long form: epoch, value, curve (train/validation).

    At most about ``MAX_TRAIN_POINTS`` training points (long runs are thinned, so thirty
    browsers are not sent thousands of points every few seconds). None before the first
    point: Gradio's plot stops drawing lines after an empty frame.
    """
    history = (run or {}).get("history", [])
    batches = [event for event in history if event["event"] == "batch"]
    stride = math.ceil(len(batches) / MAX_TRAIN_POINTS) or 1
    rows = [(e["global_step"] / e["steps_per_epoch"], e.get("recent_loss", e["loss"]),
             e.get("recent_accuracy", e["accuracy"]), "train")
            for e in batches[::-stride][::-1]]  # counted from the end: the newest point stays
    validation = [(e["global_step"] / e["steps_per_epoch"], e["val_loss"], e["val_accuracy"],
                   "validation") for e in history if e["event"] == "epoch" and "val_loss" in e]
    if not rows:
        return None, None
    # Gradio's plot never draws a colour that was missing from its first frame: until the first
    # validation point, an empty (NaN) one keeps "validation" in the legend and the colour scale.
    rows += validation or [(0.0, math.nan, math.nan, "validation")]
    frame = pd.DataFrame(rows, columns=["epoch", "loss", "accuracy", "curve"])
    return frame[["epoch", "loss", "curve"]], frame[["epoch", "accuracy", "curve"]]


def confusion_frame(matrix):
    """The confusion matrix with class names, each cell shaded by its share of the row."""
    frame = pd.DataFrame(matrix, columns=list(CLASS_NAMES))
    shares = frame.div(frame.sum(axis=1).clip(lower=1), axis=0)
    frame.insert(0, "true \\ predicted", list(CLASS_NAMES))
    shading = pd.DataFrame("", index=frame.index, columns=frame.columns)
    shading[list(CLASS_NAMES)] = shares.map(lambda s: f"background-color: rgba(37, 99, 235, {0.6 * s:.2f})")
    return frame.style.apply(lambda _: shading, axis=None)


def results_view(run):
    """(visible, summary, per-class frame, confusion) of a run tested on the test set."""
    metrics = (run or {}).get("metrics") or {}
    if metrics.get("test_accuracy") is None:
        return False, "", None, None
    per_class = pd.DataFrame(list(metrics["per_class_accuracy"].items()), columns=["class", "accuracy"])
    summary = (f"### Test accuracy: {metrics['test_accuracy']:.1%}\n"
               f"on {metrics.get('test_images', 0):,} CIFAR-10 test pictures the network never saw "
               "(chance: 10 %). Below: each class, and the confusion matrix, whose diagonal counts "
               "the right answers.")
    return True, summary, per_class, confusion_frame(metrics["confusion_matrix"])


# -- callbacks -------------------------------------------------------------------------------

class TrainCallbacks:
    def __init__(self, runs):
        self.runs = runs

    def start_training(self, name, variant, alpha, depth, train_images, epochs, batch_size,
                       learning_rate, augmentation):
        """Starts a run on the server, or says why not.

        Gradio has already checked the radios, dropdown and slider against their choices and
        ranges; an emptied number box arrives as None.
        """
        if learning_rate is None:
            raise gr.Error("Fill in the learning rate, e.g. 0.002.")
        config = dataclasses.replace(
            DEFAULTS, variant=variant, alpha=float(alpha), depth=depth, train_size=int(train_images),
            epochs=int(epochs), batch_size=int(batch_size), learning_rate=float(learning_rate),
            augmentation=bool(augmentation))
        who = visitor_name(name)
        try:
            self.runs.start(config, who)
        except RunBusy as busy:
            raise gr.Error(str(busy), title="A run is already training") from None
        except (DataUnavailableError, DataCorruptError) as error:
            raise gr.Error(str(error), title="CIFAR-10 is not available") from None
        except ValueError as error:
            raise gr.Error(f"Check the settings: {error}", title="Cannot start") from None
        return f"Started. {who}'s run is training; the curves update every few seconds."

    def stop_training(self, name):
        """Stops the run (whoever started it); it still saves what it learned."""
        return self.runs.stop(visitor_name(name))

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
    def training_view(snapshot, seen_version):
        """Updates of the Train tab from ``snapshot`` for a browser that has ``seen_version``."""
        run = snapshot["run"]
        if seen_version == snapshot["version"]:
            active = run is not None and run["state"] in ACTIVE_STATES
            progress = progress_html(run) if active else gr.skip()  # the ETA moves between events
            return [gr.skip()] * 2 + [progress] + [gr.skip()] * 7
        loss, accuracy = curves(run)
        x_lim = [0, run["config"]["epochs"]] if run else None
        visible, summary, per_class, confusion = results_view(run)
        return [data_message(snapshot["data"]), status_message(run), progress_html(run),
                gr.LinePlot(loss, x_lim=x_lim), gr.LinePlot(accuracy, x_lim=x_lim),
                gr.Column(visible=visible), summary, per_class, gr.Column(visible=visible), confusion]


# -- layout ------------------------------------------------------------------------------------

def build_train_tab(runs):
    callbacks = TrainCallbacks(runs)
    with gr.Tab("2 · Train", id="train"):
        gr.Markdown(INTRO)
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
        start.click(callbacks.start_training, inputs=settings, outputs=reply, api_name="start_training",
                    concurrency_limit=1)
        # Stop only sets a flag: never queue it behind anything.
        stop.click(callbacks.stop_training, inputs=name, outputs=reply, api_name="stop_training",
                   concurrency_limit=None)
        # Streaming for API clients: it waits on the run, so it must not block other events.
        gr.api(callbacks.watch_training, api_name="watch_training", concurrency_limit=None)
    outputs = [data_status, status, progress, loss_plot, accuracy_plot, results, summary, per_class,
               confusion_section, confusion]
    return callbacks.training_view, outputs, advanced
