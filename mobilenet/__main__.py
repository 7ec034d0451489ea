"""Command line: ``python -m mobilenet COMMAND``, where COMMAND is summary, train, evaluate, report,
predict, export, sweep or publish-space.

The parser is built from modules that load no TensorFlow (``--help`` answers in a fraction of a
second); each command imports what it runs. TensorFlow's routine notices are held back
(``mobilenet.notices``) unless ``--verbose`` or ``TF_CPP_MIN_LOG_LEVEL`` is 0 or 1.
"""

import argparse
import contextlib
import dataclasses
import datetime
import os
import sys
import time

from mobilenet import DEFAULT_CHECKPOINT, RUNS_DIR  # sets oneDNN on (mobilenet.runtime)
from mobilenet.config import TrainConfig
from mobilenet.recipes import RECIPES, WEIGHTS_DTYPE, recipe

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
    "tta": "also report test accuracy with flip test-time augmentation",
    "seed": "random seed",
    "progress_every": "steps between progress updates",
}


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
    args.quiet = os.environ.get("TF_CPP_MIN_LOG_LEVEL") in ("2", "3")
    try:
        if args.tensorflow:
            from mobilenet.notices import start_tensorflow

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


def notices_held_back(args):
    """A context that holds TensorFlow's routine notices back, unless the user asked for them."""
    from mobilenet.notices import held_back

    return held_back() if args.quiet else contextlib.nullcontext()


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
                       help="start from a named recipe (the settings of a shipped checkpoint); "
                            "the flags below that are given override its values")
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
    """One flag per ``TrainConfig`` field. ``given_only``: a flag not given leaves no attribute
    (so that only the flags given override a recipe; see ``config_from_args``)."""
    for field in (f for f in dataclasses.fields(TrainConfig) if f.name not in exclude):
        flag = "--" + field.name.replace("_", "-")
        default = field.default
        if isinstance(default, bool):
            parser.add_argument(flag, action=argparse.BooleanOptionalAction,
                                default=argparse.SUPPRESS if given_only else default,
                                help=TRAIN_HELP[field.name] + (f" (default: {default})" if given_only else ""))
        else:
            kind = {"train_size": _int_or_all, "bn_momentum": _float_or_auto,
                    "swa_learning_rate": _float_or_auto, "swa_batch_size": _int_or_auto}.get(
                field.name, type(default))
            shown = default if default is not None else "all" if field.name == "train_size" else "auto"
            parser.add_argument(flag, type=kind, default=argparse.SUPPRESS if given_only else default,
                                help=f"{TRAIN_HELP[field.name]} (default: {shown})")


def config_from_args(args):
    """The ``TrainConfig`` of a train command: the ``--recipe`` (else the defaults), with the
    config flags given on top; validated."""
    given = {f.name: getattr(args, f.name) for f in dataclasses.fields(TrainConfig) if hasattr(args, f.name)}
    if args.recipe:
        return recipe(args.recipe, **given)
    return TrainConfig(**given).validate()


def _int_or_all(text):
    return None if text == "all" else int(text)


def _float_or_auto(text):
    return None if text == "auto" else float(text)


def _int_or_auto(text):
    return None if text == "auto" else int(text)


def run_summary(args):
    import pandas as pd

    from mobilenet.analysis import cost_comparison, layer_table, model_totals
    from mobilenet.model import build_mobilenet

    model = build_mobilenet(classes=args.classes, alpha=args.alpha, variant=args.variant, depth=args.depth,
                            input_shape=(args.input_size, args.input_size, 3))
    table = layer_table(model)
    with pd.option_context("display.max_rows", None, "display.width", 200):
        print(table.to_string(index=False))
    totals = model_totals(table)
    blocks = cost_comparison(model).iloc[-1]
    print(f"\nmodel: {model.name} at {args.input_size}x{args.input_size}x3, {args.classes} classes")
    print(f"total params: {totals['params']:,}")
    print(f"trainable params: {totals['trainable']:,}")
    print(f"non-trainable params: {totals['non_trainable']:,}")
    print(f"mult-adds: {totals['mult_adds']:,} ({totals['mult_adds'] / 1e6:.1f} M)")
    print(f"size (float32): {totals['size_mb_float32']:.2f} MB")
    print(f"depthwise separable blocks vs standard convolutions: "
          f"{blocks['separable_mult_adds'] / 1e6:.1f} M vs {blocks['standard_mult_adds'] / 1e6:.1f} M "
          f"Mult-Adds ({blocks['ratio']:.3f}x)")
    return 0


