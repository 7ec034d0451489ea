"""MobileNet Lab in the browser: ``python app.py`` (add ``--share`` for a public link).

Honours GRADIO_SERVER_NAME and GRADIO_SERVER_PORT (Gradio reads them), plus the app's own
MOBILENET_CIFAR10, MOBILENET_CHECKPOINT_DIR, MOBILENET_RUNS_DIR, MOBILENET_KEEP_RUNS,
MOBILENET_MAX_RUN_MINUTES, MOBILENET_TEACHER_KEY, MOBILENET_MAX_WAITING_PER_SESSION,
MOBILENET_MAX_WAITING_PER_ADDRESS, MOBILENET_MAX_CONNECTIONS_PER_ADDRESS and MOBILENET_SSR (see
the README).

Uploads (classroom.upload_guard, docs/RELIABILITY.md): MOBILENET_UPLOAD_BUDGET_MB (the upload
folder's total, default 500; oldest files removed first), MOBILENET_UPLOADS_PER_MINUTE and
MOBILENET_UPLOAD_MB_PER_MINUTE (per client, default 30 and 200: raise them for a class behind
one school router, which shares one address), MOBILENET_TRUSTED_PROXY=1 (behind your own
reverse proxy: the client is the last X-Forwarded-For entry; on Hugging Face Spaces, SPACE_ID
does this). GRADIO_TEMP_DIR moves the upload folder (give the app its own on a shared machine:
the budget counts and prunes that folder).
"""

import argparse
import signal
import sys

import mobilenet  # noqa: F401  first: sets oneDNN on and TensorFlow's log level (mobilenet.runtime)
from classroom import serve
from classroom.teacher import startup_lines
from demo.i18n import too_many_connections
from demo.ui import build_demo, launch_options


def main():
    parser = argparse.ArgumentParser(description="MobileNet Lab: the Gradio app")
    parser.add_argument("--share", action="store_true", help="also open a public gradio.live link")
    args = parser.parse_args()
    demo = build_demo()
    # Returns once it serves, with the bounds at the door set (classroom.serve.launch).
    _, url, share_url = serve.launch(demo, launch_options(), too_many_connections(), share=args.share)
    print("\n".join(startup_lines(demo.teacher_key, share_url or url)), flush=True)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # a service manager's stop: end the workers too
    try:
        demo.block_thread()
    finally:
        demo.training_runs.close()
        demo.work.close()


if __name__ == "__main__":
    main()
