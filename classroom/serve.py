"""How the classroom server is launched: its limits and guards, wherever it runs.

``server_options(middleware)`` are the ``launch()`` arguments of the server itself: server-side
rendering off unless ``ssr`` (default ``$MOBILENET_SSR``) says otherwise, on Spaces too (where
Gradio would turn it on: with it, Node serves the HTML page and its script bundle without the
security headers); everything served by the one Python server, uploads included
(``num_workers=0``: no separate upload servers, which would bypass the upload limits); the
security headers (``classroom.headers``), then ``middleware``, then the upload guard
(``classroom.upload_guard``), configured from the environment when this is called.
"""

import os
import time

from gradio.utils import get_upload_folder

from classroom import headers, upload_guard

MAX_UPLOAD = "20mb"  # phone photos are 2-10 MB; bigger files are refused before they are stored
# Requests running at once, all endpoints together: above the sum of the expensive endpoints'
# limits (about 31), so that requests of cheap endpoints (no limit) always find a free slot.
MAX_THREADS = 64
UPLOADS_KEPT = (1800, 3600)  # every 30 min, delete uploads older than an hour (Blocks' delete_cache);
# between those sweeps: a total budget (oldest removed first) and a rate per client (upload_guard)


def server_options(ssr=None, middleware=(), upload_refusal=None):
    """``launch()`` arguments of the server; ``upload_refusal(scope)``: the upload guard's message."""
    if ssr is None:
        ssr = os.environ.get("MOBILENET_SSR", "").lower() in ("1", "true", "yes")
    app_kwargs = headers.app_kwargs()
    app_kwargs["middleware"] += [*middleware, upload_guard.app_middleware(get_upload_folder(), message=upload_refusal)]
    return {"max_file_size": MAX_UPLOAD, "app_kwargs": app_kwargs, "max_threads": MAX_THREADS,
            "ssr_mode": bool(ssr), "num_workers": 0}


def launch_on_loopback(demo, options, timeout=120):
    """Launches ``demo`` with ``options`` on 127.0.0.1 (a free port) for tests and scripts; returns
    its URL once it answers. Gradio's own check gives the page 3 s and then refuses to start
    ("localhost is not accessible"); on 2 busy cores the first page has taken longer. So its check
    is skipped (``_frontend=False``) and this one waits up to ``timeout`` seconds."""
    import httpx

    _, url, _ = demo.launch(prevent_thread_lock=True, quiet=True, server_name="127.0.0.1", _frontend=False,
                            **options)
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
