"""classroom.work_pool: a worker that crashes, spins, hangs or grows costs its own request, never the
server's process nor another request; the pool replaces it."""

import concurrent.futures
import os
import signal
import subprocess
import sys
import time

import pytest

import pool_tasks
from classroom.work_pool import WorkFailed, WorkPool


@pytest.fixture(scope="module")
def pool():
    pool = WorkPool("test", 2, cpu_seconds=2, wall_seconds=10, memory_mb=200)
    yield pool
    pool.close()


def test_a_task_answers_and_its_exceptions_come_back(pool):
    assert pool.call(pool_tasks.echo, {"a": [1, 2]}) == {"a": [1, 2]}
    with pytest.raises(ValueError, match="no such picture"):
        pool.call(pool_tasks.fail, "no such picture")
    with pytest.raises(RuntimeError, match="Unpicklable: with a lock inside"):
        pool.call(pool_tasks.fail_unpicklably)
    assert os.getpid() not in pool.pids()


def test_progress_reaches_the_waiting_request(pool):
    seen = []
    assert pool.call(pool_tasks.count, 5, progress=seen.append) == 5
    assert seen == [{"done": i, "total": 5} for i in range(1, 6)]


def test_an_aborting_worker_costs_one_request_and_is_replaced(pool):
    before, replaced = set(pool.pids()), pool.replaced
    with concurrent.futures.ThreadPoolExecutor(2) as threads:
        honest = threads.submit(pool.call, pool_tasks.sleep, 1.5)  # in the other worker meanwhile
        time.sleep(0.3)
        with pytest.raises(WorkFailed) as failed:
            pool.call(pool_tasks.abort)
        assert honest.result() == "slept"
    assert failed.value.reason == "crash" and failed.value.detail == "SIGABRT"
    assert pool.replaced == replaced + 1
    assert pool.call(pool_tasks.echo, "next") == "next"
    assert len(set(pool.pids()) - before) == 1


def test_a_task_past_its_cpu_time_is_ended(pool):
    started = time.monotonic()
    with pytest.raises(WorkFailed) as failed:
        pool.call(pool_tasks.spin)
    assert failed.value.reason == "time" and time.monotonic() - started < 8
    assert pool.call(pool_tasks.spin, 0.2) == "done"


def test_the_cpu_budget_of_a_phase_is_tighter_and_named(pool):
    with pytest.raises(WorkFailed) as failed:
        pool.call(pool_tasks.spin_while_decoding, cpu_seconds=60)
    assert (failed.value.reason, failed.value.phase) == ("time", "decode")


def test_a_hanging_task_is_killed_at_the_wall_clock_bound(pool):
    started = time.monotonic()
    with pytest.raises(WorkFailed) as failed:
        pool.call(pool_tasks.sleep, 60, wall_seconds=1)
    assert failed.value.reason == "time" and time.monotonic() - started < 5
    assert pool.call(pool_tasks.echo, 1) == 1


def test_a_task_that_grows_past_its_memory_is_stopped(pool):
    assert pool.call(pool_tasks.grow, 50) == 50 * 1024 * 1024
    with pytest.raises(WorkFailed) as failed:
        pool.call(pool_tasks.grow, 1000)
    assert failed.value.reason == "memory"
    assert pool.call(pool_tasks.grow, 50) == 50 * 1024 * 1024


def test_a_worker_killed_while_idle_is_replaced_before_the_next_request(pool):
    for worker in pool.pids():
        os.kill(worker, signal.SIGKILL)
    time.sleep(0.5)
    assert [pool.call(pool_tasks.echo, n) for n in range(4)] == [0, 1, 2, 3]


def test_a_worker_is_recycled_between_requests_after_its_share():
    pool = WorkPool("recycled", 1, recycle_after=3)
    try:
        first = pool.call(pool_tasks.pid)
        assert [pool.call(pool_tasks.pid) for _ in range(2)] == [first, first]
        assert pool.call(pool_tasks.pid) != first and pool.replaced == 0  # a fresh one, nothing failed
    finally:
        pool.close()


def test_workers_end_with_their_server(tmp_path):
    """A server killed outright (SIGKILL: no clean-up runs) leaves no worker behind."""
    script = tmp_path / "server.py"
    script.write_text("import sys, time\nsys.path[:0] = %r\nimport pool_tasks\n"
                      "from classroom.work_pool import WorkPool\n"
                      "if __name__ == '__main__':\n"
                      "    pool = WorkPool('orphans', 2)\n    print(*pool.pids(), flush=True)\n    time.sleep(600)\n"
                      % [os.path.dirname(os.path.abspath(__file__)), os.path.dirname(os.path.dirname(os.path.abspath(__file__)))])
    server = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True)
    workers = [int(pid) for pid in server.stdout.readline().split()]
    assert len(workers) == 2
    server.kill()
    server.wait()
    deadline = time.monotonic() + 10
    while any(os.path.exists(f"/proc/{pid}") and open(f"/proc/{pid}/stat").read().split()[2] != "Z" for pid in workers):
        assert time.monotonic() < deadline, "a worker outlived its server"
        time.sleep(0.2)


def test_a_warm_up_goes_round_the_workers_one_at_a_time(tmp_path):
    """A broadcast (a new checkpoint loading in every worker, seconds each) takes one worker at a
    time: a request sent meanwhile is answered by another worker at once, not after the warm-up
    (the soak's Classify waited 4-6 s while every worker loaded a run's checkpoint at once)."""
    noted = str(tmp_path / "warmed")
    pool = WorkPool("round", 2, wall_seconds=10)
    try:
        workers = set(pool.pids())
        pool.broadcast(pool_tasks.sleep_and_note, 3, noted)
        time.sleep(0.3)
        for _ in range(3):  # three requests while one worker or the other is warming
            started = time.monotonic()
            assert pool.call(pool_tasks.echo, "here") == "here"
            assert time.monotonic() - started < 1.5, "a request waited for a warm-up"  # ~0.02 s
            time.sleep(0.5)
        deadline = time.monotonic() + 20
        while not (os.path.exists(noted) and len(open(noted).read().split()) == 2):
            assert time.monotonic() < deadline, "the warm-up did not reach every worker"
            time.sleep(0.1)
        assert {int(pid) for pid in open(noted).read().split()} == workers
    finally:
        pool.close()


def test_a_request_waiting_behind_a_warm_up_is_timed_from_its_own_start():
    """A warm-up broadcast to the workers (a new checkpoint loading) is not the next request's time."""
    # A second of margin for the pipe and a loaded machine; the warm-up outlasts the whole wall
    # limit, so a request timed from when it was sent would fail.
    pool = WorkPool("warming", 1, wall_seconds=2)
    try:
        assert pool.call(pool_tasks.echo, "up") == "up"
        pool.broadcast(pool_tasks.sleep, 3)
        assert pool.call(pool_tasks.sleep, 0.5) == "slept"  # waited about 3 s, ran 0.5 s of its 2
        with pytest.raises(WorkFailed) as failed:
            pool.call(pool_tasks.sleep, 5)
        assert failed.value.phase == "started"  # its own time ran out, not a picture's
    finally:
        pool.close()
