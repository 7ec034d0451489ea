"""Bounds at the door: what one request may make the server read, and how many files it may open.

``BodyLimit`` is an ASGI middleware that bounds the body of every request except uploads
(``POST /gradio_api/upload``, bounded by Gradio's ``max_file_size`` and ``classroom.upload_guard``).
A request whose ``Content-Length`` is over the limit is answered 413 before a byte of its body
is read; a body sent without one (chunked) is counted as it arrives and cut off (413) as soon as
it passes the limit, so the server never holds more than the limit and one chunk of it. The
answer says ``Connection: close``: the server drops the rest of the body with the connection
instead of reading it.

``ClosedRoutes`` answers 404 to the routes of Gradio the page never calls that would make the
server keep something a client sends: ``/gradio_api/deep_link`` writes the session's values to a
new file of the upload folder on every call with new values (the app has no deep-link button;
with a script that changes a value between calls, one file per call, outside the upload guard's
budget); ``/gradio_api/process_recording`` (for Gradio's screen recorder, which the page does not
show) stores a posted video and runs ffmpeg on it in the server, for any client, with no cap;
``/gradio_api/dev/reload`` (for ``gradio app.py``'s reloading, which the app does not use) holds
a stream open that looks at the app every 50 ms: 100 of them took 9 % of a core of the server.
Gradio has no setting to turn any of them off.

``raise_open_file_limit()`` raises the process's soft limit on open files to its hard limit (a
laptop's default soft limit, 1024 or 256, is what slow connections used up); the connection caps
(``classroom.connections``) are set well below the limit it returns.
"""

import re
import resource

from starlette.responses import PlainTextResponse

from classroom.upload_guard import UPLOAD_PATH, content_length

CLOSED_PATHS = ("/gradio_api/deep_link", "/gradio_api/process_recording", "/gradio_api/dev/reload")
TOO_LARGE = "This request is larger than the server accepts."
FILE_LIMIT_WITHOUT_HARD_LIMIT = 65_536  # where the hard limit is "unlimited" (macOS): ask for this


class BodyLimit:
    """ASGI middleware: at most ``limit`` bytes of body per request, uploads excepted.

    Args:
        app: the ASGI app inside.
        limit: the most bytes of body a request may send (default 1 MB).
        message: ``message(scope)``, the 413's text for a request (default ``TOO_LARGE``).
    """

    def __init__(self, app, limit=1_000_000, message=None):
        if limit <= 0:
            raise ValueError(f"The body limit must be positive. Received: limit={limit}")
        self.app, self.limit = app, limit
        self.message = message or (lambda scope: TOO_LARGE)

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or _is_upload(scope):
            return await self.app(scope, receive, send)
        declared = content_length(scope)
        if declared is not None and declared > self.limit:
            return await self._refuse(scope, receive, send)
        received, cut_off, started = 0, False, False

        async def counted_receive():
            # Past the limit the app is told the client left: every app stops reading then.
            nonlocal received, cut_off
            if cut_off:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    cut_off = True
                    return {"type": "http.disconnect"}
            return message

        async def send_unless_cut_off(message):
            # Whatever the app answers to a body it never got whole gives way to the 413.
            nonlocal started
            if cut_off and not started:
                return
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted_receive, send_unless_cut_off)
        except Exception:
            if not cut_off:
                raise
        if cut_off and not started:
            await self._refuse(scope, receive, send)

    async def _refuse(self, scope, receive, send):
        await PlainTextResponse(self.message(scope), 413, headers={"connection": "close"})(scope, receive, send)


class ClosedRoutes:
    """ASGI middleware: 404 for every request whose path ends with one of ``paths`` (default
    ``CLOSED_PATHS``), whatever its method, slashes or the prefix the app is mounted under."""

    def __init__(self, app, paths=CLOSED_PATHS):
        self.app, self.paths = app, tuple(paths)

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or not re.sub("/+", "/", scope["path"]).rstrip("/").endswith(self.paths):
            return await self.app(scope, receive, send)
        await PlainTextResponse("Not found", 404)(scope, receive, send)


def _is_upload(scope):
    return scope["method"] == "POST" and scope["path"].rstrip("/").endswith(UPLOAD_PATH)


def raise_open_file_limit():
    """Raises the soft limit on open files to the hard limit; returns the soft limit in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = FILE_LIMIT_WITHOUT_HARD_LIMIT if hard == resource.RLIM_INFINITY else hard
    if soft != resource.RLIM_INFINITY and soft < target:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError):  # e.g. macOS caps it at OPEN_MAX: keep what we have
            pass
    return soft
