"""Checkpoints a class can find: each run names who trained it and its accuracy, runs stopped early
come after finished ones, and the list keeps each person's newest few (the rest behind "show
all", no file removed)."""

import json
import os

from classroom.catalog import PER_PERSON, CheckpointCatalog
from demo.i18n import localize
from demo.widgets import CheckpointPicker, label
from mobilenet.checkpoints import FORMAT


def fake_run(folder, name, who, minute, accuracy, stopped=False, teacher=False):
    """A run's checkpoint as the catalog reads it: its JSON (the weights are never opened)."""
    with open(os.path.join(folder, f"{name}.keras"), "wb"):
        pass
    record = {"format": FORMAT, "created": f"2026-12-06T10:{minute:02d}:00+00:00", "stopped": stopped,
              "model": {"variant": "cifar", "alpha": 0.25}, "metrics": {"test_accuracy": accuracy},
              "trained_by": who, "trained_by_teacher": teacher}
    with open(os.path.join(folder, f"{name}.json"), "w", encoding="utf-8") as f:
        json.dump(record, f)


def test_runs_name_their_trainer_and_the_list_stays_short(tmp_path):
    runs = tmp_path / "runs"
    runs.mkdir()
    for minute in range(5):  # Ann trained five times; the newest three are listed
        fake_run(runs, f"ann{minute}", "Ann", minute, 0.5 + minute / 100)
    fake_run(runs, "bob_stopped", "Bob", 30, 0.299, stopped=True)
    fake_run(runs, "bob", "Bob", 10, 0.58)
    fake_run(runs, "li", "王老师", 20, 0.6, teacher=True)
    catalog = CheckpointCatalog(str(tmp_path / "none"), str(runs))

    every = [entry.key for entry in catalog.entries()]
    assert every[-1] == "run/bob_stopped.keras"  # stopped early: after every finished run
    short = [entry.key for entry in catalog.listed()]
    assert short == ["run/li.keras", "run/bob.keras", "run/ann4.keras", "run/ann3.keras", "run/ann2.keras",
                     "run/bob_stopped.keras"]
    assert sum(key.startswith("run/ann") for key in short) == PER_PERSON
    assert [e.key for e in catalog.listed(keep="run/ann0.keras")][-2] == "run/ann0.keras"  # the picked one stays
    assert len(catalog.listed(show_all=True)) == 8 and len(os.listdir(runs)) == 16  # listing only

    names = {entry.key: localize(label(entry), "en") for entry in catalog.entries()}
    assert names["run/bob.keras"].startswith("trained here: cifar α 0.25 by Bob · test 58.0% · 2026-12-06 10:10")
    assert "by Bob · test 29.9%, stopped early" in names["run/bob_stopped.keras"]
    assert "by 王老师 🎓 · test 60.0%" in names["run/li.keras"]
    zh = localize(label(catalog.find("run/bob_stopped.keras")), "zh")
    assert "Bob 训练" in zh and "测试 29.9%，提前停止" in zh

    picker = CheckpointPicker(catalog)
    assert len(picker.choices("run/bob.keras", "en").choices) == 6
    assert len(picker.show_all("run/bob.keras", True, "zh").choices) == 8
