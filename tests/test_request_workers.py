"""The classroom server through its API while its request workers fail (classroom.work): the
server's process is this test's own, so a crash of it would end the test run."""

import concurrent.futures
import os
import signal
import time

import pytest
from gradio_client import handle_file
from gradio_client.exceptions import AppError

from app_server import SHIPPED_NAME, running_app
from loopback_client import api_client

pytestmark = pytest.mark.slow  # the tiers: docs/TESTS.md

SHIPPED_KEY = f"shipped/{SHIPPED_NAME}"
EXAMPLES = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "demo", "examples")
CAT = os.path.join(EXAMPLES, "cifar10_test_0000_cat.png")
PHOTO = os.path.join(EXAMPLES, "photo_coffee.jpg")


@pytest.fixture(scope="module")
def app(tiny_cifar, tiny_checkpoint, tmp_path_factory):
    with running_app(str(tmp_path_factory.mktemp("app")), tiny_cifar[1], tiny_checkpoint, quick_workers=2) as launched:
        yield launched


def grad_cam(url, picture):
    return api_client(url).predict(handle_file(picture), SHIPPED_KEY, "predicted", api_name="/grad_cam")


def classify(client, picture=CAT):
    return client.predict(handle_file(picture), SHIPPED_KEY, api_name="/classify")[0]["label"]


def test_two_grad_cams_at_the_same_moment_never_take_the_server_down(app):
    """Grad-CAM's gradient tape in two threads of one process aborted the server (glibc heap
    corruption) in 7 of 8 tries; in the workers each runs alone in its process."""
    with concurrent.futures.ThreadPoolExecutor(2) as threads:
        for _ in range(6):
            pair = [threads.submit(grad_cam, app[0], picture) for picture in (CAT, PHOTO)]
            for answer in pair:
                overlay, note = answer.result(timeout=120)
                assert os.path.isfile(overlay) and note
    assert app.demo.work.quick.replaced == 0


def test_a_worker_killed_in_the_middle_of_a_request_costs_that_request_only(app):
    client = api_client(app[0])
    assert classify(client)
    workers = app.demo.work.quick.pids()
    for worker in workers:
        os.kill(worker, signal.SIGSTOP)  # every worker stops where it is: the next request waits in one
    try:
        job = client.submit(handle_file(CAT), SHIPPED_KEY, api_name="/classify")
        time.sleep(2)
        assert not job.done()
    finally:
        for worker in workers:
            os.kill(worker, signal.SIGKILL)
    with pytest.raises(AppError, match="stopped unexpectedly and has been restarted"):
        job.result(timeout=60)
    assert classify(client)  # a new worker answers the next one
    assert set(app.demo.work.quick.pids()).isdisjoint(workers)


def test_the_pools_follow_the_cores_and_memory():
    from classroom.work import pool_sizes

    assert pool_sizes(2, 16) == (2, 1)  # a Hugging Face Space: 2 vCPU, 16 GB
    assert pool_sizes(8, 16) == (4, 1)
    assert pool_sizes(8, 6) == (2, 1)
    assert pool_sizes(4, 2) == (1, 1)
