"""Guards Gradio's upload route (``POST /gradio_api/upload``): a rate per client, and the
upload folder's disk budget.

Per client (``classroom.clients.client_address``: the computer's address, or a whole school's
behind one router; the machine itself is not limited, see ``classroom.clients.is_local``), two
token buckets refilled continuously over a minute: at most
``MOBILENET_UPLOADS_PER_MINUTE`` uploads (default 30) and ``MOBILENET_UPLOAD_MB_PER_MINUTE``
megabytes (default 200; ``classroom.settings``). An upload over either is refused with HTTP 429 and ``TOO_MANY``
before its body is read, so nothing is stored; the bytes are charged from ``Content-Length``,
and a body sent without one (chunked) is counted as it arrives and cut off at the limit.
After every upload the folder is brought back within ``MOBILENET_UPLOAD_BUDGET_MB``
(``classroom.upload_budget``), oldest files first.

Installed with ``launch(app_kwargs={"middleware": [...]})`` (see ``demo.ui.launch_options``).
"""

import json
import threading
import time

import anyio
from starlette.formparsers import MultiPartException
from starlette.middleware import Middleware

from classroom.clients import client_address, is_local
from classroom.settings import DEFAULTS
from classroom.upload_budget import UploadBudget

UPLOAD_PATH = "/gradio_api/upload"
TOO_MANY = "Too many uploads from your computer in the last minute: wait a moment, then try again."
MAX_CLIENTS = 10_000  # buckets kept; full (idle) ones are forgotten first


class TokenBuckets:
    """Per-key token buckets of ``capacity`` tokens, refilled at ``capacity`` per ``period``."""

    def __init__(self, capacity, period=60.0, clock=time.monotonic):
        self.capacity, self.rate, self.clock = float(capacity), capacity / period, clock
        self._levels = {}  # key -> (tokens, time)

    def level(self, key):
        tokens, then = self._levels.get(key, (self.capacity, self.clock()))
        return min(self.capacity, tokens + (self.clock() - then) * self.rate)

    def charge(self, key, amount, tokens=None):
        """Takes ``amount`` tokens even when that leaves the bucket below zero."""
        tokens = self.level(key) if tokens is None else tokens
        self._levels[key] = (tokens - amount, self.clock())
        if len(self._levels) > MAX_CLIENTS:
            self._forget_full()

    def seconds_until(self, key, amount):
        return max(0.0, (min(amount, self.capacity) - self.level(key)) / self.rate)

    def _forget_full(self):
        for key in [key for key in self._levels if self.level(key) >= self.capacity]:
            del self._levels[key]


class UploadRate:
    """At most ``uploads`` uploads and ``megabytes`` MB per client per minute."""

    def __init__(self, uploads=DEFAULTS.uploads_per_minute, megabytes=DEFAULTS.upload_mb_per_minute,
                 clock=time.monotonic):
        self.uploads, self.megabytes = uploads, megabytes
        self._count = TokenBuckets(uploads, clock=clock)
        self._bytes = TokenBuckets(megabytes * 1_000_000, clock=clock)
        self._lock = threading.Lock()

    def admit(self, client, declared_bytes):
        """Charges one upload of ``declared_bytes`` (0 when unknown); returns None when it
        may go ahead, else the seconds to wait."""
        with self._lock:
            # A body larger than a whole minute's allowance never fits (a script's 1000 files).
            if self._count.level(client) >= 1 and self._bytes.level(client) >= declared_bytes:
                self._count.charge(client, 1)
                self._bytes.charge(client, declared_bytes)
                return None
            return max(self._count.seconds_until(client, 1),
                       self._bytes.seconds_until(client, declared_bytes), 1.0)  # a minute at most

    def charge_bytes(self, client, amount):
        """Charges bytes of a body sent without a length; returns whether the client is still
        within its allowance."""
        with self._lock:
            self._bytes.charge(client, amount)
            return self._bytes.level(client) >= 0


class _CutOff(MultiPartException):
    """The body went past the client's allowance while it was being read. A
    ``MultiPartException``, so that Gradio's parser deletes the part it stored and answers
    with this message (its status is then turned into 429)."""

    def __init__(self, message=TOO_MANY):
        super().__init__(message)


