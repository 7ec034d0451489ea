import os
import pickle
import tarfile

import numpy as np
import pytest
from huggingface_hub import constants

from cifar_fixture import add_bytes, batch_bytes
from mobilenet import data, data_hub
from mobilenet.batches import augment, make_dataset
from mobilenet.data import (CLASS_NAMES, DataCorruptError, DataUnavailableError, load_cifar10, preprocess,
                            stratified_subset)


def expected(arrays):
    x_train = np.concatenate([arrays[f"data_batch_{i}"][0] for i in range(1, 6)])
    y_train = np.concatenate([arrays[f"data_batch_{i}"][1] for i in range(1, 6)])
    return x_train, y_train, *arrays["test_batch"]


@pytest.mark.parametrize("which", ["archive", "batches folder", "parent folder", "archive folder"])
def test_local_sources_read_the_official_format(tiny_cifar, which, tmp_path):
    folder, archive, arrays = tiny_cifar
    if which == "archive folder":
        os.link(archive, tmp_path / os.path.basename(archive))
    source = {"archive": archive, "batches folder": folder,
              "parent folder": os.path.dirname(folder), "archive folder": str(tmp_path)}[which]
    loaded = load_cifar10(source)
    x_train, y_train, x_test, y_test = expected(arrays)
    assert loaded.x_train.shape == (300, 32, 32, 3) and loaded.x_train.dtype == np.uint8
    np.testing.assert_array_equal(loaded.x_train, x_train)
    np.testing.assert_array_equal(loaded.y_train, y_train)
    np.testing.assert_array_equal(loaded.x_test, x_test)
    np.testing.assert_array_equal(loaded.y_test, y_test)


def test_channel_planar_rows_become_rgb_pixels(tmp_path):
    image = np.zeros((1, 32, 32, 3), np.uint8)
    image[0, 0, 1] = (10, 20, 30)  # row 0, column 1
    folder = tmp_path / data.BATCHES_DIR
    folder.mkdir()
    for name in data.TRAIN_BATCHES + (data.TEST_BATCH,):
        (folder / name).write_bytes(batch_bytes(image, [3], name))
    raw = pickle.loads((folder / "test_batch").read_bytes(), encoding="bytes")[b"data"][0]
    assert (raw[1], raw[1024 + 1], raw[2048 + 1]) == (10, 20, 30)
    loaded = load_cifar10(str(folder))
    assert tuple(loaded.x_test[0, 0, 1]) == (10, 20, 30) and loaded.y_test[0] == 3


def test_offline_without_cache_says_how_to_provide_the_data(tmp_path, monkeypatch):
    monkeypatch.delenv(data.ENV_VAR, raising=False)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hf"))
    monkeypatch.setattr(data_hub, "HUB_ENDPOINT", "http://127.0.0.1:9")
    monkeypatch.setattr(data, "OFFICIAL_URL", "http://127.0.0.1:9/cifar-10-python.tar.gz")
    with pytest.raises(DataUnavailableError) as error:
        load_cifar10()
    message = str(error.value)
    assert "downloading it failed" in message and data.ENV_VAR in message and "--data" in message
    datasets = tmp_path / "keras" / "datasets"
    assert not datasets.exists() or os.listdir(datasets) == []  # no partial download left


def test_missing_source_and_empty_folder(tmp_path):
    with pytest.raises(DataUnavailableError, match="does not exist"):
        load_cifar10(str(tmp_path / "nope.tar.gz"))
    with pytest.raises(DataUnavailableError, match="No CIFAR-10 found"):
        load_cifar10(str(tmp_path))


