"""MobileNet V1 for CIFAR-10, built from code (no weights are downloaded).

The architecture is the tutorial's (``conv_block`` + 13 ``depthwise_conv_block``
+ global average pooling + softmax) with the layer names of
``keras.applications.MobileNet`` so that summaries read well and weight files
stay stable.

Fix of the tutorial's bug: its ``conv_block`` calls
``BatchNormalization()(x)`` and throws the result away, so the first
convolution feeds ReLU6 un-normalised and the BN layer never enters the graph
(its summary shows 3,238,986 parameters instead of 3,239,114: the 128
missing parameters are the 4 x 32 of that one BN layer). Here the BN output is
used. ``seed_bn_bug=True`` rebuilds the tutorial's exact graph for comparison.
"""

import keras
from keras import layers

from mobilenet.config import validate_model_args
from mobilenet.layers import BatchNormalization

# (pointwise filters, depthwise stride) of the 13 depthwise separable blocks.
BLOCKS = (
    (64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2),
    (512, 1), (512, 1), (512, 1), (512, 1), (512, 1),
    (1024, 2), (1024, 1),
)
# The paper's "Shallow MobileNet" (Section 4.2, Table 4): "the 5 layers of separable
# filters with feature size 14x14x512 in Table 1 are removed". The blocks kept keep
# their numbers, so conv_dw_12 is the same layer in both depths.
SHALLOW_REMOVED = (7, 8, 9, 10, 11)


def block_ids(depth="full"):
    """Numbers (1-13) of the depthwise separable blocks a model of ``depth`` has."""
    removed = SHALLOW_REMOVED if depth == "shallow" else ()
    return tuple(i for i in range(1, len(BLOCKS) + 1) if i not in removed)


def build_mobilenet(
    classes=10,
    input_shape=(32, 32, 3),
    alpha=1.0,
    dropout=1e-3,
    variant="paper",
    bn_momentum=0.99,
    seed_bn_bug=False,
    fused_batchnorm=True,
    name=None,
    depth="full",
    synchronized_batchnorm=False,
):
    """Builds MobileNet V1 as a functional ``keras.Model`` (random weights).

    Args:
        classes: number of output classes, at least 2. Default 10 (CIFAR-10).
        input_shape: ``(height, width, channels)``; height and width at least
            32. Default ``(32, 32, 3)``.
        alpha: width multiplier: every layer has ``int(filters * alpha)``
            filters. The paper uses 0.25, 0.5, 0.75 and 1.0. Default 1.0.
        dropout: dropout rate before the classifier, in ``[0, 1)``.
            Default 1e-3 (as ``keras.applications.MobileNet``).
        variant: ``"paper"`` keeps the tutorial's strides (stem stride 2: a
            32x32 input ends in a 1x1 feature map); ``"cifar"`` uses stem
            stride 1, as CIFAR implementations do (last map 2x2, 4x the
            Mult-Adds). Default ``"paper"``.
        bn_momentum: momentum of every BatchNormalization's moving
            statistics, in ``(0, 1)``. Short training runs need a smaller
            value (see ``mobilenet.train``). Default 0.99 (the Keras default).
        seed_bn_bug: reproduce the tutorial's bug (stem BN output discarded).
            Only for showing what the bug does. Default False.
        fused_batchnorm: use ``mobilenet.layers.BatchNormalization`` (TensorFlow's
            fused kernel: 2x faster CPU training, same weights); False builds
            stock ``keras.layers.BatchNormalization``. Default True.
        name: model name. Default ``"mobilenet_<variant>_<alpha>"`` (plus
            ``"_shallow"``).
        depth: ``"full"``: the 13 blocks of the paper and the tutorial;
            ``"shallow"``: the paper's Shallow MobileNet (Table 4), without the
            five repeated 512-filter blocks 7-11 (8 blocks). Its plainer,
            shorter stack learns much faster in a one-minute run. Default
            ``"full"``.
        synchronized_batchnorm: on several devices (TensorFlow), compute each
            BatchNormalization's batch statistics over the global batch rather than each
            device's slice, so that the run does the arithmetic of one device (slower: one
            all-reduce per layer and step). Default False.

    Returns:
        A ``keras.Model`` mapping float32 images (see
        ``mobilenet.data.preprocess``) to class probabilities.
    """
    validate_model_args(classes, input_shape, alpha, dropout, variant, bn_momentum, depth)
    name = name or f"mobilenet_{variant}_{alpha:g}" + ("_shallow" if depth == "shallow" else "")

    bn_class = BatchNormalization if fused_batchnorm else layers.BatchNormalization

    def batch_norm(layer_name):
        return bn_class(momentum=bn_momentum, name=layer_name, synchronized=synchronized_batchnorm)

    inputs = keras.Input(shape=tuple(input_shape), name="image")
    stem_stride = 2 if variant == "paper" else 1
    x = layers.Conv2D(int(32 * alpha), 3, strides=stem_stride, padding="same",
                      use_bias=False, name="conv1")(inputs)
    if seed_bn_bug:
        batch_norm("conv1_bn")(x)  # the tutorial's line: result discarded
    else:
        x = batch_norm("conv1_bn")(x)
    x = layers.ReLU(6.0, name="conv1_relu")(x)

    for block_id in block_ids(depth):
        filters, stride = BLOCKS[block_id - 1]
        x = layers.DepthwiseConv2D(3, strides=stride, padding="same",
                                   use_bias=False, name=f"conv_dw_{block_id}")(x)
        x = batch_norm(f"conv_dw_{block_id}_bn")(x)
        x = layers.ReLU(6.0, name=f"conv_dw_{block_id}_relu")(x)
        x = layers.Conv2D(int(filters * alpha), 1, padding="same",
                          use_bias=False, name=f"conv_pw_{block_id}")(x)
        x = batch_norm(f"conv_pw_{block_id}_bn")(x)
        x = layers.ReLU(6.0, name=f"conv_pw_{block_id}_relu")(x)

    x = layers.GlobalAveragePooling2D(name="global_average_pooling")(x)
    if dropout > 0:
        x = layers.Dropout(dropout, name="dropout")(x)
    outputs = layers.Dense(classes, activation="softmax", name="predictions")(x)
    return keras.Model(inputs, outputs, name=name)


def last_spatial_layer(model):
    """Name of the last layer whose output still has a spatial extent > 1x1.

    Grad-CAM and feature-map views need a map, and on the paper variant at
    32x32 the last block's map is 1x1.
    """
    candidates = [layer.name for layer in model.layers
                  if layer.name.endswith("_relu")
                  and layer.output.shape[1] is not None
                  and layer.output.shape[1] * layer.output.shape[2] > 1]
    return candidates[-1]
