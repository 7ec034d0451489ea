"""Load test: a class of students classifying pictures while a training run is in progress.

    python scripts/load_test.py --data /path/to/cifar-10-python.tar.gz \
        --checkpoint-dir DIR --clients 30 --requests 20 --out load.md

Launches the app in this process on 127.0.0.1 (or uses ``--url``, which must be a loopback
address), starts a real training run through the app's API, waits for its first progress
event, then has ``--clients`` gradio_client clients (each its own session, like a browser)
send ``--requests`` classifications each, one after the other, all clients at once. Reports
requests, errors and latency percentiles (p50/p95/p99, milliseconds, measured by the client:
upload + queue + classify + download), how many requests ran while the run was training,
and writes them as Markdown to ``--out``. Bounded: at most clients × requests requests and
``--timeout`` seconds; the run is stopped at the end. Nothing leaves this machine.

``--flood`` adds one hostile client meanwhile: it sends Classify queue joins as fast as the
server answers, over ``--flood-connections`` connections and ``--flood-sessions`` sessions,
never reading the answers (``Flooder``). Each client then sends its own address in
``X-Forwarded-For``, as a Space's proxy would (10.1.0.N for the students, 10.66.0.1 for the
flooder): the app launched here trusts it (``MOBILENET_TRUSTED_PROXY=1``); start a ``--url`` app
with that variable too, or every client counts as the same (local) address.
"""

import argparse
import contextlib
import ipaddress
import json
import os
import platform
import random
import shlex
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import uuid

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import httpx  # noqa: E402
from gradio_client import handle_file  # noqa: E402

import loopback_client as loopback  # noqa: E402
from loopback_client import api_client  # noqa: E402

PICTURE = os.path.join(ROOT, "demo", "examples", "photo_cat_chelsea.jpg")
ACTIVE = ("starting", "running", "stopping")


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=30, help="concurrent clients (default 30)")
    parser.add_argument("--requests", type=int, default=20, help="requests per client (default 20)")
    parser.add_argument("--timeout", type=float, default=180, help="seconds for the whole test (default 180)")
    parser.add_argument("--think", type=float, default=0.0,
                        help="seconds each client waits between its requests (default 0: back to back)")
    parser.add_argument("--url", help="a running app on this machine (default: launch one here)")
    parser.add_argument("--data", help="CIFAR-10 for the app launched here (default $MOBILENET_CIFAR10)")
    parser.add_argument("--checkpoint-dir", help="checkpoints for the app launched here "
                                                 "(default $MOBILENET_CHECKPOINT_DIR or checkpoints/)")
    parser.add_argument("--picture", default=PICTURE, help="the picture every request sends")
    parser.add_argument("--train-images", type=int, help="training images of the run (default: the app's)")
    parser.add_argument("--epochs", type=int, help="epochs of the run (default: the app's)")
    parser.add_argument("--alpha", type=float, help="width multiplier of the run (default: the app's)")
    parser.add_argument("--no-training", action="store_true",
                        help="classify without a training run (to see what training costs)")
    parser.add_argument("--flood", action="store_true",
                        help="one hostile client floods Classify meanwhile (see the module's docstring)")
    parser.add_argument("--flood-connections", type=int, default=8, help="the flooder's connections (default 8)")
    parser.add_argument("--flood-sessions", type=int, default=1,
                        help="sessions (browser tabs) the flooder spreads its joins over (default 1)")
    parser.add_argument("--flood-only", metavar="URL", help=argparse.SUPPRESS)  # the flooder's process
    parser.add_argument("--flood-address", default="10.66.0.1", help=argparse.SUPPRESS)
    parser.add_argument("--flood-checkpoint", help=argparse.SUPPRESS)
    parser.add_argument("--out", help="write the results as Markdown to this file")
    args = parser.parse_args(argv)
    if (args.clients < 1 or args.requests < 1 or args.timeout <= 0 or args.think < 0
            or args.flood_connections < 1 or args.flood_sessions < 1):
        parser.error("--clients, --requests, --timeout and the flood's numbers must be positive, "
                     "--think not negative")
    for url in (args.url, args.flood_only):
        if url and not is_loopback(url):
            parser.error(f"--url must be on this machine (127.0.0.1, ::1 or localhost). Received: {url}")
    return args


