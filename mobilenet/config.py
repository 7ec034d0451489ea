"""The settings of one training run, ``TrainConfig``, and the names its fields choose from.

Plain Python (no NumPy, Keras or TensorFlow): the command line builds its flags and its
``--help`` from these fields without loading TensorFlow, and ``mobilenet.recipes`` names
configs the same way. ``mobilenet.train`` runs them.
"""

from dataclasses import dataclass

VARIANTS = ("paper", "cifar")   # mobilenet.model builds both
DEPTHS = ("full", "shallow")
OPTIMIZERS = ("adam", "sgd")
SCHEDULES = ("constant", "cosine")
TTA_VIEWS = ("mirror", "mirror_shift")  # mobilenet.tta.KINDS (this module loads no NumPy)


def validate_model_args(classes=10, input_shape=(32, 32, 3), alpha=1.0, dropout=1e-3, variant="paper",
                        bn_momentum=0.99, depth="full"):
    """Raises ValueError quoting the first of ``mobilenet.model.build_mobilenet``'s arguments
    that it cannot build (here, without Keras: the CLI checks them before TensorFlow starts)."""
    if variant not in VARIANTS:
        raise ValueError(f"`variant` must be one of {VARIANTS}. Received: variant={variant!r}")
    if depth not in DEPTHS:
        raise ValueError(f"`depth` must be one of {DEPTHS}. Received: depth={depth!r}")
    if not isinstance(classes, int) or isinstance(classes, bool) or classes < 2:
        raise ValueError(f"`classes` must be an integer >= 2. Received: classes={classes!r}")
    shape_ok = (isinstance(input_shape, (tuple, list)) and len(input_shape) == 3
                and all(isinstance(d, int) and not isinstance(d, bool) for d in input_shape))
    if not shape_ok or input_shape[0] < 32 or input_shape[1] < 32 or input_shape[2] < 1:
        raise ValueError("`input_shape` must be (height, width, channels) with height and "
                         f"width >= 32 and channels >= 1. Received: input_shape={input_shape!r}")
    if not isinstance(alpha, (int, float)) or isinstance(alpha, bool) or not 1 / 32 <= alpha <= 4:
        raise ValueError("`alpha` must be a number between 1/32 and 4 (the paper uses "
                         f"0.25, 0.5, 0.75, 1.0). Received: alpha={alpha!r}")
    if not isinstance(dropout, (int, float)) or not 0 <= dropout < 1:
        raise ValueError(f"`dropout` must be in [0, 1). Received: dropout={dropout!r}")
    if not isinstance(bn_momentum, (int, float)) or not 0 < bn_momentum < 1:
        raise ValueError(f"`bn_momentum` must be in (0, 1). Received: bn_momentum={bn_momentum!r}")