def test_truncated_archive_is_reported_and_leaves_nothing(tiny_cifar, tmp_path):
    payload = open(tiny_cifar[1], "rb").read()
    broken = tmp_path / "cifar-10-python.tar.gz"
    broken.write_bytes(payload[: len(payload) // 2])
    with pytest.raises(DataCorruptError, match="truncated"):
        load_cifar10(str(broken))
    assert os.listdir(tmp_path) == ["cifar-10-python.tar.gz"]
    broken.write_bytes(b"this is not a tar archive at all")
    with pytest.raises(DataCorruptError):
        load_cifar10(str(broken))


class Exploit:
    def __reduce__(self):
        return (os.system, ("touch pwned",))


def test_pickles_cannot_run_code(tiny_cifar, tmp_path):
    archive = tmp_path / "evil.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        for name in data.TRAIN_BATCHES + (data.TEST_BATCH,):
            add_bytes(tar, f"{data.BATCHES_DIR}/{name}", pickle.dumps({b"data": Exploit()}))
    with pytest.raises(DataCorruptError, match="forbidden global"):
        load_cifar10(str(archive))
    assert not os.path.exists("pwned")


def test_wrong_shapes_are_rejected(tmp_path):
    folder = tmp_path / data.BATCHES_DIR
    folder.mkdir()
    bad = pickle.dumps({b"data": np.zeros((2, 100), np.uint8), b"labels": [0, 1]}, protocol=2)
    for name in data.TRAIN_BATCHES + (data.TEST_BATCH,):
        (folder / name).write_bytes(bad)
    with pytest.raises(DataCorruptError, match="wrong shape"):
        load_cifar10(str(folder))


def test_stratified_subset():
    labels = np.repeat(np.arange(10), 50)
    idx = stratified_subset(labels, 105, seed=1)
    counts = np.bincount(labels[idx], minlength=10)
    assert len(set(idx)) == 105 and sorted(counts) == [10] * 5 + [11] * 5
    np.testing.assert_array_equal(idx, stratified_subset(labels, 105, seed=1))
    with pytest.raises(ValueError, match="between 1 and 500"):
        stratified_subset(labels, 501)


def test_preprocess_scales_by_255_not_225():
    out = np.asarray(preprocess(np.array([[0, 51, 255]], np.uint8)))
    np.testing.assert_allclose(out, [[0.0, 0.2, 1.0]])
    assert out.dtype == np.float32


def test_augment_crops_and_flips_within_the_padding():
    images = np.zeros((64, 32, 32, 3), np.uint8)
    images[:, 10, 12] = 255  # one bright pixel per image
    out = np.asarray(augment(images))
    assert out.shape == images.shape
    for img in out:
        ys, xs = np.nonzero(img[:, :, 0])
        assert len(ys) <= 1
        if len(ys):  # moved at most 4 px vertically; horizontally 4 px or mirrored
            assert abs(ys[0] - 10) <= 4
            assert abs(xs[0] - 12) <= 4 or abs(xs[0] - (31 - 12)) <= 4


def test_cutout_paints_one_grey_square():
    images = np.zeros((16, 32, 32, 3), np.uint8)
    out = np.asarray(augment(images, cutout=8))
    for img in out:
        grey = np.argwhere(img[:, :, 0] == 128)
        assert 1 <= len(grey) <= 64  # clipped at the border, at most 8 x 8
        height, width = np.ptp(grey, axis=0) + 1
        assert height * width == len(grey)  # a rectangle


def test_cutmix_pastes_one_box_and_mixes_the_labels_by_its_area():
    from mobilenet.batches import cutmix

    n = 8
    images = np.repeat(np.arange(n, dtype=np.uint8)[:, None, None, None] * 20, 32, 1).repeat(32, 2).repeat(3, 3)
    labels = np.eye(10, dtype=np.float32)[np.arange(n)]
    mixed_any = False
    for seed in range(40):
        out, soft = cutmix(images, labels, np.random.default_rng(seed), probability=0.5)
        if out is images:  # not mixed: the batch as it was
            np.testing.assert_array_equal(soft, labels)
            continue
        mixed_any = True
        assert out.shape == images.shape and np.allclose(soft.sum(1), 1)
        for i in range(n):
            kept = np.mean(out[i, :, :, 0] == images[i, 0, 0, 0])
            partner = np.argmax(soft[i] * (np.arange(10) != i)) if soft[i, i] < 1 else i
            changed = out[i, :, :, 0] != images[i, 0, 0, 0]
            if changed.any():  # a rectangle of the partner's pixels
                rows, cols = np.nonzero(changed)
                assert changed.sum() == (np.ptp(rows) + 1) * (np.ptp(cols) + 1)
                assert np.all(out[i, rows, cols, 0] == images[partner, 0, 0, 0])
            assert soft[i, i] == pytest.approx(kept, abs=1e-6) or partner == i
    assert mixed_any
    never, _ = cutmix(images, labels, np.random.default_rng(0), probability=0.0)
    assert never is images


def test_batch_plan_is_a_function_of_seed_epoch_and_index(tiny_cifar):
    from mobilenet.batches import BatchPlan

    loaded = load_cifar10(tiny_cifar[1])
    args = (loaded.x_train, loaded.y_train, 16, True, True, 3)
    plan = BatchPlan(*args, cutout=8, epochs=3, cutmix=0.5)
    resumed = BatchPlan(*args, cutout=8, first_epoch=1, epochs=2, cutmix=0.5)
    for index in range(plan.steps_per_epoch, len(plan)):  # epoch 1 on: the same batches resumed
        for a, b in zip(plan(index), resumed(index - plan.steps_per_epoch)):
            np.testing.assert_array_equal(a, b)
    soft = np.concatenate([plan(i)[1] for i in range(len(plan))])
    assert np.allclose(soft.sum(1), 1) and (soft.max(1) < 1).any()  # some batches were mixed
    assert np.array_equal(BatchPlan(*args, cutout=8, epochs=3)(0)[0],
                          BatchPlan(*args, cutout=8, epochs=3, cutmix=0.0)(0)[0])
    evaluation = BatchPlan(loaded.x_test, loaded.y_test, 16, cutmix=0.5)  # never mixed
    assert evaluation(0)[1].max(1).min() == 1


def test_make_dataset_yields_preprocessed_one_hot_batches(tiny_cifar):
    loaded = load_cifar10(tiny_cifar[1])
    ds = make_dataset(loaded.x_test, loaded.y_test, 32)
    x, y = next(iter(ds))
    np.testing.assert_allclose(x.numpy(), loaded.x_test[:32] / 255.0, atol=1e-6)
    np.testing.assert_array_equal(np.argmax(y.numpy(), 1), loaded.y_test[:32])
    assert y.shape == (32, len(CLASS_NAMES))
    assert sum(int(b[0].shape[0]) for b in make_dataset(loaded.x_test, loaded.y_test, 32,
                                                         training=True, augmentation=True)) == 100


def test_describe_names_the_copy(tiny_cifar):
    from mobilenet.data import file_sha256

    archive = load_cifar10(tiny_cifar[1]).describe()
    assert archive["sha256"] == file_sha256(tiny_cifar[1]) and archive["copy"] == "unknown copy"
    assert load_cifar10(tiny_cifar[0]).describe()["copy"] == "extracted folder"
    assert "JPEG" in data.KNOWN_COPIES["0436e773cac94a3573fb6b4a892f385dca4722b0e7bffc67e0a039504c25e55e"]


def test_alternating_flip_shows_each_picture_both_ways_over_two_epochs():
    from mobilenet.batches import BatchPlan
    from mobilenet.data import preprocess

    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (40, 32, 32, 3), dtype=np.uint8)
    plan = BatchPlan(images, np.arange(40) % 10, 8, training=True, flip=True, seed=3, epochs=2)
    seen = {}
    for index in range(len(plan)):
        x, _ = plan(index)
        for picture in x:
            plain = [i for i in range(40) if np.array_equal(preprocess(images[i:i + 1])[0], picture)]
            mirror = [i for i in range(40) if np.array_equal(preprocess(images[i:i + 1, :, ::-1])[0], picture)]
            assert len(plain) + len(mirror) == 1
            seen.setdefault((plain or mirror)[0], []).append(bool(mirror))
    assert sorted(seen) == list(range(40))
    assert all(sorted(ways) == [False, True] for ways in seen.values())  # once each way
    assert 10 < sum(ways[0] for ways in seen.values()) < 30               # about half, first epoch
    # without flip nothing is mirrored; a resumed plan (first_epoch=1) mirrors as the run did
    resumed = BatchPlan(images, np.arange(40) % 10, 8, training=True, flip=True, seed=3, first_epoch=1)
    assert np.array_equal(resumed(0)[0], plan(plan.steps_per_epoch)[0])