def is_loopback(url):
    host = urllib.parse.urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def launch_here(args):
    """Builds and launches the app in this process on 127.0.0.1; returns (demo, url)."""
    from classroom.settings import Settings
    from demo.ui import build_demo, launch_on_loopback

    # with --flood, X-Forwarded-For names each client's own address
    settings = Settings.from_environ(os.environ, **({"trusted_proxy": True} if args.flood else {}))
    demo = build_demo(checkpoint_dir=args.checkpoint_dir, runs_dir=tempfile.mkdtemp(prefix="load-test-runs-"),
                      data_source=args.data, settings=settings)
    url = launch_on_loopback(demo)
    return demo, url


def start_training(client, args, deadline):
    """Starts a run with the app's defaults (or the given settings); returns once it trains."""
    from mobilenet.recipes import RECIPES

    defaults = RECIPES["classroom"]
    settings = {"name": "load test", "variant": defaults.variant, "alpha": args.alpha or defaults.alpha,
                "depth": defaults.depth, "train_images": args.train_images or defaults.train_size or 50_000,
                "epochs": args.epochs or defaults.epochs, "batch_size": defaults.batch_size,
                "learning_rate": defaults.learning_rate, "augmentation": defaults.augmentation}
    client.predict(**settings, api_name="/start_training")
    for snapshot in client.submit(api_name="/watch_training"):
        run = snapshot["run"]
        if run["latest"] or run["state"] not in ACTIVE or time.monotonic() > deadline:
            return settings


def stop_training(client, picture):
    """Stops the run and waits until its checkpoint is saved and loaded (at most a minute)."""
    client.predict("load test", api_name="/stop_training")
    job = client.submit(api_name="/watch_training")
    run = job.result(timeout=60)["run"]
    if run["checkpoint"]:  # loading it waits for the app's own load (a LiteRT conversion)
        key = f"run/{os.path.basename(run['checkpoint'])}"
        client.submit(handle_file(picture), key, api_name="/classify").result(timeout=60)


# gradio_client gives each upload and queue join httpx's default of 5 s, after which it reports a
# ReadTimeout; a browser waits minutes. On a 2-core CI machine under the flood, an upload has
# taken longer than 5 s (10 of 60 requests, once): that is latency, which the figures report,
# not a refusal. So the students wait 60 s for each HTTP answer (the server's event stream sends
# a heartbeat every 15 s, so the stream never waits that long).
BROWSER_LIKE = {"timeout": 60}


class RunWatcher(threading.Thread):
    """Follows the run's stream; ``ended_at`` is when it stopped training (None: still training)."""

    def __init__(self, url, training=True):
        super().__init__(name="run-watcher", daemon=True)
        self.client, self.latest = api_client(url), None
        self.ended_at = None if training else 0.0

    def run(self):
        if self.ended_at is not None:
            return
        for snapshot in self.client.submit(api_name="/watch_training"):
            run = snapshot["run"]
            self.latest = run["latest"] or self.latest
            if run["state"] not in ACTIVE or run["stage"]:
                self.ended_at = self.ended_at or time.time()


class Flooder:
    """A hostile client: sends Classify joins for ``picture`` as fast as the server answers, over
    ``connections`` connections and ``sessions`` sessions, from ``address`` (``X-Forwarded-For``),
    and never reads the answers. A context manager: the flood runs inside the ``with`` block, in
    a process of its own (as a flooder's own machine would: its threads do not compete with the
    server's for this process's interpreter). Afterwards: ``accepted``, ``refused`` (the
    server's messages) and ``other`` (any other answer: (status, text))."""

    def __init__(self, url, picture, address="10.66.0.1", connections=4, sessions=1, checkpoint=None):
        self.url, self.picture, self.address = url, picture, address
        self.connections, self.sessions, self.checkpoint = connections, sessions, checkpoint
        self.accepted, self.refused, self.other = 0, [], []

    def __enter__(self):
        command = [sys.executable, os.path.abspath(__file__), "--flood-only", self.url,
                   "--picture", self.picture, "--flood-address", self.address,
                   "--flood-connections", str(self.connections), "--flood-sessions", str(self.sessions)]
        if self.checkpoint:
            command += ["--flood-checkpoint", self.checkpoint]
        self._process = subprocess.Popen(command, stdout=subprocess.PIPE, stdin=subprocess.PIPE, text=True)
        if self._process.stdout.readline().strip() != "flooding":  # set up: uploaded, joins going
            raise RuntimeError("the flooder could not start")
        time.sleep(1.0)  # the flood is on before anyone else starts
        return self

    def __exit__(self, *exc):
        self._process.stdin.close()  # the flooder stops when its input closes
        result = json.loads(self._process.stdout.read() or "{}")
        self._process.wait(timeout=60)
        self.accepted, self.refused = result.get("accepted", 0), result.get("refused", [])
        self.other = [tuple(o) for o in result.get("other", [])]


