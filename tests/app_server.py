"""Launching the real app for the API and browser tests: temporary folders, tiny data."""

import contextlib
import http.server
import logging
import os
import shutil
import threading
import time

from mobilenet.checkpoints import checkpoint_paths

# The app's own CSS/theme, a real server on a free port, no share link, no analytics.
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

SHIPPED_NAME = "tiny_shipped.keras"


def copy_checkpoint(source, folder, name):
    """Copies a checkpoint (.keras + .json) into ``folder`` as ``name``; returns its path."""
    os.makedirs(folder, exist_ok=True)
    target = os.path.join(folder, name)
    for src, dst in zip(checkpoint_paths(source), checkpoint_paths(target)):
        shutil.copyfile(src, dst)
    return target


ENDED = ("finished", "stopped", "failed")


def wait_until_ended(runs, timeout=180):
    """Waits for the run of ``runs`` (a ``TrainingRuns``) to end; returns its snapshot."""
    deadline = time.monotonic() + timeout
    while (run := runs.snapshot()["run"])["state"] not in ENDED:
        assert time.monotonic() < deadline, f"the run is still {run['state']}"
        time.sleep(0.1)
    return run


class Records(logging.Handler):
    """Every log record of the server process (Gradio, uvicorn, the app), as text, with its
    traceback if it has one: tests check that nothing a client sends makes one."""

    def __init__(self):
        super().__init__(logging.DEBUG)
        self.texts = []

    def emit(self, record):
        text = record.getMessage()
        if record.exc_info:
            text += "\nTraceback " + logging.Formatter().formatException(record.exc_info)
        self.texts.append(text)


@contextlib.contextmanager
def logs_recorded():
    """A ``Records`` handler on the loggers of the server process while the block runs."""
    records = Records()
    loggers = [logging.getLogger(name) for name in ("", "uvicorn", "uvicorn.error", "gradio", "httpx")]
    for logger in loggers:
        logger.addHandler(records)
    try:
        yield records
    finally:
        for logger in loggers:
            logger.removeHandler(records)


class RunningApp(tuple):
    """(url, checkpoint_dir, runs_dir), plus ``runs``: the app's ``TrainingRuns``, and ``demo``."""


@contextlib.contextmanager
def running_app(root, data_source, shipped_checkpoint=None, old_runs=0, keep_runs=5,
                ssr_mode=False, quick_workers=1, settings=None, standby=False):
    """Builds and launches the app in this process; yields a ``RunningApp``.

    ``old_runs`` copies of the shipped checkpoint are placed in the runs folder,
    oldest first, so that pruning has something to remove. ``ssr_mode`` puts Gradio's
    server-side rendering (a Node process in front of Python, as on Hugging Face Spaces)
    in front of the app; the URL is then Node's. ``quick_workers``: the app's quick worker
    processes (one is enough for most tests, and each costs seconds to start). ``settings``: the
    app's other settings (a ``classroom.settings.Settings``; default: the defaults).
    ``standby``: the app's ``Settings.standby`` (on in the product): off unless a test needs it,
    since the loaded next-run worker costs seconds of CPU at the start and after every run (the
    session's ``shared_app`` keeps it on, as served).
    """
    import dataclasses

    from classroom.settings import DEFAULTS
    from demo.ui import build_demo, close_app, launch_on_loopback

    checkpoint_dir = os.path.join(root, "checkpoints")
    runs_dir = os.path.join(checkpoint_dir, "runs")
    os.makedirs(runs_dir, exist_ok=True)
    if shipped_checkpoint:
        copy_checkpoint(shipped_checkpoint, checkpoint_dir, SHIPPED_NAME)
        for i in range(old_runs):
            old = copy_checkpoint(shipped_checkpoint, runs_dir, f"old_run_{i}.keras")
            stamp = time.time() - 3600 * (old_runs - i)
            for file in checkpoint_paths(old):
                os.utime(file, (stamp, stamp))
    demo = build_demo(checkpoint_dir=checkpoint_dir, runs_dir=runs_dir, data_source=data_source,
                      keep_runs=keep_runs, quick_workers=quick_workers,
                      settings=dataclasses.replace(settings or DEFAULTS, standby=standby))
    assert demo.training_runs.standby is standby
    url = launch_on_loopback(demo, ssr=ssr_mode)
    if ssr_mode:  # Gradio falls back to plain serving when Node fails: a test must not pass so
        assert demo._node_is_proxy and not demo._ssr_degraded, "Gradio could not start SSR (Node)"
    try:
        app = RunningApp((url, checkpoint_dir, runs_dir))
        app.runs, app.demo = demo.training_runs, demo
        yield app
    finally:
        node = getattr(demo, "node_process", None)
        close_app(demo)
        demo.close()
        assert node is None or node.poll() is not None, "Node (server-side rendering) outlived the app"


@contextlib.contextmanager
def recording_server():
    """A loopback HTTP server that records the path of every request it gets (``.hits``).

    For tests that the app never fetches a URL a client names: each must end with
    ``hits == []``. It answers 200 with a body, as a real internal service would.
    """
    hits = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            hits.append(self.path)
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"internal secret")

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.hits = hits
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
