"""Looking inside a trained network: Grad-CAM, feature maps and depthwise kernels.

``grad_cam`` answers "where did the network look?" for one picture and one
class; ``feature_maps`` shows what one layer computes for a picture, as a grid
of its channels; ``depthwise_kernels`` shows the 3x3 filters a depthwise
layer learned. Pictures go through the one preprocessing path
(``inference.network_input`` then ``data.preprocess``), as for classifying.

The network's structure as data, for a page to show: ``map_layers`` (the layers with a map),
``short_name`` and ``layer_kind`` (what a layer computes, from its name), ``depthwise_blocks``,
``map_shape`` and ``map_cell`` (a layer's map), ``map_table`` (how maps shrink and channels grow).
"""

import numpy as np

from mobilenet.data import preprocess
from mobilenet.inference import network_input, to_rgb_uint8
from mobilenet.model import last_spatial_layer

GAP = 2  # pixels between the tiles of a grid
GRID_BACKGROUND = 255
KERNEL_BACKGROUND = 90  # dark: near-white kernels must still show their edges


def map_layers(model):
    """Names of the layers a student can look at: the stem and each block's depthwise and
    pointwise step, after BatchNormalization and ReLU6 (what the next layer receives)."""
    return [layer.name for layer in model.layers
            if layer.name.endswith("_relu") and len(layer.output.shape) == 4]


LAYER_KINDS = ("stem", "depthwise", "pointwise")


def short_name(layer):
    """A map layer's name without its activation: ``conv_pw_3_relu`` -> ``conv_pw_3``."""
    return layer.removesuffix("_relu")


def layer_kind(layer):
    """What a layer of ``build_mobilenet`` computes, from its name: ``"stem"`` (``conv1...``, the
    full 3x3 convolution), ``"depthwise"`` (``conv_dw_N...``, one 3x3 filter per channel) or
    ``"pointwise"`` (``conv_pw_N...``, the 1x1 convolution that mixes the channels)."""
    if layer.startswith("conv1"):
        return "stem"
    for prefix, kind in (("conv_dw_", "depthwise"), ("conv_pw_", "pointwise")):
        if layer.startswith(prefix) and layer[len(prefix):].split("_")[0].isdigit():
            return kind
    raise ValueError(f"`layer` must be a convolution of build_mobilenet (conv1, conv_dw_N, conv_pw_N "
                     f"and their _bn, _relu). Received: layer={layer!r}")


def depthwise_blocks(model):
    """The numbers of the model's depthwise separable blocks, in order: 1 to 13 at full depth,
    1-6, 12 and 13 in the shallow network."""
    return [int(layer.name[8:]) for layer in model.layers
            if layer.name.startswith("conv_dw_") and layer.name[8:].isdigit()]


def map_shape(model, layer):
    """``(height, width, channels)`` of the map that layer ``layer`` (from ``map_layers(model)``)
    hands on."""
    return tuple(int(n) for n in _check_map_layer(model, layer).output.shape[1:4])


def map_cell(model, layer):
    """``(height, width)`` of the patch of the input picture one cell of ``layer``'s map covers
    (the input's side over the map's: 2x2 on a 16x16 map of a 32x32 picture)."""
    height, width = map_shape(model, layer)[:2]
    return int(model.input_shape[1]) // height, int(model.input_shape[2]) // width


def map_table(model):
    """How the maps shrink and the channels grow through the network, one row per stage.

    Returns:
        A list of dicts ``{"block", "layers", "height", "width", "channels_in", "channels_out"}``:
        first the input picture (``block`` ``"input"``, no layers, ``channels_in`` None), then the
        stem (``"stem"``, ``["conv1"]``), then each block (its number, ``["conv_dw_N",
        "conv_pw_N"]``). ``height`` and ``width`` are the stage's output map, ``channels_in``
        and ``channels_out`` the channels it receives and hands on.
    """
    height, width, channels = (int(n) for n in model.input_shape[1:4])
    rows = [{"block": "input", "layers": [], "height": height, "width": width,
             "channels_in": None, "channels_out": channels}]
    stages = [("stem", ["conv1"])] + [(block, [f"conv_dw_{block}", f"conv_pw_{block}"])
                                      for block in depthwise_blocks(model)]
    for block, layers in stages:
        height, width, out = map_shape(model, f"{layers[-1]}_relu")
        rows.append({"block": block, "layers": layers, "height": height, "width": width,
                     "channels_in": channels, "channels_out": out})
        channels = out
    return rows


