"""CIFAR-10 from the Hugging Face Hub: the two parquet files of dataset repo ``uoft-cs/cifar10``.

They are found and downloaded through huggingface_hub's cache (``~/.cache/huggingface/hub``,
or ``$HF_HUB_CACHE``), so files already there are read with no network. A folder with the
repository's own layout (``plain_text/*.parquet``, as ``hf download --local-dir`` or a dataset
mounted as a Space volume leaves it) is read the same way. Every image is a PNG, a lossless
format: decoded, the pixels are the official archive's, in the same order.
"""

import functools
import os
import struct

import numpy as np

from mobilenet.cifar10 import (HOW_TO_PROVIDE, IMAGE_SIZE, NUM_CLASSES, Cifar10, DataCorruptError,
                            DataUnavailableError)

HUB_REPO = "uoft-cs/cifar10"
TRAIN_FILE = "plain_text/train-00000-of-00001.parquet"
TEST_FILE = "plain_text/test-00000-of-00001.parquet"
HUB_COPY = f"Hugging Face Hub {HUB_REPO} (PNG, lossless)"
HUB_ENDPOINT = None  # None: huggingface_hub's own ($HF_ENDPOINT, else https://huggingface.co)
REACH_TIMEOUT_S = 10
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# The header every CIFAR-10 PNG starts with: IHDR chunk, 32 x 32. Checked before decoding,
# so that a forged cell cannot make the decoder allocate a huge image.
PNG_32X32_HEADER = PNG_SIGNATURE + struct.pack(">I4sII", 13, b"IHDR", IMAGE_SIZE, IMAGE_SIZE)


def hub_cache_dir():
    """huggingface_hub's cache folder, as it resolves it now."""
    from huggingface_hub import constants

    return constants.HF_HUB_CACHE


def cached_hub_files():
    """(train, test) paths in huggingface_hub's cache, or None. Never uses the network."""
    from huggingface_hub import try_to_load_from_cache

    paths = [try_to_load_from_cache(HUB_REPO, name, repo_type="dataset")
             for name in (TRAIN_FILE, TEST_FILE)]
    return tuple(paths) if all(isinstance(path, str) for path in paths) else None


def download_hub_files():
    """(train, test) paths, downloaded into huggingface_hub's cache (about 144 MB).

    Raises:
        DataUnavailableError: the Hub cannot be reached; the message is the cause only.
    """
    from huggingface_hub import get_hf_file_metadata, hf_hub_download, hf_hub_url

    try:
        # One plain request first: offline it fails at once, where hf_hub_download, finding
        # no file, retries for about 23 s (measured, name resolution failing) before giving up.
        get_hf_file_metadata(hf_hub_url(HUB_REPO, TRAIN_FILE, repo_type="dataset",
                                        endpoint=HUB_ENDPOINT), timeout=REACH_TIMEOUT_S)
        return tuple(hf_hub_download(HUB_REPO, name, repo_type="dataset", endpoint=HUB_ENDPOINT)
                     for name in (TRAIN_FILE, TEST_FILE))
    except Exception as error:  # HTTP, connection, offline-mode and disk errors all mean "not here"
        raise DataUnavailableError(f"{type(error).__name__}: {error}") from None


def hub_files_in_folder(folder):
    """(train, test) paths if ``folder`` has the repository's layout, else None."""
    paths = tuple(os.path.join(folder, *name.split("/")) for name in (TRAIN_FILE, TEST_FILE))
    return paths if all(os.path.isfile(path) for path in paths) else None


def load_from_hub():
    """``source="hf"``: the files in huggingface_hub's cache, downloaded there if missing."""
    files = cached_hub_files()
    if files is None:
        try:
            files = download_hub_files()
        except DataUnavailableError as error:
            raise DataUnavailableError(
                f"CIFAR-10 is not in huggingface_hub's cache ({hub_cache_dir()}) and downloading it "
                f"from the Hugging Face Hub ({HUB_REPO}) failed ({error}). {HOW_TO_PROVIDE}") from None
    return load_hub_files(files)


def load_hub_files(files):
    """A ``Cifar10`` from the (train, test) parquet files; read once per file version."""
    stats = [os.stat(path) for path in files]
    return _load_cached(tuple(files), tuple((s.st_mtime_ns, s.st_size) for s in stats))


