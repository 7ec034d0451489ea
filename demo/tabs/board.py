"""Class board tab: every run of the lesson side by side, live for every viewer.

The rows come from the class's store (``self.ctx.board``: ``rows``, ``boards``, ``current_board``,
``csv`` and ``version``, ``classroom.board_store.BoardStore``) and are worded per viewer by
``demo.tabs.board_view``. The page's refresh (``demo.ui``) calls ``view`` when the store's version
moved; the pickers (board, x axis, colour, runs to compare, run to try) are each viewer's own and
are read from the page, never kept here. "Try these settings" answers into ``try_settings`` (a
``gr.State``), which the page hands to the Train tab.
"""

import os
import tempfile

import gradio as gr
from gradio.utils import get_upload_folder

from classroom.inputs import choices_change
from demo.i18n import T, as_markdown, t
from demo.tabs import PRIVATE, Tab
from demo.tabs.board_view import (COLOURS, GROUP_COLUMNS, TABLE_COLUMNS, X_AXES, board_choices, board_table, board_title,
                                  curves_frame, finished, group_table, run_choices, run_label, scatter_frame,
                                  recovered_note, settings_of, summary, with_curves)
from demo.widgets import empty

CURRENT = 0  # the board picker's value for "the current board", whichever it is when the page asks
DEFAULT_CURVES = 3  # curves a viewer who picked no run sees: the newest finished runs' with a curve
# in pixels, as TABLE_COLUMNS and GROUP_COLUMNS order them: a name or a settings line wraps
# inside its column instead of pushing the results out of sight
TABLE_WIDTHS = [50, 150, 110, 100, 90, 80, 90, 110, 110, 70, 70, 110, 420]
GROUP_WIDTHS = [110, 420, 70, 90, 110, 100, 90]


