"""The checkpoints the classifier can use: the shipped ones and the runs trained here.

The dropdown only ever holds keys of ``CheckpointCatalog.entries()``; a key
from a browser is looked up in that server-side listing, never turned into
a path. The catalog reads only the checkpoints' JSON: the networks are loaded
in the worker processes that run them (``classroom.work``), never in the server.
The list stays short (``listed``: each person's newest few runs, the rest one click away);
runs stopped early come after finished ones. Saves that a crash interrupted are completed or undone when the catalog is
made (at app start), before anything is listed.
"""

import collections
import dataclasses
import glob
import logging
import os

from mobilenet import DEFAULT_CHECKPOINT
from mobilenet.checkpoints import CheckpointError, read_metadata, recover
from mobilenet.inference import answer_accuracy


log = logging.getLogger(__name__)

PRETRAINED_NAME = os.path.basename(DEFAULT_CHECKPOINT)
PER_PERSON = 3  # runs listed per person, newest first; the others behind "show all"


@dataclasses.dataclass(frozen=True)
class CheckpointEntry:
    key: str
    path: str
    kind: str  # "shipped" or "run"
    metadata: dict

    @property
    def test_accuracy(self):
        """The test accuracy of the answers the app gives (flip TTA where it helps)."""
        return answer_accuracy(self.metadata)[0]

    @property
    def pretrained(self):
        """Whether this is the app's default network (``mobilenet.DEFAULT_CHECKPOINT``'s name)."""
        return self.kind == "shipped" and os.path.basename(self.path) == PRETRAINED_NAME

    @property
    def trained_by(self):
        """Who trained this run (a visitor's name, plain text), or None (shipped, or older)."""
        return self.metadata.get("trained_by")

    @property
    def stopped(self):
        """Whether the run was stopped before the end of its schedule."""
        return bool(self.metadata.get("stopped"))

    @property
    def flip(self):
        """Whether the app answers with flip TTA for this checkpoint."""
        return answer_accuracy(self.metadata)[1]


class CheckpointCatalog:
    """Lists checkpoints with their JSON metadata.

    Args:
        checkpoint_dir: shipped checkpoints (``mobilenet_cifar.keras`` is the default).
        runs_dir: runs trained in the app, newest first in the list.
    """

    def __init__(self, checkpoint_dir, runs_dir):
        self.checkpoint_dir, self.runs_dir = checkpoint_dir, runs_dir
        self._listing = (None, [])  # (folder contents, entries): re-read when a file changes
        for folder in (checkpoint_dir, runs_dir):
            for action in recover(folder):
                log.warning("%s: %s", folder, action)

    def entries(self):
        """Every readable checkpoint: the pretrained one first, then shipped, then runs."""
        stamp = (folder_stamp(self.checkpoint_dir), folder_stamp(self.runs_dir))
        if self._listing[0] != stamp:
            self._listing = (stamp, self._read_entries())
        return self._listing[1]

    def listed(self, show_all=False, keep=None):
        """The entries the dropdown lists: all of them with ``show_all``, else the shipped ones
        and each person's newest ``PER_PERSON`` runs, plus ``keep`` (a key: the one picked).
        Listing only: every file stays on disk, one click ("show all") away."""
        entries = self.entries()
        if show_all:
            return entries
        shown, per_person = [], collections.Counter()
        for entry in sorted(entries, key=lambda e: e.metadata.get("created", ""), reverse=True):
            if entry.kind == "run":
                per_person[entry.trained_by] += 1
            if entry.kind != "run" or per_person[entry.trained_by] <= PER_PERSON or entry.key == keep:
                shown.append(entry.key)
        return [entry for entry in entries if entry.key in shown]

    def _read_entries(self):
        shipped = sorted(self._list(self.checkpoint_dir, "shipped"),
                         key=lambda e: (os.path.basename(e.path) != PRETRAINED_NAME, e.path))
        # finished runs first, then those stopped early; newest first in each
        runs = sorted(self._list(self.runs_dir, "run"), key=lambda e: e.metadata.get("created", ""),
                      reverse=True)
        return shipped + sorted(runs, key=lambda e: e.stopped)

    def find(self, key):
        """The entry of ``key``; ``KeyError`` when it is not (or no longer) listed."""
        for entry in self.entries():
            if entry.key == key:
                return entry
        raise KeyError(key)

    def _list(self, folder, kind):
        entries = []
        for path in glob.glob(os.path.join(glob.escape(folder), "*.keras")):
            try:
                metadata = read_metadata(path)
            except CheckpointError as error:  # half-written or foreign file: not offered
                log.warning("skipping checkpoint: %s", error)
                continue
            entries.append(CheckpointEntry(f"{kind}/{os.path.basename(path)}", path, kind, metadata))
        return entries


def folder_stamp(folder):
    """Names, sizes and times of a folder's checkpoint files: changes whenever one does."""
    try:
        with os.scandir(folder) as files:
            return sorted((f.name, f.stat().st_size, f.stat().st_mtime_ns) for f in files
                          if f.name.endswith((".keras", ".json")) and not f.name.startswith("."))
    except FileNotFoundError:  # no folder (yet), or a file removed while we looked
        return None
