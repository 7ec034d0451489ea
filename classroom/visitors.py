"""Visitors' names: typed by one student, shown to the whole class exactly as typed.

A name is a ``UserText``: never translated, and escaped wherever it is shown (``demo.i18n``
escapes it for Markdown and HTML), so it can make no link, heading or tag.
"""

import re
import unicodedata

from classroom.teacher import BADGE

NAME_LENGTH = 30


class UserText(str):
    """Text a visitor typed (a name): shown to others exactly as typed, never translated, and
    never interpreted as Markdown or HTML."""


def visitor_name(name, teacher=False):
    """A short display name as the visitor typed it: control and format characters (bidirectional
    overrides included) and the teacher's badge removed, spaces collapsed, at most ``NAME_LENGTH``
    characters."""
    name = "".join(c for c in str(name or "") if c != BADGE and (
        not unicodedata.category(c).startswith("C") or c in "\t\n"))
    name = re.sub(r"\s+", " ", name).strip()[:NAME_LENGTH].strip()
    return UserText(name) if name else UserText("Teacher" if teacher else "Someone")
