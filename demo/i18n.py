"""中文 / English: every text of the app by id, English and Chinese side by side.

Each tab keeps its texts in a TOML table beside its module (``demo/tabs/classify.toml`` for
``demo/tabs/classify.py``); the page's own texts and class names are in ``demo/page.toml``. An
entry is ``id = {en = "...", zh = "..."}`` (or a ``[id]`` table with ``en``/``zh`` strings for
a paragraph); its id is the file's name, a dot and the entry's path: ``classify.intro``.

Two ways a text reaches the page:

- ``T(id)`` for static texts (labels, Markdown, buttons, tab names, choices): a Gradio i18n key,
  translated in the browser by Gradio's own i18n (``I18N``, given to ``launch``), so a language
  switch changes them without asking the server, and Gradio's own texts (upload hints, footer)
  follow the same locale.
- ``t(id, lang, **values)`` for texts a callback writes (messages, tables, notes), in the
  language the page sends with the event; ``Text`` keeps an id and its values for texts made
  far from the page (a run's state, a checkpoint's label) and rendered later by ``localize``.

The language of a new page: ``?lang=zh`` / ``?lang=en``, else the browser's first supported
language, else English, decided alike by the server (``request_language``) and the browser
(``PAGE_SCRIPT``).
"""

import hashlib
import html
import json
import os
import re
import tomllib
import urllib.parse

import gradio as gr
from gradio.i18n import I18nData

from classroom.gradio_patches import LOCALE_SETTER_JS
from classroom.visitors import UserText  # noqa: F401  (a visitor's name: localize escapes it)
from demo import gradio_words
from mobilenet.data import CLASS_NAMES

LANGUAGES = {"en": "English", "zh": "中文"}
DEFAULT = "en"
LOCALES = {"en": "en", "zh": "zh-CN"}  # Gradio's names of the languages (its own texts are in zh-CN)
HERE = os.path.dirname(os.path.abspath(__file__))
TABLES = [os.path.join(HERE, "page.toml")] + sorted(
    os.path.join(HERE, "tabs", name) for name in os.listdir(os.path.join(HERE, "tabs")) if name.endswith(".toml"))


def _entries(table, prefix):
    """(id, {language: text}) of a parsed table; a leaf is a table whose values are strings."""
    for key, value in table.items():
        if isinstance(value, dict) and value and all(isinstance(v, str) for v in value.values()):
            yield f"{prefix}.{key}", value
        elif isinstance(value, dict):
            yield from _entries(value, f"{prefix}.{key}")
        else:
            raise ValueError(f"{prefix}.{key}: expected {{en = ..., zh = ...}}, got {value!r}")


def load_tables(paths=TABLES):
    """Every entry of ``paths``, by id."""
    texts = {}
    for path in paths:
        with open(path, "rb") as f:
            texts.update(_entries(tomllib.load(f), os.path.splitext(os.path.basename(path))[0]))
    return texts


TEXTS = load_tables()
# What Gradio's i18n translates in the browser: the static texts, plus those formatted at build.
_BROWSER = {lang: {} for lang in LANGUAGES}


def t(text_id, lang, **values):
    """The text ``text_id`` in ``lang`` with ``values`` formatted in (a missing language: English)."""
    entry = TEXTS[text_id]
    template = entry.get(lang) or entry["en"]
    return template.format(**values) if values else template


def T(text_id, **values):
    """A static text for a component (label, info, Markdown, button, choice): translated in the
    browser. ``values`` are formatted in once, when the page is built."""
    key = text_id
    if values:
        key = f"{text_id}#{hashlib.sha256(repr(sorted(values.items())).encode()).hexdigest()[:10]}"
    for lang in LANGUAGES:
        _BROWSER[lang][key] = t(text_id, lang, **values)
    return I18nData(key)


def i18n():
    """The ``gr.I18n`` to give ``launch``: every static text in every language, and Gradio's own
    words that its locales lack (``demo.gradio_words``)."""
    return gr.I18n(**{LOCALES[lang]: {**gradio_words.i18n_keys(lang, t), **texts} for lang, texts in _BROWSER.items()})


def static_text(value, lang):
    """A component's static text (``T``'s key or a plain string) as shown in ``lang``."""
    key = getattr(value, "key", None)
    return _BROWSER[lang].get(key, key) if key else value


class Text(str):
    """A text by id with its values, rendered later in any language (``localize``); as a ``str``
    it is the English text."""

    def __new__(cls, text_id, **values):
        english = t(text_id, "en", **{k: str(v) if isinstance(v, Text) else v for k, v in values.items()})
        text = super().__new__(cls, english)
        text.text_id, text.values = text_id, values
        return text

    def __getnewargs_ex__(self):  # copies and pickles (a gr.State is deep-copied) make it again
        return (self.text_id,), self.values


# CommonMark lets a backslash escape any ASCII punctuation character: escaped, a visitor's
# text makes no link, image, emphasis, heading, table, HTML tag or autolink.
_MARKDOWN_SYNTAX = re.compile(r"""([!"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~])""")


