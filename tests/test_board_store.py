"""The class board's SQLite store (``classroom.board_store``): rows as the shared contract says,
the queue's order kept across a restart, a damaged file moved aside and the board rebuilt from
the runs' checkpoints. Real files in ``tmp_path``; no app, no TensorFlow."""

import csv
import datetime
import io
import json
import os
import sqlite3
import subprocess
import sys
import threading

import pytest

from classroom import board_file
from classroom.board_file import FILE_NAME
from classroom.board_store import BoardStore

# The board row, key for key, as the shared contract writes it (not imported: this is the check)
CONTRACT_KEYS = {"run_id", "board_id", "name", "teacher", "status", "preset", "settings", "seed",
                 "test_accuracy", "tta", "seconds", "images_per_sec", "params", "mult_adds", "queued_at",
                 "started_at", "finished_at", "checkpoint", "file_removed", "curves", "note"}
SETTINGS_KEYS = {"variant", "alpha", "depth", "train_size", "epochs", "batch_size", "learning_rate",
                 "augmentation"}
NOW = datetime.datetime(2026, 3, 2, 9, 30, 0).timestamp()


def test_the_store_loads_no_tensorflow():
    """It opens (and rebuilds) in the server's process before any worker loads TensorFlow, and
    its tests stay in the fast tier."""
    loaded = subprocess.run([sys.executable, "-c", "import sys, classroom.board_store; "
                             "print(sorted({'keras', 'tensorflow', 'mobilenet'} & set(sys.modules)))"],
                            capture_output=True, text=True, check=True, cwd=os.path.dirname(os.path.dirname(__file__)))
    assert loaded.stdout.strip() == "[]"


def settings(**changes):
    return {"variant": "cifar", "alpha": 0.25, "depth": "shallow", "train_size": 35000, "epochs": 1,
            "batch_size": 128, "learning_rate": 0.03, "augmentation": False, **changes}


def asked(name, status="waiting", **fields):
    return {"name": name, "status": status, "preset": "quick", "settings": settings(), **fields}


@pytest.fixture
def store(tmp_path):
    board = BoardStore(str(tmp_path), clock=lambda: NOW)
    yield board
    board.close()


def test_a_run_goes_in_and_comes_back_as_the_contracts_row(store):
    run_id = store.add_run(asked("王老师", "training", teacher=True, seed=3), owner="session-1",
                           address="10.0.0.7", spec={"recipe": "quick", "overrides": {"seed": 3}})
    curves = [{"epoch": 0.5, "loss": 2.1, "accuracy": 0.2, "val_loss": None, "val_accuracy": None},
              {"epoch": 1.0, "loss": 1.6, "accuracy": 0.4, "val_loss": 1.7, "val_accuracy": 0.38}]
    store.update_run(run_id, status="finished", test_accuracy=0.512, tta=True, seconds=31.5,
                     images_per_sec=1150.0, params=215_370, mult_adds=11_000_000, finished_at=NOW + 31.5,
                     checkpoint="20260302-093000_run1_cifar_a0.25.keras", curves=curves)

    row = store.row(run_id)
    assert set(row) == CONTRACT_KEYS and set(row["settings"]) == SETTINGS_KEYS
    assert row == {"run_id": run_id, "board_id": store.current_board(), "name": "王老师", "teacher": True,
                   "status": "finished", "preset": "quick", "settings": settings(), "seed": 3,
                   "test_accuracy": 0.512, "tta": True, "seconds": 31.5, "images_per_sec": 1150.0,
                   "params": 215_370, "mult_adds": 11_000_000, "queued_at": NOW, "started_at": NOW,
                   "finished_at": NOW + 31.5, "checkpoint": "20260302-093000_run1_cifar_a0.25.keras",
                   "file_removed": False, "curves": curves, "note": None}
    assert store.rows() == [row]
    json.dumps(store.rows())  # JSON-ready, as the API answers it


