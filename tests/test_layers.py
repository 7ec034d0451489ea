import keras
import numpy as np

from mobilenet.layers import BatchNormalization


def pair(momentum=0.9):
    rng = np.random.default_rng(0)
    layers = [keras.layers.BatchNormalization(momentum=momentum), BatchNormalization(momentum=momentum)]
    for layer in layers:
        layer.build((None, 4, 4, 8))
    weights = [rng.normal(1, 0.1, 8), rng.normal(0, 0.1, 8), rng.normal(0, 0.1, 8), rng.uniform(0.5, 2, 8)]
    for layer in layers:
        layer.set_weights([w.astype("float32") for w in weights])
    return layers


def test_inference_matches_keras():
    plain, fused = pair()
    x = np.random.default_rng(1).normal(0, 1, (16, 4, 4, 8)).astype("float32")
    np.testing.assert_allclose(np.asarray(fused(x, training=False)), np.asarray(plain(x, training=False)),
                               atol=1e-5)


def test_training_normalises_with_batch_statistics_and_updates_moving_ones():
    plain, fused = pair(momentum=0.5)
    initial_var = np.asarray(plain.moving_variance).copy()
    x = np.random.default_rng(2).normal(3, 2, (16, 4, 4, 8)).astype("float32")
    np.testing.assert_allclose(np.asarray(fused(x, training=True)), np.asarray(plain(x, training=True)),
                               atol=1e-4)
    np.testing.assert_allclose(np.asarray(fused.moving_mean), np.asarray(plain.moving_mean), atol=1e-5)
    batch_var_plain = (np.asarray(plain.moving_variance) - 0.5 * initial_var) / 0.5
    batch_var_fused = (np.asarray(fused.moving_variance) - 0.5 * initial_var) / 0.5
    n = 16 * 4 * 4  # the fused kernel's variance is unbiased: n / (n - 1) times Keras' one
    np.testing.assert_allclose(batch_var_fused, batch_var_plain * n / (n - 1), rtol=1e-4)


def test_same_weights_and_names_as_keras_layer():
    plain, fused = pair()
    assert [w.path.split("/")[-1] for w in fused.weights] == [w.path.split("/")[-1] for w in plain.weights]
    assert type(fused).__name__ == "BatchNormalization"


def test_other_shapes_fall_back_to_keras():
    layer = BatchNormalization()
    x = np.random.default_rng(3).normal(0, 1, (4, 8)).astype("float32")
    out = np.asarray(layer(x, training=True))
    np.testing.assert_allclose(out.mean(axis=0), 0, atol=1e-5)
