"""The class's runs through the running app: a Start while a run trains waits its turn (fair, one
per browser tab, capped), every run ends on the class board, only the teacher reorders or removes
another's run, and the board and the queue survive a restart of the server (a damaged database is
moved aside and the board rebuilt from the checkpoints).

Each ``gradio_client.Client`` is its own session, as each browser tab is; all come from one
address, as a class behind a school router does.
"""

import os
import time

import pytest
from gradio_client.exceptions import AppError

from app_server import running_app, wait_until_ended
from classroom.settings import Settings
from loopback_client import api_client

pytestmark = pytest.mark.slow  # the tiers: docs/TESTS.md

KEY = "the teacher key of the class queue's tests"
TINY_RUN = {"variant": "paper", "alpha": 0.25, "depth": "shallow", "train_images": 100, "epochs": 1,
            "batch_size": 32, "learning_rate": 0.01, "augmentation": False}
# Long enough to still be training while the others queue (the tiny data: 300 pictures)
LONG_RUN = {**TINY_RUN, "variant": "cifar", "alpha": 0.5, "depth": "full", "train_images": 300, "epochs": 30,
            "batch_size": 16}


def start(client, name, **run):
    return client.predict(name=name, **{**TINY_RUN, **run}, api_name="/start_training")


def error_of(call):
    with pytest.raises(AppError) as error:
        call()
    return str(error.value)


def board(client):
    return client.predict(api_name="/class_board")


def waiting(client):
    return client.predict(api_name="/run_queue")["waiting"]


def wait_for(condition, timeout=240, what="the board"):
    deadline = time.monotonic() + timeout
    while not (value := condition()):
        assert time.monotonic() < deadline, f"{what} did not get there in {timeout} s"
        time.sleep(0.5)
    return value


def as_teacher(url):
    teacher = api_client(url)
    assert "You are the teacher" in teacher.predict(KEY, api_name="/teacher_sign_in")[0]
    return teacher


@pytest.fixture(scope="module")
def class_app(tiny_cifar, tmp_path_factory):
    """One app for the module, the next run's worker loaded as served (each test leaves the queue
    empty and resumed, and no run training)."""
    with running_app(str(tmp_path_factory.mktemp("queue")), tiny_cifar[1], standby=True, keep_runs=1,
                     settings=Settings(teacher_key=KEY, queue_length=6)) as app:
        yield app


def test_two_students_queue_while_a_third_trains_and_all_three_end_on_the_board(class_app):
    ann, bob, cleo = (api_client(class_app[0]) for _ in range(3))
    assert start(ann, "Ann", **LONG_RUN).startswith("Started")
    assert "place 1" in start(bob, "Bob")
    assert "place 2" in start(cleo, "Cleo")
    shown = waiting(ann)
    assert [(item["name"], item["place"]) for item in shown] == [("Bob", 1), ("Cleo", 2)]
    assert shown[0]["start_in_s"] < shown[1]["start_in_s"]
    assert "owner" not in str(shown) and ann.session_hash not in str(shown)
    # Ann's long run is stopped by Ann: the next starts by itself
    assert ann.predict("Ann", api_name="/stop_training").startswith("Stopping")
    def ended():
        rows = [row for row in board(ann) if row["status"] in ("finished", "stopped")]
        return rows if len(rows) == 3 else None
    rows = wait_for(ended)
    gaps = sorted(rows, key=lambda row: row["started_at"])
    # the next run starts as the last one ends (a standby worker ready)
    assert all(later["started_at"] - earlier["finished_at"] < 3 for earlier, later in zip(gaps, gaps[1:]))
    by_name = {row["name"]: row for row in rows}
    assert by_name["Ann"]["status"] == "stopped" and by_name["Bob"]["status"] == "finished"
    # the disk budget (one run checkpoint kept here): the older file goes, its row stays
    assert by_name["Bob"]["file_removed"] and by_name["Bob"]["checkpoint"] and by_name["Bob"]["test_accuracy"] is not None
    assert not by_name["Cleo"]["file_removed"] and os.path.exists(os.path.join(class_app[2], by_name["Cleo"]["checkpoint"]))
    assert by_name["Ann"]["started_at"] < by_name["Bob"]["started_at"] < by_name["Cleo"]["started_at"]
    for row in (by_name["Bob"], by_name["Cleo"]):
        assert 0 <= row["test_accuracy"] <= 1 and row["seconds"] > 0 and row["params"] > 0 and row["mult_adds"] > 0
        assert row["settings"]["epochs"] == 1 and row["settings"]["train_size"] == 100 and row["preset"] == "classroom"
    assert waiting(ann) == []
    wait_until_ended(class_app.runs)


