"""Command line: ``python -m mobilenet COMMAND``, where COMMAND is summary, train, evaluate, report,
predict, export, sweep or publish-space.

This entry point reads the flags (``mobilenet.cli_parser``) and the environment, then runs the
command (``mobilenet.cli_commands``). The parser is built from modules that load no TensorFlow
(``--help`` answers in a fraction of a second); each command imports what it runs. TensorFlow's
routine notices are held back (``mobilenet.notices``) unless ``--verbose`` or
``TF_CPP_MIN_LOG_LEVEL`` is 0 or 1.
"""

import os
import sys

import mobilenet  # noqa: F401 (sets oneDNN on before TensorFlow loads: mobilenet.runtime)
from mobilenet.cli_commands import check_before_tensorflow, notices_held_back
from mobilenet.cli_parser import build_parser

# Failures that are the user's to fix: one line, no traceback. Named, not imported: importing
# mobilenet.checkpoints here would load TensorFlow, and an error of a module never loaded
# cannot have been raised.
EXPECTED_ERRORS = {"builtins.ValueError", "mobilenet.checkpoints.CheckpointError",
                   "mobilenet.cifar10.DataCorruptError", "mobilenet.cifar10.DataUnavailableError",
                   "mobilenet.publish.PublishError"}


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.verbose:  # the flag outranks the environment (and runtime's default of 2)
        os.environ["TF_CPP_MIN_LOG_LEVEL"] = "0"
    if hasattr(args, "data") and not args.data:  # the library reads no environment: its entry points do
        from mobilenet.data import ENV_VAR

        args.data = os.environ.get(ENV_VAR, "").strip() or None
    if args.command == "publish-space":  # the app's output folders, where its settings put them
        from mobilenet.publish import OUTPUT_FOLDER_VARIABLES

        args.output_folders = [os.environ.get(name) for name in OUTPUT_FOLDER_VARIABLES]
    args.quiet = os.environ.get("TF_CPP_MIN_LOG_LEVEL") in ("2", "3")
    try:
        if args.tensorflow:
            from mobilenet.notices import start_tensorflow

            check_before_tensorflow(args)  # a typo answers in a fraction of a second
            with notices_held_back(args):
                start_tensorflow()
        return args.run(args)
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return 130
    except Exception as error:
        if any(f"{kind.__module__}.{kind.__qualname__}" in EXPECTED_ERRORS
               for kind in type(error).__mro__):
            print(f"error: {error}", file=sys.stderr)
            return 2
        raise


if __name__ == "__main__":
    sys.exit(main())
