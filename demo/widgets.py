"""What several tabs share: the checkpoint picker, the visitor's picture, and tables.

``CheckpointPicker`` is the one checkpoint dropdown: its choices always come from the catalog as
it is now, a key from a browser is only ever looked up there, and every way a checkpoint can
fail becomes one message, which names files but never the server's folders.

Tables are shown with readable column names in the page's language, numbers formatted but
still numbers (a ``gr.Dataframe`` sorts them as numbers): a table's columns are ``{data column:
(text id, format)}``, the format (``"{:,.0f}"``) or None saying how its cells are shown.
"""

import contextlib
import datetime
import hashlib
import io
import os
import tempfile

import gradio as gr
import pandas as pd
from PIL import Image
from gradio.utils import get_upload_folder, is_in_or_equal

from classroom.inputs import choices_change
from classroom.teacher import BADGE as TEACHER_BADGE
from classroom.work_pool import WorkFailed
from mobilenet.checkpoints import CheckpointError
from mobilenet.image_checks import StructureError
from mobilenet.inference import FORMAT_NAMES, ImageTooLarge, TooSlowToDecode

from demo.i18n import T, Text, localize, t

EXAMPLES_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "examples")
MAX_MEGAPIXELS = 40  # decoding is the only cost that grows with the picture; 32×32 is all we keep
# (PNG and WebP have lower limits: mobilenet.inference.DECODE_MEGAPIXELS)


class CheckpointPicker:
    """A checkpoint dropdown over ``catalog`` (a ``classroom.catalog.CheckpointCatalog``).

    It lists the catalog's short list (each person's newest runs, and the one picked); a "show
    all" checkbox under it lists every checkpoint. ``context``: the tabs' ``Context``, whose
    language radio the checkbox's event takes (None: no checkbox)."""

    def __init__(self, catalog, context=None):
        self.catalog, self.context = catalog, context

    def build(self, elem_id, **layout):
        """The dropdown, listing the checkpoints as the page is built (English labels until the
        page's language is applied by ``choices``), and its "show all" checkbox."""
        entries = self.catalog.listed()
        dropdown = choices_change(gr.Dropdown([(str(label(entry)), entry.key) for entry in entries],
                                              value=entries[0].key if entries else None,
                                              label=T("page.checkpoint.label"), elem_id=elem_id, **layout))
        if self.context is not None:
            # its class gives it a minimum width (demo.ui's CSS; Gradio drops min_width without a
            # container): in a row with the dropdown, on a phone it takes a line of its own
            show_all = gr.Checkbox(False, label=T("page.checkpoint.show_all"), elem_id=f"{elem_id}-all",
                                   elem_classes=["show-all-checkpoints"], container=False)
            show_all.input(self.show_all, inputs=[dropdown, show_all, self.context.language], outputs=dropdown,
                           api_visibility="private", concurrency_limit=None, preprocess=False)
        return dropdown

    def choices(self, current, lang, show_all=False):
        """The dropdown's choices now, in ``lang`` (the short list, or all); keeps ``current``
        while it is still listed."""
        entries = self.catalog.listed(show_all, keep=current)
        keys = [entry.key for entry in entries]
        return gr.Dropdown(choices=[(localize(label(entry), lang), entry.key) for entry in entries],
                           value=current if current in keys else (keys[0] if keys else None))

    def show_all(self, current, show_all, lang):
        """The "show all" checkbox: every checkpoint listed, or the short list again."""
        return self.choices(current, lang, show_all=bool(show_all))

    def entry(self, key, lang):
        """The listed entry of ``key``, or a ``gr.Error`` saying what to do."""
        if not self.catalog.entries():
            raise gr.Error(plain(t("page.checkpoint.none", lang)), title=t("page.checkpoint.none_title", lang))
        if not key:
            raise gr.Error(t("page.checkpoint.pick", lang), title=t("page.checkpoint.gone_title", lang))
        try:
            return self.catalog.find(key)
        except KeyError:
            raise gr.Error(t("page.checkpoint.gone", lang), title=t("page.checkpoint.gone_title", lang)) from None

    @staticmethod
    def broken(entry, error, lang):
        """The one message for a checkpoint that cannot be used: the reason, without folders."""
        reason = str(error).replace(os.path.dirname(entry.path) + os.sep, "")
        return gr.Error(t("page.checkpoint.broken", lang, reason=reason if lang == "en" else f"`{reason}`"),
                        title=t("page.checkpoint.broken_title", lang))


