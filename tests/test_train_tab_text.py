"""The Train tab words the server's run (kept as data by ``classroom.runs``) in both languages: every
message translated, and every Markdown message rendering without stray marks."""

import asyncio
import threading
import time

import gradio as gr
import pytest

from i18n_support import stray_marks, untranslated
from tab_support import built_alone
from classroom.runs import (ACTIVE_STATES, NotYourRun, RunBusy, RunState, RunTooLong, Stage, StopOutcome, StopReply, TrainingRuns,
                       failure_reason)
from classroom.teacher import TeacherKey
from demo.i18n import TEXTS, t
from classroom.board_store import BoardStore
from classroom.class_queue import ClassQueue
from demo.tabs import Context
from demo.tabs.train import TrainTab
from demo.tabs.train_view import (CURVE_COLORS, data_message, default_run_values, progress_html, results_view,
                                  status_message, stop_reply)
from mobilenet.worker import describe_error

CONFIG = {"variant": "paper", "alpha": 1.0, "depth": "shallow", "epochs": 3, "batch_size": 128,
          "learning_rate": 0.01, "augmentation": False}
LATEST = {"epoch": 2, "epochs": 3, "global_step": 500, "images_per_sec": 1200.0}
METRICS = {"test_accuracy": 0.62, "validation_accuracy": 0.6, "test_images": 10000,
           "per_class_accuracy": {"cat": 0.4, "dog": 0.5}, "confusion_matrix": [[1] * 10] * 10}
# validated better with the mirror image: the app answers with flip TTA, and says so
FLIP_METRICS = {**METRICS, "validation_accuracy_tta": 0.63, "test_accuracy_tta": 0.655}
BASE = {"config": CONFIG, "started_by": "小明", "started_by_teacher": False, "checkpoint": "run.keras",
        "train_images": 35000, "elapsed_s": 75, "stage": None, "stage_split": None, "stopped_by": None,
        "stopped_by_teacher": False, "stopped_by_time_limit": False, "error": None, "metrics": None,
        "latest": LATEST, "total_steps": 822, "seconds_left": 20, "history": []}
RUNS = [None,
        {**BASE, "state": RunState.STARTING, "latest": None},
        {**BASE, "state": RunState.RUNNING},
        {**BASE, "state": RunState.RUNNING, "stage": Stage.BATCHNORM},
        {**BASE, "state": RunState.RUNNING, "stage": Stage.SWA},
        {**BASE, "state": RunState.RUNNING, "stage": Stage.EVALUATE, "stage_split": "test (float16 storage)"},
        {**BASE, "state": RunState.STOPPING, "stopped_by": "小红", "stage": Stage.EVALUATE, "stage_split": "test"},
        {**BASE, "state": RunState.STOPPING, "stopped_by": "李", "stopped_by_teacher": True},
        {**BASE, "state": RunState.STOPPING, "stage": Stage.SAVE, "stopped_by_time_limit": True},
        {**BASE, "state": RunState.FAILED, "error": failure_reason(describe_error(MemoryError()))},
        {**BASE, "state": RunState.FAILED, "error": failure_reason(describe_error(OSError(28, "No space left")))},
        {**BASE, "state": RunState.FAILED, "error": failure_reason(describe_error(OSError(5, "I/O error")))},
        {**BASE, "state": RunState.FAILED, "error": failure_reason(describe_error(ValueError("bad `x`")))},
        {**BASE, "state": RunState.FAILED, "error": failure_reason({"event": "exited", "exitcode": -9})},
        {**BASE, "state": RunState.FAILED, "error": failure_reason({"event": "exited", "exitcode": 1})},
        {**BASE, "state": RunState.STOPPED, "stopped_by_time_limit": True, "metrics": METRICS},
        {**BASE, "state": RunState.STOPPED, "stopped_by": "小红", "checkpoint": None,
         "error": {"reason": "no_answer_to_stop", "seconds": 5}},
        {**BASE, "state": RunState.STOPPED, "stopped_by": "小红", "checkpoint": None,
         "error": {"reason": "stopped_before_training"}},
        {**BASE, "state": RunState.STOPPED, "stopped_by": "小红", "metrics": METRICS},
        {**BASE, "state": RunState.FINISHED, "metrics": FLIP_METRICS},
        {**BASE, "state": RunState.FINISHED, "metrics": METRICS}]
