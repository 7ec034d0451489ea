"""The class board's store: every run of a class and the queue of waiting runs, in one SQLite
file (``class_board.sqlite3`` in ``MOBILENET_RUNS_DIR``), so that a restart of the server keeps
both.

A row is the board's shared contract (``ROW_FIELDS``: one JSON-ready dict per run). The columns
no viewer sees stay here and only ``waiting()`` gives them out: ``owner`` (the browser session
that asked), ``address`` (its client address), ``spec`` (the run's RunSpec record, to start a
waiting run again after a restart) and ``place`` (the order of the waiting runs).

One connection, behind a lock, serves every thread of the server; every write is one
transaction. The file itself (WAL mode, schema versions) is ``classroom.board_file``'s: a damaged
one is moved aside and a fresh one made, and the store rebuilds the board from the runs'
checkpoints (``classroom.board_rebuild``); ``recovered`` says what happened, the log says it too.
"""

import contextlib
import csv
import io
import json
import logging
import os
import threading
import time

from classroom.board_file import FILE_NAME, open_board
from classroom.board_rebuild import checkpoint_rows

log = logging.getLogger(__name__)

ROW_FIELDS = ("run_id", "board_id", "name", "teacher", "status", "preset", "settings", "seed",
              "test_accuracy", "tta", "seconds", "images_per_sec", "params", "mult_adds", "queued_at",
              "started_at", "finished_at", "checkpoint", "file_removed", "curves", "note")
SETTINGS_FIELDS = ("variant", "alpha", "depth", "train_size", "epochs", "batch_size", "learning_rate",
                   "augmentation")
STATUSES = ("waiting", "training", "finished", "stopped", "failed", "interrupted", "withdrawn", "removed")
_BOOLS, _JSON = {"teacher", "tta", "file_removed"}, {"settings", "curves", "spec"}
_ASKED = set(ROW_FIELDS) - {"run_id", "board_id"}  # what a new run's fields may hold
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")  # what a spreadsheet runs as a formula
CSV_COLUMNS = tuple(column for field in ROW_FIELDS if field != "curves"
                    for column in (SETTINGS_FIELDS if field == "settings" else (field,)))