def test_rows_are_newest_first_and_never_say_who_owns_a_run(store):
    first = store.add_run(asked("Ana", "training"), owner="secret-session", address="10.0.0.1",
                          spec={"recipe": "quick"})
    second = store.add_run(asked("Bo"), owner="other-session", address="10.0.0.2", spec={"recipe": "quick"})
    rows = store.rows()
    assert [row["run_id"] for row in rows] == [second, first]
    for row in rows:
        assert set(row) == CONTRACT_KEYS
    shown = json.dumps(rows) + store.csv()
    for hidden in ("secret-session", "other-session", "10.0.0.1", "10.0.0.2", "recipe", "owner", "address"):
        assert hidden not in shown
    waiting = store.waiting()
    assert [(run["run_id"], run["owner"], run["address"], run["spec"]) for run in waiting] == \
        [(second, "other-session", "10.0.0.2", {"recipe": "quick"})]


def test_bad_fields_are_refused_with_the_value(store):
    with pytest.raises(ValueError, match="owner"):
        store.add_run({**asked("Ana"), "owner": "x"})
    with pytest.raises(ValueError, match="finished"):
        store.add_run(asked("Ana", "finished"))
    with pytest.raises(ValueError, match="preset"):
        store.add_run({"name": "Ana", "status": "waiting", "settings": settings()})
    with pytest.raises(ValueError, match="cutout"):
        store.add_run(asked("Ana", settings=settings(cutout=8)))
    run_id = store.add_run(asked("Ana"))
    with pytest.raises(ValueError, match="done"):
        store.update_run(run_id, status="done")
    with pytest.raises(ValueError, match="board_id"):
        store.update_run(run_id, board_id=7)
    with pytest.raises(KeyError):
        store.update_run(run_id + 1, status="finished")
    with pytest.raises(KeyError):
        store.row(run_id + 1)
    with pytest.raises(KeyError):
        store.rows(board_id=99)


def test_wal_mode_is_on(store):
    store.add_run(asked("Ana"))
    other = sqlite3.connect(store.path)
    try:
        assert other.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert other.execute("PRAGMA user_version").fetchone()[0] == 1
    finally:
        other.close()
    assert os.path.exists(store.path + "-wal")


def test_a_restart_keeps_the_rows_and_the_queues_order(tmp_path):
    store = BoardStore(str(tmp_path))
    trained = store.add_run(asked("Ana", "training"))
    store.update_run(trained, status="finished", test_accuracy=0.5)
    queue = [store.add_run(asked(name), owner=f"session-{name}", spec={"recipe": "quick"})
             for name in ("Bo", "Chen", "Dana")]
    store.set_places([queue[2], queue[0]])
    rows = store.rows()
    store.close()

    again = BoardStore(str(tmp_path))
    try:
        assert again.rows() == rows
        assert [run["run_id"] for run in again.waiting()] == [queue[2], queue[0], queue[1]]
        assert again.waiting()[0]["owner"] == "session-Dana"
        assert again.recovered is None
    finally:
        again.close()


def test_the_queue_moves_as_runs_start_withdraw_and_are_put_first(store):
    ana, bo, chen = (store.add_run(asked(name)) for name in ("Ana", "Bo", "Chen"))
    store.update_run(ana, status="training")
    store.update_run(bo, status="withdrawn")
    dana = store.add_run(asked("Dana"))
    assert [run["run_id"] for run in store.waiting()] == [chen, dana]
    store.set_places([dana])
    assert [run["run_id"] for run in store.waiting()] == [dana, chen]
    for not_waiting in ([ana], [dana, dana], [dana + 1]):
        with pytest.raises(ValueError, match="waiting"):
            store.set_places(not_waiting)
    store.update_run(ana, status="waiting")  # put back: last
    assert [run["run_id"] for run in store.waiting()] == [dana, chen, ana]


def test_a_restart_marks_the_run_that_was_training_as_interrupted(tmp_path):
    store = BoardStore(str(tmp_path))
    training = store.add_run(asked("Ana", "training"))
    waiting = store.add_run(asked("Bo"))
    store.close()  # the server stopped mid-run

    again = BoardStore(str(tmp_path))
    try:
        assert again.mark_interrupted() == [training]
        assert (again.row(training)["status"], again.row(training)["note"]) == ("interrupted", "server_restarted")
        assert [run["run_id"] for run in again.waiting()] == [waiting]
        assert again.mark_interrupted() == []
    finally:
        again.close()


