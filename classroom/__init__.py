"""The classroom server under the app: what keeps one server working for a class of thirty.

It shows nothing (that is ``demo``): one training run at a time in its own process, with owners
and a time bound (``runs``); the others waiting their turn in a fair queue (``run_queue``,
``class_queue``) and every run on the class board, kept in SQLite (``board_store``, ``board_file``,
``board_rebuild``, ``board_rows``); the checkpoints everyone classifies with, loaded once (``catalog``);
the teacher's key (``teacher``); who a request comes from (``clients``); a fair queue
(``fair_queue``); upload limits (``upload_guard``, ``upload_budget``) and security headers
(``headers``). Nothing here imports Gradio's components or the app's texts.
"""