def run_train(args):
    from mobilenet import distribute, runtime
    from mobilenet.train import train

    if args.devices is not None and args.devices < 1:
        raise SystemExit(f"--devices must be 1 or more, not {args.devices}")
    distribute.prepare(args.devices)  # before TensorFlow starts: logical CPU devices
    runtime.set_threads()  # the cores this process may use ($CPU_CORES on Spaces)

    config = config_from_args(args)
    float16 = args.float16 if args.float16 is not None else \
        WEIGHTS_DTYPE.get(args.recipe) == "float16"
    out = args.out or os.path.join(
        RUNS_DIR, f"{datetime.datetime.now():%Y%m%d-%H%M%S}_{config.variant}_{config.alpha:g}_{config.depth}.keras")
    printer = ProgressPrinter(sys.stdout)
    result = train(config, source=args.data, checkpoint_path=out, on_progress=printer,
                   state_dir=args.state_dir, weights_dtype="float16" if float16 else "float32",
                   devices=args.devices)
    if result.stopped:
        print("stopped early: the checkpoint holds what was learned so far")
    return 0


class ProgressPrinter:
    """Prints the training progress dicts: a bar on a terminal, lines otherwise."""

    LOG_INTERVAL_S = 30  # off a terminal (a log file), at most one step line this often

    def __init__(self, stream):
        self.stream, self.tty = stream, stream.isatty()
        self.last_line = 0.0

    def __call__(self, event):
        kind = event["event"]
        if kind == "start":
            self._line(f"training on {event['train_images']:,} images "
                       f"({event['validation_images']:,} held out for validation), "
                       f"{event['epochs']} epochs x {event['steps_per_epoch']} steps, "
                       f"BN momentum {event['bn_momentum']:.3f}"
                       + (f", resuming after epoch {event['initial_epoch']}" if event["initial_epoch"] else ""))
        elif kind == "batch" and self.tty:
            done = event["step"] / event["steps_per_epoch"]
            bar = "#" * int(done * 30) + "." * (30 - int(done * 30))
            self.stream.write(f"\r{self._epoch(event)} [{bar}] "
                              f"{self._metrics(event)}")
            self.stream.flush()
        elif kind == "batch" and time.monotonic() - self.last_line > self.LOG_INTERVAL_S:
            self.last_line = time.monotonic()
            self._line(f"  {self._epoch(event)} step {self._metrics(event)}")
        elif kind == "validation":
            self._line(f"  {self._epoch(event)} step {event['step']}/{event['steps_per_epoch']} - "
                       f"val_loss {event['val_loss']:.4f} - val_accuracy {event['val_accuracy']:.4f}")
        elif kind == "epoch":
            val = f" - val_loss {event['val_loss']:.4f} - val_accuracy {event['val_accuracy']:.4f}" \
                if "val_accuracy" in event else ""
            self._line(f"{self._epoch(event)} {self._metrics(event)}{val}")
        elif kind == "stage":
            self._line({"swa": f"weight averaging: {event.get('epochs')} epochs at learning rate "
                               f"{event.get('learning_rate')}"
                               + (f", resuming after epoch {event['initial_epoch']}"
                                  if event.get("initial_epoch") else ""),
                        "batchnorm": "re-estimating BatchNorm statistics",
                        "evaluate": f"evaluating on the {event.get('split', 'test')} set",
                        "save": "saving checkpoint"}[event["name"]])
        elif kind == "done":
            if event["test_accuracy"] is not None:
                flip = event.get("test_accuracy_tta")
                self._line(f"test accuracy: {event['test_accuracy'] * 100:.2f}%" + (
                    "" if flip is None else f"; with flip TTA {flip * 100:.2f}%"
                    + (" (how the app answers with this checkpoint)" if event.get("answers_with_flip") else "")))
            self._line(f"checkpoint: {event['checkpoint']} ({event['duration_s']:.0f} s)")

    @staticmethod
    def _epoch(event):
        name = "averaging epoch" if event.get("phase") == "swa" else "epoch"
        return f"{name} {event['epoch']}/{event['epochs']}"

    @staticmethod
    def _metrics(event):
        eta = "" if event["eta_s"] is None else f" - ETA {event['eta_s']:.0f}s"
        return (f"{event['step']}/{event['steps_per_epoch']} - loss {event['loss']:.4f} - "
                f"accuracy {event['accuracy']:.4f} - {event['images_per_sec']:.0f} img/s{eta}")

    def _line(self, text):
        self.stream.write(("\r" if self.tty else "") + text + "\n")
        self.stream.flush()


def run_evaluate(args):
    import pandas as pd

    from mobilenet.checkpoints import load_checkpoint
    from mobilenet.data import CLASS_NAMES, load_cifar10
    from mobilenet.evaluate import evaluate

    model, _ = load_checkpoint(args.checkpoint)
    data = load_cifar10(args.data)
    report = evaluate(model, data.x_test, data.y_test, tta=args.tta)
    print(f"checkpoint: {args.checkpoint}")
    print(f"test images: {report['images']:,} ({data.source})")
    print(f"test accuracy{' (flip TTA)' if args.tta else ''}: {report['accuracy'] * 100:.2f}%")
    print("\nper-class accuracy:")
    for name, accuracy in report["per_class_accuracy"].items():
        print(f"  {name:<11}{accuracy * 100:6.2f}%")
    print("\nconfusion matrix (rows: true class, columns: predicted):")
    matrix = pd.DataFrame(report["confusion_matrix"], index=CLASS_NAMES,
                          columns=[name[:5] for name in CLASS_NAMES])
    print(matrix.to_string())
    return 0


