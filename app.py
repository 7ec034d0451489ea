"""MobileNet Lab in the browser: ``python app.py`` (add ``--share`` for a public link).

The app is configured by environment variables, read here once into a
``classroom.settings.Settings`` and handed down; every variable, its default and what it sets:
the README's table of settings. A bad value stops the app before it starts, with the variable
named.
"""

import argparse
import os
import signal
import sys

import mobilenet  # noqa: F401  first: sets oneDNN on and TensorFlow's log level (mobilenet.runtime)
from classroom.settings import Settings


def main():
    parser = argparse.ArgumentParser(description="MobileNet Lab: the Gradio app (settings: the README's table)")
    parser.add_argument("--share", action="store_true", help="also open a public gradio.live link")
    args = parser.parse_args()
    try:
        settings = Settings.from_environ(os.environ)
    except ValueError as error:
        parser.error(str(error))
    # Gradio and TensorFlow load here (seconds): a bad value above is answered before they do.
    from classroom import serve
    from classroom.teacher import startup_lines
    from demo.i18n import too_many_connections
    from demo.ui import build_demo, close_app, launch_options
    from mobilenet import worker_start

    # training workers fork from a process that has loaded these once (mobilenet.worker_start)
    worker_start.preload("classroom.serve", "demo.ui")
    demo = build_demo(settings=settings)
    # Returns once it serves, with the bounds at the door set (classroom.serve.launch).
    _, url, share_url = serve.launch(demo, launch_options(settings), settings, too_many_connections(),
                                     share=args.share)
    print("\n".join(startup_lines(demo.teacher_key, share_url or url)), flush=True)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # a service manager's stop: end the workers too
    try:
        demo.block_thread()
    finally:
        close_app(demo)


if __name__ == "__main__":
    main()
