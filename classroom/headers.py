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


def app_kwargs():
    """The ``launch(app_kwargs=...)`` that installs the headers."""
    return {"middleware": [Middleware(SecurityHeaders)]}
