"""Gradio's own words in the page's language where its zh-CN locale leaves them in English
(written for Gradio 6.31.0; ``tests/test_i18n_spacing.py`` checks the version).

Gradio leaves two ways in, and each word takes the one that reaches it:

- Words Gradio looks up in its i18n dictionary but that its zh-CN locale lacks (the footer's
  "Runs", its description, "App", "Download All"): our texts for those keys join the
  ``gr.I18n`` the page gets (``I18N_KEYS``), and Gradio finds them there.
- Words Gradio writes without any lookup: a toast's title (the kind of message, capitalised:
  "Error"; a ``gr.Error``'s own ``title`` is not shown by 6.31's toasts) and the webcam prompt
  ("Click to Access Webcam"). No public setting reaches them, so ``css()`` hides the English
  and writes ours in its place, for the language Gradio's i18n puts on ``<html lang>``.
"""

import json

GRADIO_VERSION = "6.31.0"
# Gradio's i18n key -> our text id (demo/page.toml's [gradio])
I18N_KEYS = {"common.runs": "page.gradio.runs", "common.runs_description": "page.gradio.runs_description",
             "common.back_to_app": "page.gradio.back_to_app",
             "common.back_to_app_description": "page.gradio.back_to_app_description",
             "common.download_all": "page.gradio.download_all"}
TOAST_KINDS = ("error", "warning", "info", "success")
# The webcam prompt: the text beside the camera icon of an image input's webcam button.
WEBCAM = ".upload-container button > .wrap:has(> .icon-wrap)"


def i18n_keys(lang, t):
    """Gradio's keys with our texts in ``lang`` (``t``: ``demo.i18n.t``)."""
    return {key: t(text_id, lang) for key, text_id in I18N_KEYS.items()}


def css(locales, t):
    """CSS that writes the toast titles and the webcam prompt in each language of ``locales``
    ({our code: Gradio's locale}) but English, which is Gradio's own."""
    rules = []
    for lang, locale in locales.items():
        if lang == "en":
            continue
        page = f'html[lang="{locale}"]'
        # font-size 0 hides Gradio's text node; the counter of grouped toasts keeps its size
        rules.append(f"{page} .toast-title {{ font-size: 0; }}")
        rules.append(f"{page} .toast-title > * {{ font-size: var(--text-md); }}")
        for kind in TOAST_KINDS:
            rules.append(f"{page} .toast-title.{kind}::before {{ content: {json.dumps(t(f'page.gradio.toast_{kind}', lang), ensure_ascii=False)};"
                         " font-size: var(--text-md); margin-right: 4px; }")
        rules.append(f"{page} {WEBCAM} {{ font-size: 0; }}")
        rules.append(f"{page} {WEBCAM}::after {{ content: {json.dumps(t('page.gradio.webcam', lang), ensure_ascii=False)};"
                     " font-size: var(--text-lg); }")
    return "\n".join(rules) + "\n"
