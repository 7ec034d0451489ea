"""A class of thirty, simulated: each student (a browser session) presses Start on the quick run at
the same moment; the server trains one at a time, the rest wait their turn. Checks and prints:
every run trained, in the queue's order, on the class board, no refusal, the gap between one
run's end and the next one's start, and the board the same after a restart of the server.

    python scripts/class_of_thirty.py --tiny                      # generated tiny CIFAR-10 (minutes)
    python scripts/class_of_thirty.py --data cifar-10-python.tar.gz --students 30   # the real one (~20 min)

Exit status 1 when a check fails. All students come from one address, as behind a school router.
"""

import argparse
import concurrent.futures
import json
import os
import platform
import statistics
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

from loopback_client import api_client  # noqa: E402

from classroom.settings import Settings  # noqa: E402
from demo.ui import build_demo, close_app, launch_on_loopback  # noqa: E402
from mobilenet.recipes import RECIPES  # noqa: E402

QUICK = RECIPES["quick"]
TEACHER_KEY = "the simulated class's teacher key"


def start_quick(url, name):
    """One student's Start of the quick run, in a session of its own: (name, answer or refusal)."""
    client = api_client(url)
    try:
        return name, client.predict(name=name, variant=QUICK.variant, alpha=QUICK.alpha, depth=QUICK.depth,
                                    train_images=QUICK.train_size or 50_000, epochs=QUICK.epochs,
                                    batch_size=QUICK.batch_size, learning_rate=QUICK.learning_rate,
                                    augmentation=QUICK.augmentation, preset="quick", api_name="/start_training")
    except Exception as refused:  # a refusal: counted and shown
        return name, f"REFUSED: {refused}"


def serve(runs_dir, data):
    demo = build_demo(runs_dir=runs_dir, data_source=data, settings=Settings(standby=True, teacher_key=TEACHER_KEY))
    return demo, launch_on_loopback(demo)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--data", help="a CIFAR-10 archive or folder")
    source.add_argument("--tiny", action="store_true", help="a tiny CIFAR-10 made here (tests/cifar_fixture.py)")
    parser.add_argument("--students", type=int, default=30)
    args = parser.parse_args()
    work = tempfile.mkdtemp(prefix="class-of-thirty-")
    data = args.data
    if args.tiny:
        sys.path.insert(0, os.path.join(ROOT, "tests"))
        from cifar_fixture import write_tiny_cifar
        data = write_tiny_cifar(work)[1]
    runs_dir = os.path.join(work, "runs")
    os.makedirs(runs_dir)
    failures = []
    demo, url = serve(runs_dir, data)
    started = time.time()
    try:
        demo.training_runs.load_data()  # as in a lesson: the page was open before the class pressed Start
        # The teacher holds the queue while the class presses Start, so that the order is known
        # before the first run starts; then lets it go.
        teacher = api_client(url)
        teacher.predict(TEACHER_KEY, api_name="/teacher_sign_in")
        teacher.predict(None, api_name="/queue_pause")
        names = [f"Student {i + 1:02d}" for i in range(args.students)]
        with concurrent.futures.ThreadPoolExecutor(len(names)) as pool:
            answers = dict(pool.map(lambda name: start_quick(url, name), names))
        refused = {name: answer for name, answer in answers.items() if answer.startswith("REFUSED")}
        order = [item["name"] for item in teacher.predict(api_name="/run_queue")["waiting"]]
        print(f"{len(names)} students pressed Start at once: {len(order)} waiting, {len(refused)} refused",
              flush=True)
        teacher.predict(None, api_name="/queue_resume")
        viewer = api_client(url)
        while viewer.predict(api_name="/run_queue")["waiting"] or demo.training_runs.current is not None:
            time.sleep(2)
        rows = sorted(viewer.predict(api_name="/class_board"), key=lambda row: row["started_at"])
        elapsed = time.time() - started
    finally:
        close_app(demo)
        demo.close()
    trained = [row for row in rows if row["status"] == "finished"]
    gaps = [later["started_at"] - earlier["finished_at"] for earlier, later in zip(rows, rows[1:])]
    accuracies = [100 * row["test_accuracy"] for row in trained]
    print(f"trained: {len(trained)} of {len(rows)} in {elapsed / 60:.1f} min; "
          f"runs {statistics.median(row['seconds'] for row in rows):.1f} s median; "
          f"gap end -> next start: median {statistics.median(gaps):.2f} s, max {max(gaps):.2f} s")
    print(f"test accuracy: mean {statistics.mean(accuracies):.2f} %, min {min(accuracies):.2f} %, "
          f"max {max(accuracies):.2f} % ({'tiny generated data' if args.tiny else data})")
    if refused:
        failures.append(f"refused: {refused}")
    if len(trained) != len(names):
        failures.append(f"trained {len(trained)} of {len(names)}: {[(r['name'], r['status']) for r in rows]}")
    if [row["name"] for row in rows] != order:
        failures.append(f"trained out of order: {[row['name'] for row in rows]} != {order}")
    # the board after a restart of the server, on the same folder
    demo, url = serve(runs_dir, data)
    try:
        after = sorted(api_client(url).predict(api_name="/class_board"), key=lambda row: row["started_at"])
    finally:
        close_app(demo)
        demo.close()
    same = json.dumps(after, sort_keys=True) == json.dumps(rows, sort_keys=True)
    print(f"after a restart: the board {'is the same' if same else 'DIFFERS'} ({len(after)} rows)")
    if not same:
        failures.append("the board differs after a restart")
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores; "
          f"ONEDNN_MAX_CPU_ISA={os.environ.get('ONEDNN_MAX_CPU_ISA', 'native')}")
    for failure in failures:
        print("FAILED:", failure)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
