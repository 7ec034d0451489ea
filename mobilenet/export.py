"""The "mobile" in MobileNet: a checkpoint as LiteRT (TensorFlow Lite) files for phones.

``export_litert(checkpoint, out_dir)`` writes ``<name>_float32.tflite``,
``<name>_float16.tflite`` (weights stored in half precision, about half the
size) and ``<name>_int8.tflite`` (full-integer post-training quantization:
weights and activations in 8 bits, about a quarter of the size; calibrated on
training images run through ``data.preprocess``, the one preprocessing path).
Each file is measured beside the Keras model: size, latency per image on this
machine (LiteRT interpreter with its XNNPACK CPU kernels, 2 threads), test
accuracy, and how often its top-1 class agrees with Keras'.

The int8 model takes int8 pixels: its input scale is 1/255 and zero point
-128, so its input is exactly the uint8 picture minus 128.
"""

import contextlib
import io
import json
import os
import time
import warnings

import numpy as np

from mobilenet.checkpoints import atomic_write, checkpoint_paths, load_checkpoint
from mobilenet.data import preprocess, stratified_subset
from mobilenet.evaluate import compiled_forward, predict_probabilities

KINDS = ("float32", "float16", "int8")
CALIBRATION_IMAGES = 300  # the TFLite guide's 100-500; more changes int8 accuracy by < 0.1 %
LATENCY_RUNS = 200
LATENCY_WARMUP = 20
NUM_THREADS = 2
EVAL_BATCH = 100


def convert(model, kind, calibration_images=None):
    """``model`` as a LiteRT flatbuffer (bytes) of ``kind`` (one of ``KINDS``).

    Args:
        model: a Keras model taking ``preprocess``ed float32 images.
        kind: ``"float32"``, ``"float16"`` (weights in half precision) or
            ``"int8"`` (full-integer: int8 weights, activations, input and output).
        calibration_images: uint8 images ``(N, 32, 32, 3)``; required for
            ``"int8"``, which measures each activation's range on them.
    """
    import tensorflow as tf

    if kind not in KINDS:
        raise ValueError(f"`kind` must be one of {KINDS}. Received: kind={kind!r}")
    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    if kind == "float16":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.target_spec.supported_types = [tf.float16]
    elif kind == "int8":
        if calibration_images is None or not len(calibration_images):
            raise ValueError("int8 quantization needs calibration images (training images)")
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = lambda: (
            [np.asarray(preprocess(image[None]))] for image in calibration_images)
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        converter.inference_input_type = tf.int8
        converter.inference_output_type = tf.int8
    with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
        # It prints its temp paths, and warns that an int8 input has no given statistics:
        # calibration measures them (scale 1/255, zero point -128, tested).
        warnings.filterwarnings("ignore", message="Statistics for quantized inputs")
        return converter.convert()


def litert_forward(flatbuffer, batch_size=1, num_threads=NUM_THREADS):
    """A function: ``preprocess``ed float32 batch of ``batch_size`` -> float32 probabilities.

    Integer models get their input quantized and their output dequantized with
    the scale and zero point stored in the file, as an app on a phone would.
    """
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_content=flatbuffer, num_threads=num_threads)
    source, target = interpreter.get_input_details()[0], interpreter.get_output_details()[0]
    if batch_size != 1:
        interpreter.resize_tensor_input(source["index"], [batch_size, *source["shape"][1:]])
    interpreter.allocate_tensors()
    in_type, (in_scale, in_zero) = source["dtype"], source["quantization"]
    out_type, (out_scale, out_zero) = target["dtype"], target["quantization"]

    def forward(x):
        x = np.asarray(x, np.float32)
        if in_type != np.float32:
            info = np.iinfo(in_type)
            x = np.clip(np.rint(x / in_scale + in_zero), info.min, info.max).astype(in_type)
        interpreter.set_tensor(source["index"], np.ascontiguousarray(x))
        interpreter.invoke()
        y = interpreter.get_tensor(target["index"])
        return (y.astype(np.float32) - out_zero) * out_scale if out_type != np.float32 else y.copy()

    return forward


