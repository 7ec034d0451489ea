"""The app's tabs, each a module with the same small contract, assembled by ``demo.ui``.

A tab is a ``Tab`` subclass in ``demo/tabs/<name>.py`` with its texts in ``<name>.toml`` beside
it (``demo.i18n``). Its methods are its callbacks; ``build`` only lays out components and wires
events, and reads nothing from other tabs: what tabs share comes in the ``Context``
(the catalog, the runs, the worker pools, the settings, the language radio, the class board) or from ``demo.widgets``.

Outputs by name: a callback that updates several components returns ``{component: update}``
(Gradio matches each key to the event's ``outputs``; a component left out keeps what it shows),
never a list whose order must follow ``outputs``. ``tests/test_outputs_by_name.py`` checks that
every key is one of the event's outputs.

Languages: static texts are ``T(id)`` and follow the page's language in the browser. What the
tab's callbacks wrote (tables, notes, checkpoint names) is written again by ``relabel(lang,
**values)`` when the page's language changes: ``demo.ui`` calls every tab's ``relabel`` from one
handler, each parameter named in ``relabel_inputs`` (``{parameter: component}``) given that
component's value, and its answer's keys among ``relabel_outputs``.

Events: every event that belongs to the app's API has an ``api_name``; the others (page
plumbing) are ``api_visibility="private"``. Every event takes the language radio as its last
input (``self.lang``).
"""

from __future__ import annotations

import dataclasses
import typing

from classroom.settings import DEFAULTS, Settings
from demo.widgets import CheckpointPicker

if typing.TYPE_CHECKING:
    import gradio as gr

    from classroom.board_store import BoardStore
    from classroom.catalog import CheckpointCatalog
    from classroom.class_queue import ClassQueue
    from classroom.runs import TrainingRuns
    from classroom.teacher import TeacherKey
    from classroom.work import Work

PRIVATE = {"api_visibility": "private"}


def session_of(request):
    """The browser tab's session id (Gradio's ``session_hash``): the owner of the runs it starts."""
    return getattr(request, "session_hash", None) or None


@dataclasses.dataclass
class Context:
    """What the tabs share: built once by ``demo.ui.build_demo``."""
    catalog: CheckpointCatalog
    runs: TrainingRuns
    teacher_key: TeacherKey
    work: Work  # every network a request runs, and every picture it reads, runs in these workers
    settings: Settings = DEFAULTS  # the server's (classroom.settings)
    queue: ClassQueue = None  # the class's runs: the one training and those waiting (classroom.class_queue)
    language: gr.Radio = None  # set by the page before the tabs are built
    board: BoardStore = None  # the class board's runs (rows, boards, current_board, csv, version)


class Tab:
    """One tab. Subclasses set ``tab_id`` and implement ``build`` (and ``relabel`` when their
    callbacks write texts)."""

    tab_id = ""

    def __init__(self, ctx):
        self.ctx = ctx
        self.catalog, self.runs, self.work = ctx.catalog, ctx.runs, ctx.work
        self.picker = CheckpointPicker(ctx.catalog, ctx)
        self.relabel_inputs, self.relabel_outputs = {}, []

    @property
    def lang(self):
        """The language radio: the last input of every event."""
        return self.ctx.language

    def build(self):
        """Lays out the tab (a ``gr.Tab`` with id ``tab_id``) and wires its events."""
        raise NotImplementedError

    def relabel(self, lang, **values):
        """``{component: update}`` of ``relabel_outputs`` in ``lang``, from the values of
        ``relabel_inputs`` (by name)."""
        return {}
