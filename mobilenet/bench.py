"""Benchmarks, side by side in one run: ``python -m mobilenet.bench [--data PATH] [--out FILE]``.

Prints a Markdown table and writes it to ``BENCHMARKS.md`` (or ``--out``).
Every figure says how it was measured. Not a unit test: CI runs only
``--smoke`` (tiny sizes) to check that the command works.

  latency     one decoded image -> probabilities, preprocessing included:
              ours (LiteRT + XNNPACK), ours with flip TTA (as the app answers where
              the checkpoint measured it better), Keras tf.function, ``model(x)``, and
              the tutorial's ``model.predict``; p50/p95 after warm-up
  agreement   LiteRT vs Keras probabilities on test images (max |diff|, top-1)
  batch       batch inference throughput (images/s)
  pipeline    images/s of the input pipeline alone (plain, augmented, + cutout)
  training    images/s: ours (``make_dataset``) vs plain ``model.fit`` on numpy
              arrays at batch 128 vs the tutorial's ``fit(batch_size=10)``
  classroom   the app's presets (classroom run, quick run) from scratch, native and capped at
              AVX2: as the CLI over seeds 0-4 (test accuracy as the app answers, mean ±
              spread and min; wall time, images/s) and through the running app (Start ->
              accuracy on screen)
"""

import argparse
import os
import sys
import time

import numpy as np

from mobilenet import CHECKPOINT_DIR  # sets oneDNN on (mobilenet.runtime)
from mobilenet.bench_classroom import SEEDS, classroom_rows
from mobilenet.recipes import APP_PRESETS


def percentiles(samples):
    ms = np.asarray(samples) * 1000
    return float(np.percentile(ms, 50)), float(np.percentile(ms, 95))


def time_calls(call, inputs, warmup, runs):
    for i in range(warmup):
        call(inputs[i % len(inputs)])
    samples = []
    for i in range(runs):
        started = time.perf_counter()
        call(inputs[i % len(inputs)])
        samples.append(time.perf_counter() - started)
    return percentiles(samples)


def model_for(variant, size=None):
    """The shipped checkpoint of ``variant`` if there is one, else random weights; ``size``
    (``alpha``, ``depth``): a network of that size with random weights instead (the smoke run's,
    which checks the code, not the figures: converting the full network to LiteRT four times
    was most of its latency section)."""
    from mobilenet.checkpoints import load_checkpoint
    from mobilenet.model import build_mobilenet

    if size:
        return (build_mobilenet(variant=variant, **size), {},
                f"random weights, α {size['alpha']:g}, {size['depth']} depth (smoke run)")
    path = os.path.join(CHECKPOINT_DIR, f"mobilenet_{variant}.keras")
    if os.path.exists(path):
        model, meta = load_checkpoint(path)
        return model, meta, f"checkpoints/mobilenet_{variant}.keras"
    return build_mobilenet(variant=variant), {}, "random weights (no shipped checkpoint)"


