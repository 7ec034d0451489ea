"""Test-time augmentation (``mobilenet.tta``): the views, their average, and the app answering a
picture exactly as the run's evaluation measured it."""

import numpy as np
import pytest

from mobilenet import tta


def test_the_views_are_the_picture_its_mirror_and_shifted_copies_with_theirs():
    x = np.arange(2 * 4 * 5 * 3, dtype="float32").reshape(2, 4, 5, 3)
    mirror = tta.views(x, "mirror")
    assert mirror.shape == (4, 4, 5, 3) and tta.view_count("mirror") == 2
    np.testing.assert_array_equal(mirror[:2], x)
    np.testing.assert_array_equal(mirror[2:], x[:, :, ::-1])
    shifted = tta.views(x, "mirror_shift")
    assert shifted.shape == (12, 4, 5, 3) and tta.view_count("mirror_shift") == 6
    up_left, down_right = shifted[4:6], shifted[8:10]
    np.testing.assert_array_equal(up_left[:, 1:, 1:], x[:, :-1, :-1])  # moved one pixel down-right...
    np.testing.assert_array_equal(up_left[:, 0, 1:], x[:, 1, :-1])     # ...the edge reflected in
    np.testing.assert_array_equal(down_right[:, :-1, :-1], x[:, 1:, 1:])
    np.testing.assert_array_equal(shifted[6:8], up_left[:, :, ::-1])
    np.testing.assert_array_equal(shifted[10:12], down_right[:, :, ::-1])
    with pytest.raises(ValueError, match="`tta_views` must be one of"):
        tta.views(x, "rotate")


def test_half_the_mirror_pair_and_half_the_shifted_pairs():
    rng = np.random.default_rng(0)
    p = rng.dirichlet(np.ones(10), size=(6, 3))  # view, picture, class
    np.testing.assert_allclose(tta.combine(p[:2].reshape(6, 10), "mirror"), p[:2].mean(axis=0))
    expected = 0.5 * p[:2].mean(axis=0) + 0.5 * p[2:].mean(axis=0)
    np.testing.assert_allclose(tta.combine(p.reshape(18, 10), "mirror_shift"), expected)
    assert tta.shifted({"metrics": {"tta_views": "mirror_shift"}})
    assert not tta.shifted({"metrics": {"tta_views": "mirror"}}) and not tta.shifted({})


@pytest.mark.parametrize("engine", ["litert", "keras"])
def test_the_app_answers_each_picture_as_the_run_measured_it(tiny_checkpoint, tiny_cifar, engine):
    from mobilenet.checkpoints import load_checkpoint
    from mobilenet.evaluate import predict_probabilities, test_metrics
    from mobilenet.inference import Classifier

    model, metadata = load_checkpoint(tiny_checkpoint)
    images, labels = tiny_cifar[2]["test_batch"][0][:12], tiny_cifar[2]["test_batch"][1][:12]
    measured = test_metrics(model, images, labels, tta=True, views="mirror_shift")
    assert measured["tta_views"] == "mirror_shift"
    metadata["metrics"] = {"test_accuracy": 0.5, "test_accuracy_tta": 0.6, "tta_views": "mirror_shift"}
    classifier = Classifier(model, metadata, engine=engine)
    assert classifier.tta and classifier.views == "mirror_shift"
    answers = np.stack([classifier.probabilities(image) for image in images])
    expected = predict_probabilities(model, images, batch_size=5, tta=True, views="mirror_shift")
    np.testing.assert_allclose(answers, expected, atol=1e-5)
    assert measured["test_accuracy_tta"] == float(np.mean(expected.argmax(axis=1) == labels))
    mirror_only = predict_probabilities(model, images, tta=True)
    assert np.abs(expected - mirror_only).max() > 1e-4  # the shifted copies changed the answers
    assert classifier.classify(images[0])["views"] == "mirror_shift"
    del metadata["metrics"]["tta_views"]  # a checkpoint measured before the shifted copies
    assert Classifier(model, metadata, engine=engine).views == "mirror"
    metadata["metrics"]["tta_views"] = "rotate"  # a kind this version does not know: the picture alone
    assert Classifier(model, metadata, engine=engine).tta is False