def median_latency_ms(forward, x, warmup=LATENCY_WARMUP, runs=LATENCY_RUNS):
    """Median wall time of ``forward(x)`` in milliseconds, after ``warmup`` calls."""
    for _ in range(warmup):
        forward(x)
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        forward(x)
        times.append(time.perf_counter() - started)
    return float(np.median(times) * 1000)


def litert_probabilities(flatbuffer, images):
    """Probabilities for uint8 ``images`` from a LiteRT model, in batches of ``EVAL_BATCH``."""
    forwards, outputs = {}, []
    for start in range(0, len(images), EVAL_BATCH):
        batch = images[start:start + EVAL_BATCH]
        if len(batch) not in forwards:  # one interpreter per batch size (the last may be short)
            forwards[len(batch)] = litert_forward(flatbuffer, batch_size=len(batch))
        outputs.append(forwards[len(batch)](preprocess(batch)))
    return np.concatenate(outputs)


def export_litert(checkpoint, out_dir, kinds=KINDS, data=None,
                  calibration_images=CALIBRATION_IMAGES, test_images=None, reuse=False,
                  on_progress=None):
    """Writes a checkpoint's LiteRT files and measures each beside the Keras model.

    Args:
        checkpoint: path of a checkpoint (``.keras`` with its ``.json``).
        out_dir: folder for ``<name>_<kind>.tflite`` and ``<name>_export.json`` (the
            report); created if missing. Every file is written atomically.
        kinds: some of ``KINDS``. Default all three.
        data: a loaded ``Cifar10``: training images calibrate int8, test images
            measure accuracy. None: no int8 and no accuracy. Default None.
        calibration_images: training images (stratified) that calibrate int8.
            Default ``CALIBRATION_IMAGES`` (300).
        test_images: size of a stratified subset of the test set for accuracy;
            None (default) uses all of it.
        reuse: keep a kind's file and figures from an earlier export into
            ``out_dir`` of the same weights with the same settings. Default False.
        on_progress: called with ``{"event": "stage", "name", "kind", "step", "steps"}``
            before each model is converted or measured.

    Returns:
        A dict: ``checkpoint``, ``weights_dtype`` (how the checkpoint stores its
        weights), ``settings`` (weights SHA-256, test and calibration
        images, latency runs, threads, TensorFlow version) and ``rows``, one per model
        (Keras first): ``kind``, ``path``, ``size_bytes``, ``latency_ms`` (median per
        image), ``accuracy`` and ``agreement`` (share of test images whose top-1
        class equals Keras'; None without data).
    """
    import tensorflow as tf

    kinds = _checked_kinds(kinds, data, calibration_images, test_images)
    emit = on_progress or (lambda event: None)
    model, metadata = load_checkpoint(checkpoint)
    weights_path = checkpoint_paths(checkpoint)[0]
    name = os.path.basename(weights_path)[: -len(".keras")]
    x_test, y_test = _test_subset(data, test_images)
    calibration = None if data is None else \
        data.x_train[stratified_subset(data.y_train, min(calibration_images, len(data.y_train)))]
    settings = {"weights_sha256": metadata["weights_sha256"], "test_images": len(y_test),
                "calibration_images": 0 if calibration is None else len(calibration),
                "latency_runs": LATENCY_RUNS, "threads": NUM_THREADS, "tensorflow": tf.__version__}
    os.makedirs(out_dir, exist_ok=True)
    report_path = os.path.join(out_dir, f"{name}_export.json")
    cached = _cached_rows(report_path, settings) if reuse else {}
    one_image = preprocess(x_test[:1]) if len(x_test) else np.zeros((1, 32, 32, 3), np.float32)
    steps = 1 + len(kinds)
    keras_probabilities = keras_top1 = None

    def measured(kind, path, forward, probabilities):
        top1 = None if probabilities is None else np.argmax(probabilities, axis=1)
        return {"kind": kind, "path": os.path.abspath(path), "size_bytes": os.path.getsize(path),
                "latency_ms": median_latency_ms(forward, one_image),
                "accuracy": float(np.mean(top1 == y_test)) if top1 is not None else None,
                "agreement": float(np.mean(top1 == keras_top1)) if top1 is not None else None}

    rows = []
    for step, kind in enumerate(("keras",) + kinds, start=1):
        if kind in cached:
            rows.append(cached[kind])
            continue
        if keras_top1 is None and len(y_test):  # every model is compared with Keras' answers
            keras_probabilities = predict_probabilities(model, x_test)
            keras_top1 = np.argmax(keras_probabilities, axis=1)
        if kind == "keras":
            emit({"event": "stage", "name": "measure", "kind": kind, "step": step, "steps": steps})
            rows.append(measured(kind, weights_path, compiled_forward(model), keras_probabilities))
            continue
        emit({"event": "stage", "name": "convert", "kind": kind, "step": step, "steps": steps})
        flatbuffer = convert(model, kind, calibration)
        path = os.path.join(out_dir, f"{name}_{kind}.tflite")
        atomic_write(path, lambda tmp: _write_bytes(tmp, flatbuffer))
        emit({"event": "stage", "name": "measure", "kind": kind, "step": step, "steps": steps})
        probabilities = litert_probabilities(flatbuffer, x_test) if len(y_test) else None
        rows.append(measured(kind, path, litert_forward(flatbuffer), probabilities))
    report = {"checkpoint": os.path.abspath(weights_path),
              "weights_dtype": metadata.get("weights_dtype", "float32"), "settings": settings,
              "rows": rows}
    atomic_write(report_path, lambda tmp: _write_bytes(tmp, json.dumps(report, indent=1).encode()))
    return report


