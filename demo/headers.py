"""Security headers on every answer of the app's Python server (OWASP's Secure Headers, as far
as a page shown inside a Hugging Face Space allows).

Set: ``X-Content-Type-Options: nosniff`` (a browser never runs an uploaded or served file as
another type than the server says) and ``Referrer-Policy: strict-origin-when-cross-origin``
(links out of the app carry no page address or query).

Not set, on purpose: ``X-Frame-Options`` and CSP ``frame-ancestors``, because a Space shows the
app inside an iframe of huggingface.co; a ``Content-Security-Policy`` for scripts, because
Gradio's pages need inline scripts and styles; a ``Permissions-Policy``, because the Classify
panel's webcam needs the camera that the Space's iframe grants.
"""

from starlette.middleware import Middleware

from demo.i18n import PAGE_SCRIPT

HEADERS = ((b"x-content-type-options", b"nosniff"),
           (b"referrer-policy", b"strict-origin-when-cross-origin"))
_NAMES = {name for name, _ in HEADERS}


class SecurityHeaders:
    """ASGI middleware: adds ``HEADERS`` to every HTTP response, replacing any of the same name."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)

        async def send_with_headers(message):
            if message["type"] == "http.response.start":
                kept = [(k, v) for k, v in message.get("headers", []) if k.lower() not in _NAMES]
                message = {**message, "headers": kept + list(HEADERS)}
            await send(message)

        return await self.app(scope, receive, send_with_headers)


class PageLanguage:
    """ASGI middleware: puts ``demo.i18n.PAGE_SCRIPT`` first in the ``<head>`` of the app's HTML page
    (served by Python, or by Node with server-side rendering and passed through here), so that
    Gradio starts in the page's language. Other answers pass untouched."""

    SCRIPT = PAGE_SCRIPT.encode()

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope.get("method") != "GET" or scope.get("path", "").rstrip("/") != (
                scope.get("root_path") or "").rstrip("/"):
            return await self.app(scope, receive, send)
        start, body = None, []

        async def inject(message):
            nonlocal start
            if message["type"] == "http.response.start":
                names = {k.lower(): v for k, v in message.get("headers", [])}
                if b"text/html" not in names.get(b"content-type", b"") or b"content-encoding" in names:
                    start = False  # not the page (or compressed): as it is
                    return await send(message)
                start = message
                return
            if start is False:
                return await send(message)
            body.append(message.get("body", b""))
            if message.get("more_body"):
                return
            page = b"".join(body).replace(b"<head>", b"<head>" + self.SCRIPT, 1)
            headers = [(k, v) for k, v in start.get("headers", []) if k.lower() != b"content-length"]
            await send({**start, "headers": headers + [(b"content-length", str(len(page)).encode())]})
            await send({"type": "http.response.body", "body": page})

        return await self.app(scope, receive, inject)


def app_kwargs():
    """The ``launch(app_kwargs=...)`` that installs the headers and the page's language script."""
    return {"middleware": [Middleware(SecurityHeaders), Middleware(PageLanguage)]}