@functools.lru_cache(maxsize=2)
def _load_cached(files, _versions):
    (x_train, y_train), (x_test, y_test) = (_read_split(path) for path in files)
    return Cifar10(x_train, y_train, x_test, y_test, _describe_source(files[0]), copy=HUB_COPY)


def _describe_source(train_path):
    """``hf://datasets/uoft-cs/cifar10@<commit>`` for files in huggingface_hub's cache, else
    the folder that holds ``plain_text``."""
    snapshot = _cache_snapshot(train_path)
    if snapshot:
        return f"hf://datasets/{HUB_REPO}@{os.path.basename(snapshot)}"
    return os.path.dirname(os.path.dirname(train_path))


def _cache_snapshot(path):
    """The ``snapshots/<commit>`` folder of huggingface_hub's cache that holds ``path``, or None."""
    snapshot = os.path.dirname(os.path.dirname(path))  # above plain_text/
    return snapshot if os.path.basename(os.path.dirname(snapshot)) == "snapshots" else None


def _read_split(path):
    """(uint8 NHWC RGB images, int64 labels) of one parquet file, every cell checked."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(path)
    except Exception as error:  # any Arrow/IO/thrift failure means a damaged file
        raise _corrupt(path, f"it is not a readable parquet file ({type(error).__name__}: {error})")
    columns = dict(zip(table.column_names, table.schema.types))
    image_type, label_type = columns.get("img"), columns.get("label")
    if not (image_type is not None and pa.types.is_struct(image_type)
            and image_type.get_field_index("bytes") >= 0
            and (pa.types.is_binary(image_type.field("bytes").type)
                 or pa.types.is_large_binary(image_type.field("bytes").type))
            and label_type is not None and pa.types.is_integer(label_type)):
        found = ", ".join(f"{name}: {kind}" for name, kind in columns.items())
        raise _corrupt(path, f"it has the columns ({found}), not img (struct with PNG bytes) "
                             f"and label (integer)")
    if table.num_rows == 0:
        raise _corrupt(path, "it has no rows")
    labels = table.column("label")
    if labels.null_count:
        raise _corrupt(path, f"{labels.null_count} rows have no label")
    labels = labels.to_numpy().astype(np.int64)
    outside = np.flatnonzero((labels < 0) | (labels >= NUM_CLASSES))
    if len(outside):
        row = outside[0]
        raise _corrupt(path, f"row {row} has the label {labels[row]}, not one of 0-{NUM_CLASSES - 1}")
    pngs = pc.struct_field(table.column("img"), "bytes").to_pylist()  # None where img is null
    return _decode_pngs(pngs, path), labels


def _decode_pngs(pngs, path):
    import cv2

    images = np.empty((len(pngs), IMAGE_SIZE, IMAGE_SIZE, 3), np.uint8)
    for row, png in enumerate(pngs):
        if not png or not png.startswith(PNG_32X32_HEADER):
            what = "is missing" if not png else (
                "is a PNG, but not 32x32" if png.startswith(PNG_SIGNATURE) else "is not a PNG")
            raise _corrupt(path, f"the image in row {row} {what}")
        image = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_UNCHANGED)
        if image is None or image.shape != (IMAGE_SIZE, IMAGE_SIZE, 3) or image.dtype != np.uint8:
            decoded = "does not decode" if image is None else f"decodes to {image.shape} {image.dtype}"
            raise _corrupt(path, f"the PNG in row {row} {decoded}, not 32x32 8-bit RGB")
        images[row] = image[:, :, ::-1]  # OpenCV decodes to BGR
    return images


def _corrupt(path, problem):
    snapshot = _cache_snapshot(path)
    if snapshot:
        remedy = (f"Delete the folder '{os.path.dirname(os.path.dirname(snapshot))}' and load "
                  f"with --data hf to download the files again.")
    else:
        remedy = "Download the files again."
    return DataCorruptError(f"'{path}' is not a valid copy of the Hub's CIFAR-10 file: {problem}. "
                            f"{remedy} {HOW_TO_PROVIDE}")