def run_report(args):
    from mobilenet.checkpoints import checkpoint_paths, read_metadata
    from mobilenet.report import write_report

    name = os.path.basename(checkpoint_paths(args.checkpoint)[0])[: -len(".keras")]
    paths, summary = write_report(read_metadata(args.checkpoint), name, args.out)
    print(summary)
    for path in paths:
        print(f"wrote {path}")
    return 0


def run_predict(args):
    from mobilenet.inference import Classifier, read_image

    with notices_held_back(args):  # LiteRT announces its XNNPACK delegate
        classifier = Classifier.from_checkpoint(args.checkpoint)
    failures = 0
    for path in args.images:
        try:
            result = classifier.top_k(read_image(path), k=args.top_k)
        except ValueError as error:
            print(f"{path}: error: {error}")
            failures += 1
            continue
        answer = ", ".join(f"{name} {prob * 100:.1f}%" for name, prob in result)
        print(f"{path}: {answer}")
    return 1 if failures else 0


def run_export(args):
    from mobilenet.data import load_cifar10
    from mobilenet.export import export_litert

    data = load_cifar10(args.data)

    def show(event):
        print(f"[{event['step']}/{event['steps']}] {event['name']} {event['kind']}", flush=True)

    with notices_held_back(args):  # LiteRT's notices; the progress lines go to stdout
        report = export_litert(args.checkpoint, args.out, kinds=args.kinds, data=data,
                               calibration_images=args.calibration_images,
                               test_images=args.test_images, on_progress=show)
    settings = report["settings"]
    print(f"\ncheckpoint: {report['checkpoint']}")
    print(f"accuracy on {settings['test_images']:,} test images ({data.source}); int8 calibrated "
          f"on {settings['calibration_images']:,} training images; latency: median of "
          f"{settings['latency_runs']} single-image calls, {settings['threads']} threads")
    print(f"\n{'model':<16}{'size':>10}{'latency':>12}{'accuracy':>10}{'same top-1':>12}  file")
    for row in report["rows"]:
        print(f"{export_label(row['kind']):<16}{row['size_bytes'] / 1e6:>7.2f} MB"
              f"{row['latency_ms']:>9.3f} ms{row['accuracy'] * 100:>9.2f}%"
              f"{row['agreement'] * 100:>11.1f}%  {row['path']}")
    return 0


def export_label(kind):
    return "Keras" if kind == "keras" else f"LiteRT {kind}"


def run_sweep(args):
    from mobilenet.data import load_cifar10
    from mobilenet.tradeoff import SWEEP_DIR, measured_points, sweep

    config = TrainConfig(**{f.name: getattr(args, f.name) for f in dataclasses.fields(TrainConfig)
                            if f.name != "alpha"})
    config.validate()
    data = load_cifar10(args.data)
    printer, current = ProgressPrinter(sys.stdout), [None]

    def show(event):
        if event["alpha"] != current[0]:
            current[0] = event["alpha"]
            print(f"\n== α {event['alpha']:g} ==")
        printer(event)

    out = args.out or SWEEP_DIR
    paths = sweep(data, out, alphas=args.alphas, config=config, on_progress=show,
                  weights_dtype="float16" if args.float16 else "float32")
    points = measured_points({"sweep": out})
    points = points[points["checkpoint"].isin([os.path.abspath(p) for p in paths])]
    print(f"\n{'α':>5}{'test accuracy':>15}{'Mult-Adds':>14}{'relative':>10}")
    for _, row in points.sort_values("alpha").iterrows():
        print(f"{row['alpha']:>5g}{row['accuracy_%']:>14.2f}%{row['mult_adds'] / 1e6:>12.2f} M"
              f"{row['relative_mult_adds']:>10.3f}")
    return 0


def run_publish_space(args):
    from mobilenet.publish import OUTPUT_FOLDER_VARIABLES, check_repo_id, plan_space, publish_space, space_url

    check_repo_id(args.repo_id)
    # the app's output folders inside the project (where its settings put them) are never sent
    plan = plan_space(output_folders=[os.environ.get(name) for name in OUTPUT_FOLDER_VARIABLES])
    for file in plan.files:
        print(f"{file.path:<48}{file.size / 1e3:>10.1f} kB{'  LFS' if file.lfs else ''}")
    lfs = [file for file in plan.files if file.lfs]
    print(f"{len(plan.files)} files, {sum(file.size for file in plan.files) / 1e6:.1f} MB; "
          f"{len(lfs)} through Git LFS/Xet ({sum(file.size for file in lfs) / 1e6:.1f} MB)")
    if args.dry_run:
        print(f"dry run, nothing sent: {space_url(args.repo_id)}")
    else:
        print(f"published: {publish_space(args.repo_id, plan, private=args.private, token=args.token)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
