"""Checks of translated texts the tests share: Latin words left in Chinese, and Markdown that
renders with its marks showing."""

import re

from markdown_it import MarkdownIt

_MARKDOWN = MarkdownIt("commonmark").enable("table")

KEEP_LATIN = re.compile(
    r"`[^`]*`"                                   # code: layer names, commands, file names
    r"|\$\$.*?\$\$"                              # display formulas
    r"|（[^（）]*[A-Za-z][^（）]*）"               # the English term beside the Chinese one
    r"|\$[^$]*\$"                                # formulas
    r"|<[^>]*>"                                  # HTML tags and their attributes
    r"|\b(?:MobileNets?|V1|CIFAR-10|ImageNet|Keras|TensorFlow(?: Lite)?|LiteRT|TFLite|XNNPACK|Grad-CAM|"
    r"Howard|Mult-Adds|ReLU6?|BN|BatchNorm(?:alization)?|UTC|Adam|SGD|EMA|TTA|AUC|paper|cifar|full|shallow|"
    r"float32|float16|int8|conv\w*|dw|pw|png|jpe?g|webp|gif|bmp|svg|keras|json|tflite|"
    r"JPEG|PNG|WebP|GIF|BMP|SVG|ms|MB|KB|GB|MP|px|s|min|h|x|α|M|k|K|epoch|batch|top-\d|"
    r"Table|CPU|GPU|API|URL|OK|VS|vs|e\.g|i\.e|\d+\w*)\b", re.S)


def untranslated(text):
    """Latin-letter words left in a Chinese ``text`` once names, units and code are removed
    (empty when the text is fully translated)."""
    return re.findall(r"[A-Za-z]{2,}", KEEP_LATIN.sub(" ", text))


def stray_marks(markdown):
    """Markdown marks (``**``, ``_``, ``#``) left in the text once ``markdown`` is rendered as
    CommonMark (as the page's Markdown renderer does): empty when it renders cleanly. Code spans,
    formulas and HTML tags are left out (their marks are meant)."""
    text = re.sub(r"\$\$.*?\$\$|\$[^$\n]*\$", " ", markdown, flags=re.S)
    html = _MARKDOWN.render(text)
    html = re.sub(r"<code>.*?</code>", " ", html, flags=re.S)
    shown = re.sub(r"<[^>]+>", " ", html)
    return re.findall(r"\*\*|(?<![\w\\])_(?!\w*_\w)|(?<!&)#(?!\d)", shown)
