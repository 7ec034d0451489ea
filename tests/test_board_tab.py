"""The Class board tab words the board's rows (the row contract of ``classroom.board_store``) for
each viewer: the table, the groups of same settings with their spread, the scatter, the overlaid
curves, "try these settings" and the CSV, in both languages, names always as typed. Built without
a server, over a list-backed stand-in for the store."""

import os
import shutil
import statistics
import time
import uuid

import gradio as gr
import markdown_it
import pandas as pd
import pytest

from i18n_support import stray_marks, untranslated
from tab_support import built_alone
from demo.i18n import TEXTS, t
from demo.tabs import Context
from demo.tabs.board import BoardTab
from demo.tabs.board_view import (GROUP_COLUMNS, TABLE_COLUMNS, board_table, curves_frame, group_table, scatter_frame,
                                  settings_of, summary)

HOSTILE = ["**x**", "<img src=x onerror=alert(1)>", "[a](javascript:1)"]
SETTINGS = {"variant": "cifar", "alpha": 0.5, "depth": "shallow", "train_size": 5000, "epochs": 3, "batch_size": 128,
            "learning_rate": 0.002, "augmentation": True}
CURVE = [{"epoch": 1.0, "loss": 1.9, "accuracy": 0.3, "val_loss": 1.8, "val_accuracy": 0.35},
         {"epoch": 2.0, "loss": 1.5, "accuracy": 0.45, "val_loss": 1.5, "val_accuracy": 0.5}]
T0 = 1_750_000_000.0


def row(run_id, name, status="finished", accuracy=None, board_id=2, seed=0, teacher=False, tta=False,
        preset="classroom", curves=(), file_removed=False, **settings):
    """A board row as the store gives it (the row contract)."""
    done = status in ("finished", "stopped")
    return {"run_id": run_id, "board_id": board_id, "name": name, "teacher": teacher, "status": status,
            "preset": preset, "settings": {**SETTINGS, **settings}, "seed": seed,
            "test_accuracy": accuracy, "tta": tta, "seconds": 60.0 + run_id if done else None,
            "images_per_sec": 900.0 if done else None, "params": 215_000 if done else None,
            "mult_adds": 12_500_000 if done else None, "queued_at": T0 + 60 * run_id,
            "started_at": T0 + 60 * run_id + 5 if status != "waiting" else None,
            "finished_at": T0 + 60 * run_id + 65 if done else None, "checkpoint": f"run-{run_id}.keras" if done else None,
            "file_removed": file_removed, "curves": list(curves), "note": None}


# A dozen runs: three with the same settings (seeds 0, 1, 2), a hostile name of each kind, the
# teacher's, every state the board lists, and a withdrawn one it does not.
ROWS = [row(1, "Ann", accuracy=0.80, seed=0, curves=CURVE),
        row(2, "Bo", accuracy=0.82, seed=1, tta=True),
        row(3, "Cy", accuracy=0.84, seed=2, file_removed=True),
        row(4, HOSTILE[0], accuracy=0.70, alpha=1.0, curves=[{**point, "val_accuracy": None} for point in CURVE]),
        row(5, HOSTILE[1], accuracy=0.60, depth="full", epochs=1),
        row(6, HOSTILE[2], accuracy=0.75, preset="quick", train_size=2000),
        row(7, "王老师", accuracy=0.88, teacher=True, epochs=5),
        row(8, "Di", status="stopped", accuracy=0.40),
        row(9, "Ed", status="failed"),
        row(10, "Fa", status="interrupted"),
        row(11, "Gu", status="training"),
        row(12, "Hu", status="waiting"),
        row(13, "Ix", status="withdrawn")]


class ListBoard:
    """Test double of ``classroom.board_store.BoardStore``'s interface (rows, boards,
    current_board, csv, version) over lists of rows."""

    def __init__(self, rows_by_board, titles, current):
        self.rows_by_board, self.titles, self.current, self.version = rows_by_board, titles, current, 1
        self.recovered = None  # as a store that opened its file without damage

    def rows(self, board_id=None):
        return [dict(row) for row in self.rows_by_board.get(self.current if board_id is None else board_id, [])]

    def boards(self):
        return [{"board_id": board_id, "title": title, "started_at": T0 + board_id, "runs": len(self.rows(board_id))}
                for board_id, title in self.titles.items()]

    def current_board(self):
        return self.current

    def csv(self, board_id=None):
        return "run_id,name\n" + "".join(f"{row['run_id']},{row['name']}\n" for row in self.rows(board_id))


