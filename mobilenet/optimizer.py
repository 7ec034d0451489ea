"""How a run's model is compiled: its learning-rate schedule, optimizer and loss.

Shared by the schedule (``mobilenet.train``) and the weight-averaging phase
(``mobilenet.weight_averaging``), which compiles the same model again at its own settings.
"""

import keras


def compile_model(model, config, steps_per_epoch):
    total = steps_per_epoch * config.epochs
    if config.schedule == "cosine":
        warmup = int(config.warmup_epochs * steps_per_epoch)
        lr = keras.optimizers.schedules.CosineDecay(
            initial_learning_rate=0.0 if warmup else config.learning_rate,
            decay_steps=max(1, total - warmup), alpha=0.0,
            warmup_target=config.learning_rate if warmup else None, warmup_steps=warmup)
    else:
        lr = config.learning_rate
    common = {"learning_rate": lr, "weight_decay": config.weight_decay or None,
              "use_ema": config.ema, "ema_momentum": config.ema_momentum}
    if config.optimizer == "adam":
        optimizer = keras.optimizers.AdamW(**common) if config.weight_decay else \
            keras.optimizers.Adam(**{k: v for k, v in common.items() if k != "weight_decay"})
    else:
        optimizer = keras.optimizers.SGD(momentum=0.9, nesterov=True, **common)
    if config.weight_decay:
        # The MobileNets paper: "very little or no weight decay (l2 regularization) on the
        # depthwise filters since there are so few parameters in them"; nor on BN's scale/shift.
        optimizer.exclude_from_weight_decay(var_list=[
            v for layer in model.layers
            if isinstance(layer, (keras.layers.DepthwiseConv2D, keras.layers.BatchNormalization))
            for v in layer.trainable_weights])
    model.compile(
        optimizer=optimizer,
        loss=keras.losses.CategoricalCrossentropy(label_smoothing=config.label_smoothing),
        metrics=[keras.metrics.CategoricalAccuracy(name="accuracy")],
    )
    # The optimizer's variables now, not in fit's first trace: a tf.function that creates
    # variables on its first call is traced a second time (TensorFlow's rule), and Keras defers
    # building the optimizer to that trace when no distribution strategy is set. Measured: a tiny
    # run's CPU 5.4 -> 2.6 s, one trace of the training step instead of two.
    optimizer.build(model.trainable_variables)