def as_markdown(text):
    """``text`` as literal text inside Markdown."""
    return _MARKDOWN_SYNTAX.sub(r"\\\1", str(text))


def as_html(text):
    """``text`` as literal text inside HTML (e.g. an error toast, which renders HTML)."""
    return html.escape(str(text))


def localize(text, lang, user_text=as_markdown):
    """``text`` in ``lang``: a ``Text`` rendered with its values localized, ``UserText`` passed
    through ``user_text`` (default: escaped for Markdown), anything else as it is."""
    if isinstance(text, UserText):
        return user_text(text)
    if isinstance(text, Text):
        return t(text.text_id, lang, **{key: localize(value, lang, user_text)
                                        for key, value in text.values.items()})
    return text


def class_name(name, lang):
    """A CIFAR-10 class name (``"cat"``) in ``lang``."""
    return t(f"page.classes.{name}", lang)


def class_names(lang):
    return [class_name(name, lang) for name in CLASS_NAMES]


def pick_language(query=None, accept_language=None):
    """The language for a new page: the ``lang`` URL parameter, else the browser's first
    supported preference (``zh-CN,zh;q=0.9,en;q=0.8`` -> zh), else English."""
    wanted = (query or {}).get("lang", "")
    if wanted in LANGUAGES:
        return wanted
    preferences = []
    for position, part in enumerate((accept_language or "").split(",")):
        tag, _, params = part.strip().partition(";")
        weight = 1.0
        if params.strip().startswith("q="):
            try:
                weight = float(params.strip()[2:])
            except ValueError:
                continue
        preferences.append((-weight, position, tag.strip().lower().split("-")[0]))
    for _, _, primary in sorted(preferences):
        if primary in LANGUAGES:
            return primary
    return DEFAULT


def request_language(request):
    """``pick_language`` for a ``gr.Request`` (None outside a browser request)."""
    if request is None:
        return DEFAULT
    headers = getattr(request, "headers", None) or {}
    return pick_language(dict(getattr(request, "query_params", None) or {}), headers.get("accept-language"))


def too_many_uploads(scope):
    """The upload guard's refusal (``classroom.upload_guard``) in the language of the page that
    uploads: its ``?lang=`` (the request's ``Referer``), else the browser's preference."""
    return t("page.picture.too_many", _referring_language(scope))


def request_too_large(scope):
    """The body limit's refusal (``classroom.door``), in the language of the page that sent it."""
    return t("page.door.too_large", _referring_language(scope))


def too_many_connections():
    """The refusal of a connection over a cap (``classroom.connections``): sent before the
    request is read, so in every language."""
    return " / ".join(t("page.door.busy", lang) for lang in LANGUAGES)


def _referring_language(scope):
    """The language of the page that sent the request of an ASGI ``scope``: its ``?lang=`` (the
    request's ``Referer``), else the browser's preference."""
    headers = {name.decode("latin-1").lower(): value.decode("latin-1") for name, value in scope.get("headers") or []}
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(headers.get("referer", "")).query)
    return pick_language({key: values[-1] for key, values in query.items()}, headers.get("accept-language"))


# The browser's side. Gradio's i18n takes its language from ``navigator.language`` when the page
# starts (its upload hints are fixed then), so ``PAGE_SCRIPT``, put first in the page's HTML by
# ``PageLanguage`` (when Python serves the page, i.e. without server-side rendering), makes that
# the page's language: ``?lang=``, else the browser's first supported one, else English, as
# ``pick_language`` does on the server. Later (a switch, or a page rendered by Node) the page
# calls Gradio's locale setter, which Gradio does not make public: found by
# ``classroom.gradio_patches.LOCALE_SETTER_JS``.
PAGE_SCRIPT = """<script>
(() => {
  const LOCALES = %s;
  const query = new URLSearchParams(window.location.search).get("lang");
  const wanted = [query, ...(navigator.languages || [navigator.language])
    .map((tag) => String(tag).toLowerCase().split("-")[0])].find((lang) => lang in LOCALES) || "%s";
  for (const [name, value] of [["language", LOCALES[wanted]], ["languages", [LOCALES[wanted]]]]) {
    Object.defineProperty(navigator, name, {get: () => value, configurable: true});
  }
})();
</script>""" % (json.dumps(LOCALES), DEFAULT)


def set_locale_js(remember):
    """The ``js`` of an event whose first input is the language radio: Gradio's locale follows it
    (``remember``: and the address's ``?lang=``, so that a reload keeps it)."""
    return """async (lang, ...rest) => {%s
  const LOCALES = %s;
  if (lang in LOCALES) {
    if (%s) {
      const url = new URL(window.location.href);
      url.searchParams.set("lang", lang);
      window.history.replaceState(null, "", url);
    }
    const setter = await findLocaleSetter();
    if (setter) setter(LOCALES[lang]);
  }
  return [lang, ...rest];
}""" % (LOCALE_SETTER_JS, json.dumps(LOCALES), "true" if remember else "false")


class PageLanguage:
    """ASGI middleware: puts ``PAGE_SCRIPT`` first in the ``<head>`` of the app's HTML page
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