def test_only_the_teacher_reorders_or_removes_another_students_run(class_app):
    teacher = as_teacher(class_app[0])
    bob, cleo, dan = (api_client(class_app[0]) for _ in range(3))
    assert "paused" in teacher.predict(None, api_name="/queue_pause")
    for client, name in ((bob, "Bob"), (cleo, "Cleo"), (dan, "Dan")):
        assert "The teacher has paused the queue, so your run waits" in start(client, name)
    ids = {item["name"]: str(item["run_id"]) for item in waiting(bob)}
    for action in ("remove", "first", "up", "down", "pause", "resume", "new_board"):
        assert "Only the teacher" in error_of(lambda: bob.predict(ids["Cleo"], api_name=f"/queue_{action}"))
    assert [item["name"] for item in waiting(bob)] == ["Bob", "Cleo", "Dan"]
    # a student withdraws their own run, and a new Start replaces their waiting one in its place
    assert "replaced your earlier waiting run" in start(cleo, "Cleo", epochs=2)
    assert [(item["name"], item["settings"]["epochs"]) for item in waiting(bob)] == [
        ("Bob", 1), ("Cleo", 2), ("Dan", 1)]
    assert bob.predict(api_name="/withdraw_run") == "Your waiting run was withdrawn."
    assert bob.predict(api_name="/withdraw_run") == "You have no run waiting."
    ids = {item["name"]: str(item["run_id"]) for item in waiting(bob)}
    assert "now first" in teacher.predict(ids["Dan"], api_name="/queue_first")
    assert [item["name"] for item in waiting(bob)] == ["Dan", "Cleo"]
    assert "removed" in teacher.predict(ids["Cleo"], api_name="/queue_remove")
    assert "still waiting" in error_of(lambda: teacher.predict(ids["Cleo"], api_name="/queue_up"))
    for hostile in ("not a run", "²", "-1", "9" * 15):  # a script's values: a message, never a traceback
        assert "still waiting" in error_of(lambda: teacher.predict(hostile, api_name="/queue_up"))
    # (a value too long for any choice is refused at the door, by the checks every event goes through)
    assert "is not one of the choices" in error_of(lambda: teacher.predict("9" * 5000, api_name="/queue_up"))
    # runs that never trained leave nothing on the board (a Start/Withdraw loop adds no rows)
    assert {row["run_id"] for row in board(bob)} & {int(ids["Cleo"])} == set()
    rows_before = len(board(bob))
    for _ in range(5):
        start(bob, "Bob")
        bob.predict(api_name="/withdraw_run")
    assert len(board(bob)) == rows_before
    assert "removed" in teacher.predict(ids["Dan"], api_name="/queue_remove")
    assert "goes on" in teacher.predict(None, api_name="/queue_resume")
    assert waiting(bob) == [] and class_app.runs.current is None


def test_the_queues_caps_hold_under_a_flood(class_app):
    teacher = as_teacher(class_app[0])
    teacher.predict(None, api_name="/queue_pause")
    students = [api_client(class_app[0]) for _ in range(9)]
    answers = []
    for i, client in enumerate(students):
        try:
            answers.append(start(client, f"S{i}"))
        except AppError as refused:
            answers.append(str(refused))
    assert sum("paused the queue, so your run waits" in answer for answer in answers) == 6
    assert sum("6 runs are already waiting" in answer for answer in answers) == 3
    # one tab pressing Start again and again keeps one place
    for _ in range(5):
        start(students[0], "S0")
    assert len(waiting(teacher)) == 6 and [item["name"] for item in waiting(teacher)].count("S0") == 1
    for item in waiting(teacher):
        teacher.predict(str(item["run_id"]), api_name="/queue_remove")
    teacher.predict(None, api_name="/queue_resume")
    assert waiting(teacher) == []


def test_the_board_and_the_queue_survive_a_restart_and_a_damaged_database(tiny_cifar, tmp_path):
    settings = Settings(teacher_key=KEY)
    with running_app(str(tmp_path), tiny_cifar[1], settings=settings) as app:
        ann, bob = api_client(app[0]), api_client(app[0])
        assert start(ann, "Ann").startswith("Started")
        wait_until_ended(app.runs)
        assert start(ann, "Ann", **LONG_RUN).startswith("Started")
        assert "place 1" in start(bob, "Bob")
        wait_for(lambda: app.runs.current is not None and app.runs.current.state == "running", what="the run")
        before = {row["run_id"]: row for row in board(ann)}
    runs_dir = app[2]
    # Bob's run waited, the teacher had not paused: it starts by itself after the restart
    with running_app(str(tmp_path), tiny_cifar[1], settings=settings) as app:
        client = api_client(app[0])
        after = {row["run_id"]: row for row in board(client)}
        assert set(after) == set(before)
        ann_long = next(row for row in after.values() if row["name"] == "Ann" and row["settings"]["epochs"] == 30)
        assert ann_long["status"] == "interrupted" and ann_long["note"] == "server_stopped"
        finished = next(row for row in after.values() if row["status"] == "finished")
        assert finished == before[finished["run_id"]]
        bob_row = wait_for(lambda: next((row for row in board(client) if row["name"] == "Bob"
                                         and row["status"] in ("finished", "failed")), None), what="Bob's run")
        assert bob_row["status"] == "finished"
        wait_until_ended(app.runs)
    with open(os.path.join(runs_dir, "class_board.sqlite3"), "wb") as f:
        f.write(b"not a database " * 100)
    with running_app(str(tmp_path), tiny_cifar[1], settings=settings) as app:
        client = api_client(app[0])
        rebuilt = board(client)
        assert sorted(row["name"] for row in rebuilt if row["status"] == "finished") == ["Ann", "Bob"]
        assert any(name.startswith("class_board.damaged-") for name in os.listdir(runs_dir))
        assert app.demo.board_store.recovered["rebuilt_runs"] == 2
        # the board says so, in the page's language
        board_tab = next(tab for tab in app.demo.app_tabs if tab.tab_id == "board")
        assert "database file was damaged" in board_tab.show(lang="en")[board_tab.summary]
        assert "数据库文件已损坏" in board_tab.show(lang="zh")[board_tab.summary]