@dataclass
class TrainConfig:
    """Settings of one run. The defaults are the library's: today the same values as the
    app's classroom run, which ``mobilenet.recipes`` spells out on its own (``RECIPES
    ["classroom"]``), so that changing a default here changes no recipe. That run: about a
    minute on 2 CPU cores with oneDNN on, about 66 % test accuracy from scratch as the app
    answers (chance: 10 %; BENCHMARKS.md, docs/NOTEBOOK.md). Narrow but high-resolution beats
    wide and coarse here: the cifar variant at α 0.25 keeps 32x32 maps in its first blocks at
    about the cost per image of the paper variant at α 1, and learns much more per picture
    seen. Every training picture once more (49,000 instead of 40,000), label smoothing and flip
    TTA gave the last 6 points (scripts/recipe_search.py)."""

    variant: str = "cifar"          # "paper" (tutorial strides) or "cifar" (stem stride 1)
    alpha: float = 0.25             # width multiplier
    depth: str = "shallow"          # "full" (13 blocks) or the paper's "shallow" (8 blocks)
    epochs: int = 2                 # passes over the training images
    batch_size: int = 128           # the tutorial's 10 is ~10x slower per image
    learning_rate: float = 3e-2     # peak learning rate
    schedule: str = "cosine"        # "constant" or "cosine" decay after linear warmup
    warmup_epochs: float = 0.1      # linear warmup from 0 (ignored by the constant schedule)
    optimizer: str = "adam"         # "adam" (as the tutorial) or "sgd" (Nesterov, momentum 0.9)
    weight_decay: float = 0.0       # decoupled weight decay (AdamW / SGDW style)
    train_size: int | None = None   # stratified subset of training images; None = all
    validation_size: int = 1000     # held out from the training set, never trained on
    augmentation: bool = False      # random crop (4-px padding) + horizontal flip; helps long runs
    flip: bool = False              # without augmentation: mirror half the pictures, the other half
                                    # the next epoch (airbench's alternating flip)
    cutout: int = 0                 # side of a random grey square painted over (0: off)
    cutmix: float = 0.0             # share of batches mixed by CutMix (0: off; mobilenet.batches.cutmix)
    label_smoothing: float = 0.1    # +2 points in the classroom run (5 seeds)
    dropout: float = 1e-3           # before the classifier
    ema: bool = False               # evaluate an exponential moving average of the weights
    ema_momentum: float = 0.999
    bn_momentum: float | None = None  # None: matched to the run length (see module doc)
    bn_recalibration_batches: int = 0  # batches to re-estimate BN statistics at the end (0: off)
    sync_batchnorm: bool = False    # several devices: BN statistics over the global batch (mobilenet.distribute)
    swa_epochs: int = 0             # weight averaging after the schedule (0: off; mobilenet.weight_averaging)
    swa_learning_rate: float | None = None  # constant during averaging; None: learning_rate / 5
    swa_batch_size: int | None = None       # batch size during averaging; None: batch_size
    tta: bool = True                # also measure flip test-time augmentation (the app answers with it where it helps)
    tta_views: str = "mirror"       # what TTA averages: "mirror", or "mirror_shift" (also shifted copies; mobilenet.tta)
    seed: int = 0
    progress_every: int = 5         # emit a "batch" event every this many steps

    def validate(self, available_train_images=None):
        """Raises ValueError quoting the first bad value."""
        def bad(name, rule):
            raise ValueError(f"`{name}` {rule}. Received: {name}={getattr(self, name)!r}")

        if self.variant not in VARIANTS:
            bad("variant", f"must be one of {VARIANTS}")
        if self.depth not in DEPTHS:
            bad("depth", f"must be one of {DEPTHS}")
        if self.optimizer not in OPTIMIZERS:
            bad("optimizer", f"must be one of {OPTIMIZERS}")
        if self.tta_views not in TTA_VIEWS:
            bad("tta_views", f"must be one of {TTA_VIEWS}")
        if self.schedule not in SCHEDULES:
            bad("schedule", f"must be one of {SCHEDULES}")
        if not isinstance(self.cutout, int) or not 0 <= self.cutout <= 32:
            bad("cutout", "must be an integer from 0 (off) to 32")
        if isinstance(self.cutmix, bool) or not isinstance(self.cutmix, (int, float)) or not 0 <= self.cutmix <= 1:
            bad("cutmix", "must be a number from 0 (off) to 1 (every batch)")
        for name in ("epochs", "batch_size", "validation_size", "progress_every"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < (name != "validation_size"):
                bad(name, "must be a positive integer" if name != "validation_size"
                    else "must be an integer >= 0")
        if self.train_size is not None and (not isinstance(self.train_size, int) or self.train_size < 10):
            bad("train_size", "must be an integer >= 10 (one image per class) or None for all")
        if not 0 < self.learning_rate <= 10:
            bad("learning_rate", "must be a number in (0, 10]")
        if not 0 <= self.weight_decay < 1:
            bad("weight_decay", "must be in [0, 1)")
        if not 0 <= self.label_smoothing < 1:
            bad("label_smoothing", "must be in [0, 1)")
        if not 0 <= self.warmup_epochs < self.epochs:
            bad("warmup_epochs", "must be in [0, epochs)")
        if not 0 < self.ema_momentum < 1:
            bad("ema_momentum", "must be in (0, 1)")
        if self.bn_momentum is not None and not 0 < self.bn_momentum < 1:
            bad("bn_momentum", "must be in (0, 1) or None")
        if not isinstance(self.swa_epochs, int) or isinstance(self.swa_epochs, bool) or self.swa_epochs < 0:
            bad("swa_epochs", "must be an integer >= 0 (0: no weight averaging)")
        if self.swa_learning_rate is not None and not 0 < self.swa_learning_rate <= 10:
            bad("swa_learning_rate", "must be a number in (0, 10] or None")
        if self.swa_batch_size is not None and (not isinstance(self.swa_batch_size, int)
                                                or isinstance(self.swa_batch_size, bool)
                                                or self.swa_batch_size < 1):
            bad("swa_batch_size", "must be a positive integer or None")
        if available_train_images is not None:
            pool = available_train_images - self.validation_size
            if pool < 10:
                bad("validation_size", f"leaves {pool} training images of {available_train_images}")
            if self.train_size is not None and self.train_size > pool:
                bad("train_size", f"is larger than the {pool} training images available "
                                  f"({available_train_images} minus {self.validation_size} "
                                  "held out for validation)")
        return self

    def model_config(self, image_shape=(32, 32, 3), classes=None):
        """The ``build_mobilenet`` arguments of this run (``classes``: CIFAR-10's 10 by default)."""
        from mobilenet.data import NUM_CLASSES  # here: the module stays free of NumPy

        classes = NUM_CLASSES if classes is None else classes
        return {"classes": classes, "input_shape": tuple(image_shape), "alpha": self.alpha,
                "dropout": self.dropout, "variant": self.variant, "depth": self.depth}