def board_tab(store):
    return built_alone(BoardTab, Context(catalog=None, runs=None, teacher_key=None, work=None, board=store))


@pytest.fixture
def store():
    old = [row(20, "Old", accuracy=0.5, board_id=1)]
    return ListBoard({1: old, 2: ROWS}, {1: "Monday", 2: "Tuesday <b>2</b>"}, current=2)


@pytest.fixture
def tab(store):
    """The tab over ``store``, writing its CSV files in a folder of Gradio's of its own."""
    tab = board_tab(store)[0]
    tab.csv_folder = os.path.join(tab.csv_folder, f"test-{uuid.uuid4().hex}")
    yield tab
    shutil.rmtree(tab.csv_folder, ignore_errors=True)


def keyed(styler, columns, lang="en"):
    """A shown table's frame under its data columns' names (``board_view``'s keys)."""
    return styler.data.rename(columns={t(text_id, lang): key for key, (text_id, _) in columns.items()})


def outputs_of(page, name):
    (event,) = [event for event in page.fns.values() if getattr(event.fn, "__name__", None) == name]
    return event.outputs


def test_the_table_lists_every_run_newest_first_with_its_status_in_words():
    frame = keyed(board_table(ROWS), TABLE_COLUMNS)
    assert list(frame["run_id"]) == [12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1]  # active first; no withdrawn run
    assert list(frame["status"][:6]) == ["waiting", "training", "interrupted", "failed", "stopped", "finished"]
    by_id = frame.set_index("run_id")
    assert by_id.loc[3, "status"] == "finished · file removed" and by_id.loc[7, "who"] == "王老师 🎓"
    assert by_id.loc[2, "tta"] == "TTA" and by_id.loc[1, "tta"] == ""
    assert by_id.loc[1, "accuracy"] == pytest.approx(80.0) and by_id.loc[1, "mult_adds"] == pytest.approx(12.5)
    assert by_id.loc[1, "settings"] == ("cifar α 0.5 shallow · 5,000 images × 3 epochs · batch 128 · lr 0.002"
                                        " · augmented")
    assert by_id.loc[6, "preset"] == "quick" and by_id.loc[12, "when"] != "" and pd.isna(by_id.loc[12, "seconds"])
    shown = board_table(ROWS, "zh").data
    assert list(shown.columns)[:4] == ["编号", "谁", "状态", "测试准确率（%）"] and shown["状态"].iloc[0] == "排队中"
    assert "文件已删除" in shown.set_index("编号").loc[3, "状态"]


def test_same_settings_are_one_group_with_mean_spread_and_best():
    frame = keyed(group_table(ROWS), GROUP_COLUMNS)
    three = frame[frame["runs"] == 3].iloc[0]
    assert three["mean"] == pytest.approx(82.0) and three["lowest"] == pytest.approx(80.0)
    assert three["spread"] == pytest.approx(statistics.pstdev([80.0, 82.0, 84.0]))  # 1.63: population
    assert three["best"] == pytest.approx(84.0)
    assert sorted(frame["runs"]) == [1, 1, 1, 1, 3]  # finished runs only (not the stopped one)
    assert list(frame["mean"]) == sorted(frame["mean"], reverse=True)
    assert "population standard deviation" in t("board.groups.label", "en")
    assert "总体标准差" in t("board.groups.label", "zh")


def test_the_scatter_plots_accuracy_against_cost_coloured_by_a_setting():
    frame, colours = scatter_frame(ROWS, "mult_adds", "alpha")
    assert len(frame) == 7 and set(frame["x"]) == {12.5}  # finished runs only, Mult-Adds in millions
    assert frame["accuracy"].max() == pytest.approx(88.0)
    assert list(colours) == ["0.5", "1"] and set(frame["colour"]) == {"0.5", "1"}
    frame, colours = scatter_frame(ROWS, "seconds", "epochs", "zh")
    assert sorted(frame["x"]) == [61.0 + i for i in range(7)] and list(colours) == ["1", "3", "5"]
    assert set(scatter_frame(ROWS, "mult_adds", "augmentation", "zh")[0]["colour"]) == {"开"}
    assert "王老师 🎓" in set(scatter_frame(ROWS, "mult_adds", "name")[0]["colour"])
    assert scatter_frame(ROWS[8:], "mult_adds", "variant") == (None, {})