class BoardStore:
    """The class board and its queue of waiting runs, kept in ``<runs_dir>/class_board.sqlite3``.

    Args:
        runs_dir: the folder of the runs' checkpoints (made if missing).
        clock: the time of new boards, runs and file names. Default ``time.time``.

    Attributes:
        path: the database file.
        version: bumped on every change, so viewers can skip unchanged updates.
        recovered: None, or what was done with a damaged file: ``{"moved_to": file name,
            "reason": short text, "rebuilt_runs": n}``.
    """

    def __init__(self, runs_dir, clock=time.time):
        os.makedirs(runs_dir, exist_ok=True)
        self.path, self.clock, self.version = os.path.join(runs_dir, FILE_NAME), clock, 0
        self._lock = threading.RLock()
        self._db, damage = open_board(runs_dir, clock)
        rebuilt = checkpoint_rows(runs_dir) if damage else []
        with self._transaction() as db:
            if _current_board(db) is None:
                db.execute("INSERT INTO boards (title, started_at) VALUES (NULL, ?)", (clock(),))
            for fields, spec in rebuilt:
                _insert(db, {**fields, "board_id": _current_board(db), "spec": spec})
        self.recovered = damage and {**damage, "rebuilt_runs": len(rebuilt)}
        if damage:
            log.error("class board: rebuilt %d runs from the checkpoints in %s", len(rebuilt), runs_dir)

    def close(self):
        """Closes the file (its WAL is folded back in)."""
        with self._lock:
            self._db.close()

    @contextlib.contextmanager
    def _transaction(self):
        """One write: all of it or none of it; ``version`` moves when it changed something."""
        db = self._db
        with self._lock:
            before = db.total_changes
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")
            if db.total_changes != before:
                self.version += 1

    def _read(self, sql, parameters=()):
        with self._lock:
            return self._db.execute(sql, parameters).fetchall()

    # -- boards ------------------------------------------------------------------------
    def current_board(self):
        """The id of the board new runs go to (the newest)."""
        with self._lock:
            return _current_board(self._db)

    def new_board(self, title=None):
        """Starts a new board (a new lesson; ``title``: plain text, optional) and returns its id.
        Old boards keep their rows; waiting runs move to the new board, where they will train."""
        if title is not None and not isinstance(title, str):
            raise ValueError(f"`title` must be None or text. Received: title={title!r}")
        with self._transaction() as db:
            board_id = db.execute("INSERT INTO boards (title, started_at) VALUES (?, ?)",
                                  (title, self.clock())).lastrowid
            db.execute("UPDATE runs SET board_id = ? WHERE status = 'waiting'", (board_id,))
        return board_id

    def boards(self):
        """Every board, newest first: ``{"board_id", "title", "started_at", "runs"}``."""
        return [dict(board) for board in self._read(
            "SELECT boards.board_id, title, boards.started_at, COUNT(run_id) AS runs FROM boards"
            " LEFT JOIN runs USING (board_id) GROUP BY boards.board_id ORDER BY boards.board_id DESC")]

    # -- runs --------------------------------------------------------------------------
    def add_run(self, fields, owner=None, address=None, spec=None):
        """Adds a run asked for now to the current board; returns its ``run_id``.

        ``fields``: row fields (``ROW_FIELDS`` but ``run_id``, ``board_id``); ``name``,
        ``status`` ("waiting": last in the queue, or "training"), ``preset`` and ``settings`` are
        needed, the rest default to empty (``queued_at`` to now, ``started_at`` to now for a
        run that trains). ``owner``, ``address``, ``spec``: never in a row (see ``waiting``)."""
        fields = _checked(fields, _ASKED)
        missing = {"name", "status", "preset", "settings"} - set(fields)
        if missing:
            raise ValueError(f"`fields` needs {sorted(missing)}. Received: {sorted(fields)}")
        if fields["status"] not in ("waiting", "training"):
            raise ValueError(f"a new run is waiting or training. Received: status={fields['status']!r}")
        now = self.clock()
        values = {"queued_at": now, "started_at": now if fields["status"] == "training" else None, **fields,
                  "owner": owner, "address": address, "spec": spec}
        with self._transaction() as db:
            return _insert(db, {**values, "board_id": _current_board(db)})

    def update_run(self, run_id, **fields):
        """Changes a run's fields (status, results, curves, checkpoint, ... and ``spec``).
        A run that leaves "waiting" leaves the queue; one put back in it goes last.
        Raises ``KeyError`` for an unknown run, ``ValueError`` for an unknown field or status."""
        fields = _checked(fields, _ASKED | {"spec"})
        with self._transaction() as db:
            found = db.execute("SELECT status FROM runs WHERE run_id = ?", (run_id,)).fetchone()
            if found is None:
                raise KeyError(run_id)
            was_waiting, waits = found["status"] == "waiting", fields.get("status", found["status"]) == "waiting"
            if was_waiting != waits:
                fields["place"] = _next_place(db) if waits else None
            if fields:  # column names: checked against the row's fields above
                values = _encoded(fields)
                db.execute(f"UPDATE runs SET {', '.join(f'{name} = ?' for name in values)} WHERE run_id = ?",
                           (*values.values(), run_id))

    def row(self, run_id):
        """The row of ``run_id`` (the contract's dict); ``KeyError`` when there is none."""
        found = self._read("SELECT * FROM runs WHERE run_id = ?", (run_id,))
        if not found:
            raise KeyError(run_id)
        return _row(found[0])

    def rows(self, board_id=None):
        """The rows of a board (default: the current one), newest first. ``KeyError`` for an
        unknown board."""
        with self._lock:
            board_id = _current_board(self._db) if board_id is None else board_id
            if not self._read("SELECT 1 FROM boards WHERE board_id = ?", (board_id,)):
                raise KeyError(board_id)
            return [_row(run) for run in self._read(
                "SELECT * FROM runs WHERE board_id = ? ORDER BY run_id DESC", (board_id,))]

    # -- the queue ---------------------------------------------------------------------
    def waiting(self):
        """The waiting runs in their order: each its row plus ``owner``, ``address`` and
        ``spec`` (what the server needs to start it, or to check who may move it)."""
        return [{**_row(run), "owner": run["owner"], "address": run["address"],
                 "spec": json.loads(run["spec"]) if run["spec"] is not None else None}
                for run in self._read("SELECT * FROM runs WHERE status = 'waiting' ORDER BY place, run_id")]

    def set_places(self, run_ids):
        """Puts the waiting runs ``run_ids`` first, in that order; the other waiting runs follow
        in theirs. ``ValueError`` when one is not waiting."""
        run_ids = list(run_ids)
        with self._transaction() as db:
            queue = [run["run_id"] for run in
                     db.execute("SELECT run_id FROM runs WHERE status = 'waiting' ORDER BY place, run_id")]
            strangers = [run_id for run_id in run_ids if run_id not in queue]
            if strangers or len(set(run_ids)) != len(run_ids):
                raise ValueError(f"`run_ids` must be waiting runs, each once. Received: {run_ids}")
            order = run_ids + [run_id for run_id in queue if run_id not in run_ids]
            for place, run_id in enumerate(order):
                db.execute("UPDATE runs SET place = ? WHERE run_id = ? AND place IS NOT ?", (place, run_id, place))

    def mark_interrupted(self):
        """At start-up: the runs a stopped server left "training" become "interrupted" (note
        "server_restarted"); waiting runs stay waiting. Returns their ids."""
        with self._transaction() as db:
            ids = [run["run_id"] for run in db.execute("SELECT run_id FROM runs WHERE status = 'training'")]
            db.execute("UPDATE runs SET status = 'interrupted', note = 'server_restarted', place = NULL"
                       " WHERE status = 'training'")
        return ids

    def forget_waiting(self, run_id):
        """Deletes a run that never trained (withdrawn or removed from the queue): the board keeps
        what was trained, and a student pressing Start and Withdraw in a loop adds nothing to the
        file. Raises ``KeyError`` unless the run is waiting."""
        with self._transaction() as db:
            if db.execute("DELETE FROM runs WHERE run_id = ? AND status = 'waiting'", (run_id,)).rowcount != 1:
                raise KeyError(run_id)

    def mark_files_removed(self, checkpoint_names):
        """The rows of these checkpoints (file names) say their files were removed (the disk
        budget); their results stay."""
        with self._transaction() as db:
            db.executemany("UPDATE runs SET file_removed = 1 WHERE checkpoint = ? AND file_removed = 0",
                           [(name,) for name in checkpoint_names])

    # -- download ----------------------------------------------------------------------
    def csv(self, board_id=None):
        """A board's rows (default: the current one) as CSV text, newest first: a header, then
        one line per run with the settings as columns and no curves. Text a spreadsheet would
        run as a formula starts with a '."""
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(CSV_COLUMNS)
        for row in self.rows(board_id):
            flat = {**row, **row["settings"]}
            writer.writerow([_spreadsheet_safe(flat[column]) for column in CSV_COLUMNS])
        return out.getvalue()


