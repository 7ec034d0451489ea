"""中文 / English: the app's language, chosen from the browser and switchable.

Every visible English string of the app is also a key of ``demo.zh.ZH``. Static texts
(labels, infos, Markdown, buttons, tab names, choices) are harvested from the built page
once (``PageText``) and re-sent in the chosen language when a browser switches; texts
that callbacks write (messages, tables, class names) go through ``tr(text, lang)``.
The English text itself is the key, so the English page needs no table and a missing
translation shows English rather than a key (a test lists any missing one).

The language of a new page: ``?lang=zh`` / ``?lang=en`` in the URL, else the browser's
``Accept-Language``, else English.
"""

import html
import inspect
import re

import gradio as gr

from mobilenet.data import CLASS_NAMES

from demo.zh import CLASS_NAMES_ZH, ZH
from demo.zh_look_inside import ZH as ZH_LOOK_INSIDE

LANGUAGES = {"en": "English", "zh": "中文"}
DEFAULT = "en"
TEXT_PROPS = ("label", "info", "placeholder")
# Components whose value is text shown as-is (not data typed in by the user). HTML is
# written by callbacks here (the progress bar), which translate it themselves.
VALUE_TYPES = (gr.Markdown, gr.Button)


def _key(text):
    """Gradio's Markdown dedents and strips its text (``inspect.cleandoc``): so do the keys."""
    return inspect.cleandoc(text)


_TABLE = {_key(english): chinese for english, chinese in
          {**ZH, **ZH_LOOK_INSIDE, **CLASS_NAMES_ZH}.items()}


def add_translation(english, chinese):
    """For texts made when the page is built (with computed numbers in them)."""
    _TABLE[_key(english)] = chinese


def translated(text):
    """Whether ``text`` has a Chinese version."""
    return _key(text) in _TABLE


def tr(text, lang, **values):
    """``text`` in ``lang`` ("en" or "zh"), with ``values`` formatted into it."""
    template = _TABLE.get(_key(text), text) if lang == "zh" else text
    return template.format(**values) if values else template


class Text(str):
    """English text that keeps its template and values, so a view can show it in another
    language later (it is an ordinary ``str`` everywhere else)."""

    def __new__(cls, template, **values):
        text = super().__new__(cls, template.format(**values) if values else template)
        text.template, text.values = template, values
        return text


class UserText(str):
    """Text a visitor typed (a name): shown to others exactly as typed, never translated, and
    never interpreted as Markdown or HTML (see ``as_markdown`` and ``as_html``)."""


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
    """``text`` (a ``Text``, or a plain string looked up as is) in ``lang``. ``UserText`` in it
    is passed through ``user_text`` (default: escaped for Markdown; ``as_html`` for HTML)."""
    if isinstance(text, UserText):
        return user_text(text)
    if isinstance(text, Text):
        return tr(text.template, lang, **{key: localize(value, lang, user_text)
                                          if isinstance(value, str) else value
                                          for key, value in text.values.items()})
    return tr(text, lang) if isinstance(text, str) else text


def class_name(name, lang):
    """A CIFAR-10 class name (``"cat"``) in ``lang``."""
    return CLASS_NAMES_ZH[name] if lang == "zh" else name


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
    return pick_language(dict(getattr(request, "query_params", None) or {}),
                         headers.get("accept-language"))


class PageText:
    """The static English texts of a built page and their updates in another language.

    ``skip`` holds components left alone; the value and choices of every component that a
    callback writes (``written``) are that callback's to translate (re-sending the choices
    it had when the page was built would drop newer ones), so only its label is harvested.
    """

    def __init__(self, blocks, skip=(), written=()):
        skipped = {id(component) for component in skip}
        written = {id(component) for component in written}
        self.entries = []  # (component, {prop: English text or choices})
        for block in blocks.values():
            if id(block) in skipped or type(block).__name__ == "Api":
                continue
            texts = {prop: getattr(block, prop) for prop in TEXT_PROPS
                     if isinstance(getattr(block, prop, None), str) and getattr(block, prop).strip()}
            if (isinstance(block, VALUE_TYPES) and id(block) not in written
                    and isinstance(block.value, str) and block.value.strip()):
                texts["value"] = block.value
            if (isinstance(block, (gr.Radio, gr.Dropdown, gr.CheckboxGroup)) and id(block) not in written
                    and _named_choices(block)):
                texts["choices"] = list(block.choices)
            if texts:
                self.entries.append((block, texts))

    @property
    def components(self):
        return [component for component, _ in self.entries]

    def updates(self, lang):
        """One ``gr.update`` per component, in ``components`` order."""
        result = []
        for _, texts in self.entries:
            changes = {prop: tr(text, lang) for prop, text in texts.items() if prop != "choices"}
            if "choices" in texts:
                changes["choices"] = [(tr(shown, lang), value) for shown, value in texts["choices"]]
            result.append(gr.update(**changes))
        return result

    def english(self):
        """Every harvested English string (choices' shown names included)."""
        for _, texts in self.entries:
            for prop, text in texts.items():
                if prop == "choices":
                    yield from (shown for shown, _ in text)
                else:
                    yield text


def _named_choices(block):
    """True when some choice shows a word rather than its own value (``0.5``, ``paper``)."""
    return any(isinstance(shown, str) and shown != str(value) and any(c.isalpha() for c in shown)
               for shown, value in (block.choices or []))


def needs_translation(text):
    """Whether ``text`` has words to translate (not only numbers, symbols or HTML scaffolding)."""
    return any(c.isalpha() and c.isascii() for c in text)


# Words that stay in Latin letters in the Chinese page: names, units, layer and file names.
KEEP_LATIN = re.compile(
    r"`[^`]*`"                                   # code: layer names, commands, file names
    r"|\$\$.*?\$\$"                              # display formulas
    r"|（[^（）]*[A-Za-z][^（）]*）"               # the English term beside the Chinese one
    r"|\$[^$]*\$"                                # formulas
    r"|<[^>]*>"                                  # HTML tags and their attributes
    r"|\b(?:MobileNets?|V1|CIFAR-10|ImageNet|Keras|TensorFlow(?: Lite)?|LiteRT|TFLite|XNNPACK|Grad-CAM|"
    r"Howard|Mult-Adds|ReLU6?|BN|BatchNorm(?:alization)?|UTC|Adam|SGD|EMA|TTA|AUC|paper|cifar|full|shallow|"
    r"float32|float16|int8|conv\w*|dw|pw|png|jpe?g|webp|gif|bmp|svg|keras|json|tflite|"
    r"JPEG|PNG|WebP|GIF|BMP|SVG|ms|MB|KB|GB|MP|px|s|min|h|x|α|M|k|K|epoch|batch|top-\d|"
    r"Table|CPU|GPU|API|URL|OK|VS|vs|e\.g|i\.e|\d+\w*)\b", re.S)


def untranslated(text):
    """Latin-letter words left in a Chinese ``text`` once names, units and code are removed
    (empty when the text is fully translated)."""
    return re.findall(r"[A-Za-z]{2,}", KEEP_LATIN.sub(" ", text))
