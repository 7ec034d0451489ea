"""The teacher: whoever holds the server's teacher key.

The key is ``$MOBILENET_TEACHER_KEY`` (``classroom.settings``) when it is set (a key shorter
than ``SHORT_KEY`` characters works, with a warning), else a new random one each time the server starts
(``secrets.token_urlsafe(32)``: 43 characters). ``python app.py`` prints the teacher link
``http://HOST:PORT/gradio_api/teacher?key=KEY`` in its start-up lines (``startup_lines``; Jupyter's
token links are the convention); the key is printed nowhere else and never logged.

A browser becomes the teacher's by opening that link, whose key ``classroom.teacher_link``
swaps for a cookie (``cookie``/``holds_cookie``: the HMAC of a time with the key, never the
key), or by typing the key once in the Train tab's teacher box (kept in that tab's session, a
``gr.State`` on the server: a client cannot set it). The teacher can stop anyone's run, and the
teacher's name is shown with a badge that no visitor's name can contain (``BADGE`` is removed
from every name).

Guessing: the right key is always accepted; it is compared first, in constant time, and only
wrong keys are counted, so nobody's wrong keys can lock the teacher out (a class behind one
school router shares one address). Wrong keys are limited to ``WRONG_PER_MINUTE`` per address
and ``WRONG_PER_MINUTE_OVERALL`` in all (token buckets); past that, ``check`` raises
``TooManyTries`` and its callers hold their answer ``HOLD_S`` seconds. Because every try is
still compared, the limit cannot be what stops a guesser: the key's length is. A generated
key is 256 random bits: at a billion tries a second, finding it takes about 2^255 / 10^9 s, some
10^60 years. What the limit does is keep wrong tries cheap and slow: a client that may hold C
requests open at once (the server's connection and queue caps per address) gets at most
C / ``HOLD_S`` answers a second once its bucket is empty.
"""

import collections
import hashlib
import hmac
import logging
import secrets
import threading
import time
from urllib.parse import quote

from classroom.upload_guard import TokenBuckets

log = logging.getLogger(__name__)

KEY_VARIABLE = "MOBILENET_TEACHER_KEY"
# The teacher link: LINK_PATH?LINK_PARAM=KEY under the app's address. Under gradio_api/ because with
# server-side rendering Node serves the pages itself and forwards only Gradio's own routes to Python.
LINK_PATH = "gradio_api/teacher"
LINK_PARAM = "key"
BADGE = "🎓"
GENERATED_BYTES = 32  # a generated key: 256 random bits, 43 URL-safe characters
SHORT_KEY = 12  # shorter keys set by hand work, with a warning in the server's log
WRONG_PER_MINUTE = 10  # wrong keys per address, refilled continuously ...
WRONG_PER_MINUTE_OVERALL = 60  # ... and from everyone together
HOLD_S = 2.0  # how long an answer to a wrong key past the limit is held
COOKIE_MAX_AGE_S = 12 * 3600  # a teacher cookie lasts a school day (or until the key changes)
NOTE_S = 300  # a teacher link's outcome waits this long for its page to open ...
NOTES_KEPT = 1000  # ... and at most this many wait (the oldest are forgotten)


class TooManyTries(RuntimeError):
    """A wrong key past the limit (this address's, or everyone's): wait ``seconds``."""

    def __init__(self, seconds):
        super().__init__(seconds)
        self.seconds = seconds


class TeacherKey:
    """Checks keys against ``key``: default None, a random key (``generated``); ``""`` means no
    teacher (``enabled`` is False)."""

    def __init__(self, key=None, clock=time.monotonic):
        self.generated = key is None
        if key is None:
            key = secrets.token_urlsafe(GENERATED_BYTES)
        self.key = key.strip() or None
        if self.key and len(self.key) < SHORT_KEY:
            log.warning("The teacher key is shorter than %d characters: use a longer random key, or leave %s "
                        "unset for a generated one", SHORT_KEY, KEY_VARIABLE)
        self._per_address = TokenBuckets(WRONG_PER_MINUTE, clock=clock)
        self._overall = TokenBuckets(WRONG_PER_MINUTE_OVERALL, clock=clock)
        self._notes = collections.OrderedDict()  # one-time note -> (a link's outcome, time)
        self._lock = threading.Lock()
        self._clock = clock

    @property
    def enabled(self):
        return self.key is not None

    def is_key(self, attempt):
        """Whether ``attempt`` is the key, in constant time; counts nothing."""
        if not self.enabled or not isinstance(attempt, str):
            return False
        return hmac.compare_digest(attempt.strip().encode("utf-8", "replace"), self.key.encode("utf-8"))

    def check(self, attempt, client):
        """Whether ``attempt`` is the key: the right key always is. A wrong one is counted
        against ``client`` (its address) and everyone; past either limit, raises
        ``TooManyTries`` instead of answering False."""
        if self.is_key(attempt):
            return True
        if not self.enabled:
            return False
        with self._lock:
            if self._per_address.level(client) >= 1 and self._overall.level("") >= 1:
                self._per_address.charge(client, 1)
                self._overall.charge("", 1)
                return False
            raise TooManyTries(max(self._per_address.seconds_until(client, 1),
                                   self._overall.seconds_until("", 1), 1.0))

    def cookie(self, now=None):
        """A teacher cookie's value: the time it was made and its HMAC with the key."""
        made = str(int(time.time() if now is None else now))
        return f"{made}.{self._sign(made)}"

    def holds_cookie(self, value, now=None):
        """Whether ``value`` is a teacher cookie of this key, made within ``COOKIE_MAX_AGE_S``."""
        if not self.enabled or not isinstance(value, str) or len(value) > 100:
            return False
        made, _, signature = value.partition(".")
        if not (made.isascii() and made.isdigit()):
            return False
        if not hmac.compare_digest(signature.encode("ascii", "replace"), self._sign(made).encode("ascii")):
            return False
        return 0 <= (time.time() if now is None else now) - int(made) <= COOKIE_MAX_AGE_S

    def _sign(self, text):
        return hmac.new(self.key.encode("utf-8"), b"teacher cookie " + text.encode("ascii"), hashlib.sha256).hexdigest()

    def note(self, outcome):
        """Keeps a teacher link's ``outcome`` ("teacher" or "wrong") for the page it opens;
        returns the note's random name (the page reads it once, with ``read_note``)."""
        name = secrets.token_urlsafe(16)
        with self._lock:
            self._notes[name] = (outcome, self._clock())
            while len(self._notes) > NOTES_KEPT:
                self._notes.popitem(last=False)
        return name

    def read_note(self, name):
        """The outcome noted as ``name``, once; None when there is none (or it is too old)."""
        with self._lock:
            outcome, made = self._notes.pop(name, (None, 0.0)) if isinstance(name, str) else (None, 0.0)
        return outcome if self._clock() - made <= NOTE_S else None


def startup_lines(teacher_key, url):
    """The lines ``app.py`` prints once the server answers at ``url``: the teacher link (the one
    place the key is shown), or nothing without a teacher."""
    if not teacher_key.enabled:
        return []
    link = f"{url.rstrip('/')}/{LINK_PATH}?{LINK_PARAM}={quote(teacher_key.key, safe='')}"
    lines = ["Teacher link: open it in the teacher's browser to stop any run (keep it off the projector):",
             f"    {link}"]
    if teacher_key.generated:
        lines.append(f"The key is new each time the app starts; set {KEY_VARIABLE} to keep one.")
    return lines
