"""The upload folder's disk budget: when its files take more than the budget, the oldest go.

Gradio keeps every upload (and every picture the app sends back) in one folder,
``gradio.utils.get_upload_folder()``. The app's ``delete_cache`` removes files older than an
hour; this bounds the total between those sweeps: after each upload, ``UploadBudget.enforce``
deletes files oldest first (by modification time) until the folder is within the budget.
Only files the app created may go (Gradio's list of them, the list its hourly sweep deletes
from), never the examples and default values it keeps (``keep_in_cache``), never the files
the upload just stored, nor a file still being written (changed in the last
``GRACE_SECONDS``); a file that vanishes meanwhile (the hourly sweep, another upload's
enforcement) is skipped. The total counts every file in the folder: that is the disk used.
"""

import os
import threading
import time

GRACE_SECONDS = 2.0  # an upload in progress is written to continuously: never its file


class UploadBudget:
    """Keeps ``folder`` at most ``budget_bytes`` (oldest files removed first)."""

    def __init__(self, folder, budget_bytes):
        self.folder, self.budget_bytes = folder, budget_bytes
        self._lock = threading.Lock()  # two enforcements at once would count the same files
        self.removed = 0  # files removed so far (for tests and logs)

    def enforce(self, keep=(), deletable=None):
        """Deletes the oldest files until the folder is within budget.

        Args:
            keep: paths never deleted (the upload's own files, the app's examples).
            deletable: the only paths that may be deleted (None: any file in the folder).

        Returns the bytes in the folder afterwards.
        """
        keep = {os.path.realpath(path) for path in keep}
        deletable = None if deletable is None else {os.path.realpath(path) for path in deletable}
        with self._lock:
            files = list(self._files())
            total = sum(size for _, size, _ in files)
            now = time.time()
            for path, size, mtime in sorted(files, key=lambda item: item[2]):
                if total <= self.budget_bytes:
                    break
                real = os.path.realpath(path)
                if real in keep or (deletable is not None and real not in deletable) \
                        or now - mtime < GRACE_SECONDS:
                    continue
                try:
                    os.remove(path)
                except FileNotFoundError:
                    pass  # gone meanwhile: it no longer counts either
                except OSError:
                    continue
                total -= size
                self.removed += 1
                _remove_if_empty(os.path.dirname(path), self.folder)
            return total

    def _files(self):
        """(path, bytes, mtime) of every regular file under the folder."""
        for root, _, names in os.walk(self.folder):
            for name in names:
                path = os.path.join(root, name)
                try:
                    stat = os.lstat(path)
                except OSError:
                    continue  # vanished between listing and stat
                if os.path.isfile(path) and not os.path.islink(path):
                    yield path, stat.st_size, stat.st_mtime


def _remove_if_empty(folder, top):
    """Removes an upload's own folder (``<top>/<hash>/``) once its last file is gone."""
    if os.path.realpath(folder) != os.path.realpath(top):
        try:
            os.rmdir(folder)
        except OSError:
            pass  # not empty, or gone
