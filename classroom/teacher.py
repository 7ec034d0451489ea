"""The teacher: whoever holds the server's secret ``MOBILENET_TEACHER_KEY``.

A browser tab becomes the teacher's by entering the key once (Train tab, "Teacher") or by
opening a teacher link (``?teacher=KEY``; the page removes the key from the address bar at
once). The server remembers it in that tab's session (a ``gr.State``, kept on the server: a
client cannot set it). The teacher can stop anyone's run, and the teacher's name is shown
with a badge that no visitor's name can contain (``BADGE`` is removed from every name).

Without the variable there is no teacher: a run can be stopped only from the browser tab
that started it, and every run still ends by itself within the server's time limit.

Wrong keys are counted per client: after ``MAX_WRONG`` wrong keys within ``WRONG_WINDOW_S``
seconds, that client's next tries are refused until the window has passed, so a key cannot
be guessed by script. Keys are compared in constant time.
"""

import collections
import hmac
import logging
import os
import threading
import time

log = logging.getLogger(__name__)

KEY_VARIABLE = "MOBILENET_TEACHER_KEY"
BADGE = "🎓"
MAX_WRONG = 5
WRONG_WINDOW_S = 600
SHORT_KEY = 12  # shorter keys work, with a warning in the server's log
TRACKED_CLIENTS = 10_000  # the failure log forgets the oldest clients beyond this


class TooManyTries(RuntimeError):
    """This client gave ``MAX_WRONG`` wrong keys lately: it may try again in ``seconds``."""

    def __init__(self, seconds):
        super().__init__(seconds)
        self.seconds = seconds


class TeacherKey:
    """Checks keys against ``key`` (default: ``$MOBILENET_TEACHER_KEY``; empty means no teacher)."""

    def __init__(self, key=None):
        key = os.environ.get(KEY_VARIABLE, "") if key is None else key
        self.key = key.strip() or None
        if self.key and len(self.key) < SHORT_KEY:
            log.warning("%s is shorter than %d characters: use a longer random key", KEY_VARIABLE, SHORT_KEY)
        self._wrong = collections.OrderedDict()  # client -> recent wrong-key times
        self._lock = threading.Lock()

    @property
    def enabled(self):
        return self.key is not None

    def check(self, attempt, client):
        """Whether ``attempt`` is the key. Raises ``TooManyTries`` when ``client`` (its address)
        gave ``MAX_WRONG`` wrong keys in the last ``WRONG_WINDOW_S`` seconds."""
        if not self.enabled:
            return False
        now = time.monotonic()
        with self._lock:
            recent = [t for t in self._wrong.get(client, []) if now - t < WRONG_WINDOW_S]
            if len(recent) >= MAX_WRONG:
                raise TooManyTries(int(WRONG_WINDOW_S - (now - recent[0])) + 1)
        attempt = attempt if isinstance(attempt, str) else ""
        if hmac.compare_digest(attempt.strip().encode("utf-8", "replace"), self.key.encode("utf-8")):
            return True
        with self._lock:
            self._wrong[client] = recent + [now]
            self._wrong.move_to_end(client)
            while len(self._wrong) > TRACKED_CLIENTS:
                self._wrong.popitem(last=False)
        return False

    def check_link(self, attempt, client):
        """``check`` for a teacher link (``?teacher=KEY``): False, not an exception, when ``client``
        gave too many wrong keys (the page then opens as anyone's)."""
        try:
            return self.check(attempt, client)
        except TooManyTries:
            return False
