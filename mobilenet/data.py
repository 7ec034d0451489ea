"""CIFAR-10: loading from a local copy, Keras' cache, the Hugging Face Hub or the official URL;
subsets and the one preprocessing step (training batches: ``mobilenet.batches``).

Sources, in order of precedence:
  1. ``source=`` (a function argument; the CLI's ``--data``, else its and the app's environment
     variable ``MOBILENET_CIFAR10``, read by those entry points),
  2. what is already on this machine: Keras' cache (``~/.keras/datasets``, or
     ``$KERAS_HOME/datasets``), then huggingface_hub's cache (``mobilenet.data_hub``),
  3. a download: from the Hugging Face Hub (usually much faster), else the official archive
     into Keras' cache.

A source is ``"hf"`` (the Hub's copy, see ``mobilenet.data_hub``) or a local path: the official
``cifar-10-python.tar.gz`` archive, a folder holding it, a folder holding
``cifar-10-batches-py/``, that folder itself, or a folder with the Hub repository's layout
(``plain_text/*.parquet``). Archives are read in memory and never extracted, so an interrupted
or corrupt read leaves nothing behind. The pickles are read with an
unpickler that only accepts what the official format contains (dicts, lists,
numbers, bytes and numpy arrays), never arbitrary code.
"""

import functools
import hashlib
import io
import os
import pickle
import tarfile
import zlib

import numpy as np

from mobilenet import runtime

from mobilenet.cifar10 import (  # noqa: F401 (the package's names for them)
    CLASS_NAMES, NUM_CLASSES, IMAGE_SIZE, ENV_VAR, HUB_SOURCE, ARCHIVE_NAME, BATCHES_DIR, OFFICIAL_URL, OFFICIAL_SHA256,
    KERAS_CACHE_NAME, KNOWN_COPIES, TRAIN_BATCHES, TEST_BATCH, HOW_TO_PROVIDE, DataUnavailableError, DataCorruptError, Cifar10)


def load_cifar10(source=None):
    """Loads CIFAR-10 from ``source``, a cache or a download.

    Args:
        source: a local path, ``"hf"`` for the Hugging Face Hub's copy, or None (default): the
            first that works of Keras' cache, huggingface_hub's cache, a download from the Hub,
            a download of the official archive.

    Raises:
        DataUnavailableError: nothing found and the download failed (offline).
        DataCorruptError: the source is truncated, corrupt or not CIFAR-10.
    """
    from mobilenet import data_hub

    if not source:
        return _load_found_automatically()
    if str(source) == HUB_SOURCE:
        return data_hub.load_from_hub()
    path = os.path.abspath(os.path.expanduser(str(source)))
    hub_files = data_hub.hub_files_in_folder(path)
    if hub_files:
        return data_hub.load_hub_files(hub_files)
    return _load_path(_resolve_local(path))


def check_source(source):
    """Raises what ``load_cifar10(source)`` would raise now when ``source`` is a local path that
    holds no CIFAR-10 (``DataUnavailableError``), without reading it; None, ``"hf"`` and paths that
    hold it pass. The CLI checks ``--data`` with it before TensorFlow starts."""
    from mobilenet import data_hub

    if not source or str(source) == HUB_SOURCE:
        return
    path = os.path.abspath(os.path.expanduser(str(source)))
    if not data_hub.hub_files_in_folder(path):
        _resolve_local(path)


def _load_found_automatically():
    """What is on this machine (Keras' cache, then huggingface_hub's), else a download: the Hub
    first, the official URL second."""
    from mobilenet import data_hub

    archive = _keras_archive_path()
    if os.path.isfile(archive) and file_sha256(archive) == OFFICIAL_SHA256:
        return _load_path(archive)
    hub_files = data_hub.cached_hub_files()
    if hub_files:
        return data_hub.load_hub_files(hub_files)
    failures = []
    for name, download, load in (
            (f"from the Hugging Face Hub ({data_hub.HUB_REPO})", data_hub.download_hub_files,
             data_hub.load_hub_files),
            (f"from {OFFICIAL_URL}", _keras_download, _load_path)):
        try:
            found = download()
        except DataUnavailableError as error:
            failures.append(f"{name}: {error}")
        else:
            return load(found)
    raise DataUnavailableError(
        f"CIFAR-10 is neither in Keras' cache ({os.path.dirname(archive)}) nor in "
        f"huggingface_hub's cache ({data_hub.hub_cache_dir()}), and downloading it failed "
        f"({'; '.join(failures)}). {HOW_TO_PROVIDE}")


def _load_path(path):
    stat = os.stat(path)
    return _load_cached(path, stat.st_mtime_ns, stat.st_size)


@functools.lru_cache(maxsize=2)
def _load_cached(path, _mtime_ns, _size):
    if os.path.isdir(path):
        batches = {name: _read_file(os.path.join(path, name), name)
                   for name in TRAIN_BATCHES + (TEST_BATCH,)}
    else:
        batches = _read_archive(path)
    x_train, y_train = zip(*(batches[name] for name in TRAIN_BATCHES))
    x_test, y_test = batches[TEST_BATCH]
    sha256 = None if os.path.isdir(path) else file_sha256(path)
    return Cifar10(np.concatenate(x_train), np.concatenate(y_train), x_test, y_test, path, sha256)


def _keras_archive_path():
    return os.path.join(runtime.keras_home(), "datasets", KERAS_CACHE_NAME)