def test_the_plots_label_their_axes_without_trailing_zeros(tab):
    """Vega's default labels a one-value axis "10.000000" (every run at 10 %, one epoch): the
    board's plots ask for d3's "~g" (10, 1.9)."""
    assert (tab.scatter.x_axis_format, tab.scatter.y_axis_format, tab.curves.x_axis_format) == ("~g", "~g", "~g")


def test_the_curves_overlay_the_picked_runs_validation_first():
    frame, colours = curves_frame(ROWS, [1, 4, 99, 12])
    assert list(colours) == ["#1 Ann", f"#4 {HOSTILE[0]}"]  # unknown and curveless runs left out
    ann = frame[frame["run"] == "#1 Ann"]
    assert list(ann["epoch"]) == [1.0, 2.0] and list(ann["accuracy"]) == pytest.approx([35.0, 50.0])  # validation
    assert list(frame[frame["run"] != "#1 Ann"]["accuracy"]) == pytest.approx([30.0, 45.0])  # training: no validation
    assert curves_frame(ROWS, []) == (None, {})


def test_hostile_names_stay_plain_text_everywhere(tab, store):
    shown = tab.show(lang="en")
    table = keyed(shown[tab.table], TABLE_COLUMNS)
    assert set(HOSTILE) <= set(table["who"])  # in a "str" column: shown as typed
    assert tab.table.datatype == "str" and tab.groups.datatype == "str"
    assert {f"#{i} {name}" for i, name in zip((4, 5, 6), HOSTILE)} <= set(scatter_frame(ROWS)[0]["run"])
    labels = [label for label, _ in shown[tab.chosen].choices]
    assert all(any(name in label for label in labels) for name in HOSTILE)
    renderer = markdown_it.MarkdownIt("commonmark", {"html": True})
    for run_id in (4, 5, 6):
        note = tab.try_these(0, run_id)[tab.try_note]
        html = renderer.render(note)
        assert "<img" not in html and "<a" not in html and html.count("<strong>") == 2  # the Train tab's and Start's
        assert HOSTILE[run_id - 4] in note.replace("\\", "")  # escaped, as typed
    title = renderer.render(shown[tab.summary])
    assert "<b>" not in title and "&lt;b&gt;2&lt;/b&gt;" in title  # the board's title is text too


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_every_text_of_the_tab_is_in_both_languages_and_renders_cleanly(tab, store, lang):
    entries = {key: value for key, value in TEXTS.items() if key.startswith("board.")}
    assert len(entries) > 60 and {key for key, value in entries.items() if set(value) != {"en", "zh"}} == set()
    shown = tab.show(lang=lang)
    markdown = [shown[tab.summary], tab.try_these(0, 7, lang)[tab.try_note], summary([], "Tuesday", lang)]
    assert [text for text in markdown if stray_marks(text)] == []
    # every word the tables, plots and pickers write, the people's and boards' names aside
    scatter, curves = tab.rescale_scatter(0, "mult_adds", "depth", lang), tab.rescale_curves(0, [1], lang)
    words = [*markdown, scatter.x_title, scatter.y_title, scatter.color_title, curves.x_title, curves.y_title,
             curves.color_title]
    for table, columns in ((shown[tab.table], TABLE_COLUMNS), (shown[tab.groups], GROUP_COLUMNS)):
        frame = keyed(table, columns, lang)
        words += [*table.data.columns, *frame.drop(columns="who", errors="ignore").select_dtypes(exclude="number")
                  .to_numpy().ravel()]
    words += [label.split(" · ", 1)[1] for label, _ in shown[tab.chosen].choices]
    if lang == "zh":
        assert {text for text in words if untranslated(str(text).replace("Tuesday", ""))} == set()


def test_try_these_settings_gives_the_runs_settings(tab, store):
    answer = tab.try_these(0, 6, "zh")
    assert answer[tab.try_settings] == settings_of(ROWS[5]) == {"preset": "quick", **SETTINGS, "train_size": 2000}
    assert set(answer[tab.try_settings]) == {"preset", "variant", "alpha", "depth", "train_size", "epochs",
                                             "batch_size", "learning_rate", "augmentation"}
    assert "训练页" in answer[tab.try_note].replace("*", "")
    for wrong in (None, 999, "6", [6]):
        with pytest.raises(gr.Error, match="Pick the run"):
            tab.try_these(0, wrong)
    assert tab.try_these(1, 20)[tab.try_settings]["preset"] == "classroom"  # an old board's run