DATA = [{"state": "unknown"}, {"state": "loading"}, {"state": "ready", "train": 50000, "test": 10000},
        {"state": "unavailable", "detail": "No CIFAR-10 at /data/cifar (set MOBILENET_CIFAR10)"}]
REPLIES = [StopReply(StopOutcome.NO_RUN), StopReply(StopOutcome.STOPPING, "小明"),
           StopReply(StopOutcome.SAVING, "*小明*")]


def markdown_messages(lang):
    """Every Markdown message the tab writes, in ``lang``."""
    texts = [status_message(run, lang) for run in RUNS] + [data_message(data, lang) for data in DATA]
    texts += [stop_reply(reply, lang) for reply in REPLIES]
    texts += [t("train.start.started", lang, who="小明"), t("train.teacher.signed_in", lang, badge="🎓"),
              results_view(RUNS[-1], lang)[1], t("train.intro", lang), t("train.default_run", lang,
                                                                          **default_run_values())]
    return texts


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_every_markdown_message_renders_without_stray_marks(lang):
    for text in markdown_messages(lang):
        assert stray_marks(text) == [], text


def test_train_tab_messages_in_chinese():
    texts = markdown_messages("zh") + [progress_html(run, "zh") for run in RUNS]
    for text in texts:
        assert untranslated(text) == [], text
    visible, summary, per_class, _ = results_view(RUNS[-1], "zh")
    assert visible and list(per_class["class"]) == ["猫", "狗"]
    assert "62.0%" in status_message(RUNS[-1], "zh") and "小明" in status_message(RUNS[-1], "zh")
    assert status_message(RUNS[-1], "en").startswith("The run by **小明** finished")
    assert "评估（测试集）" in status_message(RUNS[6], "zh") and "被 **时间上限** 停止" in status_message(RUNS[15], "zh")
    assert "训练进程被终止了" in status_message(RUNS[13], "zh") and "服务器内存不足" in status_message(RUNS[9], "zh")


def test_the_run_is_worded_from_its_data_in_english():
    assert "is finishing: evaluating on the test set" in status_message(RUNS[6])
    assert "Stop was pressed by **小红**" in status_message(RUNS[6])
    assert "Stop was pressed by **李 🎓**" in status_message(RUNS[7])
    teacher_run = {**RUNS[7], "started_by": "王老师", "started_by_teacher": True, "stopped_by": "王老师"}
    assert status_message(teacher_run, "zh").count("王老师 🎓") == 2  # the badge once per name, no word
    assert "🎓 老师" not in status_message(teacher_run, "zh") and "🎓 *" not in status_message(teacher_run)
    assert "finishing: saving the checkpoint" in status_message(RUNS[8]) and "the time limit" in status_message(RUNS[8])
    assert "evaluating on the test (float16 storage) set" in status_message(RUNS[5])
    assert status_message(RUNS[10]).endswith("the disk is full, so the checkpoint could not be saved (the checkpoints "
                                              "saved before are intact). Free some space on the server, then start "
                                              "again.")
    assert "could not be read or written (`I/O error`)" in status_message(RUNS[11])
    assert status_message(RUNS[12]).endswith("`ValueError: bad 'x'`")
    assert "ended unexpectedly (exit code 1)" in status_message(RUNS[14])
    assert "stopped by **the time limit** after 1:15. Validation accuracy: **60.0%**" in status_message(RUNS[15])
    assert status_message(RUNS[17]).endswith("stopped before training began; nothing was saved.")
    assert "Starting ..." in progress_html(RUNS[1])  # no step yet, and none after it ended before one
    assert "Ended before its first training step" in progress_html({**RUNS[17], "latest": None})
    assert "之前就结束了" in progress_html({**RUNS[9], "latest": None}, "zh")
    assert "about 0:20 left" not in progress_html(RUNS[3]) and "about 20 s left" in progress_html(RUNS[2])
    assert data_message(DATA[0]) == "" and "50,000 training" in data_message(DATA[2])
    assert data_message(DATA[3], "zh").endswith("`No CIFAR-10 at /data/cifar (set MOBILENET_CIFAR10)`")
    assert stop_reply(REPLIES[0]) == "No run is training right now." and "现在没有" in stop_reply(REPLIES[0], "zh")
    assert stop_reply(REPLIES[2]).startswith(r"The run started by \*小明\* is already saving")  # a name is text
    assert stop_reply(REPLIES[1], "zh").startswith("正在停止 小明 开始的训练")


