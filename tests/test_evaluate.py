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
