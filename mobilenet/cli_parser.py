"""The command line's parser: ``python -m mobilenet``'s commands and their flags.

Built from modules that load no TensorFlow (``--help`` answers in a fraction of a second). The
train command's flags are ``TrainConfig``'s fields, one each; their defaults shown are the
classroom run's (``mobilenet.recipes``), which ``train`` without ``--recipe`` and ``sweep`` train.
What each command runs: ``mobilenet.cli_commands``.
"""

import argparse
import dataclasses

from mobilenet import DEFAULT_CHECKPOINT
from mobilenet.cli_commands import (run_evaluate, run_export, run_predict, run_publish_space, run_report,
                                    run_summary, run_sweep, run_train)
from mobilenet.config import TrainConfig
from mobilenet.recipes import RECIPES

DATA_HELP = ("CIFAR-10: the official .tar.gz or a folder, or 'hf' for the Hugging Face Hub's copy "
             "(default: $MOBILENET_CIFAR10, else the Keras or Hub cache, else a download)")
VERBOSE_HELP = "show TensorFlow's start-up log lines (sets TF_CPP_MIN_LOG_LEVEL=0)"
TRAIN_HELP = {
    "variant": "paper (the tutorial's strides) or cifar (stem stride 1)",
    "alpha": "width multiplier, e.g. 0.25 0.5 0.75 1.0",
    "depth": "full (13 blocks) or shallow (the paper's Table 4: blocks 7-11 removed)",
    "epochs": "passes over the training images",
    "batch_size": "images per step",
    "learning_rate": "peak learning rate",
    "schedule": "constant or cosine",
    "warmup_epochs": "linear warmup length (cosine only)",
    "optimizer": "adam or sgd",
    "weight_decay": "decoupled weight decay",
    "train_size": "stratified subset of training images, or 'all'",
    "validation_size": "training images held out for validation",
    "augmentation": "random crop + flip",
    "cutout": "side of a random square masked out in training images (0: off)",
    "flip": "without --augmentation: mirror half the training pictures, the other half the next "
            "epoch (alternating flip)",
    "cutmix": "share of training batches mixed by CutMix (0: off; 0.5 in the CutMix paper)",
    "label_smoothing": "label smoothing of the loss",
    "dropout": "dropout before the classifier",
    "ema": "evaluate an exponential moving average of the weights",
    "ema_momentum": "EMA momentum",
    "bn_momentum": "BatchNorm momentum ('auto': matched to the run length)",
    "bn_recalibration_batches": "batches used to re-estimate BN statistics at the end (0: off)",
    "sync_batchnorm": "with --devices: BatchNorm statistics over the whole batch, not each "
                      "device's slice (TensorFlow; slower)",
    "swa_epochs": "epochs of weight averaging (SWA) after the schedule (0: off)",
    "swa_learning_rate": "constant learning rate of the averaging epochs ('auto': learning rate / 5)",
    "swa_batch_size": "batch size of the averaging epochs ('auto': the batch size)",
    "tta": "also report test accuracy with test-time augmentation (the app answers so where it helps)",
    "tta_views": "what test-time augmentation averages: mirror, or mirror_shift (also two copies shifted by a pixel)",
    "seed": "random seed",
    "progress_every": "steps between progress updates",
}