def test_failures_and_refusals_are_data():
    assert failure_reason(describe_error(MemoryError())) == {"reason": "out_of_memory"}
    assert failure_reason({"event": "exited", "exitcode": -9}) == {"reason": "killed"}
    assert failure_reason(describe_error(OSError(5, "I/O error"))) == {"reason": "io", "detail": "I/O error"}
    assert failure_reason({"event": "exited", "exitcode": 1})["how"] == "exit code 1"
    for error in [run["error"] for run in RUNS if run and run["error"]]:
        assert f"train.failure.{error['reason']}" in TEXTS


def test_every_text_of_the_tab_has_both_languages():
    entries = {key: value for key, value in TEXTS.items() if key.startswith("train.")}
    assert len(entries) > 90
    assert {key for key, value in entries.items() if set(value) != {"en", "zh"}} == set()


def test_watch_answers_at_once_when_the_page_is_behind_and_waits_otherwise(tmp_path):
    runs = TrainingRuns(str(tmp_path), str(tmp_path / "no-data"))
    first = runs.watch()
    assert first["run"] is None and first["data"] == {"state": "unknown"}
    started = time.monotonic()
    assert runs.watch(first["version"] - 1, wait_s=5)["version"] == first["version"]  # behind: at once
    assert runs.watch(first["version"], wait_s=0)["version"] == first["version"]  # the page's poll
    assert time.monotonic() - started < 1
    threading.Timer(0.3, runs._set_data_status, kwargs={"state": "loading"}).start()
    changed = runs.watch(first["version"], wait_s=30)  # the stream: returns with the change
    assert changed["data"] == {"state": "loading"} and time.monotonic() - started < 10


@pytest.fixture
def tab(tmp_path):
    """The tab, built in a page of its own (with its language radio)."""
    runs = TrainingRuns(str(tmp_path), str(tmp_path / "no-data"))
    ctx = Context(catalog=None, runs=runs, teacher_key=TeacherKey(""), work=None,
                  queue=ClassQueue(runs, BoardStore(str(tmp_path)), max_length=40, max_minutes=60))
    return built_alone(TrainTab, ctx)[0]


def test_the_view_sends_everything_once_then_only_the_progress(tab):
    snapshot = tab.runs.snapshot()
    everything = tab.view(snapshot, None, "zh")
    # all but the reply under the buttons, cleared only when a run ended (``run_ended``)
    assert set(everything) == set(tab.view_outputs) - {tab.reply} and tab.relabel_outputs == tab.view_outputs
    assert set(tab.view(snapshot, None, "zh", run_ended=True)) == set(tab.view_outputs)
    assert everything[tab.status] == status_message(None, "zh")
    assert tab.relabel("zh")[tab.status] == everything[tab.status] and tab.relabel_inputs == {}
    unchanged = tab.view(snapshot, snapshot["version"], "zh")
    assert unchanged == {}  # no run: not even the progress bar moves
    assert isinstance(tab.advanced, gr.Column) and isinstance(tab.teacher, gr.State)


def test_stop_with_no_run_and_sign_in_without_a_key_answer_in_the_pages_language(tab):
    assert tab.stop_training("Ann", False, "zh") == "现在没有正在进行的训练。"
    with pytest.raises(gr.Error, match="这台服务器没有教师密钥"):
        asyncio.run(tab.sign_in("key", "zh"))
    with pytest.raises(gr.Error, match="Fill in the learning rate"):
        tab.start_training("Ann", "paper", 0.25, "shallow", 100, 1, 32, None, False, "classroom", None, False, "en")


