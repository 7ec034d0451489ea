"""How long a training run will take on this machine, known before it starts.

A server refuses runs that would hold its one training slot too long, so it
needs an estimate from the settings alone. The cost of one training image is
modelled from the network's shape: on a CPU this small network is bound by
memory traffic, not by Mult-Adds, so the cost is the number of activation values
it writes per image, plus a fixed cost per layer and step (which makes small
batches slow: the tutorial's batch of 10 trains about 4x slower per image than
128). Measured on one machine (AMD EPYC, AVX2, oneDNN on), this model put the
speeds of the shallow and full depth, α 0.5 and 1, within about 25 % of the measured
ones; the machine's own speed (cost units per second) comes from a measurement:
a few steps timed when the server starts, then each finished run.
"""

from mobilenet.tta import view_count

# Cost units of one layer's fixed work per step, in activation values (fitted, see above).
LAYER_STEP_COST = 50_000
# Evaluation runs the forward pass only: about a third of a training step's work.
EVALUATION_SHARE = 1 / 3
# Tracing the training step, building the model, saving: seconds at the reference speed.
FIXED_SECONDS = 15.0
# The reference speed (cost units per second): the classroom run at about 650 images/s on
# 2 cores of an AMD EPYC with AVX2 and oneDNN on. Used until this machine has been measured.
REFERENCE_SPEED = 176e6


def cost_per_image(config, image_shape=(32, 32, 3)):
    """Relative training cost of one image of ``config`` (a ``TrainConfig``).

    Counted from the architecture (``mobilenet.model``) without building it: a server
    estimates many runs, and each Keras model built would stay in its memory.
    """
    values, layers = network_size(config.model_config(image_shape))
    return values + LAYER_STEP_COST * layers / config.batch_size


def network_size(model_config):
    """(activation values per image, number of layers) of ``build_mobilenet(**model_config)``,
    the input layer counted as a layer but not as activations."""
    from mobilenet.model import BLOCKS, block_ids

    alpha = model_config["alpha"]
    height, width, _ = model_config["input_shape"]
    stride = 2 if model_config["variant"] == "paper" else 1
    height, width = -(-height // stride), -(-width // stride)
    channels = int(32 * alpha)
    values, layers = 3 * height * width * channels, 4  # input, conv1, its BN and ReLU
    for block in block_ids(model_config["depth"]):
        filters, stride = BLOCKS[block - 1]
        height, width = -(-height // stride), -(-width // stride)
        values += 3 * height * width * (channels + int(filters * alpha))  # depthwise, pointwise
        channels, layers = int(filters * alpha), layers + 6
    dropout = model_config["dropout"] > 0
    values += channels * (1 + dropout) + model_config["classes"]
    return values, layers + 2 + dropout


def estimate_seconds(config, train_images, test_images=10_000, speed=None):
    """Seconds from Start to the test accuracy for ``config`` on ``train_images`` images.

    Args:
        config: a ``TrainConfig``.
        train_images: images per epoch (after the validation hold-out).
        test_images: images of the final test evaluation.
        speed: this machine's cost units per second (``speed_from_run``); default
            ``REFERENCE_SPEED``.
    """
    speed = speed or REFERENCE_SPEED
    cost = cost_per_image(config)
    trained = train_images * config.epochs
    # validation at each epoch's end (and half way through it in runs of up to 2 epochs), then
    # validation and test once more at the end, once per TTA view (mobilenet.tta)
    checks = config.epochs * (2 if config.epochs <= 2 else 1)
    final = (config.validation_size + test_images) * (view_count(config.tta_views) if config.tta else 1)
    evaluated = (config.validation_size * checks + final) * EVALUATION_SHARE
    return (trained + evaluated) * cost / speed + FIXED_SECONDS * REFERENCE_SPEED / speed


def speed_from_run(config, images_per_sec):
    """This machine's speed (cost units per second) from a run's measured images/s."""
    return images_per_sec * cost_per_image(config)


def format_duration(seconds):
    """``seconds`` as a person reads a short duration: ``"45 s"`` below a minute, else
    ``"m:ss"`` (``"2:05"``, ``"70:00"``), rounded to the second."""
    seconds = int(round(seconds))
    return f"{seconds // 60}:{seconds % 60:02d}" if seconds >= 60 else f"{seconds} s"
