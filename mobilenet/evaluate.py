"""Accuracy, per-class accuracy and confusion matrix, with optional test-time augmentation
(``mobilenet.tta``: the mirror image, or the mirror image and shifted copies)."""

import numpy as np

from mobilenet import tta as views_of
from mobilenet.data import CLASS_NAMES, preprocess


class Stopped(Exception):
    """Raised when ``should_stop()`` turned true during an evaluation."""


def compiled_forward(model):
    """``model(x, training=False)`` as a tf.function over float32 batches of any size.

    Much cheaper per call than ``model.predict`` (no per-call dataset and
    callback machinery). On other backends (JAX): ``predict_on_batch``, which Keras compiles.
    """
    import keras

    if keras.backend.backend() != "tensorflow":
        return model.predict_on_batch
    import tensorflow as tf

    shape = (None, *model.input_shape[1:])

    @tf.function(input_signature=[tf.TensorSpec(shape, tf.float32)], reduce_retracing=True)
    def forward(x):
        return model(x, training=False)

    return forward


def predict_probabilities(model, images, batch_size=500, tta=False, should_stop=None,
                          forward=None, views="mirror"):
    """Class probabilities for uint8 images ``(N, 32, 32, 3)``.

    ``tta`` averages the prediction of each image's ``views`` (``mobilenet.tta``).
    """
    plain, averaged = _predict(model, images, batch_size, should_stop, forward, views if tta else None)
    return averaged if tta else plain


def predict_with_flip(model, images, batch_size=500, should_stop=None, forward=None, views="mirror"):
    """``(plain, averaged)`` in one pass: the probabilities of each image alone, and the mean of
    its ``views`` (what ``predict_probabilities(tta=True)`` gives)."""
    return _predict(model, images, batch_size, should_stop, forward, views)


def _predict(model, images, batch_size, should_stop, forward, views):
    forward = forward or compiled_forward(model)
    plain, averaged = [], []
    for start in range(0, len(images), batch_size):
        if should_stop is not None and should_stop():
            raise Stopped()
        x = preprocess(images[start:start + batch_size])
        probs = np.asarray(forward(x))
        plain.append(probs)
        if views:  # the picture's own answer is the first view's
            others = np.asarray(forward(views_of.views(x, views)[len(x):]))
            averaged.append(views_of.combine(np.concatenate([probs, others]), views))
    empty = np.zeros((0, model.output_shape[-1]))
    joined = [np.concatenate(parts) if parts else empty for parts in (plain, averaged)]
    return joined[0], (joined[1] if views else None)


def classification_report(probabilities, labels, class_names=CLASS_NAMES):
    """Accuracy, per-class accuracy (recall of each class), confusion matrix, and the
    tutorial's two extra metrics as Keras computes them on one-hot labels: ``recall``
    (share of images whose true class gets probability > 0.5) and ``auc`` (ROC AUC over
    all image-class pairs, here exact rather than Keras' 200-threshold estimate)."""
    labels = np.asarray(labels)
    probabilities = np.asarray(probabilities, dtype=np.float64)
    predicted = np.argmax(probabilities, axis=1)
    n = len(class_names)
    confusion = np.zeros((n, n), dtype=np.int64)
    np.add.at(confusion, (labels, predicted), 1)
    per_class = confusion.diagonal() / np.maximum(confusion.sum(axis=1), 1)
    return {
        "accuracy": float(np.mean(predicted == labels)) if len(labels) else 0.0,
        "per_class_accuracy": {name: float(acc) for name, acc in zip(class_names, per_class)},
        "confusion_matrix": confusion.tolist(),
        "recall": float(np.mean(probabilities[np.arange(len(labels)), labels] > 0.5))
        if len(labels) else 0.0,
        "auc": _micro_auc(probabilities, labels),
        "images": int(len(labels)),
    }