def flood(url, picture, address, connections, sessions, checkpoint=None):
    """The flooder's process (``--flood-only``): floods until its standard input closes, then
    prints what the server said as JSON."""
    http = loopback.http_client(headers={"X-Forwarded-For": address}, timeout=30)
    url = url.rstrip("/")
    config = http.get(f"{url}/config").json()
    classify = next(d for d in config["dependencies"] if d.get("api_name") == "classify")
    values = {c["id"]: c.get("props", {}).get("value") for c in config["components"]}
    with open(picture, "rb") as file:
        path = http.post(f"{url}/gradio_api/upload", files={"files": file}).json()[0]
    uploaded = {"path": path, "orig_name": os.path.basename(picture), "meta": {"_type": "gradio.FileData"}}
    data = [uploaded, checkpoint or values[classify["inputs"][1]], "en"][:len(classify["inputs"])]
    names = [uuid.uuid4().hex[:11] for _ in range(sessions)]
    counts = {"accepted": 0, "refused": [], "other": []}
    stop = threading.Event()

    def send(offset):
        mine = names[offset::connections] or names
        while not stop.is_set():
            for session in mine:
                try:
                    answer = http.post(f"{url}/gradio_api/queue/join", json={
                        "data": data, "fn_index": classify["id"], "session_hash": session,
                        "event_data": None, "trigger_id": None})
                except httpx.HTTPError as error:
                    counts["other"].append((None, f"{type(error).__name__}: {error}"[:200]))
                    continue
                if answer.status_code == 200:
                    counts["accepted"] += 1
                elif answer.status_code == 400:
                    counts["refused"].append(answer.json().get("detail", ""))
                else:
                    counts["other"].append((answer.status_code, answer.text[:200]))

    threads = [threading.Thread(target=send, args=(i,), daemon=True) for i in range(connections)]
    for thread in threads:
        thread.start()
    print("flooding", flush=True)
    sys.stdin.read()  # until the parent closes it
    stop.set()
    for thread in threads:
        thread.join(timeout=30)
    print(json.dumps(counts), flush=True)


def student(url, picture, requests, think, deadline, results, address=None):
    """One browser session sending ``requests`` classifications, ``think`` seconds apart (from
    ``address`` in ``X-Forwarded-For`` when given)."""
    try:
        client = api_client(url, headers={"X-Forwarded-For": address} if address else None,
                            httpx_kwargs=BROWSER_LIKE)
    except Exception as error:  # counted: a class whose pages do not load has a problem
        results.extend([(None, time.time(), f"connect: {type(error).__name__}: {error}")] * requests)
        return
    for i in range(requests):
        time.sleep(think if i else think * random.random())  # students do not click in step
        left = deadline - time.monotonic()
        if left <= 0:
            results.append((None, time.time(), "not sent: out of time"))
            continue
        started = time.perf_counter()
        try:
            client.submit(handle_file(picture), api_name="/classify").result(timeout=left)
            results.append((time.perf_counter() - started, time.time(), None))
        except Exception as error:
            results.append((time.perf_counter() - started, time.time(), f"{type(error).__name__}: {error}"))


def run_load(args):
    """Runs the test; returns the figures (a dict)."""
    test_started = time.monotonic()
    deadline = test_started + args.timeout
    demo, url = (None, args.url) if args.url else launch_here(args)
    try:
        control = api_client(url, httpx_kwargs=BROWSER_LIKE)
        control.predict(handle_file(args.picture), api_name="/classify")  # loads the checkpoint once
        settings = None if args.no_training else start_training(control, args, deadline)
        watcher = RunWatcher(url, settings is not None)
        watcher.start()
        results, threads = [], []
        flood = (Flooder(url, args.picture, connections=args.flood_connections, sessions=args.flood_sessions)
                 if args.flood else contextlib.nullcontext())
        with flood:
            began = time.time()
            for i in range(args.clients):
                address = f"10.1.{i // 250}.{i % 250 + 1}" if args.flood else None
                threads.append(threading.Thread(target=student, args=(url, args.picture, args.requests,
                                                                      args.think, deadline, results, address)))
                threads[-1].start()
            for thread in threads:
                thread.join(max(0.0, deadline - time.monotonic()) + 30)
            ended = time.time()
        if settings:
            stop_training(control, args.picture)
        return figures(args, results, began, ended, watcher, settings, flood if args.flood else None)
    finally:
        if demo is not None:
            demo.close()