def _checked_kinds(kinds, data, calibration_images, test_images):
    """``kinds`` without repeats; raises ValueError quoting the first bad argument."""
    kinds = tuple(dict.fromkeys(kinds))
    if not kinds or any(kind not in KINDS for kind in kinds):
        raise ValueError(f"`kinds` must be some of {KINDS}. Received: kinds={kinds!r}")
    if not isinstance(calibration_images, int) or calibration_images < 1:
        raise ValueError(f"`calibration_images` must be a positive integer. "
                         f"Received: calibration_images={calibration_images!r}")
    if test_images is not None and (not isinstance(test_images, int) or test_images < 1):
        raise ValueError(f"`test_images` must be a positive integer or None. "
                         f"Received: test_images={test_images!r}")
    if data is None and "int8" in kinds:
        raise ValueError("int8 quantization needs CIFAR-10 training images to calibrate on: "
                         "give the data, or leave int8 out")
    return kinds


def _test_subset(data, size):
    if data is None:
        return np.zeros((0, 32, 32, 3), np.uint8), np.zeros((0,), np.int64)
    if size is None or size >= len(data.y_test):
        return data.x_test, data.y_test
    chosen = stratified_subset(data.y_test, size)
    return data.x_test[chosen], data.y_test[chosen]


def _cached_rows(report_path, settings):
    """Rows of an earlier report with the same settings whose file is still there, unchanged."""
    try:
        with open(report_path, encoding="utf-8") as f:
            report = json.load(f)
    except (OSError, ValueError):
        return {}
    if not isinstance(report, dict) or report.get("settings") != settings:
        return {}
    return {row["kind"]: row for row in report.get("rows", [])
            if os.path.isfile(row.get("path", "")) and os.path.getsize(row["path"]) == row.get("size_bytes")}


def _write_bytes(path, payload):
    with open(path, "wb") as f:
        f.write(payload)
