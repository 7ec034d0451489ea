"""Every event's inputs checked in one place, before Gradio or a callback sees them.

The page's own controls only send values of the right kind, but anyone can send any JSON to an
endpoint: NaN for a slider, ``true`` for a number, a NUL byte in a file path, 100 KB for a
dropdown. Gradio's preprocessing lets some through (NaN passes a slider's range check, ``true``
is a number to Python), fails on others with an exception it hides from the client (a blank
"Error") and logs as a traceback, and echoes the rest whole in its message. ``CheckedBlocks``
refuses them first with a short message that names the control and shows at most ``SHOWN``
characters of the value; a value of the right kind still gets Gradio's own checks (range,
choices) and the callbacks'.

An event with ``preprocess=False`` (the language switch, and every event whose callback reads an
upload or a checkpoint key itself) gets none of Gradio's checks, so here it gets them all: a
radio's or dropdown's value must be one of its choices (as this page, in the session's state,
lists them), a slider's within its range and on its steps, a number's within its bounds. The one
exception is a control marked with ``choices_change``: its choices change while a page is open
(the checkpoints: a run finishes for the whole class), and its callbacks look its value up where
the choices live.

Every ``gr.Error`` is a message for the user, not a fault of the server: none is logged with a
traceback (Gradio prints one by default).

The messages are the app's (``texts``, the app's ``demo.i18n``: its ``t(id, lang)`` words the
``page.invalid.*`` ids, ``static_text`` a control's label, ``LANGUAGES`` the languages), in the
language the event's language radio (``elem_id="language"``) sends.
"""

import json
import math

import gradio as gr


SHOWN = 30  # characters of a refused value shown back
MAX_KEY = 300  # longer strings are no choice (checkpoint keys are file names)
MAX_CHOICES = 10  # choices listed in a message


def shown(value):
    """``value`` as JSON, at most ``SHOWN`` characters (longer: cut, with "…")."""
    try:
        text = json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):
        text = type(value).__name__
    text = "".join(c if c.isprintable() else "�" for c in text)
    return text if len(text) <= SHOWN else text[:SHOWN - 1] + "…"


def is_number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def plain(value):
    """A finite number or a short string without NUL: what a choice or a number can be."""
    if isinstance(value, str):
        return len(value) <= MAX_KEY and "\x00" not in value
    # abs first: math.isfinite(10**400) raises OverflowError, a comparison does not
    return is_number(value) and abs(value) < 1e15 and math.isfinite(value)


def strings(value):
    if isinstance(value, str):
        yield value
    elif isinstance(value, list):
        for item in value:
            yield from strings(item)
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from strings(key)
            yield from strings(item)


def same(a, b):
    """Equal and of the same kind: ``True`` is not the choice 1.0, nor ``1`` the choice ``"1"``."""
    return a == b and isinstance(a, bool) == isinstance(b, bool) and isinstance(a, str) == isinstance(b, str)


def choices_change(block):
    """Marks ``block`` (a dropdown) as one whose choices change while a page is open: an event that
    reads it without Gradio's preprocessing checks only its kind, and its callbacks look it up
    (see the module's doc). Returns ``block``."""
    block.choices_change = True
    return block


def off_range(block, value):
    """Why a number is outside ``block``'s bounds or off its slider steps (a text id), or None."""
    low, high = getattr(block, "minimum", None), getattr(block, "maximum", None)
    if low is not None and high is not None and not low <= value <= high:
        return "page.invalid.range"
    if low is not None and value < low:
        return "page.invalid.at_least"
    if high is not None and value > high:
        return "page.invalid.at_most"
    step = getattr(block, "step", None) if isinstance(block, gr.Slider) else None  # a number box takes any
    if step and low is not None:
        steps = (value - low) / step
        if abs(steps - round(steps)) > 1e-6:
            return "page.invalid.step"
    return None


def choice_list(block):
    choices = [shown(choice) for _, choice in block.choices or []]
    return ", ".join(choices[:MAX_CHOICES] + ["…"] * (len(choices) > MAX_CHOICES))


