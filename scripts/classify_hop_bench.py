"""What the hop to a worker process costs one Classify, measured through the server.

    python scripts/classify_hop_bench.py --requests 300

Launches the app twice in this process on loopback, side by side, with the shipped checkpoint:
once with its worker pools (``classroom.work``: the picture is read and classified in a worker process), once
with the same tasks run in the server's own thread (``Work(in_process=True)``, how the server
worked before). Against each, one gradio_client client sends ``--requests`` Classify requests,
interleaved one by one with the other app's (a 32×32 CIFAR-10 example and a photo, alternating), each timed by the
client's wall clock: queue + read + classify + answer, the same client and HTTP cost on both
sides (the files are uploaded once). Prints p50 and p95 of both and their difference, with the CPU.
"""

import argparse
import os
import statistics
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

import mobilenet  # noqa: E402,F401
from gradio_client import handle_file  # noqa: E402
from loopback_client import api_client  # noqa: E402

PICTURES = [os.path.join(ROOT, "demo", "examples", name) for name in ("cifar10_test_0000_cat.png", "photo_coffee.jpg")]


def launch(in_process):
    """(demo, work, client) of the app with its workers, or with the tasks in its own thread."""
    from classroom.work import Work
    from demo.ui import build_demo, launch_on_loopback

    runs = tempfile.mkdtemp(prefix="hop-bench-runs-")
    work = Work(first_checkpoint=os.path.join(mobilenet.CHECKPOINT_DIR, "mobilenet_cifar.keras"), in_process=in_process)
    demo = build_demo(runs_dir=runs, data_source=runs, work=work)  # no CIFAR-10 needed: nothing trains
    return demo, work, api_client(launch_on_loopback(demo))


def measure(requests):
    """{in_process: [seconds]}: both apps up at once, their requests interleaved one by one, so that
    whatever else the machine does falls on both alike."""
    apps = {in_process: launch(in_process) for in_process in (True, False)}
    files = [handle_file(path) for path in PICTURES]
    times = {True: [], False: []}
    try:
        for i in range(20 + requests):  # the first 20 of each warm: network loaded, paths cached
            for in_process, (_, _, client) in apps.items():
                started = time.perf_counter()
                client.predict(files[i % 2], "shipped/mobilenet_cifar.keras", api_name="/classify")
                if i >= 20:
                    times[in_process].append(time.perf_counter() - started)
        return times
    finally:
        for demo, work, _ in apps.values():
            demo.training_runs.close()
            demo.board_store.close()
            work.close()
            demo.close()


def measure_hop(requests):
    """{in_process: [seconds]} of the callback's own call, ``Work.quick.call(classify, ...)``,
    without HTTP: what the hop itself costs (pickling, the pipe, the worker's answer)."""
    from classroom import work as tasks
    from classroom.work import Work

    checkpoint = os.path.join(mobilenet.CHECKPOINT_DIR, "mobilenet_cifar.keras")
    pools = {in_process: Work(first_checkpoint=checkpoint, quick=1, long=1, in_process=in_process)
             for in_process in (True, False)}
    times = {True: [], False: []}
    try:
        for i in range(50 + requests):
            for in_process, pool in pools.items():
                started = time.perf_counter()
                pool.quick.call(tasks.classify, PICTURES[i % 2], checkpoint, 40_000_000)
                if i >= 50:
                    times[in_process].append(time.perf_counter() - started)
        return times
    finally:
        for pool in pools.values():
            pool.close()


def table(measured):
    """Markdown rows: p50 and p95 in ms, before and now, and the difference at p50."""
    rows, p50s = [], []
    for name, in_process in (("in the server's process (before)", True), ("in a worker process (now)", False)):
        times = sorted(measured[in_process])
        p50s.append(statistics.median(times) * 1000)
        rows.append(f"| {name} | {p50s[-1]:.2f} | {times[int(0.95 * (len(times) - 1))] * 1000:.2f} |")
    return "\n".join(["| where the picture is read and classified | p50 ms | p95 ms |", "|---|---|---|", *rows,
                      f"\nThe hop costs {p50s[1] - p50s[0]:+.2f} ms at p50."])


def main(argv=None):
    parser = argparse.ArgumentParser(description="Classify through the server: worker process vs in-process")
    parser.add_argument("--requests", type=int, default=300)
    args = parser.parse_args(argv)
    from mobilenet import runtime

    print(f"# Classify with and without the hop to a worker; {runtime.describe()}; "
          f"ONEDNN_MAX_CPU_ISA={os.environ.get('ONEDNN_MAX_CPU_ISA', 'unset')}\n")
    print(f"## The callback's call alone ({args.requests * 3} calls each, interleaved, no HTTP)\n")
    print(table(measure_hop(args.requests * 3)))
    print(f"\n## Through the server ({args.requests} requests each, one gradio_client client, interleaved)\n")
    print(table(measure(args.requests)))


if __name__ == "__main__":
    main()
