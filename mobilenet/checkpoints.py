"""Checkpoints: a Keras 3 ``.keras`` file plus a JSON beside it, written atomically.

``NAME.keras`` holds the weights (optionally stored as float16, restored to
float32 on load); ``NAME.json`` holds how to rebuild the model (the
``build_mobilenet`` arguments), the training config, metrics, dataset,
duration, library versions and the SHA-256 of the weights file.

Loading never executes code from a file: the model is rebuilt from code with
the JSON's arguments and the weights are loaded into it. Every file is
written to a temporary name in the same folder, flushed and renamed, so a
crash mid-save leaves the previous files intact; a ``.keras`` without its
JSON, or whose hash does not match, is reported as incomplete.

The pair is committed in two renames: the weights, then the JSON. The JSON
is first written beside them as ``.NAME.json.pending``, so a process killed
between the renames leaves a record of what it was doing; ``recover(folder)``
completes such a save (or discards it when it never reached its weights) and
removes the temporary files of old crashes.
"""

import datetime
import glob
import json
import os
import platform
import tempfile
import time

from mobilenet.data import file_sha256

FORMAT = "mobilenet-lab-checkpoint/1"
_UMASK = os.umask(0)  # read once, at import: setting it later would race other threads
os.umask(_UMASK)
MODEL_ARGS = ("classes", "input_shape", "alpha", "dropout", "variant", "depth")
PENDING = ".pending"  # suffix of a JSON written but not yet committed (see ``recover``)
STALE_SECONDS = 3600  # temporary files older than this belong to a crashed save


class CheckpointError(RuntimeError):
    """A checkpoint is missing, incomplete, corrupt or not one of ours."""


def checkpoint_paths(path):
    """``(weights .keras path, metadata .json path)`` for a path to either, or the stem."""
    path = os.fspath(path)
    for suffix in (".keras", ".json"):
        if path.endswith(suffix):
            path = path[: -len(suffix)]
    return path + ".keras", path + ".json"


def keep_newest(folder, keep):
    """Removes all but the newest ``keep`` checkpoints of ``folder`` (weights and JSON), oldest
    first: a folder of runs the disk cannot fill. Returns the removed weights' file names."""
    weights = sorted(glob.glob(os.path.join(glob.escape(folder), "*.keras")), key=os.path.getmtime, reverse=True)
    for old in weights[keep:]:
        for file in checkpoint_paths(old):
            if os.path.exists(file):
                os.remove(file)
    return [os.path.basename(old) for old in weights[keep:]]


def model_args(model_config):
    """The ``build_mobilenet`` arguments stored in a checkpoint."""
    args = {k: model_config[k] for k in MODEL_ARGS if k in model_config}
    if "input_shape" in args:
        args["input_shape"] = tuple(args["input_shape"])
    return args


def save_checkpoint(model, path, model_config, metadata, weights_dtype="float32", overwrite=False):
    """Writes ``model``'s weights and metadata atomically; returns the ``.keras`` path.

    Args:
        model: a model built by ``build_mobilenet(**model_config)``.
        path: the checkpoint's ``.keras`` path (or stem).
        model_config: the ``build_mobilenet`` arguments (``MODEL_ARGS``).
        metadata: JSON-serialisable dict (config, metrics, history, ...).
        weights_dtype: ``"float32"`` or ``"float16"`` (half the size).
        overwrite: replace an existing checkpoint of that name. Default False.
    """
    weights_path, json_path = checkpoint_paths(path)
    if not overwrite and (os.path.exists(weights_path) or os.path.exists(json_path)):
        raise CheckpointError(f"checkpoint '{weights_path}' already exists")
    if weights_dtype not in ("float32", "float16"):
        raise ValueError(f"`weights_dtype` must be 'float32' or 'float16'. Received: {weights_dtype!r}")
    folder = os.path.dirname(os.path.abspath(weights_path))
    os.makedirs(folder, exist_ok=True)
    to_save = _uncompiled(model) if weights_dtype == "float32" else _float16_copy(model)
    weights_tmp = _staged(weights_path, to_save.save)
    try:
        record = {
            "format": FORMAT,
            "weights_file": os.path.basename(weights_path),
            "weights_sha256": file_sha256(weights_tmp),
            "weights_dtype": weights_dtype,
            "model": {**model_args(model_config), "input_shape": list(model_config["input_shape"])},
            "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "versions": library_versions(),
            **metadata,
        }
        pending = pending_path(json_path)
        atomic_write(pending, lambda tmp: _write_json(tmp, record))
        os.replace(weights_tmp, weights_path)
        os.replace(pending, json_path)
    finally:
        if os.path.exists(weights_tmp):
            os.remove(weights_tmp)
    _fsync_folder(folder)
    return weights_path


def pending_path(json_path):
    """Where the JSON of a save in progress waits for its weights (a hidden file)."""
    folder, name = os.path.split(os.fspath(json_path))
    return os.path.join(folder, f".{name}{PENDING}")


def recover(folder, stale_seconds=STALE_SECONDS):
    """Finishes or undoes the saves a crash interrupted in ``folder``; returns what it did.

    A pending JSON whose hash matches the weights beside it was killed between
    its two renames: it is committed. Pending JSONs that never got their
    weights and temporary files are removed once ``stale_seconds`` old (a
    younger one may belong to a save still running in another process).
    """
    done = []
    try:
        names = os.listdir(folder)
    except FileNotFoundError:
        return done
    now = time.time()
    for name in names:
        path = os.path.join(folder, name)
        if not name.startswith(".") or not (name.endswith(PENDING) or ".tmp." in name):
            continue
        try:
            target = os.path.join(folder, name[1:-len(PENDING)])
            if ".tmp." not in name and name.endswith(PENDING) and _completes(path, target):
                os.replace(path, target)
                done.append(f"completed the interrupted save of {os.path.basename(target)}")
            elif now - os.path.getmtime(path) > stale_seconds:
                os.remove(path)
                done.append(f"removed {name}, left by an interrupted save")
        except OSError:
            continue  # gone meanwhile, or unreadable: left for the next start
    if done:
        _fsync_folder(folder)
    return done


