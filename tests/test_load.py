"""Many at once: Start clicked twice at the same moment, and the load script on tiny data."""

import importlib.util
import os
import threading

import pytest
from gradio_client import handle_file
from gradio_client.exceptions import AppError

from app_server import running_app
from classroom.runs import RunBusy, TrainingRuns
from mobilenet.train import TrainConfig
from mobilenet.run_spec import RunSpec
from loopback_client import api_client

pytestmark = pytest.mark.slow  # the tiers: docs/TESTS.md

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PHOTO = os.path.join(ROOT, "demo", "examples", "photo_coffee.jpg")
TINY_RUN = {"variant": "paper", "alpha": 0.25, "depth": "shallow", "train_images": 200, "epochs": 1,
            "batch_size": 32, "learning_rate": 0.01, "augmentation": False}


def load_script():
    spec = importlib.util.spec_from_file_location("load_test", os.path.join(ROOT, "scripts", "load_test.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def at_once(calls):
    """Runs the calls in threads released together; returns each one's result or exception."""
    barrier, outcomes = threading.Barrier(len(calls)), [None] * len(calls)

    def run(i, call):
        barrier.wait()
        try:
            outcomes[i] = call()
        except Exception as error:
            outcomes[i] = error

    threads = [threading.Thread(target=run, args=(i, call)) for i, call in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    return outcomes


def test_starts_at_the_same_moment_make_exactly_one_run(tiny_cifar, tmp_path):
    runs = TrainingRuns(str(tmp_path), tiny_cifar[1])
    config = TrainConfig(alpha=0.25, epochs=1, batch_size=32, train_size=100, validation_size=20)
    outcomes = at_once([lambda i=i: runs.start(RunSpec.of(config), f"student {i}") for i in range(8)])
    assert sum(isinstance(o, int) for o in outcomes) == 1
    assert sum(isinstance(o, RunBusy) for o in outcomes) == 7
    while runs.snapshot()["run"]["state"] in ("starting", "running", "stopping"):
        threading.Event().wait(0.2)
    assert runs.snapshot()["run"]["state"] == "finished"
    assert len([n for n in os.listdir(tmp_path) if n.endswith(".keras")]) == 1


def test_two_start_clicks_through_the_app_make_exactly_one_run(tiny_cifar, tiny_checkpoint, tmp_path):
    with running_app(str(tmp_path), tiny_cifar[1], tiny_checkpoint) as (url, _, runs_dir):
        ann, bob = api_client(url), api_client(url)  # two browser sessions
        clicks = [lambda: ann.predict(name="Ann", **TINY_RUN, api_name="/start_training"),
                  lambda: ann.predict(name="Ann", **TINY_RUN, api_name="/start_training"),  # double click
                  lambda: bob.predict(name="Bob", **TINY_RUN, api_name="/start_training")]
        outcomes = at_once(clicks)
        started = [o for o in outcomes if isinstance(o, str) and o.startswith("Started")]
        queued = [o for o in outcomes if isinstance(o, str) and "waits in the queue" in o]
        assert len(started) == 1 and len(queued) == 2, outcomes  # one trains; the others wait their turn
        for client in (ann, bob):  # whoever waits withdraws (the queue's own tests: tests/test_class_queue.py)
            client.predict(api_name="/withdraw_run")
        assert ann.predict(api_name="/run_queue")["waiting"] == []
        job = ann.submit(api_name="/watch_training")
        job.result(timeout=180)
        run = job.outputs()[-1]["run"]
        assert run["state"] == "finished"
        assert len([n for n in os.listdir(runs_dir) if n.endswith(".keras")]) == 1
        key = f"run/{os.path.basename(run['checkpoint'])}"  # waits for the app's own load of it
        assert len(bob.predict(handle_file(PHOTO), key, api_name="/classify")[0]["confidences"]) == 5


def test_the_load_script_reports_latency_without_errors(tiny_cifar, tiny_checkpoint, tmp_path):
    from app_server import copy_checkpoint

    checkpoint_dir = str(tmp_path / "checkpoints")
    copy_checkpoint(tiny_checkpoint, checkpoint_dir, "tiny.keras")
    out = tmp_path / "load.md"
    result = load_script().main(["--clients", "3", "--requests", "4", "--timeout", "120",
                                 "--data", tiny_cifar[1], "--checkpoint-dir", checkpoint_dir,
                                 "--train-images", "200", "--epochs", "3", "--alpha", "0.25",
                                 "--out", str(out)])
    assert result["requests"] == 12 and result["errors"] == 0 and result["ok"] == 12
    assert 0 < result["p50_ms"] <= result["p95_ms"] <= result["p99_ms"] <= result["max_ms"]
    assert result["training"]["train_images"] == 200
    text = out.read_text()
    assert "| 3 × 4 | 12 | 0 |" in text and "p95" in text and "scripts/load_test.py" in text


def test_thirty_students_are_served_while_one_client_floods(tiny_cifar, tiny_checkpoint, tmp_path):
    from app_server import copy_checkpoint

    checkpoint_dir = str(tmp_path / "checkpoints")
    copy_checkpoint(tiny_checkpoint, checkpoint_dir, "tiny.keras")
    result = load_script().main(["--clients", "30", "--requests", "2", "--timeout", "240", "--flood",
                                 "--flood-sessions", "20", "--data", tiny_cifar[1],
                                 "--checkpoint-dir", checkpoint_dir, "--train-images", "200",
                                 "--epochs", "3", "--alpha", "0.25"])
    assert result["requests"] == 60 and result["errors"] == 0, result["error_examples"]
    flood = result["flood"]
    assert flood["refused"] > 0 and flood["other"] == 0, flood  # refused with a message, never "Queue is full"


def test_the_load_script_refuses_other_machines():
    script = load_script()
    with pytest.raises(SystemExit):
        script.parse_args(["--url", "http://192.168.1.10:7860"])
    assert script.is_loopback("http://127.0.0.1:7860") and script.is_loopback("http://[::1]:7860/")
    assert script.is_loopback("http://localhost:7860") and not script.is_loopback("http://example.org")
