import numpy as np
import pytest

from mobilenet.evaluate import classification_report


def test_report_counts_and_the_tutorials_recall_and_auc():
    probs = np.array([[0.9, 0.1], [0.3, 0.7]])
    report = classification_report(probs, [0, 1], class_names=("a", "b"))
    assert report["accuracy"] == 1.0 and report["confusion_matrix"] == [[1, 0], [0, 1]]
    assert report["recall"] == 1.0 and report["auc"] == 1.0

    report = classification_report(probs, [1, 1], class_names=("a", "b"))
    # true-class scores 0.1 and 0.7 against the others' 0.9 and 0.3: one pair of four ranked right
    assert report["auc"] == 0.25 and report["recall"] == 0.5
    assert report["per_class_accuracy"] == {"a": 0.0, "b": 0.5}
    assert classification_report(np.array([[0.5, 0.5]]), [0], class_names=("a", "b"))["auc"] == 0.5


def test_auc_agrees_with_keras_estimate():
    import keras

    rng = np.random.default_rng(0)
    labels = rng.integers(0, 10, 500)
    logits = rng.normal(size=(500, 10)) + 2 * np.eye(10)[labels]
    probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    keras_auc = keras.metrics.AUC(num_thresholds=2000)
    keras_auc.update_state(np.eye(10)[labels], probs)
    assert classification_report(probs, labels)["auc"] == pytest.approx(float(keras_auc.result()), abs=2e-3)


def test_one_pass_gives_the_plain_and_the_flip_figures_of_two(tiny_checkpoint, tiny_cifar):
    from mobilenet.checkpoints import load_checkpoint
    from mobilenet.data import load_cifar10
    from mobilenet.evaluate import evaluate, evaluate_with_flip, predict_probabilities, test_metrics

    model, _ = load_checkpoint(tiny_checkpoint)
    data = load_cifar10(tiny_cifar[1])
    x, y = data.x_test, data.y_test
    plain, flipped = evaluate(model, x, y), evaluate(model, x, y, tta=True)
    report, accuracy = evaluate_with_flip(model, x, y, tta=True)
    assert report == plain and accuracy == flipped["accuracy"]
    assert evaluate_with_flip(model, x, y) == (plain, None)
    metrics = test_metrics(model, x, y, tta=True)
    assert (metrics["test_accuracy"], metrics["test_accuracy_tta"]) == (plain["accuracy"], flipped["accuracy"])
    np.testing.assert_allclose(predict_probabilities(model, x[:7], batch_size=3, tta=True),  # batches joined
                               predict_probabilities(model, x[:7], tta=True), atol=1e-6)


def test_validation_loss_is_keras_smoothed_crossentropy():
    import keras

    from mobilenet.evaluate import validation_loss

    rng = np.random.default_rng(0)
    probabilities = rng.dirichlet(np.ones(10), size=16)
    labels = rng.integers(0, 10, 16)
    for smoothing in (0.0, 0.1):
        expected = keras.losses.CategoricalCrossentropy(label_smoothing=smoothing)(
            np.eye(10)[labels], probabilities.astype("float32"))
        assert validation_loss(probabilities, labels, smoothing) == pytest.approx(float(expected), rel=1e-4)