def _current_board(db):
    return db.execute("SELECT MAX(board_id) FROM boards").fetchone()[0]


def _next_place(db):
    return db.execute("SELECT COALESCE(MAX(place) + 1, 0) FROM runs WHERE status = 'waiting'").fetchone()[0]


def _checked(fields, allowed):
    unknown = sorted(set(fields) - allowed)
    if unknown:
        raise ValueError(f"unknown fields {unknown}; these may be set: {sorted(allowed)}")
    if "status" in fields and fields["status"] not in STATUSES:
        raise ValueError(f"`status` must be one of {STATUSES}. Received: status={fields['status']!r}")
    if "settings" in fields and set(fields["settings"]) != set(SETTINGS_FIELDS):
        raise ValueError(f"`settings` must have exactly {SETTINGS_FIELDS}. Received: {sorted(fields['settings'])}")
    return dict(fields)


def _insert(db, fields):
    """Inserts a run (``fields``: its columns but ``run_id``) with every unset field empty;
    returns its id."""
    values = {"teacher": False, "tta": False, "file_removed": False, "curves": [], **fields}
    if values["status"] == "waiting":
        values["place"] = _next_place(db)
    values = _encoded(values)
    return db.execute(f"INSERT INTO runs ({', '.join(values)}) VALUES ({', '.join('?' * len(values))})",
                      tuple(values.values())).lastrowid


def _encoded(fields):
    """Column values: JSON text for the structured fields, 0/1 for flags."""
    return {name: (json.dumps(value, ensure_ascii=False) if name in _JSON and value is not None
                   else int(bool(value)) if name in _BOOLS else value)
            for name, value in fields.items()}


def _row(record):
    """The contract's row of a ``runs`` record."""
    return {field: (bool(record[field]) if field in _BOOLS else json.loads(record[field]) if field in _JSON
                    else record[field]) for field in ROW_FIELDS}


def _spreadsheet_safe(value):
    if isinstance(value, str) and value.startswith(_FORMULA_STARTS):
        return "'" + value
    return value