def _micro_auc(probabilities, labels):
    """ROC AUC of every (image, class) score against "is this the image's class"."""
    if not len(labels):
        return 0.0
    positive = np.zeros(probabilities.shape, dtype=bool)
    positive[np.arange(len(labels)), labels] = True
    scores, positive = probabilities.ravel(), positive.ravel()
    order = np.argsort(scores, kind="mergesort")
    sorted_scores = scores[order]
    ranks = np.empty(len(scores))
    # average ranks over ties (1-based), so equal scores count one half
    _, first, counts = np.unique(sorted_scores, return_index=True, return_counts=True)
    ranks[order] = np.repeat(first + (counts + 1) / 2, counts)
    n_pos, n_neg = positive.sum(), (~positive).sum()
    if not n_pos or not n_neg:
        return 0.0
    return float((ranks[positive].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def evaluate(model, images, labels, tta=False, batch_size=500, should_stop=None, forward=None,
             views="mirror"):
    """``classification_report`` of ``model`` on uint8 ``images`` with int ``labels``
    (``forward``: a ``compiled_forward(model)`` to reuse, else one is traced)."""
    probs = predict_probabilities(model, images, batch_size, tta=tta, should_stop=should_stop,
                                  forward=forward, views=views)
    return classification_report(probs, labels)


def evaluate_with_flip(model, images, labels, tta=False, should_stop=None, forward=None, views="mirror"):
    """``(report, TTA accuracy)``: ``evaluate``'s report of the images alone and, with ``tta``,
    the accuracy of the answers averaged over each image's ``views`` (else None), from one pass:
    the images alone are run once, not once more for the TTA figure."""
    if not tta:
        return evaluate(model, images, labels, should_stop=should_stop, forward=forward), None
    plain, averaged = predict_with_flip(model, images, should_stop=should_stop, forward=forward, views=views)
    return classification_report(plain, labels), classification_report(averaged, labels)["accuracy"]


def validation_loss(probabilities, labels, label_smoothing=0.0):
    """Mean cross-entropy of ``probabilities`` against int ``labels``, smoothed as the training
    loss is (Keras' ``CategoricalCrossentropy(label_smoothing=...)``)."""
    probabilities = np.clip(np.asarray(probabilities, dtype=np.float64), 1e-7, 1.0)
    classes = probabilities.shape[1]
    target = np.full(probabilities.shape, label_smoothing / classes)
    target[np.arange(len(labels)), np.asarray(labels)] += 1.0 - label_smoothing
    return float(-np.mean(np.sum(target * np.log(probabilities), axis=1))) if len(labels) else 0.0


def test_metrics(model, images, labels, tta=False, should_stop=None, forward=None,
                 answers_with_flip=False, views="mirror"):
    """The test-set fields of a checkpoint's ``metrics``: accuracy, per-class accuracy,
    confusion matrix, the tutorial's recall and AUC, and with ``tta`` the TTA accuracy over
    each picture's ``views`` (recorded as ``tta_views``).

    ``answers_with_flip`` (with ``tta``): the app will answer with the views averaged
    (``mobilenet.inference.flip_helps``), so the per-class accuracy and the confusion matrix are
    those of these answers, and ``answers_with_flip`` says so."""
    if not tta:
        test, averaged = evaluate(model, images, labels, should_stop=should_stop, forward=forward), None
    else:
        plain, averaged = predict_with_flip(model, images, should_stop=should_stop, forward=forward,
                                            views=views)
        test = classification_report(plain, labels)
        averaged = classification_report(averaged, labels)
    answers = averaged if averaged is not None and answers_with_flip else test
    metrics = {"test_accuracy": test["accuracy"], "per_class_accuracy": answers["per_class_accuracy"],
               "confusion_matrix": answers["confusion_matrix"], "test_images": test["images"],
               "test_recall": test["recall"], "test_auc": test["auc"]}
    if averaged is not None:
        metrics["test_accuracy_tta"] = averaged["accuracy"]
        metrics["answers_with_flip"] = bool(answers_with_flip)
        metrics["tta_views"] = views
    return metrics


def stored_weights_metrics(restored, images, labels, tta=False, views="mirror"):
    """Test accuracy (and with ``tta`` the TTA accuracy over ``views``) of ``restored``: the
    weights as a float16 checkpoint gives them back (``checkpoints.float16_round_trip``)."""
    test, flipped = evaluate_with_flip(restored, images, labels, tta, views=views)
    metrics = {"test_accuracy_float16_storage": test["accuracy"]}
    if tta:
        metrics["test_accuracy_tta_float16_storage"] = flipped
    return metrics


def recalibrate_batchnorm(model, images, batch_size=256, max_batches=20):
    """Re-estimates every BatchNormalization's moving mean and variance.

    After a short run the moving statistics lag far behind the weights (the
    tutorial's recipe gives 10 % test accuracy after one epoch for this
    reason). Running training-mode forward passes with momentum 0 exposes
    each batch's statistics; their average over ``max_batches`` batches
    replaces the moving statistics. Also needed after swapping in EMA weights,
    whose statistics were never tracked.
    """
    from keras import layers

    bns = [layer for layer in model.layers if isinstance(layer, layers.BatchNormalization)]
    momenta = [bn.momentum for bn in bns]
    sums = [[np.zeros(bn.moving_mean.shape), np.zeros(bn.moving_variance.shape)] for bn in bns]
    batches = 0
    try:
        for bn in bns:
            bn.momentum = 0.0
        for start in range(0, min(len(images), batch_size * max_batches), batch_size):
            model(preprocess(images[start:start + batch_size]), training=True)
            for (mean_sum, var_sum), bn in zip(sums, bns):
                mean_sum += np.asarray(bn.moving_mean)
                var_sum += np.asarray(bn.moving_variance)
            batches += 1
    finally:
        for bn, momentum in zip(bns, momenta):
            bn.momentum = momentum
    for (mean_sum, var_sum), bn in zip(sums, bns):
        bn.moving_mean.assign(mean_sum / batches)
        bn.moving_variance.assign(var_sum / batches)
    return batches