def test_a_new_board_keeps_the_old_one_and_its_csv(store):
    old_board = store.current_board()
    finished = store.add_run(asked("Ana", "training"))
    store.update_run(finished, status="finished", test_accuracy=0.61)
    waiting = store.add_run(asked("Bo"))
    old_csv = store.csv()

    new_board = store.new_board("3B, Thursday")
    assert new_board != old_board and store.current_board() == new_board
    assert [row["run_id"] for row in store.rows(old_board)] == [finished]
    assert [row["run_id"] for row in store.rows()] == [waiting]  # it trains in the new lesson
    assert "Bo" not in store.csv(old_board) and "Ana" in store.csv(old_board)
    assert store.csv(old_board).splitlines()[1] == old_csv.splitlines()[2]
    assert store.boards() == [{"board_id": new_board, "title": "3B, Thursday", "started_at": NOW, "runs": 1},
                              {"board_id": old_board, "title": None, "started_at": NOW, "runs": 1}]
    with pytest.raises(ValueError, match="title"):
        store.new_board(title=3)


def test_the_csv_has_the_settings_as_columns_and_no_formulas(store):
    names = ["=HYPERLINK(\"http://x\")", "+1", "-1+2", "@SUM(A1)", "\tTab", "\rReturn", "Ana", "王老师"]
    for name in names:
        store.add_run(asked(name, note="=1+1" if name == "Ana" else None, seed=-1))
    table = list(csv.DictReader(io.StringIO(store.csv())))
    assert list(table[0]) == ["run_id", "board_id", "name", "teacher", "status", "preset", "variant", "alpha",
                              "depth", "train_size", "epochs", "batch_size", "learning_rate", "augmentation",
                              "seed", "test_accuracy", "tta", "seconds", "images_per_sec", "params", "mult_adds",
                              "queued_at", "started_at", "finished_at", "checkpoint", "file_removed", "note"]
    assert [line["name"] for line in reversed(table)] == \
        ["'=HYPERLINK(\"http://x\")", "'+1", "'-1+2", "'@SUM(A1)", "'\tTab", "'\rReturn", "Ana", "王老师"]
    assert [line["note"] for line in table if line["name"] == "Ana"] == ["'=1+1"]
    assert {line["seed"] for line in table} == {"-1"}  # a number is not text: no quote
    assert {(line["variant"], line["alpha"], line["train_size"]) for line in table} == {("cifar", "0.25", "35000")}


def test_removed_files_keep_their_rows(store):
    kept, removed = (store.add_run(asked(name, "training")) for name in ("Ana", "Bo"))
    for run_id in (kept, removed):
        store.update_run(run_id, status="finished", test_accuracy=0.5, checkpoint=f"run{run_id}.keras")
    store.mark_files_removed([f"run{removed}.keras", "never-on-the-board.keras"])
    assert store.row(removed)["file_removed"] and store.row(removed)["test_accuracy"] == 0.5
    assert not store.row(kept)["file_removed"]


def test_the_version_moves_on_every_change_and_only_then(store):
    versions = [store.version]
    run_id = store.add_run(asked("Ana"))
    waiting = store.add_run(asked("Bo"))
    for change in (lambda: store.set_places([waiting]), lambda: store.update_run(run_id, status="training"),
                   lambda: store.update_run(run_id, checkpoint="x.keras"), lambda: store.new_board(),
                   lambda: store.mark_interrupted(), lambda: store.mark_files_removed(["x.keras"])):
        versions.append(store.version)
        change()
    versions.append(store.version)
    assert versions == sorted(set(versions))
    seen = store.version
    store.rows(), store.waiting(), store.csv(), store.boards()
    store.mark_interrupted()  # nothing left training
    store.mark_files_removed(["x.keras"])  # already marked
    store.set_places([waiting])  # already first
    store.update_run(run_id)
    assert store.version == seen