class BoardTab(Tab):
    tab_id = "board"

    def __init__(self, ctx):
        super().__init__(ctx)
        # One CSV file per board, rewritten: in Gradio's own folder, so that it is served as it is
        # (not copied once per version), and swept with the rest of its files when old.
        self.csv_folder = os.path.join(get_upload_folder(), "class-board")

    # -- reading the store --------------------------------------------------------------------------
    def board_id(self, board):
        """The store's id of the board picker's value: None (the current board) unless it names
        an old board."""
        boards = {entry["board_id"] for entry in self.ctx.board.boards()}
        return board if type(board) is int and board != CURRENT and board in boards else None

    def title(self, board_id, lang="en"):
        wanted = self.ctx.board.current_board() if board_id is None else board_id
        return next((board_title(entry, lang) for entry in self.ctx.board.boards() if entry["board_id"] == wanted), "")

    @staticmethod
    def run_ids(picked):
        """The run ids a multiselect sent (anything else is left out)."""
        return [run_id for run_id in picked if type(run_id) is int] if isinstance(picked, list) else []

    # -- callbacks ----------------------------------------------------------------------------------
    def class_board(self, board_id: int | None = None) -> list[dict]:
        """The class board's runs, newest first (one JSON record per run: ``name``, ``settings``,
        ``test_accuracy``, ``seconds``, ``status`` and the rest of ``classroom.board_store``'s row);
        ``board_id``: an earlier lesson's board (default: the current one)."""
        if board_id is not None and (type(board_id) is not int or board_id not in [
                entry["board_id"] for entry in self.ctx.board.boards()]):
            raise gr.Error(f"No class board has the id {str(board_id)[:40]!r}: leave it out for the current one.")
        return self.ctx.board.rows(board_id)

    def show(self, board=CURRENT, x_axis="mult_adds", colour="variant", picked=None, chosen=None, lang="en"):
        """Updates of ``view_outputs``: the board ``board`` as it is now, in ``lang``, each picker
        keeping the viewer's choice while the board still lists it."""
        board_id = self.board_id(board)
        rows = self.ctx.board.rows(board_id)
        done = {row["run_id"] for row in rows if finished(row)}
        picked = [run_id for run_id in self.run_ids(picked) if run_id in done]
        if not picked:  # something to look at: the newest finished runs' curves
            picked = with_curves(rows)[:DEFAULT_CURVES]
        choices = run_choices(rows, lang)
        keep = type(chosen) is int and chosen in [run_id for _, run_id in choices]
        return {self.board_picker: gr.Dropdown(board_choices(self.ctx.board.boards(), self.ctx.board.current_board(),
                                                             lang), value=CURRENT if board_id is None else board_id),
                self.summary: summary(rows, self.title(board_id, lang), lang) + recovered_note(self.ctx.board.recovered, lang),
                self.table: board_table(rows, lang), self.groups: group_table(rows, lang),
                self.scatter: self.scatter_value(rows, x_axis, colour, lang),
                self.picked: gr.Dropdown(run_choices(rows, lang, finished_only=True), value=picked, multiselect=True),
                self.curves: gr.LinePlot(curves_frame(rows, picked)[0]),
                self.chosen: gr.Dropdown(choices, value=chosen if keep else None)}

    def pick_board(self, board, x_axis, colour, picked, chosen, lang="en"):
        """Another board picked: shown, and the CSV file of the one before taken away."""
        return {**self.show(board, x_axis, colour, picked, chosen, lang), self.csv_file: gr.File(None, visible=False)}

    # Gradio 6.31's plots draw their colour scale again when a setting (titles, color_map) changes,
    # but only swap the points when the value changes, and a value lands after the settings sent
    # with it: new runs' colours were left out of the scale and the legend. So a plot gets its value
    # alone (``show``, the redraws) and then, once it holds it (its change event), its titles and
    # colours (``rescale_*``), drawn with the value it holds.
    @staticmethod
    def scatter_choice(x_axis, colour):
        return (x_axis if x_axis in X_AXES else "mult_adds"), (colour if colour in COLOURS else "variant")

    def scatter_value(self, rows, x_axis, colour, lang):
        return gr.ScatterPlot(scatter_frame(rows, *self.scatter_choice(x_axis, colour), lang)[0])

    def redraw_scatter(self, board, x_axis, colour, lang="en"):
        """The scatter's points after the viewer changed its x axis or colours."""
        return self.scatter_value(self.ctx.board.rows(self.board_id(board)), x_axis, colour, lang)

    def rescale_scatter(self, board, x_axis, colour, lang="en"):
        """The scatter's titles and colours, for the points it holds."""
        x_axis, colour = self.scatter_choice(x_axis, colour)
        colours = scatter_frame(self.ctx.board.rows(self.board_id(board)), x_axis, colour, lang)[1]
        return gr.ScatterPlot(x_title=t(f"board.x.{x_axis}", lang), y_title=t("board.plot.accuracy", lang),
                              color_title=t(f"board.colour.{colour}", lang), color_map=colours)

    def redraw_curves(self, board, picked, lang="en"):
        """The curves of the runs the viewer picked, overlaid."""
        return gr.LinePlot(curves_frame(self.ctx.board.rows(self.board_id(board)), self.run_ids(picked))[0])

    def rescale_curves(self, board, picked, lang="en"):
        """The curves' titles and colours, for the curves the plot holds."""
        colours = curves_frame(self.ctx.board.rows(self.board_id(board)), self.run_ids(picked))[1]
        return gr.LinePlot(x_title=t("board.plot.epoch", lang), y_title=t("board.plot.curve_accuracy", lang),
                           color_title=t("board.plot.run", lang), color_map=colours)

    def try_these(self, board, chosen, lang="en"):
        """The chosen run's settings for the Train panel (``try_settings``), and a note saying so."""
        row = next((row for row in self.ctx.board.rows(self.board_id(board)) if row["run_id"] == chosen), None)
        if type(chosen) is not int or row is None:
            raise gr.Error(t("board.try.pick", lang), title=t("board.try.pick_title", lang))
        return {self.try_settings: settings_of(row),
                self.try_note: t("board.try.done", lang, run=as_markdown(run_label(row)))}

    def write_csv(self, board, lang="en"):
        """The board's CSV (the store's text) in its one file, replaced whole: a download under
        way keeps reading the file it opened."""
        board_id = self.board_id(board)
        path = os.path.join(self.csv_folder, f"class-board-{board_id or self.ctx.board.current_board()}.csv")
        os.makedirs(self.csv_folder, exist_ok=True)
        fd, partial = tempfile.mkstemp(dir=self.csv_folder, prefix=".partial-", suffix=".csv")
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
            f.write(self.ctx.board.csv(board_id))
        os.replace(partial, path)
        return gr.File(path, visible=True)

    def view(self, seen_version, lang="en", board=CURRENT, x_axis="mult_adds", colour="variant", picked=None,
             chosen=None):
        """Updates of ``view_outputs`` for a page that was last sent the store's ``seen_version``
        (None: everything; the same version: nothing)."""
        if seen_version is not None and seen_version == self.ctx.board.version:
            return {}
        return self.show(board, x_axis, colour, picked, chosen, lang)

    def relabel(self, lang, board, x_axis, colour, picked, chosen):
        return {**self.show(board, x_axis, colour, picked, chosen, lang), self.try_note: ""}

    # -- layout -------------------------------------------------------------------------------------
    def build(self):
        boards = board_choices(self.ctx.board.boards(), self.ctx.board.current_board(), "en")
        with gr.Tab(T("board.tab"), id=self.tab_id) as tab:
            gr.Markdown(T("board.intro"))
            # For scripts: the board as data (through the same queue and caps as every call)
            gr.api(self.class_board, api_name="class_board", concurrency_limit=4, concurrency_id="board_api")
            with gr.Row(equal_height=True):
                self.board_picker = board = choices_change(gr.Dropdown(
                    boards, value=CURRENT if boards else None, label=T("board.picker.label"), scale=3,
                    elem_id="board-picker"))
                csv_button = gr.Button(T("board.csv_button"), scale=1, elem_id="board-csv-button")
            self.csv_file = gr.File(label=T("board.csv_file"), interactive=False, visible=False, elem_id="board-csv")
            self.summary = gr.Markdown(elem_id="board-summary")
            self.table = gr.Dataframe(empty(TABLE_COLUMNS, "en"), interactive=False, wrap=True, max_height=440,
                                      column_widths=TABLE_WIDTHS, label=T("board.table"), elem_id="board-table")
            self.groups = gr.Dataframe(empty(GROUP_COLUMNS, "en"), interactive=False, wrap=True, max_height=300,
                                       column_widths=GROUP_WIDTHS, label=T("board.groups.label"),
                                       elem_id="board-groups")
            with gr.Row():
                with gr.Column(scale=1, min_width=240):
                    self.x_axis = x_axis = gr.Radio([(T(f"board.x.{key}"), key) for key in X_AXES], value="mult_adds",
                                                    label=T("board.x_axis"), elem_id="board-x-axis")
                    self.colour = colour = gr.Dropdown([(T(f"board.colour.{key}"), key) for key in COLOURS],
                                                       value="variant", label=T("board.colour_by"),
                                                       elem_id="board-colour")
                # "~g": 10 and 1.9, not Vega's 10.000000 where every run has the same value
                self.scatter = gr.ScatterPlot(x="x", y="accuracy", color="colour", tooltip=["run"], height=320,
                                              x_axis_format="~g", y_axis_format="~g",
                                              label=T("board.scatter"), scale=3, elem_id="board-scatter")
            with gr.Row():
                self.picked = picked = choices_change(gr.Dropdown(
                    [], value=[], multiselect=True, label=T("board.picked"), scale=1, min_width=240,
                    elem_id="board-picked"))
                # slanted epoch labels do not run into each other (as the Train tab's curves)
                self.curves = gr.LinePlot(x="epoch", y="accuracy", color="run", y_lim=[0, 100], height=320,
                                          x_label_angle=-40, x_axis_format="~g", label=T("board.curves"), scale=3,
                                          elem_id="board-curves")
            with gr.Row(equal_height=True):
                self.chosen = chosen = choices_change(gr.Dropdown([], value=None, label=T("board.try.run"), scale=3,
                                                                  elem_id="board-try-run"))
                try_button = gr.Button(T("board.try.button"), variant="primary", scale=1, elem_id="board-try")
            self.try_note = gr.Markdown(elem_id="board-try-note")
            self.try_settings = gr.State(None)  # the Train panel's fill: demo.ui wires it

        pickers = [board, x_axis, colour, picked, chosen, self.lang]
        self.view_outputs = [board, self.summary, self.table, self.groups, self.scatter, picked, self.curves, chosen]
        # The pickers' choices change while a page is open (a run finishes, a new board starts):
        # their values are looked up here (preprocess=False), never trusted.
        cheap = {"show_progress": "hidden", "preprocess": False, "concurrency_limit": None, **PRIVATE}
        tab.select(self.show, inputs=pickers, outputs=self.view_outputs, **cheap)
        board.input(self.pick_board, inputs=pickers, outputs=[*self.view_outputs, self.csv_file], **cheap)
        gr.on([x_axis.input, colour.input], self.redraw_scatter, inputs=[board, x_axis, colour, self.lang],
              outputs=self.scatter, **cheap)
        picked.input(self.redraw_curves, inputs=[board, picked, self.lang], outputs=self.curves, **cheap)
        self.scatter.change(self.rescale_scatter, inputs=[board, x_axis, colour, self.lang], outputs=self.scatter,
                            **cheap)
        self.curves.change(self.rescale_curves, inputs=[board, picked, self.lang], outputs=self.curves, **cheap)
        # kept for demo.ui, which fills the Train panel after it (.then): a State's change event
        # would not fire when the same run is tried twice
        self.try_event = try_button.click(self.try_these, inputs=[board, chosen, self.lang],
                                          outputs=[self.try_settings, self.try_note], **cheap)
        csv_button.click(self.write_csv, inputs=[board, self.lang], outputs=self.csv_file, show_progress="hidden",
                         preprocess=False, concurrency_limit=2, **PRIVATE)
        self.view_inputs = {"board": board, "x_axis": x_axis, "colour": colour, "picked": picked, "chosen": chosen}
        self.relabel_inputs = self.view_inputs
        self.relabel_outputs = [*self.view_outputs, self.try_note]
