"""The Train panel's queue: the runs waiting their turn, for every viewer, and what a student and
the teacher can do with them.

The queue itself is ``classroom.class_queue.ClassQueue`` (data); this module words it in the
viewer's language and wires its buttons. A student withdraws their own waiting run (their browser
tab's); the teacher moves or removes any waiting run, pauses and resumes the queue, and starts a
new class board for a new lesson. Names are plain text: the table is a ``gr.Dataframe`` of
strings, never Markdown.
"""

import functools

import gradio as gr
import pandas as pd

from classroom.inputs import choices_change
from classroom.run_queue import NotWaiting, QueueFull
from classroom.run_record import NotYourRun, RunBusy, RunTooLong
from classroom.teacher import BADGE
from demo.i18n import T, as_html, as_markdown, t
from demo.tabs import session_of
from mobilenet.cifar10 import DataCorruptError, DataUnavailableError
from mobilenet.duration import format_duration

# What Start may answer instead of starting or queuing a run (``ClassQueue.submit``)
START_REFUSALS = (QueueFull, RunBusy, RunTooLong, DataUnavailableError, DataCorruptError, ValueError)


def person_text(name, teacher):
    """A visitor's name as plain text (a table cell), with the teacher's badge."""
    return f"{name} {BADGE}" if teacher else str(name)


def setup_text(item, lang):
    """A waiting run's settings, short: "quick · cifar α 0.25 shallow · 35,000 × 1"."""
    s = item["settings"]
    return t("train_queue.setup", lang, preset=t(f"train.preset_short_{item['preset']}", lang),
             variant=s["variant"], alpha=s["alpha"], depth=s["depth"], images=f"{s['train_size']:,}" if s["train_size"] else t("train_queue.all_images", lang),
             epochs=s["epochs"])


def queue_frame(view, lang):
    """The waiting runs as a table of strings, in their order."""
    columns = [t(f"train_queue.column_{name}", lang) for name in ("place", "who", "setup", "starts")]
    rows = [[str(item["place"]), person_text(item["name"], item["teacher"]), setup_text(item, lang),
             t("train_queue.in", lang, duration=format_duration(item["start_in_s"]))]
            for item in view["waiting"]]
    return pd.DataFrame(rows, columns=columns)


def queue_heading(view, lang):
    if not view["waiting"]:
        return t("train_queue.empty", lang) + (t("train_queue.paused", lang) if view["paused"] else "")
    return (t("train_queue.heading", lang, n=len(view["waiting"]), limit=view["max_length"])
            + (t("train_queue.paused", lang) if view["paused"] else ""))


def quoted(detail, lang):
    """The package's own words (an error) in a message: as they are, or in a code span beside
    Chinese."""
    return str(detail) if lang == "en" else f"`{detail}`"


def start_refusal(error, lang):
    """The ``gr.Error`` a refused Start shows (one of ``START_REFUSALS``), in ``lang``."""
    if isinstance(error, QueueFull):
        limit = error.limit if error.reason == "length" else format_duration(error.limit)
        return gr.Error(t(f"train_queue.full_{error.reason}", lang, limit=limit), title=t("train_queue.full_title", lang))
    if isinstance(error, RunBusy):  # no queue on this server (``MOBILENET_QUEUE_LENGTH=0``)
        when = (t("train.start.left", lang, duration=format_duration(error.seconds_left))
                if error.seconds_left is not None else t("train.start.just_started", lang))
        return gr.Error(t("train.start.busy", lang, who=as_html(error.who), when=when),
                        title=t("train.start.busy_title", lang))
    if isinstance(error, RunTooLong):
        return gr.Error(t("train.start.too_long", lang, estimate=format_duration(error.estimate_s),
                          limit=format_duration(error.limit_s)), title=t("train.start.too_long_title", lang))
    if isinstance(error, (DataUnavailableError, DataCorruptError)):
        return gr.Error(quoted(error, lang), title=t("train.start.no_data_title", lang))
    return gr.Error(t("train.start.check", lang, detail=quoted(error, lang)), title=t("train.start.cannot_title", lang))


def queued_reply(queued, lang):
    """Start's answer for a run that waits."""
    text = t("train_queue.queued_paused" if queued.paused else "train_queue.queued", lang, place=queued.place,
             duration=format_duration(queued.start_in_s))
    return text + (t("train_queue.replaced", lang) if queued.replaced else "")