def _completes(pending, json_path):
    """True when ``pending`` is our JSON for ``json_path`` and its weights are there, whole."""
    try:
        with open(pending, encoding="utf-8") as f:
            record = json.load(f)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return False
    if not isinstance(record, dict) or record.get("format") != FORMAT:
        return False
    weights = checkpoint_paths(json_path)[0]
    return (record.get("weights_file") == os.path.basename(weights) and os.path.isfile(weights)
            and file_sha256(weights) == record.get("weights_sha256"))


def read_metadata(path):
    """The JSON of a checkpoint, checked to be ours; raises ``CheckpointError``."""
    weights_path, json_path = checkpoint_paths(path)
    if not os.path.exists(json_path):
        what = "incomplete (its .json is missing)" if os.path.exists(weights_path) else "not found"
        raise CheckpointError(f"checkpoint '{weights_path}' is {what}")
    try:
        with open(json_path, encoding="utf-8") as f:
            record = json.load(f)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise CheckpointError(f"checkpoint metadata '{json_path}' is unreadable: {error}") from None
    if not isinstance(record, dict) or record.get("format") != FORMAT:
        raise CheckpointError(f"'{json_path}' is not a MobileNet Lab checkpoint")
    return record


def load_checkpoint(path):
    """Rebuilds the model from a checkpoint's JSON and loads its weights.

    Returns ``(model, metadata)``. Raises ``CheckpointError`` naming the file
    when it is missing, truncated, modified or not one of ours.
    """
    weights_path, _ = checkpoint_paths(path)
    record = read_metadata(path)
    if not os.path.exists(weights_path):
        raise CheckpointError(f"checkpoint weights '{weights_path}' are missing")
    if file_sha256(weights_path) != record.get("weights_sha256"):
        raise CheckpointError(f"checkpoint weights '{weights_path}' are truncated or were "
                              "modified (SHA-256 differs from its .json)")
    from mobilenet.model import build_mobilenet  # here: reading a checkpoint's JSON loads no Keras

    try:
        model = build_mobilenet(**model_args(record["model"]))
        model.load_weights(weights_path)
    except Exception as error:  # a foreign file fails in h5py/zipfile/keras in many ways
        raise CheckpointError(f"cannot load weights from '{weights_path}': "
                              f"{type(error).__name__}: {error}") from None
    return model, record


def atomic_write(path, write):
    """Calls ``write(tmp_path)`` then renames tmp onto ``path`` (same folder, fsynced)."""
    tmp = _staged(path, write)
    try:
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    _fsync_folder(os.path.dirname(os.path.abspath(path)))


def _staged(path, write):
    """``write(tmp)`` to a hidden temporary file beside ``path``, fsynced; returns tmp.

    The temporary name keeps the extension (Keras saves only to ``.keras``)
    and holds ``.tmp.`` (``recover`` removes old ones). Removed on any error.
    """
    folder, name = os.path.split(os.path.abspath(path))
    stem, dot, suffix = name.lstrip(".").partition(".")
    fd, tmp = tempfile.mkstemp(prefix=f".{stem}.", suffix=f".tmp.{suffix}", dir=folder)
    os.close(fd)
    try:
        write(tmp)
        os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes 0600; a checkpoint is an ordinary file
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
    except BaseException:
        os.remove(tmp)
        raise
    return tmp


def _fsync_folder(folder):
    dir_fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def library_versions():
    """Versions of what made a checkpoint: Keras, its backend's library, NumPy."""
    import importlib

    import keras
    import numpy

    backend = keras.backend.backend()
    versions = {"python": platform.python_version(), "keras": keras.__version__,
                "numpy": numpy.__version__, "backend": backend, "cpu_cores": os.cpu_count()}
    engine = importlib.import_module({"tensorflow": "tensorflow", "jax": "jax",
                                      "torch": "torch"}.get(backend, "numpy"))
    versions[engine.__name__] = engine.__version__
    return versions


def _write_json(path, record):
    with open(path, "w", encoding="utf-8") as f:
        json.dump(record, f, indent=1, ensure_ascii=False)


def _float16_copy(model):
    """A twin of ``model`` whose convolution and dense kernels are float16.

    BatchNormalization stays float32: its moving variances can be far below
    float16's smallest normal number (6e-5), and it is only ~1 % of the
    parameters.
    """
    import keras

    def as_float16(layer):
        config = layer.get_config()
        if isinstance(layer, (keras.layers.Conv2D, keras.layers.DepthwiseConv2D, keras.layers.Dense)):
            config["dtype"] = "float16"
        return layer.__class__.from_config(config)

    copy = _uncompiled(keras.models.clone_model(model, clone_function=as_float16))
    copy.set_weights([w.astype(v.dtype) for w, v in zip(model.get_weights(), copy.weights)])
    return copy


def float16_round_trip(model):
    """A float32 twin of ``model`` with the weights a float16 checkpoint restores: what
    ``load_checkpoint`` will return, to measure what float16 storage costs before saving."""
    import keras

    twin = _uncompiled(keras.models.clone_model(model))
    twin.set_weights([w.astype("float32") for w in _float16_copy(model).get_weights()])
    return twin


def _uncompiled(model):
    """The same layers as a model without optimizer: a checkpoint is for inference, and a
    compiled model's file would carry its optimizer's slots (3x the size with SGD + EMA)."""
    import keras

    return keras.Model(model.inputs, model.outputs, name=model.name)