def test_two_threads_write_at_once(store):
    errors = []

    def student(name):
        try:
            for step in range(40):
                run_id = store.add_run(asked(f"{name}{step}"), owner=name)
                store.update_run(run_id, status="finished", test_accuracy=step / 40)
                store.rows()
        except Exception as error:  # reported below, with the thread's name
            errors.append((name, error))

    threads = [threading.Thread(target=student, args=(name,)) for name in ("Ana", "Bo")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    rows = store.rows()
    assert len(rows) == len({row["run_id"] for row in rows}) == 80
    assert {row["status"] for row in rows} == {"finished"}


# -- a damaged file -----------------------------------------------------------------------
def write_checkpoint(folder, stem, record):
    with open(os.path.join(folder, f"{stem}.json"), "w", encoding="utf-8") as f:
        json.dump(record, f, ensure_ascii=False)
    with open(os.path.join(folder, f"{stem}.keras"), "wb") as f:
        f.write(b"weights")


def checkpoint_record(config, metrics, **rest):
    return {"format": "mobilenet-lab-checkpoint/1", "train_config": config, "metrics": metrics,
            "dataset": {"train_images_used": 49000},
            "history": [{"epoch": 1, "loss": 2.0, "accuracy": 0.3, "images_per_sec": 900.0,
                         "val_loss": 1.9, "val_accuracy": 0.33},
                        {"epoch": 2, "loss": 1.5, "accuracy": 0.45, "images_per_sec": 1100.0,
                         "val_loss": 1.4, "val_accuracy": 0.5}], **rest}


@pytest.fixture
def runs_dir(tmp_path):
    """A runs folder with two runs' checkpoints, and JSON that is no run's."""
    folder = str(tmp_path)
    config = {"variant": "cifar", "alpha": 0.25, "depth": "shallow", "train_size": None, "epochs": 2,
              "batch_size": 128, "learning_rate": 0.03, "augmentation": False, "seed": 0}
    write_checkpoint(folder, "20260302-090000_run1_cifar_a0.25", checkpoint_record(
        config, {"validation_accuracy": 0.6, "validation_accuracy_tta": 0.62, "test_accuracy": 0.64,
                 "test_accuracy_tta": 0.66},
        created="2026-03-02T09:01:10+00:00", duration_s=70.0, stopped=False, trained_by="王老师",
        trained_by_teacher=True, run_spec={"recipe": "classroom", "overrides": {}, "devices": None}))
    write_checkpoint(folder, "20260302-091000_run2_cifar_a0.5", checkpoint_record(
        {**config, "alpha": 0.5, "train_size": 35000, "seed": 4}, {"test_accuracy": 0.41},
        created="2026-03-02T09:11:00+00:00", duration_s=20.0, stopped=True, trained_by="=Bo",
        run_spec={"recipe": "quick", "overrides": {"alpha": 0.5, "seed": 4}, "devices": None}))
    write_checkpoint(folder, "notes", {"format": "something else"})
    with open(os.path.join(folder, "broken.json"), "w") as f:
        f.write("{not json")
    with open(os.path.join(folder, "half-saved.json"), "w") as f:  # no .keras beside it
        json.dump(checkpoint_record(config, {"test_accuracy": 0.1}, created="2026-03-02T09:20:00+00:00"), f)
    return folder


def random_bytes(path):
    with open(path, "wb") as f:
        f.write(os.urandom(8192))


def truncated(path):
    filled = BoardStore(os.path.dirname(path))
    for step in range(30):
        filled.add_run(asked("x" * 500 + str(step)))
    filled.close()
    with open(path, "r+b") as f:
        f.truncate(os.path.getsize(path) // 2)


def changed_by_hand(path, statement):
    BoardStore(os.path.dirname(path)).close()
    db = sqlite3.connect(path, isolation_level=None)
    try:
        db.execute(statement)
    finally:
        db.close()


def from_a_newer_version(path):
    changed_by_hand(path, "PRAGMA user_version = 2")


def without_its_runs_table(path):
    changed_by_hand(path, "DROP TABLE runs")


@pytest.mark.parametrize("damage", [random_bytes, truncated, from_a_newer_version, without_its_runs_table])
def test_a_damaged_file_is_moved_aside_and_the_board_rebuilt(runs_dir, damage, caplog):
    path = os.path.join(runs_dir, FILE_NAME)
    damage(path)
    with open(path, "rb") as f:
        damaged = f.read()
    store = BoardStore(runs_dir, clock=lambda: NOW)
    try:
        moved_to = "class_board.damaged-20260302-093000.sqlite3"
        assert store.recovered["moved_to"] == moved_to and store.recovered["rebuilt_runs"] == 2
        assert store.recovered["reason"]
        with open(os.path.join(runs_dir, moved_to), "rb") as f:
            assert f.read() == damaged  # never lost
        assert moved_to in caplog.text
        ana, bo = reversed(store.rows())
    finally:
        store.close()
    assert (ana["name"], ana["teacher"], ana["status"], ana["preset"]) == ("王老师", True, "finished", "classroom")
    assert ana["settings"] == settings(train_size=49000, epochs=2)
    assert (ana["test_accuracy"], ana["tta"], ana["seed"]) == (0.66, True, 0)  # flip helped on validation
    assert (ana["seconds"], ana["images_per_sec"], ana["params"], ana["mult_adds"]) == (70.0, 1100.0, None, None)
    finished = datetime.datetime(2026, 3, 2, 9, 1, 10, tzinfo=datetime.timezone.utc).timestamp()
    assert (ana["finished_at"], ana["started_at"]) == (finished, finished - 70.0)
    assert ana["checkpoint"] == "20260302-090000_run1_cifar_a0.25.keras" and not ana["file_removed"]
    assert [point["val_accuracy"] for point in ana["curves"]] == [0.33, 0.5]
    assert (bo["name"], bo["status"], bo["preset"], bo["settings"]["alpha"], bo["settings"]["train_size"]) == \
        ("=Bo", "stopped", "quick", 0.5, 35000)
    assert (bo["test_accuracy"], bo["tta"], bo["seed"]) == (0.41, False, 4)

    again = BoardStore(runs_dir)  # the fresh file is a good one
    try:
        assert again.recovered is None and len(again.rows()) == 2
    finally:
        again.close()


def test_a_second_damage_in_the_same_second_keeps_both_files(runs_dir):
    path = os.path.join(runs_dir, FILE_NAME)
    moved = []
    for _ in range(2):
        random_bytes(path)
        store = BoardStore(runs_dir, clock=lambda: NOW)
        moved.append(store.recovered["moved_to"])
        store.close()
    assert moved == ["class_board.damaged-20260302-093000.sqlite3", "class_board.damaged-20260302-093000-2.sqlite3"]
    assert all(os.path.exists(os.path.join(runs_dir, name)) for name in moved)


def test_a_busy_file_is_not_taken_for_a_damaged_one(tmp_path, monkeypatch):
    BoardStore(str(tmp_path)).close()
    holder = sqlite3.connect(str(tmp_path / FILE_NAME), isolation_level=None)  # a backup, a shell
    try:
        holder.execute("PRAGMA locking_mode = EXCLUSIVE")
        holder.execute("BEGIN EXCLUSIVE")
        monkeypatch.setattr(board_file, "BUSY_TIMEOUT_MS", 50)
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            BoardStore(str(tmp_path))
    finally:
        holder.close()
    assert not [name for name in os.listdir(tmp_path) if "damaged" in name]


def test_a_run_that_never_trained_can_be_forgotten_and_only_such_a_run(store):
    waiting, training = store.add_run(asked("Ann")), store.add_run(asked("Bo", status="training"))
    store.forget_waiting(waiting)
    assert [row["run_id"] for row in store.rows()] == [training] and store.waiting() == []
    for run_id in (waiting, training):  # gone, or trained: the board keeps what was trained
        with pytest.raises(KeyError):
            store.forget_waiting(run_id)
    assert [row["run_id"] for row in store.rows()] == [training]