class QueuePanel:
    """The queue's part of the Train tab (built inside it: ``build``)."""

    def __init__(self, train_tab):
        self.tab = train_tab
        self.queue = train_tab.ctx.queue

    # -- callbacks ---------------------------------------------------------------------------
    def withdraw(self, teacher=False, lang="en", request: gr.Request = None):
        """Withdraws this browser tab's waiting run."""
        if self.queue.withdraw(session_of(request)) is None:
            return t("train_queue.none_waiting", lang)
        return t("train_queue.withdrawn", lang)

    def teacher_action(self, action, run_id, teacher=False, lang="en", request: gr.Request = None):
        """The teacher's buttons: ``action`` on the waiting run ``run_id`` (a choice of the picker)."""
        if not self.tab.is_teacher(teacher, request):
            raise gr.Error(t("train_queue.teacher_only", lang), title=t("train_queue.teacher_only_title", lang))
        try:
            if action == "pause":
                self.queue.pause(teacher=True)
                return t("train_queue.done_pause", lang)
            if action == "resume":
                self.queue.resume(teacher=True)
                return t("train_queue.done_resume", lang)
            if action == "new_board":
                self.queue.new_board()
                return t("train_queue.done_new_board", lang)
            waiting = {item["run_id"]: item for item in self.queue.view()["waiting"]}
            text = str(run_id or "")
            picked = int(text) if text.isascii() and text.isdigit() and len(text) < 16 else None
            if picked not in waiting:
                raise gr.Error(t("train_queue.pick_first", lang))
            place = waiting[picked]["place"]
            if action == "remove":
                self.queue.withdraw(None, teacher=True, run_id=picked)
            else:
                self.queue.move(picked, {"first": 1, "up": place - 1, "down": place + 1}[action], teacher=True)
            return t(f"train_queue.done_{action}", lang, who=as_markdown(waiting[picked]["name"]))
        except (NotWaiting, KeyError):
            raise gr.Error(t("train_queue.pick_first", lang)) from None
        except NotYourRun:  # the queue's own check, should the session's state be stale
            raise gr.Error(t("train_queue.teacher_only", lang)) from None

    def run_queue(self) -> dict:
        """The runs waiting their turn, their places and estimated starts (``paused``: by the teacher)."""
        return self.queue.view()

    def view(self, view, lang):
        """Updates of ``outputs`` from ``view`` (``ClassQueue.view``: the queue as it is now)."""
        choices = [(f"{item['place']} · {person_text(item['name'], item['teacher'])}", str(item["run_id"]))
                   for item in view["waiting"]]
        return {self.heading: queue_heading(view, lang), self.table: queue_frame(view, lang),
                self.table_box: gr.Column(visible=bool(view["waiting"])),
                self.picker: gr.Dropdown(choices=choices, value=choices[0][1] if choices else None)}

    @property
    def outputs(self):
        """What ``view`` updates (once both parts are built)."""
        return [self.heading, self.table, self.table_box, self.picker]

    # -- layout ------------------------------------------------------------------------------
    def build_table(self):
        """The waiting runs, for everyone: under the run's progress, where the table has room."""
        self.heading = gr.Markdown(elem_id="queue-heading")
        with gr.Column(visible=False, elem_id="queue-box") as self.table_box:
            self.table = gr.Dataframe(interactive=False, wrap=True, elem_id="queue-table", show_label=False,
                                      column_widths=["10%", "25%", "45%", "20%"])

    def build_controls(self, reply, teacher):
        """Withdraw, and the teacher's controls, under Start/Stop; ``reply`` is the Train tab's
        answer line, ``teacher`` its teacher state."""
        gr.api(self.run_queue, api_name="run_queue", concurrency_limit=4, concurrency_id="board_api")  # for scripts
        withdraw = gr.Button(T("train_queue.withdraw"), size="sm", elem_id="queue-withdraw")
        withdraw.click(self.withdraw, inputs=[teacher, self.tab.lang], outputs=reply, api_name="withdraw_run",
                       concurrency_limit=None)
        # The teacher's controls: shown on the teacher's page only (``TrainTab.teacher_view``)
        with gr.Column(visible=False, elem_id="queue-teacher") as self.teacher_box:
            gr.Markdown(T("train_queue.teacher_intro"))
            # any run id may come (a script's call): the callback looks it up in the queue
            self.picker = choices_change(gr.Dropdown([], label=T("train_queue.pick"), allow_custom_value=True,
                                                     elem_id="queue-pick"))
            with gr.Row():
                buttons = {action: gr.Button(T(f"train_queue.button_{action}"), size="sm",
                                             elem_id=f"queue-{action}".replace("_", "-"))
                           for action in ("first", "up", "down", "remove")}
            with gr.Row():
                buttons.update({action: gr.Button(T(f"train_queue.button_{action}"), size="sm",
                                                  elem_id=f"queue-{action}".replace("_", "-"))
                                for action in ("pause", "resume", "new_board")})
        for action, button in buttons.items():
            # Only flags and a list change: never queued behind anything
            button.click(functools.partial(self.teacher_action, action), inputs=[self.picker, teacher, self.tab.lang],
                         outputs=reply, api_name=f"queue_{action}", concurrency_limit=None)
