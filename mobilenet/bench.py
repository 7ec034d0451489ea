"""Benchmarks, side by side in one run: ``python -m mobilenet.bench [--data PATH] [--out FILE]``.

Prints a Markdown table and writes it to ``BENCHMARKS.md`` (or ``--out``).
Every figure says how it was measured. Not a unit test: CI runs only
``--smoke`` (tiny sizes) to check that the command works.

  latency     one decoded image -> probabilities, preprocessing included:
              ours (LiteRT + XNNPACK), Keras tf.function, ``model(x)``, and the
              tutorial's ``model.predict``; p50/p95 after warm-up
  agreement   LiteRT vs Keras probabilities on test images (max |diff|, top-1)
  batch       batch inference throughput (images/s)
  training    images/s: ours (tf.data pipeline) vs plain ``model.fit`` on numpy
              arrays at batch 128 vs the tutorial's ``fit(batch_size=10)``
  classroom   the app's default short run from scratch, cold and warm: test accuracy,
              wall time, peak memory (RSS high-water mark) of the process
"""

import argparse
import os
import platform
import resource
import sys
import time

import numpy as np

from mobilenet import CHECKPOINT_DIR  # sets oneDNN on (mobilenet.runtime)


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


def model_for(variant):
    """The shipped checkpoint of ``variant`` if there is one, else random weights."""
    from mobilenet.checkpoints import load_checkpoint
    from mobilenet.model import build_mobilenet

    path = os.path.join(CHECKPOINT_DIR, f"mobilenet_{variant}.keras")
    if os.path.exists(path):
        model, meta = load_checkpoint(path)
        return model, meta, f"checkpoints/mobilenet_{variant}.keras"
    return build_mobilenet(variant=variant), {}, "random weights (no shipped checkpoint)"


def latency_rows(variant, images, warmup, runs):
    from mobilenet.data import preprocess
    from mobilenet.inference import Classifier, network_input

    model, meta, source = model_for(variant)
    ours = Classifier(model, meta, engine="litert")
    keras_fn = Classifier(model, meta, engine="keras")

    def eager_call(image):
        return np.asarray(model(preprocess(network_input(image)[None]), training=False))

    def predict_call(image):  # the tutorial: model.predict on one image
        return model.predict(np.asarray(preprocess(network_input(image)[None])), verbose=0)

    rows = []
    for name, call, n in (("ours: LiteRT + XNNPACK, 2 threads", ours.probabilities, runs),
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


def training_rows(variant, data, steps, repeats):
    """images/s of one epoch over the same images, five ways, timed in turns.

    Each way is warmed by one epoch (tracing), then the ways take turns for
    ``repeats`` rounds and each reports its median: on 2 shared cores a single
    timing is noisy and the first of a series often slower.

    "ours" is what ``mobilenet.train`` runs: fused BN, tf.data, and accuracy as the only
    per-step metric (the tutorial's Recall and AUC are computed once, on the test set, at the
    end of a run). "plain" is the tutorial's ``compile`` (accuracy, Recall, AUC) with stock
    Keras layers and ``fit`` on numpy arrays at batch 128; "plain, accuracy only" separates
    the two causes of the difference.
    """
    import keras

    from mobilenet.data import make_dataset, preprocess
    from mobilenet.model import build_mobilenet

    def compiled_model(metrics, **kwargs):
        model = build_mobilenet(variant=variant, **kwargs)
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
    return [(f"training, {variant}: ours (fused BN, tf.data, accuracy per step)",
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


def classroom_rows(data, smoke):
    """The app's default run twice: first in this process (as a freshly started app's first
    run: nothing traced yet), then again (as any later run)."""
    from mobilenet.train import TrainConfig, train

    config = TrainConfig()
    if smoke:
        config = TrainConfig(alpha=0.25, epochs=1, batch_size=32, train_size=None,
                             validation_size=50)
    rows = []
    for which in ("first run in a fresh process", "a later run", "a third run"):
        started = time.perf_counter()
        result = train(config, data=data)
        wall = time.perf_counter() - started
        rows.append((f"classroom run (app default), {which}",
                     f"{result.metrics['test_accuracy'] * 100:.2f} % test accuracy in {wall:.1f} s",
                     "from scratch; training, BN re-estimation and test evaluation timed, data "
                     "loading not"))
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    settings = (f"{config.variant} variant, {config.depth} depth, alpha {config.alpha:g}, "
                f"{config.epochs} epochs x "
                f"{config.train_size or 'all'} images, batch {config.batch_size}, "
                f"lr {config.learning_rate:g} {config.schedule}, augmentation "
                f"{'on' if config.augmentation else 'off'}")
    rows.append(("classroom run settings", settings,
                 f"accuracy on the CIFAR-10 test set, {data.describe()['copy']}"))
    rows.append(("peak memory after training", f"{peak_mb:,.0f} MB",
                 "RSS high-water mark of this process (the app trains in-process, so this is "
                 "its training cost plus a loaded TensorFlow)"))
    return rows


SECTIONS = ("latency", "training", "classroom")


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m mobilenet.bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", help="CIFAR-10 .tar.gz or folder (default: Keras cache)")
    parser.add_argument("--out", default="BENCHMARKS.md")
    parser.add_argument("--smoke", action="store_true", help="tiny sizes: checks the command runs")
    parser.add_argument("--only", nargs="+", choices=SECTIONS, default=list(SECTIONS),
                        help="measure only these sections (default: all)")
    args = parser.parse_args(argv)

    from mobilenet.data import load_cifar10

    data = load_cifar10(args.data)
    warmup, runs, steps, repeats = (3, 10, 2, 1) if args.smoke else (50, 500, 40, 5)
    images = data.x_test[:100]
    # first: nothing traced yet in this process, as in a freshly started app
    classroom = classroom_rows(data, args.smoke) if "classroom" in args.only else []
    rows = []
    for variant in ("paper", "cifar") if "latency" in args.only else ():
        latency, model = latency_rows(variant, images, warmup, runs)
        rows += latency
        rows.append(batch_row(variant, model, data.x_test[: 200 if args.smoke else 10000]))
    for variant in ("paper", "cifar") if "training" in args.only else ():
        rows += training_rows(variant, data, steps, repeats)
    rows += classroom

    import tensorflow as tf

    header = (f"Measured {time.strftime('%Y-%m-%d')} on {os.cpu_count()} CPU cores "
              f"({platform.processor() or platform.machine()}), TensorFlow {tf.__version__}, "
              f"data: {data.describe()['copy']} ({data.source})"
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
