"""What each command of ``python -m mobilenet`` runs (``mobilenet.cli_parser`` reads the flags).

Each command imports what it runs, so that the parser loads no TensorFlow. The train command
turns its flags into a ``RunSpec`` (``mobilenet.run_spec``): the recipe named by ``--recipe``,
else the classroom run, with the config flags given as overrides, as the app's Start does.
"""

import contextlib
import dataclasses
import datetime
import os
import sys
import time

from mobilenet import RUNS_DIR
from mobilenet.recipes import RECIPES
from mobilenet.run_spec import CONFIG_FIELDS, RunSpec


def notices_held_back(args):
    """A context that holds TensorFlow's routine notices back, unless the user asked for them."""
    from mobilenet.notices import held_back

    return held_back() if args.quiet else contextlib.nullcontext()


def check_before_tensorflow(args):
    """Checks what the user typed before TensorFlow starts (about 5 s of CPU): a bad value, a
    missing checkpoint or data folder is answered at once, with the message the command would
    give (each check raises what the command itself raises: ``main`` prints it as one line)."""
    from mobilenet.checkpoints import read_metadata
    from mobilenet.config import validate_model_args
    from mobilenet.data import check_source

    if args.command == "summary":
        validate_model_args(classes=args.classes, input_shape=(args.input_size, args.input_size, 3),
                            alpha=args.alpha, variant=args.variant, depth=args.depth)
    elif args.command == "train":
        spec_from_args(args).config()
    elif args.command == "sweep":
        sweep_config(args)
    if getattr(args, "checkpoint", None):
        read_metadata(args.checkpoint)
    if getattr(args, "data", None):
        check_source(args.data)


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


def spec_from_args(args):
    """The train command's ``RunSpec``: its ``--recipe`` (else the classroom run) with the config
    flags given as overrides, and its ``--devices``, ``--float16`` and ``--state-dir``."""
    if args.devices is not None and args.devices < 1:
        raise SystemExit(f"--devices must be 1 or more, not {args.devices}")
    dtype = None if args.float16 is None else "float16" if args.float16 else "float32"
    return RunSpec(args.recipe or "classroom", {name: getattr(args, name) for name in CONFIG_FIELDS
                                                if hasattr(args, name)},
                   devices=args.devices, weights_dtype=dtype, state_dir=args.state_dir)


def run_train(args):
    from mobilenet import distribute, runtime
    from mobilenet.train import train

    spec = spec_from_args(args)
    distribute.prepare(spec.devices)  # before TensorFlow starts: logical CPU devices
    runtime.set_threads()  # the cores this process may use ($CPU_CORES on Spaces)

    config = spec.config()
    out = args.out or os.path.join(
        RUNS_DIR, f"{datetime.datetime.now():%Y%m%d-%H%M%S}_{config.variant}_{config.alpha:g}_{config.depth}.keras")
    printer = ProgressPrinter(sys.stdout)
    result = train(config, source=args.data, checkpoint_path=out, on_progress=printer, **spec.train_options())
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
                    "" if flip is None else f"; with TTA ({event.get('tta_views') or 'mirror'}) {flip * 100:.2f}%"
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
    from mobilenet.tta import recorded_views

    model, metadata = load_checkpoint(args.checkpoint)
    data = load_cifar10(args.data)
    views = recorded_views(metadata)  # as the checkpoint measured it
    report = evaluate(model, data.x_test, data.y_test, tta=args.tta, views=views)
    print(f"checkpoint: {args.checkpoint}")
    print(f"test images: {report['images']:,} ({data.source})")
    print(f"test accuracy{f' (TTA: {views})' if args.tta else ''}: {report['accuracy'] * 100:.2f}%")
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

    config = sweep_config(args)
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


def sweep_config(args):
    """The sweep's base config: the classroom run with the flags given (its α aside), validated."""
    return dataclasses.replace(RECIPES["classroom"], **{name: getattr(args, name) for name in CONFIG_FIELDS
                                                        if name != "alpha"}).validate()


def run_publish_space(args):
    from mobilenet.publish import check_repo_id, plan_space, publish_space, space_url

    check_repo_id(args.repo_id)
    # the app's output folders inside the project (where its settings put them: main() reads
    # them) are never sent
    plan = plan_space(output_folders=args.output_folders)
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

