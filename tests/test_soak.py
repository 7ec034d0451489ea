"""A short classroom soak through ``python app.py`` in its own process (scripts/classroom_soak.py):
students classify, look (two at once), open Mistakes, switch language, start and stop runs, while
a few send hostile files and calls. The server must be the same process at the end, no honest
request may fail, honest Classify p95 stays under 3 s and server + workers under 5 GB (their PSS:
a page shared by several processes counted once; summed RSS was 6.0 GB where PSS was 3.3)."""

import pytest

import classroom_soak  # scripts/, on the path by conftest
from app_server import copy_checkpoint

pytestmark = [pytest.mark.slow, pytest.mark.alone]  # the tiers, and time bounds: docs/TESTS.md

P95_BOUND_S = 3.0  # 2 shared cores in CI, a run training beside. Measured here: 1.0-1.2 s; 3.5-3.9 s
# (5.03 s in CI) while every request worker loaded each finished run's checkpoint at once
MEMORY_BOUND_GB = 5.0


def test_a_class_of_students_and_two_who_try_things(tiny_cifar, tiny_checkpoint, tmp_path):
    checkpoints = str(tmp_path / "checkpoints")
    copy_checkpoint(tiny_checkpoint, checkpoints, "mobilenet_cifar.keras")
    server, url = classroom_soak.start_app({"MOBILENET_CHECKPOINT_DIR": checkpoints,
                                            "MOBILENET_RUNS_DIR": str(tmp_path / "runs"),
                                            "MOBILENET_CIFAR10": tiny_cifar[1]})
    try:
        settings = classroom_soak.default_settings()
        report = classroom_soak.soak(url, server.pid, seconds=40, students=12, hostile_students=1,
                                     key="shipped/mobilenet_cifar.keras", training_settings=settings)
        assert server.poll() is None, "the server's process ended"
    finally:
        server.terminate()
        server.wait(timeout=60)
    print(report)
    assert classroom_soak.check(report, P95_BOUND_S, MEMORY_BOUND_GB) == []
    assert report["actions"].get("two looks", 0) >= 3 and report["actions"].get("hostile round", 0) >= 1
    hostile = " ".join(report["hostile"])
    assert "answered" not in hostile, report["hostile"]