class UploadGuard:
    """ASGI middleware: rate per client on the upload route, then the folder's budget;
    ``trust_proxy``: whether ``X-Forwarded-For`` names the client (``classroom.clients``)."""

    def __init__(self, app, rate=None, budget=None, message=None, trust_proxy=False):
        self.app, self.trust_proxy = app, trust_proxy
        self.rate = rate or UploadRate()
        self.message = message or (lambda scope: TOO_MANY)  # the 429's text, for the request's ASGI scope
        self.budget = budget

    async def __call__(self, scope, receive, send):
        if not (scope["type"] == "http" and scope["method"] == "POST"
                and scope["path"].rstrip("/").endswith(UPLOAD_PATH)):
            return await self.app(scope, receive, send)
        client = client_address(scope, self.trust_proxy)
        declared = content_length(scope)
        limited = not is_local(client)  # see classroom.clients: the machine itself is not limited
        wait = self.rate.admit(client, declared or 0) if limited else None
        if wait is not None:
            return await _too_many(send, wait, self.message(scope))
        cut_off, held, enforced = False, [], False

        async def counted_receive():
            # With a Content-Length the server never reads past it: only a chunked body counts.
            nonlocal cut_off
            message = await receive()
            if limited and declared is None and message["type"] == "http.request":
                if not self.rate.charge_bytes(client, len(message.get("body", b""))):
                    cut_off = True
                    raise _CutOff(self.message(scope))
            return message

        async def enforce_budget():
            nonlocal enforced
            enforced = True
            if self.budget is not None:
                created, kept = _app_files(scope)
                kept.update(_stored_paths(b"".join(m.get("body", b"") for m in held
                                                   if m["type"] == "http.response.body")))
                await anyio.to_thread.run_sync(self.budget.enforce, kept, created)

        async def send_after_budget(message):
            # The answer (a short JSON list of paths) is held until the folder is within its
            # budget again: whoever gets it sees the folder as it stays.
            if message["type"] == "http.response.start" and cut_off:
                message = {**message, "status": 429}
            if message["type"] in ("http.response.start", "http.response.body") and not enforced:
                held.append(message)
                if message["type"] == "http.response.start" or message.get("more_body"):
                    return
                await enforce_budget()
                for waiting in held:
                    await send(waiting)
                return
            await send(message)

        try:
            await self.app(scope, counted_receive, send_after_budget)
        except _CutOff:
            if not held:
                await _too_many(send, 60.0, self.message(scope))
        finally:
            if not enforced:
                await enforce_budget()


def content_length(scope):
    """The request's ``Content-Length`` as an int, or None when it has none (or a bad one)."""
    for name, value in scope.get("headers") or []:
        if name.lower() == b"content-length":
            try:
                return max(0, int(value))
            except ValueError:
                return None
    return None


def _app_files(scope):
    """(files the app created, files it keeps) from Gradio's own lists, as its hourly sweep
    reads them; (None, set()) outside a Gradio app (then any file in the folder may go)."""
    get_blocks = getattr(scope.get("app"), "get_blocks", None)
    blocks = get_blocks() if get_blocks else None
    if blocks is None:
        return None, set()
    for _ in range(5):  # worker threads add to these sets while they are copied
        try:
            created = set().union(*[set(files) for files in blocks.temp_file_sets])
            kept = set().union(*[set(getattr(block, "keep_in_cache", ())) for block
                                 in [blocks, *list(blocks.blocks.values())]])
            return created, kept
        except RuntimeError:
            continue
    return set(), set()  # could not read them: delete nothing this time


def _stored_paths(body):
    """The paths an upload answer names (a JSON list), or none."""
    try:
        paths = json.loads(body)
    except ValueError:
        return []
    return [path for path in paths if isinstance(path, str)] if isinstance(paths, list) else []


async def _too_many(send, wait_seconds, message):
    """429 with ``message`` (the browser shows it in an error toast, after "HTTP 429: ")."""
    body = message.encode()
    await send({"type": "http.response.start", "status": 429,
                "headers": [(b"content-type", b"text/plain; charset=utf-8"),
                            (b"content-length", str(len(body)).encode()),
                            (b"retry-after", str(int(wait_seconds + 0.999)).encode())]})
    await send({"type": "http.response.body", "body": body})


def app_middleware(upload_folder, settings=DEFAULTS, message=None):
    """The ``Middleware`` entry that installs the guard on ``upload_folder`` with ``settings``'
    rates, budget and proxy (a ``classroom.settings.Settings``); ``message(scope)`` is the
    refusal's text for a request (default ``TOO_MANY``)."""
    return Middleware(UploadGuard, rate=UploadRate(settings.uploads_per_minute, settings.upload_mb_per_minute),
                      budget=UploadBudget(upload_folder, settings.upload_budget_bytes), message=message,
                      trust_proxy=settings.trusted_proxy)