def latency_rows(variant, images, warmup, runs, size=None):
    from mobilenet.data import preprocess
    from mobilenet.inference import Classifier, flip_helps, network_input

    model, meta, source = model_for(variant, size)
    ours = Classifier(model, meta, engine="litert", tta=False)
    flipped = Classifier(model, meta, engine="litert", tta=True)
    keras_fn = Classifier(model, meta, engine="keras", tta=False)

    def eager_call(image):
        return np.asarray(model(preprocess(network_input(image)[None]), training=False))

    def predict_call(image):  # the tutorial: model.predict on one image
        return model.predict(np.asarray(preprocess(network_input(image)[None])), verbose=0)

    rows = []
    for name, call, n in (("ours: LiteRT + XNNPACK, 2 threads", ours.probabilities, runs),
                          ("ours with flip TTA (picture + mirror, one call of batch 2; the app's "
                           f"choice: {'yes' if flip_helps(meta) else 'no'})", flipped.probabilities, runs),
                          ("Keras tf.function, fixed signature", keras_fn.probabilities, runs),
                          ("model(x)", eager_call, max(20, runs // 5)),
                          ("model.predict(x) (the tutorial's way)", predict_call, max(20, runs // 10))):
        p50, p95 = time_calls(call, images, warmup, n)
        rows.append((f"latency, {variant}: {name}", f"p50 {p50:.3f} ms, p95 {p95:.3f} ms",
                     f"one decoded image incl. resize + preprocessing; {n} calls after {warmup} "
                     f"warm-up; {source}"))
    lite = np.stack([ours.probabilities(img) for img in images])
    reference = np.stack([keras_fn.probabilities(img) for img in images])
    rows.append((f"agreement, {variant}: LiteRT vs Keras",
                 f"max abs difference {np.abs(lite - reference).max():.2e}, top-1 identical "
                 f"{np.mean(lite.argmax(1) == reference.argmax(1)) * 100:.1f} %",
                 f"{len(images)} test images"))
    return rows, model


def batch_row(variant, model, images):
    from mobilenet.evaluate import compiled_forward, predict_probabilities

    forward = compiled_forward(model)
    predict_probabilities(model, images[:500], forward=forward)
    started = time.perf_counter()
    predict_probabilities(model, images, batch_size=500, forward=forward)
    rate = len(images) / (time.perf_counter() - started)
    return (f"batch inference, {variant}", f"{rate:,.0f} images/s",
            f"{len(images)} images, batches of 500, compiled call, after one warm-up batch")


def training_rows(variant, data, steps, repeats, size=None):
    """images/s of one epoch over the same images, five ways, timed in turns.

    Each way is warmed by one epoch (tracing), then the ways take turns for
    ``repeats`` rounds and each reports its median: on 2 shared cores a single
    timing is noisy and the first of a series often slower.

    "ours" is what ``mobilenet.train`` runs: fused BN, ``make_dataset``, and accuracy as the only
    per-step metric (the tutorial's Recall and AUC are computed once, on the test set, at the
    end of a run). "plain" is the tutorial's ``compile`` (accuracy, Recall, AUC) with stock
    Keras layers and ``fit`` on numpy arrays at batch 128; "plain, accuracy only" separates
    the two causes of the difference. ``size``: the models' ``alpha`` and ``depth`` (default:
    the full network; the smoke run's are small, to check the code in seconds).
    """
    import keras

    from mobilenet.batches import make_dataset
    from mobilenet.data import preprocess
    from mobilenet.model import build_mobilenet

    def compiled_model(metrics, **kwargs):
        model = build_mobilenet(variant=variant, **(size or {}), **kwargs)
        model.compile(optimizer="adam", loss="categorical_crossentropy", metrics=metrics)
        return model

    tutorial_metrics, accuracy = ["categorical_accuracy", "Recall", "AUC"], ["categorical_accuracy"]
    n = steps * 128
    seed_n = min(n, 1280)
    x, y = data.x_train[:n], data.y_train[:n]
    x_float = np.asarray(preprocess(x))
    y_onehot = keras.utils.to_categorical(y, 10)
    ours, augmented = compiled_model(accuracy), compiled_model(accuracy)
    plain = compiled_model(tutorial_metrics, fused_batchnorm=False)  # stock Keras layers
    plain_accuracy = compiled_model(accuracy, fused_batchnorm=False)
    seed = compiled_model(tutorial_metrics, fused_batchnorm=False, seed_bn_bug=True)  # the tutorial's
    plain_ds = make_dataset(x, y, 128, training=True)
    augmented_ds = make_dataset(x, y, 128, training=True, augmentation=True)
    ways = {
        "ours": (lambda: ours.fit(plain_ds, epochs=1, verbose=0), n),
        "augmented": (lambda: augmented.fit(augmented_ds, epochs=1, verbose=0), n),
        "plain": (lambda: plain.fit(x_float, y_onehot, batch_size=128, epochs=1, verbose=0), n),
        "plain_accuracy": (lambda: plain_accuracy.fit(x_float, y_onehot, batch_size=128, epochs=1,
                                                      verbose=0), n),
        "seed": (lambda: seed.fit(x_float[:seed_n], y_onehot[:seed_n], batch_size=10, epochs=1,
                                  verbose=0), seed_n),
    }
    rates = {name: [] for name in ways}
    for fit, _ in ways.values():
        fit()
    for _ in range(repeats):
        for name, (fit, images) in ways.items():
            started = time.perf_counter()
            fit()
            rates[name].append(images / (time.perf_counter() - started))
    rate = {name: float(np.median(values)) for name, values in rates.items()}
    how = (f"median of {repeats} epochs over {n} images (tutorial: {seed_n}), the five ways taking "
           "turns, after one warm-up epoch each; Adam")
    return [(f"training, {variant}: ours (fused BN, make_dataset, accuracy per step)",
             f"{rate['ours']:,.0f} images/s ({rate['ours'] / rate['plain']:.2f}x plain fit, "
             f"{rate['ours'] / rate['plain_accuracy']:.2f}x plain fit without Recall/AUC, "
             f"{rate['ours'] / rate['seed']:.1f}x tutorial)", how),
            (f"training, {variant}: ours + crop/flip augmentation", f"{rate['augmented']:,.0f} images/s "
             f"({rate['augmented'] / rate['plain']:.2f}x plain fit)", how),
            (f"training, {variant}: plain model.fit, numpy, stock Keras BN, batch 128, the "
             "tutorial's metrics (accuracy, Recall, AUC)", f"{rate['plain']:,.0f} images/s", how),
            (f"training, {variant}: plain model.fit as above, accuracy only",
             f"{rate['plain_accuracy']:,.0f} images/s", how),
            (f"training, {variant}: tutorial's fit(batch_size=10)", f"{rate['seed']:,.0f} images/s",
             how)]


def pipeline_rows(data, images, repeats):
    """images/s of the input pipeline alone (``make_dataset``: planned NumPy batches, run two
    at a time ahead of the step), plain and with the training augmentation, at batch 128:
    what the training step would wait for if it were infinitely fast."""
    from mobilenet.batches import make_dataset

    x, y = data.x_train[:images], data.y_train[:images]
    rows = []
    for name, kwargs in (("plain", {}), ("crop/flip augmentation", {"augmentation": True}),
                         ("crop/flip + cutout 8", {"augmentation": True, "cutout": 8})):
        rates = []
        for repeat in range(repeats + 1):  # the first builds the pipeline's functions: not counted
            dataset = make_dataset(x, y, 128, training=True, seed=repeat, **kwargs)
            started = time.perf_counter()
            count = sum(int(batch[0].shape[0]) for batch in
                        (dataset if hasattr(dataset, "prefetch") else (dataset[i] for i in range(len(dataset)))))
            if repeat:
                rates.append(count / (time.perf_counter() - started))
        rows.append((f"input pipeline alone: {name}", f"{np.median(rates):,.0f} images/s",
                     f"make_dataset over {len(x):,} training images, batch 128, median of {repeats} "
                     "passes after one warm-up pass; no model"))
    return rows


SECTIONS = ("latency", "pipeline", "training", "classroom")
MINUTES = {"latency": 3, "pipeline": 1, "training": 21, "classroom": 22}  # measured on 2 cores (2026-12-06)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m mobilenet.bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", help="CIFAR-10 .tar.gz, folder or 'hf' (default: $MOBILENET_CIFAR10, "
                                       "else a cache or a download)")
    parser.add_argument("--out", default="BENCHMARKS.md")
    parser.add_argument("--smoke", action="store_true", help="tiny sizes: checks the command runs")
    parser.add_argument("--only", nargs="+", choices=SECTIONS, default=list(SECTIONS),
                        help="measure only these sections (default: all)")
    parser.add_argument("--seeds", nargs="+", type=int, default=list(SEEDS),
                        help="the classroom section's CLI seeds (default: 0 1 2 3 4; the app trains its own, 0)")
    parser.add_argument("--presets", nargs="+", choices=APP_PRESETS, default=list(APP_PRESETS),
                        help="the classroom section's presets (default: all the app offers)")
    args = parser.parse_args(argv)
    minutes = sum(MINUTES[section] for section in args.only)
    if minutes > 20 and not args.smoke:
        print(f"This runs for about {minutes} minutes on 2 cores ({', '.join(f'{s}: ~{MINUTES[s]}' for s in args.only)}"
              "); measure fewer sections with --only SECTION.", file=sys.stderr, flush=True)

    from mobilenet import runtime
    from mobilenet.data import ENV_VAR, load_cifar10

    data = load_cifar10(args.data or os.environ.get(ENV_VAR, "").strip() or None)
    warmup, runs, steps, repeats = (3, 10, 2, 1) if args.smoke else (50, 500, 40, 5)
    images = data.x_test[:100]
    classroom = classroom_rows(data.source, args.smoke, dict(os.environ), tuple(args.seeds),
                               tuple(args.presets)) if "classroom" in args.only else []
    rows = []
    small = {"alpha": 0.25, "depth": "shallow"} if args.smoke else None  # the smoke run's networks
    for variant in ("paper", "cifar") if "latency" in args.only else ():
        latency, model = latency_rows(variant, images, warmup, runs, small)
        rows += latency
        rows.append(batch_row(variant, model, data.x_test[: 200 if args.smoke else 10000]))
    if "pipeline" in args.only:
        rows += pipeline_rows(data, 512 if args.smoke else 20_000, 1 if args.smoke else 3)
    # the smoke run: one variant, a small network (ten models are traced: minutes at full size)
    for variant in (("paper",) if args.smoke else ("paper", "cifar")) if "training" in args.only else ():
        rows += training_rows(variant, data, steps, repeats, small)
    rows += classroom

    import tensorflow as tf

    header = (f"Measured {time.strftime('%Y-%m-%d')} on {runtime.describe()}; TensorFlow "
              f"{tf.__version__}; latency and training rows in this process (oneDNN as stated, for "
              f"every way alike); data: {data.describe()['copy']} ({data.source})"
              + (" (SMOKE RUN: tiny sizes, figures meaningless)" if args.smoke else ""))
    table = ["| what | figure | how it was measured |", "|---|---|---|"]
    table += [f"| {what} | {figure} | {how} |" for what, figure, how in rows]
    text = "\n".join([f"Command: `python -m mobilenet.bench {' '.join(argv or sys.argv[1:])}`",
                      "", header, "", *table, ""])
    print(text)
    with open(args.out, "w", encoding="utf-8") as f:
        f.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
