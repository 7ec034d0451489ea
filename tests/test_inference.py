import os

import cv2
import numpy as np
import pytest
from PIL import Image

from mobilenet.checkpoints import CheckpointError, load_checkpoint
from mobilenet.data import CLASS_NAMES
from mobilenet.inference import (Classifier, answer_accuracy, flip_helps, network_input, read_image,
                                 to_rgb_uint8)


def blocks(size, factor, rng=np.random.default_rng(0)):
    """An image of size x size whose value is constant over factor x factor blocks."""
    small = rng.integers(0, 256, size=(size // factor, size // factor, 3), dtype=np.uint8)
    return small, np.repeat(np.repeat(small, factor, axis=0), factor, axis=1)


def test_rgb_any_size_is_area_resized_to_32():
    small, big = blocks(64, 2)
    np.testing.assert_array_equal(network_input(big), small)


def test_huge_image():
    small, big = blocks(3200, 100)
    assert big.shape == (3200, 3200, 3)
    np.testing.assert_array_equal(network_input(big), small)


def test_bgr_from_opencv_is_reversed():
    small, big = blocks(64, 2)
    np.testing.assert_array_equal(network_input(big[:, :, ::-1], channel_order="bgr"), small)


def test_grayscale_2d_and_single_channel():
    gray = np.arange(32 * 32, dtype=np.uint32).reshape(32, 32) % 256
    gray = gray.astype(np.uint8)
    for image in (gray, gray[:, :, None]):
        out = to_rgb_uint8(image)
        assert out.shape == (32, 32, 3)
        assert np.all(out == gray[:, :, None])


def test_rgba_is_composited_on_white():
    rgba = np.zeros((32, 32, 4), np.uint8)
    rgba[..., 0] = 200          # red
    rgba[:16, :, 3] = 255       # top half opaque
    rgba[16:, :, 3] = 0         # bottom half transparent
    rgba[0, 0, 3] = 51          # 20 % opaque: 0.2 * 200 + 0.8 * 255 = 244
    out = to_rgb_uint8(rgba)
    assert tuple(out[1, 0]) == (200, 0, 0)
    assert tuple(out[20, 0]) == (255, 255, 255)
    assert tuple(out[0, 0]) == (244, 204, 204)
    bgra = rgba[..., [2, 1, 0, 3]]
    np.testing.assert_array_equal(to_rgb_uint8(bgra, channel_order="bgr"), out)


def test_16_bit_is_scaled_to_8_bit():
    image = np.full((32, 32, 3), 65535, np.uint16)
    image[0, 0] = (257 * 10, 257 * 128, 0)
    out = to_rgb_uint8(image)
    assert tuple(out[0, 0]) == (10, 128, 0) and tuple(out[1, 1]) == (255, 255, 255)


def test_float_and_bad_inputs():
    assert tuple(to_rgb_uint8(np.full((32, 32, 3), 0.5))[0, 0]) == (128, 128, 128)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        to_rgb_uint8(np.full((32, 32, 3), 3.0))
    with pytest.raises(ValueError, match="empty"):
        to_rgb_uint8(np.zeros((0, 10, 3), np.uint8))
    with pytest.raises(ValueError, match="shape"):
        to_rgb_uint8(np.zeros((10, 10, 2), np.uint8))
    with pytest.raises(ValueError, match="channel_order"):
        to_rgb_uint8(np.zeros((10, 10, 3), np.uint8), channel_order="hsv")


def test_small_image_is_upscaled():
    assert network_input(np.zeros((1, 1, 3), np.uint8)).shape == (32, 32, 3)


@pytest.mark.parametrize("engine", ["litert", "keras"])
def test_classifier_answers_like_the_model(tiny_checkpoint, tiny_cifar, engine):
    classifier = Classifier.from_checkpoint(tiny_checkpoint, engine=engine)
    assert classifier.engine == engine
    image = tiny_cifar[2]["test_batch"][0][0]
    probs = classifier.probabilities(image)
    assert probs.shape == (10,) and probs.sum() == pytest.approx(1, abs=1e-5)
    model, _ = load_checkpoint(tiny_checkpoint)
    expected = np.asarray(model(image[None].astype("float32") / 255.0))[0]
    np.testing.assert_allclose(probs, expected, atol=1e-5)
    batch = tiny_cifar[2]["test_batch"][0][:20]
    batch_expected = np.asarray(model(batch.astype("float32") / 255.0))
    answers = np.stack([classifier.probabilities(image) for image in batch])
    np.testing.assert_allclose(answers, batch_expected, atol=1e-4)
    assert list(answers.argmax(1)) == list(batch_expected.argmax(1))
    top = classifier.top_k(image, k=3)
    assert [name for name, _ in top] == [CLASS_NAMES[i] for i in np.argsort(expected)[::-1][:3]]
    assert top[0][1] >= top[1][1] >= top[2][1]
    result = classifier.classify(cv2.resize(image, (320, 240)), k=5)
    assert len(result["top_k"]) == 5 and result["network_input"].shape == (32, 32, 3)
    assert result["milliseconds"] > 0 and len(result["probabilities"]) == 10


def test_flip_is_used_where_the_checkpoint_measured_it_better():
    both = {"validation_accuracy": 0.80, "validation_accuracy_tta": 0.79,
            "test_accuracy": 0.81, "test_accuracy_tta": 0.83}
    assert not flip_helps({"metrics": both})  # validation decides where it was measured
    assert flip_helps({"metrics": {**both, "validation_accuracy_tta": 0.81}})
    assert flip_helps({"metrics": {"validation_accuracy": 0.8, "test_accuracy": 0.81, "test_accuracy_tta": 0.82}})
    assert not flip_helps({"metrics": {"test_accuracy": 0.81, "test_accuracy_tta": 0.81}})
    assert not flip_helps({"metrics": {"test_accuracy": None}}) and not flip_helps({}) and not flip_helps(None)
    assert answer_accuracy({"metrics": {"test_accuracy": 0.81, "test_accuracy_tta": 0.82}}) == (0.82, True)
    assert answer_accuracy({"metrics": both}) == (0.81, False)
    assert answer_accuracy({}) == (None, False)


@pytest.mark.parametrize("engine", ["litert", "keras"])
def test_flip_tta_answers_the_mean_of_the_picture_and_its_mirror(tiny_checkpoint, tiny_cifar, engine):
    model, metadata = load_checkpoint(tiny_checkpoint)
    metadata["metrics"] = {"test_accuracy": 0.5, "test_accuracy_tta": 0.45}
    assert Classifier(model, metadata, engine=engine).tta is False  # measured worse with the mirror
    metadata["metrics"].update(test_accuracy=0.5, test_accuracy_tta=0.6)
    classifier = Classifier(model, metadata, engine=engine)  # "auto" follows the measurement
    assert classifier.tta is True
    images = tiny_cifar[2]["test_batch"][0][:10]
    x = images.astype("float32") / 255.0
    expected = (np.asarray(model(x)) + np.asarray(model(x[:, :, ::-1]))) / 2
    answers = np.stack([classifier.probabilities(image) for image in images])
    np.testing.assert_allclose(answers, expected, atol=1e-5)
    assert np.abs(answers - np.asarray(model(x))).max() > 1e-3  # the mirror changed the answers
    result = classifier.classify(cv2.resize(images[0], (320, 240)))
    assert result["tta"] is True and sum(result["probabilities"].values()) == pytest.approx(1, abs=1e-5)
    assert Classifier(model, metadata, engine=engine, tta=False).classify(images[0])["tta"] is False
    with pytest.raises(ValueError, match="`tta` must be one of"):
        Classifier(model, metadata, engine=engine, tta="yes")


def test_checkpoint_errors_name_the_file(tiny_checkpoint, tmp_path):
    with pytest.raises(CheckpointError, match="not found"):
        load_checkpoint(str(tmp_path / "missing.keras"))
    truncated = tmp_path / "cut.keras"
    payload = open(tiny_checkpoint, "rb").read()
    truncated.write_bytes(payload[: len(payload) // 2])
    os.link(tiny_checkpoint.replace(".keras", ".json"), tmp_path / "cut.json")
    with pytest.raises(CheckpointError, match="cut.keras.*truncated"):
        load_checkpoint(str(truncated))
    (tmp_path / "foreign.json").write_text('{"hello": 1}')
    (tmp_path / "foreign.keras").write_bytes(b"PK not really")
    with pytest.raises(CheckpointError, match="not a MobileNet Lab checkpoint"):
        load_checkpoint(str(tmp_path / "foreign.keras"))
    (tmp_path / "orphan.keras").write_bytes(payload)
    with pytest.raises(CheckpointError, match="incomplete"):
        load_checkpoint(str(tmp_path / "orphan.keras"))


def test_read_image_handles_common_files(tmp_path, monkeypatch):
    rgb = np.zeros((40, 60, 3), np.uint8)
    rgb[:, :30] = (255, 0, 0)
    Image.fromarray(rgb).save(tmp_path / "a.png")
    np.testing.assert_array_equal(read_image(tmp_path / "a.png"), rgb)
    Image.fromarray(rgb).convert("P").save(tmp_path / "p.png")
    assert read_image(tmp_path / "p.png").shape == (40, 60, 3)
    Image.fromarray(rgb).convert("CMYK").save(tmp_path / "c.jpg")
    assert read_image(tmp_path / "c.jpg").shape == (40, 60, 3)
    Image.fromarray((np.arange(40 * 60).reshape(40, 60) * 20).astype(np.uint16)).save(tmp_path / "g16.png")
    assert read_image(tmp_path / "g16.png").dtype == np.uint16
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise when displayed
    Image.fromarray(rgb).save(tmp_path / "r.jpg", exif=exif)
    assert read_image(tmp_path / "r.jpg").shape == (60, 40, 3)
    from mobilenet import inference
    Image.new("RGB", (200, 100)).save(tmp_path / "big.png")
    monkeypatch.setattr(inference, "MAX_PIXELS", 10_000)
    with pytest.raises(inference.ImageTooLarge, match="200x100 pixels"):
        read_image(tmp_path / "big.png")
    with pytest.raises(inference.ImageTooLarge, match="0.015 megapixels"):
        read_image(tmp_path / "big.png", max_pixels=15_000)
    assert read_image(tmp_path / "big.png", max_pixels=20_000).shape == (100, 200, 3)
    (tmp_path / "t.png").write_text("not an image")
    with pytest.raises(ValueError, match="is not a JPEG, PNG, WebP, GIF or BMP picture"):
        read_image(tmp_path / "t.png")
    Image.fromarray(rgb).save(tmp_path / "scan.tif")  # a real picture, in a format not named
    with pytest.raises(ValueError, match="is not a JPEG, PNG, WebP, GIF or BMP picture"):
        read_image(tmp_path / "scan.tif")