def _check_map_layer(model, layer):
    names = map_layers(model)
    if layer not in names:
        raise ValueError(f"`layer` must be one of this model's feature-map layers ({names[0]} ... "
                         f"{names[-1]}, {len(names)} in all). Received: layer={layer!r}")
    return model.get_layer(layer)


def grad_cam(model, image_rgb_uint8, class_index=None, layer=None, size=None):
    """Grad-CAM (Selvaraju et al., 2017) for one picture, at the picture's own size.

    The class score is the logit (the input of the final softmax), so a class
    the network is already sure of still has useful gradients.

    Args:
        model: a ``build_mobilenet`` model.
        image_rgb_uint8: the picture in any form ``inference.to_rgb_uint8`` accepts.
        class_index: class to explain. Default None: the predicted class.
        layer: a name from ``map_layers(model)``. Default None: ``last_spatial_layer(model)``,
            the last map larger than 1x1 (a 1x1 map cannot say *where*).
        size: ``(width, height)`` of the heat map, for a picture shown smaller than it
            is. Default None: the picture's own size.

    Returns:
        ``(heatmap, layer, class_index, probabilities)``: ``heatmap`` is float32
        ``(H, W)`` in [0, 1] at the picture's size (all zero when nothing in
        the map speaks for the class), ``probabilities`` the model's output.
    """
    import cv2
    import keras
    import tensorflow as tf

    layer = layer or last_spatial_layer(model)
    target = _check_map_layer(model, layer)
    classes = model.output_shape[-1]
    if class_index is not None and (not isinstance(class_index, (int, np.integer))
                                    or not 0 <= class_index < classes):
        raise ValueError(f"`class_index` must be an integer in [0, {classes}). "
                         f"Received: class_index={class_index!r}")
    picture = to_rgb_uint8(image_rgb_uint8)
    pooled = model.get_layer("global_average_pooling")
    dense = model.get_layer("predictions")
    probe = keras.Model(model.inputs, [target.output, pooled.output])
    x = tf.convert_to_tensor(np.asarray(preprocess(network_input(picture)[None])))
    with tf.GradientTape() as tape:
        maps, features = probe(x, training=False)
        logits = tf.matmul(features, dense.kernel) + dense.bias
        probabilities = tf.nn.softmax(logits)[0].numpy()
        class_index = int(np.argmax(probabilities)) if class_index is None else int(class_index)
        score = logits[0, class_index]
    gradients = tape.gradient(score, maps)[0].numpy()
    maps = maps[0].numpy()
    weights = gradients.mean(axis=(0, 1))
    cam = np.maximum((maps * weights).sum(axis=-1), 0)
    peak = cam.max()
    cam = cam / peak if peak > 0 else np.zeros_like(cam)
    size = size or (picture.shape[1], picture.shape[0])
    heatmap = cv2.resize(cam.astype(np.float32), tuple(size), interpolation=cv2.INTER_CUBIC)
    return np.clip(heatmap, 0, 1), layer, class_index, probabilities


def grad_cam_facts(model, layer, class_index, probabilities):
    """What a page says about a Grad-CAM, as data: the layer and its map, the class explained and
    the network's answer with their probabilities."""
    from mobilenet.data import CLASS_NAMES

    height, width, _ = map_shape(model, layer)
    cell_height, cell_width = map_cell(model, layer)
    predicted, last = int(np.argmax(probabilities)), map_layers(model)[-1]
    return {"layer": short_name(layer), "height": height, "width": width, "cell_height": cell_height,
            "cell_width": cell_width, "last": None if layer == last else short_name(last),
            "class": CLASS_NAMES[class_index], "probability": float(probabilities[class_index]),
            "answer": CLASS_NAMES[predicted], "answer_probability": float(probabilities[predicted])}


def overlay(image_rgb_uint8, heatmap, opacity=0.45):
    """The heat map in the JET colours (blue: low, red: high) blended onto the picture."""
    import cv2

    picture = to_rgb_uint8(image_rgb_uint8)
    if heatmap.shape != picture.shape[:2]:
        raise ValueError(f"heatmap {heatmap.shape} and picture {picture.shape[:2]} differ in size")
    colours = cv2.applyColorMap(np.uint8(np.rint(heatmap * 255)), cv2.COLORMAP_JET)
    colours = cv2.cvtColor(colours, cv2.COLOR_BGR2RGB)
    return cv2.addWeighted(picture, 1 - opacity, colours, opacity, 0)