def figures(args, results, began, ended, watcher, settings, flood=None):
    done = [latency for latency, _, error in results if error is None]
    during = [1 for _, finished, error in results
              if error is None and (watcher.ended_at is None or finished <= watcher.ended_at)]
    errors = [error for _, _, error in results if error is not None]
    ms = np.asarray(done) * 1000 if done else np.asarray([np.nan])
    return {"clients": args.clients, "requests_per_client": args.requests, "think_s": args.think,
            "requests": len(results),
            "ok": len(done), "errors": len(errors), "error_examples": sorted(set(errors))[:5],
            "during_training": len(during), "seconds": round(ended - began, 1),
            "per_second": round(len(done) / max(ended - began, 1e-9), 1),
            "p50_ms": float(np.percentile(ms, 50)), "p95_ms": float(np.percentile(ms, 95)),
            "p99_ms": float(np.percentile(ms, 99)), "max_ms": float(ms.max()),
            "training": settings, "training_images_per_sec": (watcher.latest or {}).get("images_per_sec"),
            "flood": flood and {"connections": flood.connections, "sessions": flood.sessions,
                                "accepted": flood.accepted, "refused": len(flood.refused),
                                "refusals": sorted(set(flood.refused))[:3], "other": len(flood.other),
                                "other_examples": flood.other[:3]},
            "picture": f"{os.path.basename(args.picture)} ({os.path.getsize(args.picture) / 1000:.0f} kB)",
            "machine": machine(), "command": " ".join(["python", "scripts/load_test.py",
                                                      *map(shlex.quote, sys.argv[1:])])}


def machine():
    load = ", ".join(f"{value:.1f}" for value in os.getloadavg())
    return (f"{os.cpu_count()} CPU cores ({platform.processor() or platform.machine()}), "
            f"Python {platform.python_version()}, load average at the end {load}")


def markdown(result):
    training = result["training"]
    return "\n".join([
        "| clients × requests | requests | errors | during training | p50 | p95 | p99 | max | throughput |",
        "|---|---|---|---|---|---|---|---|---|",
        f"| {result['clients']} × {result['requests_per_client']} | {result['requests']} | {result['errors']} | "
        f"{result['during_training']} | {result['p50_ms']:.0f} ms | {result['p95_ms']:.0f} ms | "
        f"{result['p99_ms']:.0f} ms | {result['max_ms']:.0f} ms | {result['per_second']} requests/s |",
        "",
        f"- Command: `{result['command']}`",
        f"- Machine: {result['machine']}",
        f"- Each request: upload {result['picture']}, queue, classify, download the results "
        "(the latency is what the client waited); "
        + (f"{result['think_s']:g} s between a client's requests." if result["think_s"] else
           "each client sends its next request as soon as the last one is answered."),
        (f"- Training run meanwhile: {training['variant']} variant, α {training['alpha']}, "
         f"{training['depth']}, {training['train_images']:,} images, {training['epochs']} epochs, "
         f"batch {training['batch_size']}; {result['training_images_per_sec'] or '?'} images/s "
         "while under load." if training else "- No training run meanwhile (--no-training)."),
        *([f"- Errors: {'; '.join(result['error_examples'])}"] if result["errors"] else []),
        *([flood_line(result["flood"])] if result.get("flood") else []),
        "",
    ])


def flood_line(flood):
    return (f"- A hostile client flooded Classify meanwhile ({flood['connections']} connections, "
            f"{flood['sessions']} session(s), never reading the answers): {flood['accepted']:,} joins "
            f"accepted, {flood['refused']:,} refused at once"
            + (f" (\"{flood['refusals'][0].split(' / ')[0]}\")" if flood["refusals"] else "")
            + f", {flood['other']} other answers.")


def main(argv=None):
    args = parse_args(argv)
    if args.flood_only:
        return flood(args.flood_only, args.picture, args.flood_address, args.flood_connections,
                     args.flood_sessions, args.flood_checkpoint)
    result = run_load(args)
    text = markdown(result)
    print(text)
    if args.out:
        with open(args.out, "w", encoding="utf-8") as f:
            f.write(text)
    return result


if __name__ == "__main__":
    result = main()
    sys.exit(1 if result and result["errors"] else 0)
