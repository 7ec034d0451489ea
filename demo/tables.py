"""Tables as the tabs show them: readable column names in the page's language, numbers formatted
but still numbers (a ``gr.Dataframe`` sorts them as numbers).

A table's columns are ``{data column: (text id, format)}``: the text id names the column
(``demo.i18n``), the format (``"{:,.0f}"``) or None says how its cells are shown.
"""

import pandas as pd

from demo.i18n import t

COUNT = "{:,.0f}"


def column_names(columns, lang):
    """``{data column: shown name}`` in ``lang``."""
    return {key: t(text_id, lang) for key, (text_id, _) in columns.items()}


def present(frame, columns, lang, bold_last_row=False):
    """The ``columns`` of ``frame`` under their names in ``lang``, formatted; a pandas Styler
    (``bold_last_row``: a totals row)."""
    names = column_names(columns, lang)
    frame = frame[list(columns)].rename(columns=names)
    formats = {names[key]: fmt for key, (_, fmt) in columns.items() if fmt}
    styler = frame.style.format(formats, na_rep="")
    if bold_last_row:
        styler = styler.apply(_bold_if_last, last=len(frame) - 1, axis=1)
    return styler


def _bold_if_last(row, last):
    return ["font-weight: bold" if row.name == last else ""] * len(row)


def empty(columns, lang):
    """A table with no rows yet: only the column names, in ``lang``."""
    return pd.DataFrame(columns=list(column_names(columns, lang).values()))