def _keras_download():
    """The archive in Keras' cache, downloaded from the official URL unless it is there intact.

    Raises:
        DataUnavailableError: the download failed; the message is the cause only.
    """
    import keras

    try:
        return keras.utils.get_file(fname=KERAS_CACHE_NAME, origin=OFFICIAL_URL,
                                    file_hash=OFFICIAL_SHA256, cache_dir=runtime.keras_home())
    except Exception as error:  # urllib/HTTP/hash errors all mean "not available here"
        raise DataUnavailableError(f"{type(error).__name__}: {error}") from None


def _resolve_local(path):
    if os.path.isfile(path):
        return path
    if os.path.isdir(path):
        for candidate in (path, os.path.join(path, BATCHES_DIR)):
            if all(os.path.isfile(os.path.join(candidate, n)) for n in TRAIN_BATCHES + (TEST_BATCH,)):
                return candidate
        if os.path.isfile(os.path.join(path, ARCHIVE_NAME)):
            return os.path.join(path, ARCHIVE_NAME)
        raise DataUnavailableError(
            f"No CIFAR-10 found in folder '{path}': expected '{ARCHIVE_NAME}', a "
            f"'{BATCHES_DIR}' folder, the batch files {', '.join(TRAIN_BATCHES)}, "
            f"{TEST_BATCH}, or the Hub's plain_text/*.parquet files. {HOW_TO_PROVIDE}")
    raise DataUnavailableError(f"CIFAR-10 source '{path}' does not exist. {HOW_TO_PROVIDE}")


def _read_archive(path):
    wanted = set(TRAIN_BATCHES + (TEST_BATCH,))
    batches = {}
    try:
        with tarfile.open(path, mode="r:*") as archive:
            for member in archive:
                name = os.path.basename(member.name)
                if member.isfile() and name in wanted:
                    batches[name] = _parse_batch(archive.extractfile(member).read(), name, path)
    except (tarfile.TarError, EOFError, OSError, zlib.error) as error:
        raise DataCorruptError(
            f"'{path}' is not a readable CIFAR-10 archive ({type(error).__name__}: {error}). "
            f"It may be truncated: download it again. {HOW_TO_PROVIDE}") from None
    missing = sorted(wanted - set(batches))
    if missing:
        raise DataCorruptError(f"'{path}' lacks the CIFAR-10 batches {missing}. {HOW_TO_PROVIDE}")
    return batches


def _read_file(path, name):
    with open(path, "rb") as f:
        return _parse_batch(f.read(), name, path)


class _SafeUnpickler(pickle.Unpickler):
    """Only the globals the official CIFAR-10 pickles need: numpy array rebuilding."""

    ALLOWED = {
        ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
        ("numpy", "ndarray"), ("numpy", "dtype"), ("_codecs", "encode"),
        ("numpy.core.multiarray", "scalar"), ("numpy._core.multiarray", "scalar"),
    }

    def find_class(self, module, name):
        if (module, name) not in self.ALLOWED:
            raise pickle.UnpicklingError(f"forbidden global {module}.{name}")
        return super().find_class(module.replace("numpy.core", "numpy._core"), name)


def _parse_batch(raw, name, origin):
    try:
        batch = _SafeUnpickler(io.BytesIO(raw), encoding="bytes").load()
        data = np.asarray(batch[b"data"], dtype=np.uint8)
        labels = np.asarray(batch[b"labels"], dtype=np.int64)
    except Exception as error:  # any unpickling/shape failure means "not CIFAR-10"
        raise DataCorruptError(f"'{name}' in '{origin}' is not a CIFAR-10 batch "
                               f"({type(error).__name__}: {error}). {HOW_TO_PROVIDE}") from None
    if data.ndim != 2 or data.shape[1] != 3 * IMAGE_SIZE * IMAGE_SIZE or len(labels) != len(data) \
            or labels.min(initial=0) < 0 or labels.max(initial=0) >= NUM_CLASSES:
        raise DataCorruptError(f"'{name}' in '{origin}' has the wrong shape or labels "
                               f"(data {data.shape}, {len(labels)} labels). {HOW_TO_PROVIDE}")
    # Channel-planar rows (1024 R, 1024 G, 1024 B) -> NHWC.
    images = data.reshape(-1, 3, IMAGE_SIZE, IMAGE_SIZE).transpose(0, 2, 3, 1)
    return np.ascontiguousarray(images), labels


def file_sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def stratified_subset(labels, size, seed=0):
    """Indices of ``size`` examples with classes as equal as possible (sorted)."""
    labels = np.asarray(labels)
    if not 0 < size <= len(labels):
        raise ValueError(f"subset size must be between 1 and {len(labels)}. Received: {size}")
    rng = np.random.default_rng(seed)
    classes = np.unique(labels)
    per_class = {c: rng.permutation(np.flatnonzero(labels == c)) for c in classes}
    base, extra = divmod(size, len(classes))
    chosen = []
    for rank, c in enumerate(rng.permutation(classes)):
        chosen.append(per_class[c][:base + (1 if rank < extra else 0)])
    chosen = np.concatenate(chosen)
    if len(chosen) < size:  # some class too small: fill from what is left
        rest = np.setdiff1d(np.arange(len(labels)), chosen)
        chosen = np.concatenate([chosen, rng.permutation(rest)[:size - len(chosen)]])
    return np.sort(chosen)


def preprocess(images):
    """uint8 RGB images (..., 32, 32, 3) -> float32 in [0, 1], as the model was trained.

    The one preprocessing step shared by training batches and user images
    (the tutorial divides by 225 at inference; it must be 255).
    NumPy in, NumPy out (what the training batches and the app use); a backend tensor in, a
    backend tensor out.
    """
    if isinstance(images, (np.ndarray, list, tuple)):
        return np.asarray(images, np.float32) / np.float32(255.0)
    import keras

    return keras.ops.cast(images, "float32") / 255.0