def build_parser():
    parser = argparse.ArgumentParser(prog="python -m mobilenet",
                                     description="MobileNet V1 on CIFAR-10: inspect, train, "
                                                 "evaluate, classify.")
    parser.add_argument("--verbose", action="store_true", help=VERBOSE_HELP)
    parser.set_defaults(tensorflow=True)  # main() starts TensorFlow, its notices held back
    # After the command too; SUPPRESS keeps a --verbose given before the command.
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--verbose", action="store_true", default=argparse.SUPPRESS, help=VERBOSE_HELP)
    commands = parser.add_subparsers(dest="command", required=True)

    def add_command(name, help):
        return commands.add_parser(name, help=help, parents=[common])

    summary = add_command("summary", help="layer table, parameters and Mult-Adds")
    summary.add_argument("--variant", default="paper", choices=("paper", "cifar"))
    summary.add_argument("--alpha", type=float, default=1.0)
    summary.add_argument("--depth", default="full", choices=("full", "shallow"))
    summary.add_argument("--input-size", type=int, default=32)
    summary.add_argument("--classes", type=int, default=10)
    summary.set_defaults(run=run_summary)

    train = add_command("train", help="train on CIFAR-10 and save a checkpoint")
    train.add_argument("--recipe", choices=tuple(RECIPES),
                       help="start from a named recipe (the app's runs, the settings of a shipped "
                            "checkpoint; default: classroom); the flags below that are given "
                            "override its values")
    add_config_flags(train, given_only=True)
    train.add_argument("--data", help=DATA_HELP)
    train.add_argument("--out", help="checkpoint path (default: checkpoints/runs/<time>_<variant>.keras)")
    train.add_argument("--state-dir", help="folder for per-epoch resumable state; resumes if present")
    train.add_argument("--float16", action=argparse.BooleanOptionalAction, default=None,
                       help="store weights as float16 (half size; default: as the recipe's "
                            "shipped checkpoint, else float32)")
    train.add_argument("--devices", type=int, default=None,
                       help="train data-parallel on N local devices: GPUs, else N logical CPU "
                            "devices (TensorFlow's MirroredStrategy; Keras' DataParallel on JAX). "
                            "Several machines: set TF_CONFIG (or KERAS_DISTRIBUTION_* on JAX) on "
                            "each; see docs/TRAINING.md, 'Training at scale'")
    train.set_defaults(run=run_train)

    evaluate = add_command("evaluate", help="test accuracy, per class, confusion matrix")
    evaluate.add_argument("checkpoint", nargs="?", default=DEFAULT_CHECKPOINT)
    evaluate.add_argument("--data", help=DATA_HELP)
    evaluate.add_argument("--tta", action="store_true", help="flip test-time augmentation")
    evaluate.set_defaults(run=run_evaluate)

    report = add_command("report", help="confusion-matrix and curve pictures (SVG) "
                                                "and a Markdown summary of a checkpoint")
    report.add_argument("checkpoint", nargs="?", default=DEFAULT_CHECKPOINT)
    report.add_argument("--out", default="docs", help="folder for the SVG files (default: docs)")
    report.set_defaults(run=run_report)

    predict = add_command("predict", help="classify image files")
    predict.add_argument("images", nargs="+")
    predict.add_argument("--checkpoint", default=DEFAULT_CHECKPOINT)
    predict.add_argument("--top-k", type=int, default=3)
    predict.set_defaults(run=run_predict)

    export = add_command("export", help="LiteRT (TFLite) files: float32, float16, int8; "
                                                "size, latency and accuracy beside Keras")
    export.add_argument("checkpoint", nargs="?", default=DEFAULT_CHECKPOINT)
    export.add_argument("--out", default="export", help="folder for the .tflite files (default: export)")
    export.add_argument("--data", help=DATA_HELP)
    export.add_argument("--kinds", nargs="+", default=["float32", "float16", "int8"],
                        choices=("float32", "float16", "int8"))
    export.add_argument("--test-images", type=_int_or_all, default=None,
                        help="stratified test subset for accuracy, or 'all' (default: all)")
    export.add_argument("--calibration-images", type=int, default=300,
                        help="training images that calibrate int8 (default: 300)")
    export.set_defaults(run=run_export)

    sweep = add_command("sweep", help="train one run per width multiplier α for the "
                                              "accuracy vs Mult-Adds plot")
    add_config_flags(sweep, exclude=("alpha",))
    sweep.add_argument("--alphas", nargs="+", type=float, default=[0.25, 0.5, 0.75, 1.0])
    sweep.add_argument("--data", help=DATA_HELP)
    sweep.add_argument("--out", help="folder for alpha_<α>.keras (default: checkpoints/sweep)")
    sweep.add_argument("--float16", action="store_true", help="store weights as float16 (half size)")
    sweep.set_defaults(run=run_sweep)

    publish = add_command("publish-space", help="upload the app to a Hugging Face Space "
                                                        "(binary files through Git LFS/Xet)")
    publish.add_argument("repo_id", metavar="OWNER/NAME", help="the Space; created if missing")
    publish.add_argument("--dry-run", action="store_true", help="list the files and sizes, send nothing")
    publish.add_argument("--private", action="store_true", help="create the Space private")
    publish.add_argument("--token", help="token with write access (default: $HF_TOKEN or `hf auth login`)")
    publish.set_defaults(run=run_publish_space, tensorflow=False)
    return parser


def add_config_flags(parser, exclude=(), given_only=False):
    """One flag per ``TrainConfig`` field, its default the classroom run's. ``given_only``: a flag
    not given leaves no attribute (so that only the flags given override a recipe; see
    ``mobilenet.cli_commands.spec_from_args``)."""
    for field in (f for f in dataclasses.fields(TrainConfig) if f.name not in exclude):
        flag = "--" + field.name.replace("_", "-")
        default = getattr(RECIPES["classroom"], field.name)
        if isinstance(default, bool):
            parser.add_argument(flag, action=argparse.BooleanOptionalAction,
                                default=argparse.SUPPRESS if given_only else default,
                                help=TRAIN_HELP[field.name] + (f" (default: {default})" if given_only else ""))
        else:
            kind = {"train_size": _int_or_all, "bn_momentum": _float_or_auto,
                    "swa_learning_rate": _float_or_auto, "swa_batch_size": _int_or_auto}.get(
                field.name, type(field.default))
            shown = default if default is not None else "all" if field.name == "train_size" else "auto"
            parser.add_argument(flag, type=kind, default=argparse.SUPPRESS if given_only else default,
                                help=f"{TRAIN_HELP[field.name]} (default: {shown})")


def _int_or_all(text):
    return None if text == "all" else int(text)


def _float_or_auto(text):
    return None if text == "auto" else float(text)


def _int_or_auto(text):
    return None if text == "auto" else int(text)