def feature_maps(model, image, layer, max_channels=64, columns=8, tile=64):
    """One layer's activation maps for a picture, as a grid image.

    Each channel is scaled to its own maximum and coloured with viridis; the
    channels are ordered by mean activation (strongest first), and each map is
    enlarged with nearest-neighbour so its cells stay visible.

    Args:
        model: a ``build_mobilenet`` model.
        image: the picture in any form ``inference.to_rgb_uint8`` accepts.
        layer: a name from ``map_layers(model)``.
        max_channels: channels shown at most. Default 64.
        columns: tiles per row. Default 8.
        tile: side of a tile in pixels (rounded down to a multiple of the map). Default 64.

    Returns:
        ``(grid, info)``: a uint8 RGB image and ``{"layer", "height", "width",
        "channels", "shown"}`` (``shown``: channel numbers in grid order).
    """
    import cv2
    import keras

    target = _check_map_layer(model, layer)
    probe = keras.Model(model.inputs, target.output)
    maps = np.asarray(probe([preprocess(network_input(image)[None])], training=False))[0]
    height, width, channels = maps.shape
    shown = np.argsort(-maps.mean(axis=(0, 1)), kind="stable")[:max_channels]
    peaks = maps[:, :, shown].max(axis=(0, 1))
    scaled = maps[:, :, shown] / np.where(peaks > 0, peaks, 1)
    factor = max(1, tile // max(height, width))
    tiles = []
    for i in range(len(shown)):
        coloured = cv2.applyColorMap(np.uint8(np.rint(scaled[:, :, i] * 255)), cv2.COLORMAP_VIRIDIS)
        tiles.append(_enlarge(cv2.cvtColor(coloured, cv2.COLOR_BGR2RGB), factor))
    info = {"layer": layer, "height": height, "width": width, "channels": channels,
            "shown": [int(c) for c in shown]}
    return tile_grid(tiles, columns), info


def depthwise_kernels(model, block=1, max_kernels=64, columns=8, scale=16):
    """The 3x3 kernels of block ``block``'s depthwise layer as a grid image.

    Red is a positive weight, blue a negative one, white zero. Each kernel is
    scaled to its own largest absolute weight: the BatchNormalization after
    the layer rescales every channel anyway, so only a kernel's pattern matters.

    Returns:
        ``(grid, info)``: a uint8 RGB image and ``{"layer", "kernels", "shown",
        "kernel_size"}``.
    """
    name = f"conv_dw_{block}"
    present = depthwise_blocks(model)
    if block not in present:
        raise ValueError(f"`block` must be one of this model's blocks {present}. Received: block={block!r}")
    kernel = np.asarray(model.get_layer(name).kernel)[:, :, :, 0]  # (3, 3, channels)
    shown = min(kernel.shape[2], max_kernels)
    peaks = np.abs(kernel).max(axis=(0, 1))
    tiles = [_enlarge(_diverging(kernel[:, :, c] / (peaks[c] or 1)), scale) for c in range(shown)]
    info = {"layer": name, "kernels": int(kernel.shape[2]), "shown": shown,
            "kernel_size": tuple(kernel.shape[:2])}
    return tile_grid(tiles, columns, background=KERNEL_BACKGROUND), info


def _diverging(values):
    """Values in [-1, 1] -> RGB: blue (-1), white (0), red (+1)."""
    positive, negative = np.clip(values, 0, 1), np.clip(-values, 0, 1)
    red = 1 - negative * 0.85
    green = 1 - np.maximum(positive, negative) * 0.85
    blue = 1 - positive * 0.85
    return np.uint8(np.rint(np.stack([red, green, blue], axis=-1) * 255))


def _enlarge(image, factor):
    return np.repeat(np.repeat(image, factor, axis=0), factor, axis=1)


def tile_grid(tiles, columns, background=GRID_BACKGROUND):
    """Equal-sized RGB tiles in rows of ``columns``, ``GAP`` pixels of ``background`` apart."""
    if not tiles:
        raise ValueError("no tiles to arrange")
    height, width = tiles[0].shape[:2]
    columns = min(columns, len(tiles))
    rows = -(-len(tiles) // columns)
    grid = np.full((rows * (height + GAP) - GAP, columns * (width + GAP) - GAP, 3),
                   background, np.uint8)
    for i, tile in enumerate(tiles):
        top, left = (i // columns) * (height + GAP), (i % columns) * (width + GAP)
        grid[top:top + height, left:left + width] = tile
    return grid
