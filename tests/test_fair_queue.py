"""A fair queue: one client flooding the server can neither fill the queue nor slow a classmate.

The app runs as behind a Space's proxy (``MOBILENET_TRUSTED_PROXY=1``), so that each client's
``X-Forwarded-For`` is its address, as the proxy would set it. The flooder sends queue joins for
Classify (the endpoint the class uses) as fast as the server takes them, never reading the
answers, from one tab (4 connections) and then from a hundred (16 connections); a classmate
classifies meanwhile.
"""

import os
import time

import numpy as np
import pytest
from gradio_client import handle_file

from app_server import SHIPPED_NAME, running_app
from classroom import fair_queue
from classroom.settings import Settings
from test_load import load_script
from loopback_client import api_client

pytestmark = [pytest.mark.slow, pytest.mark.alone]  # the tiers, and latency bounds: docs/TESTS.md

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PHOTO = os.path.join(ROOT, "demo", "examples", "photo_cat_chelsea.jpg")
SHIPPED_KEY = f"shipped/{SHIPPED_NAME}"
HONEST_REQUESTS = 20
# The bound on the classmate's p95 while one client floods: 2 s, or twice the p95 the same
# classmate measured just before with no flood, whichever is larger (this test shares 2 cores
# with whatever else runs; alone on them, Classify answers in 0.6 s p95 and 0.8 s under the
# flood). Classify runs 4 at a time and the classmate's request goes before the flooder's
# waiting ones; without the fair queue the classmate gets "Queue is full".
P95_BOUND_S = 2.0


def bound(quiet):
    return max(P95_BOUND_S, 2 * float(np.percentile(quiet, 95)))


@pytest.fixture(scope="module")
def app(tiny_cifar, tiny_checkpoint, tmp_path_factory):
    with running_app(str(tmp_path_factory.mktemp("fair")), tiny_cifar[1], tiny_checkpoint, quick_workers=2,
                     settings=Settings(trusted_proxy=True)) as app:
        yield app


def Flooder(url, address, sessions=1, threads=4):
    """The load script's hostile client (``scripts/load_test.py``: ``Flooder``)."""
    return load_script().Flooder(url, PHOTO, address=address, connections=threads, sessions=sessions,
                                 checkpoint=SHIPPED_KEY)


def honest_latencies(url, address):
    client = api_client(url, headers={"X-Forwarded-For": address})
    latencies = []
    for _ in range(HONEST_REQUESTS):
        began = time.perf_counter()
        top5 = client.predict(handle_file(PHOTO), SHIPPED_KEY, api_name="/classify")[0]
        latencies.append(time.perf_counter() - began)
        assert top5  # an answer, never an error
    return latencies


def test_one_flooding_tab_is_capped_and_a_classmate_is_served_first(app):
    quiet = honest_latencies(app[0], "10.0.0.2")
    with Flooder(app[0], "10.0.0.66") as flood:
        during = honest_latencies(app[0], "10.0.0.3")
    p95 = float(np.percentile(during, 95))
    print(f"classmate's Classify: p95 {p95:.3f} s while one tab floods (alone: "
          f"{np.percentile(quiet, 95):.3f} s); flooder: {flood.accepted} accepted, {len(flood.refused)} refused")
    assert p95 <= bound(quiet)
    assert flood.refused and not flood.other  # refused with our message, never "Queue is full"
    assert flood.refused[0].startswith(f"You already have {fair_queue.PER_SESSION} requests waiting")


def test_many_tabs_from_one_address_are_capped_together(app):
    quiet = honest_latencies(app[0], "10.0.0.5")
    with Flooder(app[0], "10.0.0.77", sessions=100, threads=16) as flood:
        during = honest_latencies(app[0], "10.0.0.4")
        queue = app.demo._queue
        from_flooder = sum(getattr(e, "client_address", None) == "10.0.0.77"
                           for e in list(queue.event_ids_to_events.values()))
    assert from_flooder <= fair_queue.PER_ADDRESS
    assert float(np.percentile(during, 95)) <= bound(quiet)
    assert any(r.startswith("Your computer (or network) already has") for r in flood.refused)
    assert not flood.other
