"""MobileNet Lab in the browser: ``python app.py`` (add ``--share`` for a public link).

Honours GRADIO_SERVER_NAME and GRADIO_SERVER_PORT (Gradio reads them), plus the app's own
MOBILENET_CIFAR10, MOBILENET_CHECKPOINT_DIR, MOBILENET_RUNS_DIR and MOBILENET_KEEP_RUNS.
"""

import argparse

import mobilenet  # noqa: F401  first: sets oneDNN on and TensorFlow's log level (mobilenet.runtime)
from demo.ui import build_demo, launch_options


def main():
    parser = argparse.ArgumentParser(description="MobileNet Lab: the Gradio app")
    parser.add_argument("--share", action="store_true", help="also open a public gradio.live link")
    args = parser.parse_args()
    build_demo().launch(share=args.share, **launch_options())


if __name__ == "__main__":
    main()
