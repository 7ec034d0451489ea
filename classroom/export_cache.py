"""The Mobile tab's exported files on the server's disk: bounded, like everything a class makes.

One folder per checkpoint's weights (a second export of the same weights reuses it); only the
newest ``KEEP_EXPORTS`` folders stay.
"""

import os
import shutil
import tempfile
import threading

KEEP_EXPORTS = 4  # checkpoints whose exported files stay cached (about 25 MB each at α 1)


class ExportFolders:
    """Exported files, one folder per checkpoint weights, in ``root``; the newest ``keep`` stay.

    Default root (None): a folder in the system temp directory (Gradio serves files from there).
    """

    def __init__(self, root=None, keep=KEEP_EXPORTS):
        self.root = root if root is not None else os.path.join(tempfile.gettempdir(), "mobilenet-lab-export")
        self.keep = keep
        self._lock = threading.Lock()

    def folder(self, weights_sha256):
        """This checkpoint's folder (marked as just used); older ones beyond ``keep`` go."""
        with self._lock:
            os.makedirs(self.root, exist_ok=True)
            folder = os.path.join(self.root, weights_sha256[:32])
            os.makedirs(folder, exist_ok=True)
            os.utime(folder)
            folders = sorted((os.path.join(self.root, name) for name in os.listdir(self.root)),
                             key=os.path.getmtime, reverse=True)
            for old in folders[self.keep:]:
                shutil.rmtree(old, ignore_errors=True)
            return folder