def label(entry):
    """A checkpoint's name in the list (a ``Text``): what it is, who trained it, its test accuracy
    (or that it was stopped early) and its date."""
    metadata, model = entry.metadata, entry.metadata.get("model", {})
    what = (Text("page.checkpoint.pretrained") if entry.pretrained else
            Text("page.checkpoint.kind", kind=Text(f"page.checkpoint.{entry.kind}"),
                 variant=model.get("variant", "?"), alpha=model.get("alpha", "?")))
    if entry.trained_by:  # a name as typed (plain text: a dropdown shows no Markdown)
        who = entry.trained_by + (f" {TEACHER_BADGE}" if metadata.get("trained_by_teacher") else "")
        what = Text("page.checkpoint.by", what=what, who=who)
    tested = (Text("page.checkpoint.tested", accuracy=entry.test_accuracy) if entry.test_accuracy is not None
              else Text("page.checkpoint.untested"))
    if entry.stopped:
        tested = Text("page.checkpoint.stopped_at", tested=tested)
    return Text("page.checkpoint.entry", what=what, tested=tested, created=format_created(metadata.get("created"), short=True))


def format_created(created, short=False):
    """'2025-01-31 14:05 UTC' (short: '2025-01-31 14:05') from a checkpoint's ISO timestamp."""
    try:
        moment = datetime.datetime.fromisoformat(created)
    except (TypeError, ValueError):
        return Text("page.checkpoint.no_date")
    return moment.astimezone(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M" + ("" if short else " UTC"))


def plain(markdown):
    """A Markdown message as a toast shows it (no marks)."""
    return markdown.replace("**", "").replace("`", "")


def picture_input(elem_id):
    """Where the visitor's picture comes in: upload, webcam or clipboard."""
    return gr.Image(type="filepath", image_mode=None, label=T("page.picture.label"),
                    sources=["upload", "webcam", "clipboard"], height=320, elem_id=elem_id)


def examples(prefix):
    """Committed example files whose name starts with ``prefix``, sorted."""
    return [os.path.join(EXAMPLES_DIR, n) for n in sorted(os.listdir(EXAMPLES_DIR))
            if n.startswith(prefix) and n.endswith((".png", ".jpg"))]


def picture_file(picture, name):
    """``picture`` (uint8 RGB) as a PNG file in Gradio's cache, written once per content; its path.

    Gradio saves a returned array under its hash by rewriting that file in place, so a class
    asking for the same picture at once (an example classified, its Grad-CAM) downloads a file
    being rewritten (truncated responses). Here it is written under a temporary name and
    renamed, never rewritten.
    """
    buffer = io.BytesIO()
    Image.fromarray(picture).save(buffer, "PNG")
    data = buffer.getvalue()
    folder = os.path.join(get_upload_folder(), hashlib.sha256(data).hexdigest())
    path = os.path.join(folder, name)
    if not os.path.exists(path):
        os.makedirs(folder, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{name}.")
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    return path


def upload_path(payload, lang):
    """(path, name shown) of an uploaded picture, or a ``gr.Error`` saying what to do; nothing is
    read here (a worker decodes it: ``classroom.work``).

    Only files in Gradio's upload folder are accepted (uploads, webcam, clipboard and the examples
    all arrive there): with ``preprocess=False`` a request could name any path.
    """
    path = payload.get("path") if isinstance(payload, dict) else None
    if not path or not isinstance(path, str):
        raise gr.Error(t("page.picture.none", lang), title=t("page.picture.none_title", lang))
    if not is_in_or_equal(path, get_upload_folder()):
        raise gr.Error(t("page.picture.not_upload", lang), title=t("page.picture.not_upload_title", lang))
    name = os.path.basename(str(payload.get("orig_name") or t("page.picture.the_file", lang)))[:80]
    if not os.path.isfile(path):
        raise gr.Error(t("page.picture.gone", lang, name=name), title=t("page.picture.gone_title", lang))
    return path, name


def picture_error(error, name, lang):
    """The ``gr.Error`` of a picture that ``mobilenet.inference.read_image`` refused."""
    if isinstance(error, StructureError):
        return gr.Error(t("page.picture.unusual", lang, name=name, kind=FORMAT_NAMES.get(error.format, error.format),
                          limit=f"{error.limit:,}", part=t(f"page.picture.part.{error.part}", lang)),
                        title=t("page.picture.unusual_title", lang))
    if isinstance(error, TooSlowToDecode):
        return gr.Error(t("page.picture.too_slow", lang, name=name, kind=FORMAT_NAMES.get(error.format, error.format),
                          limit=error.limit), title=t("page.picture.too_large_title", lang))
    if isinstance(error, ImageTooLarge):
        return gr.Error(t("page.picture.too_large", lang, name=name, limit=MAX_MEGAPIXELS),
                        title=t("page.picture.too_large_title", lang))
    return gr.Error(t("page.picture.unreadable", lang, name=name), title=t("page.picture.unreadable_title", lang))


def stopped_error(error, lang, name=None):
    """The ``gr.Error`` of a request whose worker hit a bound or died (``WorkFailed``): about the
    picture when it happened while reading it, else about the request."""
    if error.phase == "decode" and name:
        return gr.Error(t(f"page.work.decode_{error.reason}", lang, name=name), title=t("page.work.decode_title", lang))
    return gr.Error(t(f"page.work.{error.reason}", lang, seconds=error.seconds), title=t("page.work.title", lang))


@contextlib.contextmanager
def answers(lang, picker=None, entry=None, name=None):
    """Turns what a worker's request can raise into the one message for each: a checkpoint that
    cannot be used (``picker.broken``), a picture that cannot be read (file ``name``), a request
    stopped by a bound (``stopped_error``)."""
    try:
        yield
    except WorkFailed as error:
        raise stopped_error(error, lang, name) from None
    except (CheckpointError, OSError) as error:
        if picker is None:
            raise
        raise picker.broken(entry, error, lang) from None
    except ValueError as error:
        if name is None:
            raise
        raise picture_error(error, name, lang) from None


# -- tables -------------------------------------------------------------------------------------

COUNT = "{:,.0f}"


def column_names(columns, lang):
    """``{data column: shown name}`` in ``lang``."""
    return {key: t(text_id, lang) for key, (text_id, _) in columns.items()}


def present(frame, columns, lang, bold_last_row=False):
    """The ``columns`` of ``frame`` under their names in ``lang``, formatted; a pandas Styler
    (``bold_last_row``: a totals row)."""
    names = column_names(columns, lang)
    frame = frame[list(columns)].rename(columns=names)
    formats = {names[key]: fmt for key, (_, fmt) in columns.items() if fmt}
    styler = frame.style.format(formats, na_rep="")
    if bold_last_row:
        styler = styler.apply(_bold_if_last, last=len(frame) - 1, axis=1)
    return styler


def _bold_if_last(row, last):
    return ["font-weight: bold" if row.name == last else ""] * len(row)


def empty(columns, lang):
    """A table with no rows yet: only the column names, in ``lang``."""
    return pd.DataFrame(columns=list(column_names(columns, lang).values()))
