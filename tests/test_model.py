import keras
import pytest

from mobilenet.model import build_mobilenet, last_spatial_layer


def count(weights):
    return sum(int(w.numpy().size) for w in weights)


@pytest.mark.parametrize("alpha", [0.25, 0.5, 0.75, 1.0])
def test_parameter_parity_with_keras_applications(alpha):
    ours = build_mobilenet(alpha=alpha, variant="paper")
    reference = keras.applications.MobileNet(weights=None, classes=10, input_shape=(32, 32, 3),
                                             alpha=alpha)
    assert ours.count_params() == reference.count_params()
    assert count(ours.trainable_weights) == count(reference.trainable_weights)
    assert count(ours.non_trainable_weights) == count(reference.non_trainable_weights)


def test_paper_variant_figures_at_32():
    model = build_mobilenet()
    assert model.count_params() == 3_239_114
    assert count(model.trainable_weights) == 3_217_226
    assert count(model.non_trainable_weights) == 21_888
    assert model.get_layer("conv_pw_13_relu").output.shape[1:] == (1, 1, 1024)


def test_seed_bug_reproduces_the_tutorials_summary():
    seed = build_mobilenet(seed_bn_bug=True)
    assert seed.count_params() == 3_238_986
    assert count(seed.trainable_weights) == 3_217_162
    assert count(seed.non_trainable_weights) == 21_824
    # The stem's BN exists but nothing consumes its output: ReLU reads conv1 directly.
    assert seed.get_layer("conv1_relu").input is seed.get_layer("conv1").output
    fixed = build_mobilenet()
    assert fixed.get_layer("conv1_relu").input is fixed.get_layer("conv1_bn").output


def test_cifar_variant_keeps_a_2x2_map_and_same_parameters():
    model = build_mobilenet(variant="cifar")
    assert model.get_layer("conv1").output.shape[1:3] == (32, 32)
    assert model.get_layer("conv_pw_13_relu").output.shape[1:3] == (2, 2)
    assert model.count_params() == 3_239_114


def test_stock_keras_batchnorm_builds_the_same_weights():
    fused, stock = build_mobilenet(), build_mobilenet(fused_batchnorm=False)
    assert type(stock.get_layer("conv1_bn")) is keras.layers.BatchNormalization
    assert [w.path for w in fused.weights] == [w.path for w in stock.weights]
    stock.set_weights(fused.get_weights())


def test_fixed_layer_names_and_no_conv_biases():
    model = build_mobilenet(alpha=0.5)
    names = [layer.name for layer in model.layers]
    assert names[:4] == ["image", "conv1", "conv1_bn", "conv1_relu"]
    for i in range(1, 14):
        for suffix in ("", "_bn", "_relu"):
            assert f"conv_dw_{i}{suffix}" in names and f"conv_pw_{i}{suffix}" in names
    assert names[-1] == "predictions"
    convs = [layer for layer in model.layers
             if isinstance(layer, (keras.layers.Conv2D, keras.layers.DepthwiseConv2D))]
    assert len(convs) == 27 and not any(layer.use_bias for layer in convs)


def test_last_spatial_layer_skips_1x1_maps():
    assert last_spatial_layer(build_mobilenet(variant="paper")) == "conv_pw_11_relu"
    assert last_spatial_layer(build_mobilenet(variant="cifar")) == "conv_pw_13_relu"


@pytest.mark.parametrize("kwargs, quoted", [
    ({"variant": "tiny"}, "variant='tiny'"),
    ({"alpha": 0}, "alpha=0"),
    ({"alpha": "1"}, "alpha='1'"),
    ({"classes": 1}, "classes=1"),
    ({"input_shape": (16, 16, 3)}, "input_shape=(16, 16, 3)"),
    ({"input_shape": (32, 32)}, "input_shape=(32, 32)"),
    ({"dropout": 1.0}, "dropout=1.0"),
    ({"bn_momentum": 1.5}, "bn_momentum=1.5"),
    ({"depth": "deep"}, "depth='deep'"),
])
def test_bad_arguments_are_rejected_and_quoted(kwargs, quoted):
    with pytest.raises(ValueError) as error:
        build_mobilenet(**kwargs)
    assert quoted in str(error.value)


def test_shallow_depth_removes_blocks_7_to_11_and_keeps_the_names():
    model = build_mobilenet(depth="shallow")
    names = {layer.name for layer in model.layers}
    assert model.name == "mobilenet_paper_1_shallow"
    for i in (1, 2, 3, 4, 5, 6, 12, 13):
        assert f"conv_dw_{i}" in names and f"conv_pw_{i}_relu" in names
    assert not any(f"conv_dw_{i}" in names for i in range(7, 12))
    # each removed block: 3x3x512 depthwise + 512x512 pointwise + two BN of 4x512
    assert model.count_params() == 3_239_114 - 5 * (9 * 512 + 512 * 512 + 2 * 4 * 512)
    assert model.get_layer("conv_pw_13_relu").output.shape[1:] == (1, 1, 1024)