def test_the_csv_download_is_the_stores_text_in_one_file_per_board(tab, store):
    path = tab.write_csv(0).value["path"]
    assert path == os.path.join(tab.csv_folder, "class-board-2.csv")  # served where it is: no copy per version
    with open(path, encoding="utf-8") as f:
        assert f.read() == store.csv()
    store.rows_by_board[2] = ROWS[:2]
    assert tab.write_csv(0).value["path"] == path  # the same file, rewritten
    with open(path, encoding="utf-8") as f:
        assert f.read() == store.csv()
    with open(tab.write_csv(1).value["path"], encoding="utf-8") as f:
        assert f.read() == store.csv(1)
    assert sorted(os.listdir(tab.csv_folder)) == ["class-board-1.csv", "class-board-2.csv"]  # bounded


@pytest.mark.parametrize("lang, words", [("en", "no runs yet"), ("zh", "还没有训练")])
def test_an_empty_board_says_so(lang, words):
    tab = board_tab(ListBoard({}, {3: "Wednesday"}, current=3))[0]
    shown = tab.show(lang=lang)
    assert words in shown[tab.summary] and "Wednesday" in shown[tab.summary]
    assert shown[tab.table].empty and list(shown[tab.table].columns)[1] == t("board.columns.who", lang)
    assert shown[tab.scatter].value is None and shown[tab.curves].value is None


def test_the_summary_counts_one_run_in_the_singular():
    from demo.tabs.board_view import summary

    assert summary([row(1, "Ann", status="stopped")], "Lesson 1") == "**Lesson 1**: 1 run (1 stopped)."
    assert summary([row(1, "Ann"), row(2, "Bo")], "Lesson 1").startswith("**Lesson 1**: 2 runs (")
    assert summary([row(1, "Ann", status="stopped")], "Lesson 1", "zh").startswith("**Lesson 1**：1 次训练（")


def test_the_view_follows_the_stores_version_and_each_viewers_pickers(store):
    tab, page = board_tab(store)
    assert tab.view(store.version, "en") == {}
    everything = tab.view(store.version - 1, "zh", board=0, x_axis="seconds", colour="name", picked=[2, 99],
                          chosen=7)
    assert set(everything) == set(tab.view_outputs) and set(everything) <= set(outputs_of(page, "show"))
    assert everything[tab.picked].value == [2] and everything[tab.chosen].value == 7
    scale = tab.rescale_scatter(0, "seconds", "name", "zh")  # once the scatter holds its points
    assert scale.x_title == "用时（秒）" and scale.color_title == "谁" and "王老师 🎓" in scale.color_map
    # nothing picked yet: the newest finished runs; values a page cannot have are ignored
    fresh = tab.view(None, "en", board="1; DROP", x_axis="z", colour=None, picked="all", chosen=[1])
    assert fresh[tab.picked].value == [4, 1] and fresh[tab.chosen].value is None  # those with a curve
    assert fresh[tab.board_picker].value == 0
    assert tab.rescale_scatter(0, "z", None).x_title == "Mult-Adds (millions)"
    assert list(tab.rescale_curves(0, [4, 1, "x"]).color_map) == [f"#4 {HOSTILE[0]}", "#1 Ann"]
    old = tab.view(None, "en", board=1)
    assert old[tab.board_picker].value == 1 and list(keyed(old[tab.table], TABLE_COLUMNS)["who"]) == ["Old"]
    monday = time.strftime("%Y-%m-%d %H:%M", time.localtime(T0 + 1))
    assert old[tab.board_picker].choices == [("Tuesday <b>2</b> · now · runs: 13", 0),
                                             (f"Monday · {monday} · runs: 1", 1)]
    relabelled = tab.relabel("zh", **{name: component.value for name, component in tab.relabel_inputs.items()})
    assert set(relabelled) == set(tab.relabel_outputs) and relabelled[tab.try_note] == ""
    assert set(tab.pick_board(1, "seconds", "depth", [], None)) <= set(outputs_of(page, "pick_board"))

