"""A tab built in a page of its own, for tests that call its callbacks without a server."""

import gradio as gr


def built_alone(tab_class, ctx):
    """``tab_class(ctx)`` built inside a ``gr.Blocks`` with the language radio every event takes
    last (``ctx.language``), so that its callbacks answer by component; returns (tab, page)."""
    with gr.Blocks() as page:
        ctx.language = gr.Radio(["en", "zh"], value="en")
        tab = tab_class(ctx)
        with gr.Tabs():
            tab.build()
    return tab, page
