"""The class board's SQLite file: opening it (WAL), its schema and versions, and what is done
with a damaged one.

A file that is not a database, fails ``PRAGMA quick_check``, holds a schema from a newer version
(``PRAGMA user_version`` above ``SCHEMA_VERSION``) or tables that are not this schema's is never
lost silently and never stops the server: it is moved aside as
``class_board.damaged-<YYYYmmdd-HHMMSS>.sqlite3`` (with its -wal and -shm) and a fresh file made
in its place; ``classroom.board_store`` then rebuilds the board from the runs' checkpoints. A file
that is only busy, read-only or on a full disk is not damaged: that error goes to the caller.
"""

import datetime
import logging
import os
import sqlite3

log = logging.getLogger(__name__)

FILE_NAME = "class_board.sqlite3"
SCHEMA_VERSION = 1
BUSY_TIMEOUT_MS = 5000  # another process (a backup, the sqlite3 shell) holding the file

# version n: the statements that bring a file of version n - 1 to it (0: an empty file)
MIGRATIONS = {1: (
    "CREATE TABLE boards (board_id INTEGER PRIMARY KEY AUTOINCREMENT, title TEXT, started_at REAL NOT NULL)",
    # AUTOINCREMENT: a run id is never reused, across boards and after removals
    "CREATE TABLE runs (run_id INTEGER PRIMARY KEY AUTOINCREMENT,"
    " board_id INTEGER NOT NULL REFERENCES boards (board_id), name TEXT NOT NULL, teacher INTEGER NOT NULL,"
    " status TEXT NOT NULL, preset TEXT NOT NULL, settings TEXT NOT NULL, seed INTEGER, test_accuracy REAL,"
    " tta INTEGER NOT NULL, seconds REAL, images_per_sec REAL, params INTEGER, mult_adds INTEGER,"
    " queued_at REAL, started_at REAL, finished_at REAL, checkpoint TEXT, file_removed INTEGER NOT NULL,"
    " curves TEXT NOT NULL, note TEXT, owner TEXT, address TEXT, spec TEXT, place INTEGER)",
    "CREATE INDEX runs_by_board ON runs (board_id)",
)}


class DamagedBoard(Exception):
    """The file is not a board this server can read; the text says why."""


def open_board(runs_dir, clock):
    """``(connection, damage)``: the board file of ``runs_dir`` opened and brought to
    ``SCHEMA_VERSION`` (one connection for every thread, in autocommit: each write says BEGIN);
    ``damage``: None, or ``{"moved_to": file name, "reason": short text}`` when the file found
    was damaged and a fresh one made. ``clock``: the time in the moved file's name."""
    path = os.path.join(runs_dir, FILE_NAME)
    try:
        return _open(path), None
    except DamagedBoard as error:
        reason = str(error)
    except sqlite3.DatabaseError as error:
        if not (error.sqlite_errorname or "").startswith(("SQLITE_NOTADB", "SQLITE_CORRUPT")):
            raise
        reason = f"{error} ({error.sqlite_errorname})"
    moved_to = _move_aside(path, clock)
    log.error("class board %s is damaged (%s): moved aside as %s", path, reason, moved_to)
    return _open(path), {"moved_to": moved_to, "reason": reason}


def _open(path):
    db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
    try:
        db.row_factory = sqlite3.Row
        db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        db.execute("PRAGMA journal_mode = WAL")  # viewers read while a run's thread writes
        db.execute("PRAGMA synchronous = NORMAL")  # in WAL mode: never corrupt, may lose the last write
        if db.execute("PRAGMA quick_check").fetchone()[0] != "ok":
            raise DamagedBoard("it fails PRAGMA quick_check")
        _migrate(db)
    except BaseException:
        db.close()
        raise
    return db


def _migrate(db):
    version = db.execute("PRAGMA user_version").fetchone()[0]
    if version > SCHEMA_VERSION:
        raise DamagedBoard(f"its schema is version {version}, newer than this server's {SCHEMA_VERSION}")
    if version == 0 and db.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()[0]:
        raise DamagedBoard("it holds tables but no schema version: not a class board")
    for step in range(version + 1, SCHEMA_VERSION + 1):
        db.execute("BEGIN IMMEDIATE")
        try:
            for statement in MIGRATIONS[step]:
                db.execute(statement)
            db.execute(f"PRAGMA user_version = {step}")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")
    for table, columns in _schema_columns().items():
        if _columns(db, table) != columns:
            raise DamagedBoard(f"its table {table} is missing or not this schema's")


def _schema_columns():
    """``{table: its columns}`` as ``MIGRATIONS`` make them."""
    reference = sqlite3.connect(":memory:")
    try:
        for step in range(1, SCHEMA_VERSION + 1):
            for statement in MIGRATIONS[step]:
                reference.execute(statement)
        return {table: _columns(reference, table) for table in ("boards", "runs")}
    finally:
        reference.close()


def _columns(db, table):
    return [column[1] for column in db.execute(f"PRAGMA table_info({table})")]


def _move_aside(path, clock):
    """Renames the file at ``path`` (and its -wal and -shm) to a ``damaged-<time>`` name
    beside it; returns that name."""
    folder = os.path.dirname(path)
    stamp = datetime.datetime.fromtimestamp(clock()).strftime("%Y%m%d-%H%M%S")
    moved_to, copy = f"class_board.damaged-{stamp}.sqlite3", 1
    while os.path.exists(os.path.join(folder, moved_to)):  # damaged twice in one second
        copy += 1
        moved_to = f"class_board.damaged-{stamp}-{copy}.sqlite3"
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(path + suffix):
            os.replace(path + suffix, os.path.join(folder, moved_to + suffix))
    return moved_to
