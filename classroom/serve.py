"""How the classroom server is launched: its limits and guards, wherever it runs.

``server_options(settings, middleware)`` are the ``launch()`` arguments of the server itself
(``settings``: a ``classroom.settings.Settings``): server-side rendering off unless
``settings.ssr`` (``MOBILENET_SSR``) says otherwise, on Spaces too (where
Gradio would turn it on: with it, Node serves the HTML page and its script bundle without the
security headers); everything served by the one Python server, uploads included
(``num_workers=0``: no separate upload servers, which would bypass the upload limits); the
security headers (``classroom.headers``), Gradio's routes the page never calls closed and the
body limit (``classroom.door``), then ``middleware``, then the upload guard
(``classroom.upload_guard``) with the settings' rates; no MCP server, no run history.

``launch(demo, options, settings)`` launches without blocking (sessions copying the page's
configuration only when read: ``classroom.gradio_patches``, patch 7), then bounds the server's
connections (``classroom.connections``: header and idle timeouts, caps per address and in all)
after raising the open-file limit; ``MOBILENET_MAX_CONNECTIONS_PER_ADDRESS`` (default 200) sets
the cap per address.
"""

import time

from gradio.utils import get_upload_folder
from starlette.middleware import Middleware

from classroom import connections, door, gradio_patches, headers, upload_guard
from classroom.settings import DEFAULTS

MAX_UPLOAD = "20mb"  # phone photos are 2-10 MB; bigger files are refused before they are stored
# Requests running at once, all endpoints together: above the sum of the expensive endpoints'
# limits (about 31), so that requests of cheap endpoints (no limit) always find a free slot.
MAX_THREADS = 64
MAX_BODY = 1_000_000  # bytes of any other request's body; the page's biggest is a few KB
# Per address: see classroom.settings. Half the open-file limit in all: the rest is for the
# model, uploads, the database and the workers' pipes.
CONNECTIONS_PER_ADDRESS = DEFAULTS.max_connections_per_address
UPLOADS_KEPT = (1800, 3600)  # every 30 min, delete uploads older than an hour (Blocks' delete_cache);
# between those sweeps: a total budget (oldest removed first) and a rate per client (upload_guard)
# Sessions whose state the server keeps (launch's state_session_capacity; Gradio's default 10,000).
# Every page and every API call made without a session starts one. In Gradio's own sessions
# each held a copy of every component's config: 328-355 KB with this app's 198 blocks (1,500 API
# calls grew the server by 533 MB), so 10,000 let a script grow the server by 3.5 GB. The copies
# are now made only when read (classroom.gradio_patches, patch 7: 13 KB and 0.03 ms of CPU per
# new session instead of 328 KB and 15.6 ms, measured with tracemalloc and process_time on the
# AMD EPYC), and the cap stays as a bound on what the rest of a session holds. Past this many the
# least recently used is dropped: an open page asks for progress every 2 s, so it stays among the
# recent ones.
SESSIONS_KEPT = 1000
PORT_TRIES = 3  # launches tried when another process takes the port Gradio probed


def server_options(settings=DEFAULTS, middleware=(), upload_refusal=None, body_refusal=None):
    """``launch()`` arguments of the server with ``settings``; ``upload_refusal(scope)``,
    ``body_refusal(scope)``: the messages of the upload guard and of the body limit."""
    app_kwargs = headers.app_kwargs()
    app_kwargs["middleware"] += [Middleware(door.ClosedRoutes),
                                 Middleware(door.BodyLimit, limit=MAX_BODY, message=body_refusal),
                                 *middleware,
                                 upload_guard.app_middleware(get_upload_folder(), settings, message=upload_refusal)]
    # mcp_server=False whatever $GRADIO_MCP_SERVER says: MCP tool calls reach the queue from the
    # server's own address, which has no per-address cap. run_history=False whatever
    # $GRADIO_RUN_HISTORY says: Gradio's run history keeps each call's pictures in the browser
    # (on a lab's shared computer, for the next student to see) and adds routes that make the
    # server call the Hugging Face Hub with a token and bucket the client names.
    return {"max_file_size": MAX_UPLOAD, "app_kwargs": app_kwargs, "max_threads": MAX_THREADS,
            "ssr_mode": settings.ssr, "num_workers": 0, "mcp_server": False, "run_history": False,
            "state_session_capacity": SESSIONS_KEPT}


def launch(demo, options, settings=DEFAULTS, busy=connections.BUSY, **launch_args):
    """``demo.launch(**options, **launch_args)`` without blocking (then ``demo.block_thread()``
    blocks), with the open-file limit raised and the connections bounded (``guard_connections``
    with ``settings.connections_per_address``; ``busy``: the text a connection over a cap gets);
    returns what ``launch`` returns.

    With server-side rendering, Gradio 6.31 probes a free port for Python and binds it later:
    another process launching at the same moment (a second app, a test process, a script) can
    take it in between, and the launch fails ("Cannot find empty port"). Such a launch is tried
    again, up to ``PORT_TRIES`` times in all, each with a newly probed port."""
    door.raise_open_file_limit()
    gradio_patches.lazy_session_configs()
    for attempt in range(1, PORT_TRIES + 1):
        try:
            result = demo.launch(prevent_thread_lock=True, **options, **launch_args)
            break
        except OSError as error:
            if attempt == PORT_TRIES or "Cannot find empty port" not in str(error):
                raise
    guard_connections(demo, settings.connections_per_address, busy=busy)
    return result


def guard_connections(demo, per_address=CONNECTIONS_PER_ADDRESS, **bounds):
    """Puts ``classroom.connections``' bounds on ``demo``'s running server; returns their book.

    Args:
        demo: a launched ``gr.Blocks``.
        per_address: the cap per client address; None: no cap (behind a trusted proxy every
            connection is the proxy's). Default ``CONNECTIONS_PER_ADDRESS``.
        **bounds: ``classroom.connections.guard``'s other arguments (timeouts, ``limit_local``, ``busy``).
    """
    total = max(64, door.raise_open_file_limit() // 2)
    return connections.guard(demo.server, total, per_address, **bounds)


def launch_on_loopback(demo, options, settings=DEFAULTS, timeout=120, busy=connections.BUSY):
    """Launches ``demo`` with ``options`` and ``settings`` on 127.0.0.1 (a free port) for tests and scripts; returns
    its URL once it answers. Gradio's own check gives the page 3 s and then refuses to start
    ("localhost is not accessible"); on 2 busy cores the first page has taken longer. So its check
    is skipped (``_frontend=False``) and this one waits up to ``timeout`` seconds."""
    import httpx

    _, url, _ = launch(demo, options, settings, busy, quiet=True, server_name="127.0.0.1", _frontend=False)
    deadline = time.monotonic() + timeout
    while True:
        try:
            if httpx.get(f"{url.rstrip('/')}/config", timeout=30).status_code == 200:
                return url
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            demo.close()
            raise RuntimeError(f"the app at {url} did not answer within {timeout} s")
        time.sleep(0.5)
