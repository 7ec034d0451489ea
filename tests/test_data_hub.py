import os
import subprocess
import sys
import time

import numpy as np
import pyarrow as pa
import pytest
from huggingface_hub import constants

from hub_fixture import (COMMIT, IMAGE_TYPE, TEST_ROWS, TRAIN_ROWS, HubFilesServer, hub_parquet,
                         make_split, png_bytes, write_hub_cache, write_hub_folder)
from mobilenet import data, data_hub
from mobilenet.data import DataCorruptError, DataUnavailableError, load_cifar10

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
JPEG = bytes.fromhex("ffd8ffe000104a46494600")  # the start of a JPEG file


@pytest.fixture
def hub(tmp_path, monkeypatch):
    """An empty huggingface_hub cache, offline; no other source. Returns its folder.

    huggingface_hub reads HF_HUB_CACHE and HF_HUB_OFFLINE once, at import: the constants are
    set as the variables would have set them (test_a_fresh_process... checks the variables).
    """
    cache = str(tmp_path / "hf" / "hub")
    monkeypatch.setenv("HF_HUB_CACHE", cache)
    monkeypatch.setattr(constants, "HF_HUB_CACHE", cache)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    monkeypatch.delenv(data.ENV_VAR, raising=False)
    return cache


@pytest.fixture(scope="module")
def splits():
    return make_split(TRAIN_ROWS, seed=1), make_split(TEST_ROWS, seed=2)


@pytest.fixture(scope="module")
def payloads(splits):
    (x_train, y_train), (x_test, y_test) = splits
    return hub_parquet(x_train, y_train), hub_parquet(x_test, y_test)


def assert_same_arrays(loaded, splits):
    (x_train, y_train), (x_test, y_test) = splits
    assert loaded.x_train.shape == (TRAIN_ROWS, 32, 32, 3) and loaded.x_train.dtype == np.uint8
    assert loaded.y_train.dtype == np.int64 and loaded.x_test.shape == (TEST_ROWS, 32, 32, 3)
    np.testing.assert_array_equal(loaded.x_train, x_train)
    np.testing.assert_array_equal(loaded.y_train, y_train)
    np.testing.assert_array_equal(loaded.x_test, x_test)
    np.testing.assert_array_equal(loaded.y_test, y_test)


def test_hf_reads_the_cached_files_into_the_same_arrays(hub, splits, payloads):
    write_hub_cache(hub, *payloads)
    loaded = load_cifar10("hf")
    assert_same_arrays(loaded, splits)
    described = loaded.describe()
    assert described["source"] == f"hf://datasets/uoft-cs/cifar10@{COMMIT}"
    assert described["copy"] == "Hugging Face Hub uoft-cs/cifar10 (PNG, lossless)"
    assert (described["train_images"], described["test_images"]) == (TRAIN_ROWS, TEST_ROWS)
    assert load_cifar10("hf") is loaded  # decoded once per file version


def test_pixels_keep_the_rgb_order(hub):
    image = np.zeros((1, 32, 32, 3), np.uint8)
    image[0, 0, 1] = (10, 20, 30)  # row 0, column 1: R, G, B all different
    write_hub_cache(hub, hub_parquet(image, [3]), hub_parquet(image, [5]))
    loaded = load_cifar10("hf")
    assert tuple(loaded.x_train[0, 0, 1]) == (10, 20, 30) and loaded.y_test[0] == 5


def test_hf_names_the_hub(hub, payloads):
    write_hub_cache(hub, *payloads)
    assert load_cifar10("hf").source.startswith("hf://datasets/uoft-cs/cifar10@")


def test_without_a_source_the_hub_cache_comes_after_keras_cache(hub, splits, payloads, tiny_cifar,
                                                                tmp_path, monkeypatch):
    write_hub_cache(hub, *payloads)
    assert_same_arrays(load_cifar10(), splits)
    # An archive in Keras' cache that is not the official one is passed over.
    keras_cache = tmp_path / "keras" / "datasets"
    keras_cache.mkdir(parents=True)
    os.link(tiny_cifar[1], keras_cache / data.KERAS_CACHE_NAME)
    assert load_cifar10().source.startswith("hf://")
    monkeypatch.setattr(data, "OFFICIAL_SHA256", data.file_sha256(tiny_cifar[1]))
    assert load_cifar10().source == str(keras_cache / data.KERAS_CACHE_NAME)


def test_a_fresh_process_finds_the_cache_from_environment_variables(hub, splits, payloads):
    """As on a Space: the variables are set before Python starts, no network."""
    write_hub_cache(hub, *payloads)
    script = ("from mobilenet.data import load_cifar10\n"
              "data = load_cifar10()\n"
              "print(data.source, len(data.x_train), int(data.x_test.sum()))")
    env = {**os.environ, "PYTHONPATH": ROOT}  # HF_HUB_CACHE, HF_HUB_OFFLINE, KERAS_HOME: the fixture's
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True,
                          timeout=120, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    x_test = splits[1][0]
    assert done.stdout.split() == [f"hf://datasets/uoft-cs/cifar10@{COMMIT}", str(TRAIN_ROWS),
                                   str(int(x_test.sum()))]


def test_a_folder_with_the_repository_layout_is_a_source(hub, splits, payloads, tmp_path):
    folder = tmp_path / "cifar10"
    write_hub_folder(folder, *payloads)
    loaded = load_cifar10(str(folder))
    assert_same_arrays(loaded, splits)
    assert loaded.source == str(folder) and "PNG, lossless" in loaded.describe()["copy"]


