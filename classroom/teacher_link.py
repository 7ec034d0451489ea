"""The teacher link ``gradio_api/teacher?key=KEY``, swapped for a cookie before the page opens.

``TeacherLink`` (ASGI middleware) answers a ``GET`` of ``LINK_PATH`` (``classroom.teacher``) with
``303 See Other`` to the app's page, with the link's other parameters (``lang``, ``tab`` ...) as
they were and without the key, so the key never reaches the page, its address bar, its history
entry or a ``Referer``. With the right key the answer sets ``COOKIE`` (a ``TeacherKey.cookie``: an
HMAC, not the key; ``HttpOnly``, ``SameSite=Strict``, ``Path=/``, ``Secure`` over HTTPS); either
way it sets ``NOTE_COOKIE``, a one-time note of the outcome, so that the page can say whether the
link worked (``visit``). A wrong key past the limit (``classroom.teacher``) is answered after
``HOLD_S`` seconds.

The link is a path under ``gradio_api/``, not a parameter of the page's address, because with
server-side rendering (``MOBILENET_SSR``) a Node server in front of Python renders the pages
itself and forwards to Python only Gradio's own routes (``/gradio_api/...``, ``/config`` ...):
this middleware never sees a page's request there (Gradio 6.31's ``templates/node/build/
proxy_routes.js``).

The key is the app's: ``demo.teacher_key`` of the Gradio app that serves the request (Gradio's
``App.get_blocks()``, the object ``scope["app"]`` that Starlette puts in every scope), so the
middleware can be listed in ``launch()`` before the app exists. Installed by
``demo.ui.launch_options``.
"""

from urllib.parse import unquote_plus

import anyio

from classroom.clients import client_address
from classroom.teacher import COOKIE_MAX_AGE_S, HOLD_S, LINK_PARAM, LINK_PATH, NOTE_S, TooManyTries

COOKIE = "mobilenet_teacher"
NOTE_COOKIE = "mobilenet_teacher_link"


class TeacherLink:
    """ASGI middleware: ``GET …/gradio_api/teacher?key=KEY`` -> 303 to the page without the key,
    plus cookies (see the module)."""

    def __init__(self, app, trust_proxy=False):
        self.app, self.trust_proxy = app, trust_proxy  # trust_proxy: see classroom.clients

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope.get("method") not in ("GET", "HEAD"):
            return await self.app(scope, receive, send)
        teacher_key = _teacher_key(scope)
        if not scope.get("path", "").endswith(f"/{LINK_PATH}") or not (teacher_key and teacher_key.enabled):
            return await self.app(scope, receive, send)
        parts = scope.get("query_string", b"").decode("latin-1").split("&")
        keys = [unquote_plus(part.partition("=")[2]) for part in parts if _name(part) == LINK_PARAM]
        try:
            right = teacher_key.check(keys[0] if keys else "", client_address(scope, self.trust_proxy))
        except TooManyTries:
            right = False
            await anyio.sleep(HOLD_S)
        secure = "; Secure" if _https(scope, self.trust_proxy) else ""
        cookies = [f"{NOTE_COOKIE}={teacher_key.note('teacher' if right else 'wrong')}; Max-Age={NOTE_S}"]
        if right:
            cookies.append(f"{COOKIE}={teacher_key.cookie()}; Max-Age={COOKIE_MAX_AGE_S}")
        kept = "&".join(part for part in parts if part and _name(part) != LINK_PARAM)
        # The page two levels up (gradio_api/teacher -> ./), relative so that it holds behind a
        # proxy's path prefix too.
        location = "../" + (f"?{kept}" if kept else "")
        headers = [(b"location", location.encode("latin-1")), (b"cache-control", b"no-store"),
                   (b"content-length", b"0")]
        headers += [(b"set-cookie", f"{c}; Path=/; HttpOnly; SameSite=Strict{secure}".encode("latin-1"))
                    for c in cookies]
        await send({"type": "http.response.start", "status": 303, "headers": headers})
        await send({"type": "http.response.body", "body": b""})


def visit(teacher_key, request):
    """What a page opened by ``request`` (a ``gr.Request``) is: (the teacher's, the outcome of the
    teacher link that led to it: "teacher", "wrong" or None). The outcome is told once."""
    if teacher_key is None or not teacher_key.enabled:
        return False, None
    cookies = _cookies(request)
    return teacher_key.holds_cookie(cookies.get(COOKIE)), teacher_key.read_note(cookies.get(NOTE_COOKIE))


def holds_cookie(teacher_key, request):
    """Whether ``request`` (a ``gr.Request``) carries this key's teacher cookie."""
    return teacher_key is not None and teacher_key.holds_cookie(_cookies(request).get(COOKIE))


def _cookies(request):
    # gr.Request turns dicts into objects whose methods a cookie's name can shadow ("get"):
    # its Starlette request's cookies are a plain dict.
    starlette_request = getattr(request, "request", None) if request is not None else None
    return dict(getattr(starlette_request, "cookies", None) or {})


def _name(part):
    return unquote_plus(part.partition("=")[0])


def _teacher_key(scope):
    get_blocks = getattr(scope.get("app"), "get_blocks", None)
    return getattr(get_blocks(), "teacher_key", None) if get_blocks else None


def _https(scope, trust_proxy):
    if scope.get("scheme") == "https":
        return True
    if not trust_proxy:
        return False
    forwarded = dict(scope.get("headers") or []).get(b"x-forwarded-proto", b"")
    return forwarded.split(b",")[-1].strip() == b"https"