@pytest.mark.parametrize("refusal, english, chinese", [
    (RunBusy("<b>Ann</b>", 75), "&lt;b&gt;Ann&lt;/b&gt; is training a model right now (about 1:15 left). Only one run",
     "&lt;b&gt;Ann&lt;/b&gt; 正在训练一个模型（大约还剩 1:15）"),
    (RunBusy("Ann", None), "Ann is training a model right now (just started)", "（刚刚开始）"),
    (RunTooLong(700, 600), "These settings would train for about 11:40 on this server, and a run may take at most "
     "10:00. Use fewer training images or epochs", "最多只能用 10:00"),
])
def test_refused_starts_say_why_in_the_pages_language(tab, monkeypatch, refusal, english, chinese):
    def refuse(*args, **kwargs):
        raise refusal

    monkeypatch.setattr(tab.ctx.queue, "submit", refuse)
    for lang, expected in (("en", english), ("zh", chinese)):
        with pytest.raises(gr.Error) as error:
            tab.start_training("Bob", "paper", 0.25, "shallow", 100, 1, 32, 0.01, False, "classroom", None, False, lang)
        assert expected in error.value.message and untranslated(error.value.title if lang == "zh" else "") == []


def test_stop_from_someone_else_says_who_can(tab, monkeypatch):
    def refuse(*args, **kwargs):
        raise NotYourRun("Ann")

    monkeypatch.setattr(tab.runs, "stop", refuse)
    with pytest.raises(gr.Error, match="Only Ann, who started this run, or the teacher can stop it"):
        tab.stop_training("Bob", False, "en")
    with pytest.raises(gr.Error, match="只有开始这次训练的 Ann 或老师可以停止它"):
        tab.stop_training("Bob", False, "zh")


def test_the_start_reply_is_cleared_when_the_run_ends(tab):
    """"Started. Ann's run is training…" under the buttons is stale once the run has ended (and
    a later refusal's badge would be drawn over it): the refresh clears it, not before, and only
    when told the run ended since the page last looked (``demo.ui.Page.refresh``)."""
    assert tab.reply.elem_id == "train-reply"
    base = tab.runs.snapshot()
    for run in RUNS[1:]:
        snapshot = {**base, "run": {**run, "seconds_left": None, "elapsed_s": 5}}
        shown = tab.view(snapshot, None, "en", run_ended=True)
        if run["state"] in ACTIVE_STATES:
            assert tab.reply not in shown
        else:
            assert shown[tab.reply] == ""
        assert tab.reply not in tab.view(snapshot, None, "en")  # a first look, a language change


def test_the_curves_have_no_empty_legend_and_their_epochs_do_not_overlap(tab):
    """The plots' labels name the colours; Gradio's legend showed only its title ("curve")."""
    for plot in tab.view_outputs[3:5]:
        assert isinstance(plot, gr.LinePlot) and plot.colors_in_legend == [] and plot.x_label_angle == -40
        assert plot.color_map == CURVE_COLORS


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_the_accuracy_on_screen_is_that_of_the_apps_answers(lang):
    """With flip TTA measured better, the run's accuracy is the flip figure and the text says so."""
    flipped, plain = RUNS[-2], RUNS[-1]
    assert "65.5%" in status_message(flipped, lang) and "62.0%" not in status_message(flipped, lang)
    assert t("train.status.with_flip", lang) in status_message(flipped, lang)
    assert "62.0%" in status_message(plain, lang) and t("train.status.with_flip", lang) not in status_message(plain, lang)
    summary = results_view(flipped, lang)[1]
    assert "65.5%" in summary and "62.0%" in summary  # the answers' figure, then the picture alone
    assert "62.0%" in results_view(plain, lang)[1] and "65.5%" not in results_view(plain, lang)[1]