def problem(block, value, preprocess=True, choices_change=False):
    """Why ``value`` cannot be ``block``'s (the id of a text with {label}, {value}, {choices},
    {minimum}, {maximum} and {step}), or None. With ``preprocess`` Gradio checks ranges itself;
    without it, this does. ``choices_change``: whether the control is marked by ``choices_change()``."""
    if value is None:
        # a radio or a slider always holds a value on the page; the others may be empty
        return "page.invalid.choose" if isinstance(block, (gr.Radio, gr.Slider, gr.Dataset)) else None
    if isinstance(block, gr.Dataset):  # an example's number, as a click on it sends
        samples = len(block.raw_samples or [])
        if type(value) is not int or not 0 <= value < samples:
            return "page.invalid.example"
        return None
    if isinstance(block, (gr.Slider, gr.Number)):
        if not plain(value) or not is_number(value):
            return "page.invalid.number"
        return None if preprocess else off_range(block, value)
    if isinstance(block, gr.Checkbox):
        return None if isinstance(value, bool) else "page.invalid.boolean"
    if isinstance(block, gr.Textbox):
        return None if isinstance(value, str) else "page.invalid.text"
    if isinstance(block, (gr.Radio, gr.Dropdown)):
        choices = [choice for _, choice in block.choices or []]
        values = value if isinstance(value, list) and getattr(block, "multiselect", False) else [value]
        custom = getattr(block, "allow_custom_value", False) or choices_change and not preprocess
        for item in values:
            if not plain(item) or not custom and not any(same(item, choice) for choice in choices):
                # choices are listed where they are checked; a list that changes is not shown stale
                return "page.invalid.choice_listed" if choices and not custom else "page.invalid.choice"
        return None
    if getattr(block, "data_model", None) is not None:  # files: a record as Gradio's client sends it
        if any("\x00" in text for text in strings(value)) or not isinstance(value, dict):
            return "page.invalid.file"
        try:
            block.data_model.model_validate(value)
        except Exception:  # pydantic's ValidationError, or a value its validators choke on
            return "page.invalid.file"
    return None


class CheckedBlocks(gr.Blocks):
    """``gr.Blocks`` whose events refuse values of the wrong kind with a clear message, worded by
    ``texts`` (see the module's doc)."""

    def __init__(self, texts, **kwargs):
        self.texts = texts
        super().__init__(**kwargs)

    def label(self, block, lang):
        text = self.texts.static_text(getattr(block, "label", None), lang)
        return text if isinstance(text, str) and text.strip() else self.texts.t("page.invalid.this_input", lang)

    def fields(self, block, value, lang):
        """What a ``page.invalid.*`` text may name: the control, the value, its choices and bounds."""
        bounds = {name: shown(getattr(block, name, None)) for name in ("minimum", "maximum", "step")}
        choices = choice_list(block) if isinstance(block, (gr.Radio, gr.Dropdown)) else ""
        return {"label": self.label(block, lang), "value": shown(value), "choices": choices, **bounds}

    async def preprocess_data(self, block_fn, inputs, state, explicit_call=False):
        blocks = [state[block._id] if state is not None and block._id in state else block
                  for block in block_fn.inputs]
        lang = next((value for block, value in zip(blocks, inputs) if getattr(block, "elem_id", None)
                     == "language" and isinstance(value, str) and value in self.texts.LANGUAGES), "en")
        if block_fn.fn is None:  # a step the page runs in the browser: Gradio fails on it, with a traceback
            raise gr.Error(self.texts.t("page.invalid.browser_only", lang), title=self.texts.t("page.invalid.title", lang),
                           print_exception=False)
        if len(inputs) < len(blocks):  # Gradio's own message lists every value sent, whole
            wanted = sum(not getattr(block, "stateful", False) for block in blocks)  # states: the server's
            raise gr.Error(self.texts.t("page.invalid.count", lang, count=wanted, sent=len(inputs)),
                           title=self.texts.t("page.invalid.title", lang), print_exception=False)
        for original, block, value in zip(block_fn.inputs, blocks, inputs):
            if getattr(block, "stateful", False):
                continue  # the server's own state: whatever was sent is ignored
            # the mark is on the page's own control: the session's copy of an updated one lacks it
            reason = problem(block, value, block_fn.preprocess, getattr(original, "choices_change", False))
            if reason:
                raise gr.Error(self.texts.t(reason, lang, **self.fields(block, value, lang)),
                               title=self.texts.t("page.invalid.title", lang), print_exception=False)
        try:
            return await super().preprocess_data(block_fn, inputs, state, explicit_call)
        except gr.Error:
            raise
        except Exception:  # Gradio could not take a value this check let through
            raise gr.Error(self.texts.t("page.invalid.unusable", lang), title=self.texts.t("page.invalid.title", lang),
                           print_exception=False) from None

    async def process_api(self, *args, **kwargs):
        try:
            return await super().process_api(*args, **kwargs)
        except gr.Error as error:
            error.print_exception = False  # a message for the user, not a fault: no traceback in the log
            raise