def test_offline_and_not_cached_fails_at_once_saying_what_to_do(hub):
    started = time.monotonic()
    with pytest.raises(DataUnavailableError) as error:
        load_cifar10("hf")
    assert time.monotonic() - started < 5
    message = str(error.value)
    assert hub in message and "--data hf" in message and data.ENV_VAR in message
    assert "OfflineModeIsEnabled" in message


def test_unreachable_hub_and_archive_give_one_error(hub, tmp_path, monkeypatch):
    import keras  # noqa: F401  imported before the clock starts: it takes seconds

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(data_hub, "HUB_ENDPOINT", "http://127.0.0.1:9")
    monkeypatch.setattr(data, "OFFICIAL_URL", "http://127.0.0.1:9/cifar-10-python.tar.gz")
    started = time.monotonic()
    with pytest.raises(DataUnavailableError) as error:
        load_cifar10()
    assert time.monotonic() - started < 10
    message = str(error.value)
    assert "from the Hugging Face Hub (uoft-cs/cifar10): ConnectError" in message
    assert "from http://127.0.0.1:9/cifar-10-python.tar.gz" in message
    assert hub in message and "--data hf" in message and "--data PATH" in message
    assert not os.path.exists(hub)  # nothing left behind


def cells(kind):
    """(train, test) parquet bytes with one thing wrong in the train file, and what it is."""
    images, labels = make_split(4, seed=3)
    good = hub_parquet(images, labels)
    pngs = [png_bytes(image) for image in images]
    if kind == "truncated":
        return good[: len(good) // 2], good, "not a readable parquet file"
    if kind == "not parquet":
        return b"PAR1 this is not parquet", good, "not a readable parquet file"
    if kind == "wrong columns":
        columns = {"image": pa.array([{"bytes": p, "path": None} for p in pngs], IMAGE_TYPE),
                   "label": pa.array(labels)}
        return hub_parquet(columns=columns), good, "has the columns (image: struct"
    if kind == "string labels":
        columns = {"img": pa.array([{"bytes": p, "path": None} for p in pngs], IMAGE_TYPE),
                   "label": pa.array([str(v) for v in labels])}
        return hub_parquet(columns=columns), good, "label: string"
    if kind == "no rows":
        return good, hub_parquet(images[:0], labels[:0]), "it has no rows"
    if kind == "label 10":
        return hub_parquet(images, [10, *labels[1:]]), good, "row 0 has the label 10, not one of 0-9"
    if kind == "label missing":
        return hub_parquet(images, [None, *labels[1:]]), good, "1 rows have no label"
    bad = {"jpeg": (JPEG, "row 2 is not a PNG"),
           "31x32": (png_bytes(images[2][:31]), "row 2 is a PNG, but not 32x32"),
           "grey": (png_bytes(images[2][:, :, 0]), "row 2 decodes to (32, 32) uint8"),
           "rgba": (png_bytes(np.dstack([images[2], images[2][:, :, :1]])), "decodes to (32, 32, 4)"),
           "undecodable": (pngs[2][:33] + b"\0" * 40, "row 2 does not decode"),
           "empty cell": (b"", "row 2 is missing"),
           "null cell": (None, "row 2 is missing")}[kind]
    pngs[2] = bad[0]
    return hub_parquet(labels=labels, pngs=pngs), good, bad[1]


@pytest.mark.parametrize("kind", ["truncated", "not parquet", "wrong columns", "string labels",
                                  "no rows", "label 10", "label missing", "jpeg", "31x32",
                                  "grey", "rgba", "undecodable", "empty cell", "null cell"])
def test_damaged_files_are_reported_with_what_to_do(hub, kind):
    train, test, problem = cells(kind)
    repo = write_hub_cache(hub, train, test)
    with pytest.raises(DataCorruptError) as error:
        load_cifar10("hf")
    message = str(error.value)
    damaged = "test" if kind == "no rows" else "train"
    assert f"plain_text/{damaged}-00000-of-00001.parquet'" in message and problem in message
    assert f"Delete the folder '{repo}'" in message and "--data hf" in message


def test_a_damaged_folder_copy_says_to_download_again(hub, tmp_path):
    train, test, _ = cells("label 10")
    write_hub_folder(tmp_path / "cifar10", train, test)
    with pytest.raises(DataCorruptError, match="0-9. Download the files again"):
        load_cifar10(str(tmp_path / "cifar10"))


def test_without_a_copy_the_hub_is_downloaded_into_its_cache(hub, splits, payloads, monkeypatch):
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(data, "OFFICIAL_URL", "http://127.0.0.1:9/cifar-10-python.tar.gz")
    with HubFilesServer(*payloads) as server:
        monkeypatch.setattr(data_hub, "HUB_ENDPOINT", server.url)
        loaded = load_cifar10()
    assert_same_arrays(loaded, splits)
    assert loaded.source == f"hf://datasets/uoft-cs/cifar10@{COMMIT}"
    assert ("GET", "/datasets/uoft-cs/cifar10/resolve/main/plain_text/test-00000-of-00001.parquet") \
        in server.requests
    with open(os.path.join(hub, "datasets--uoft-cs--cifar10", "refs", "main")) as f:
        assert f.read() == COMMIT
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)  # now found with no network
    assert data_hub.cached_hub_files() is not None and load_cifar10("hf") is loaded
