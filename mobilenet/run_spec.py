"""A training run's description, ``RunSpec``: what the CLI's ``train`` and the app's Start ask for.

One frozen value, built once at the entry point (``python -m mobilenet train`` from its flags,
the app's Train tab from its controls) and handed on unchanged: through ``classroom.runs``, across
the training worker's pipe (``mobilenet.worker``), to ``mobilenet.train.train``
(``train(spec.config(), **spec.train_options(), ...)``). It names a recipe and what differs from
it, not a whole ``TrainConfig``, so a run's record says what it was ("quick, α 0.5") and the
recipe stays the one place that says what the classroom run is.

Plain Python (no TensorFlow): the CLI's ``--help`` and the app's server load it freely.
"""

import dataclasses

from mobilenet.config import TrainConfig
from mobilenet.recipes import RECIPES, WEIGHTS_DTYPE, recipe

CONFIG_FIELDS = tuple(field.name for field in dataclasses.fields(TrainConfig))
WEIGHTS_DTYPES = ("float32", "float16")


@dataclasses.dataclass(frozen=True)
class RunSpec:
    """One training run, as asked for.

    Args:
        recipe: a name of ``mobilenet.recipes.RECIPES``. Default "classroom".
        overrides: ``TrainConfig`` fields whose values replace the recipe's (the seed among
            them). Default none.
        devices: local devices to train on, data parallel (``mobilenet.distribute``); None: one.
        weights_dtype: how the checkpoint stores its weights, "float32" or "float16"; None: as
            the recipe's shipped checkpoint (``mobilenet.recipes.WEIGHTS_DTYPE``), else float32.
        state_dir: folder of the resumable state (resumed from when it holds this run's); None:
            none kept.

    Raises:
        ValueError: an unknown recipe or field, or a bad ``devices`` or ``weights_dtype`` (the
            overrides' values are checked by ``config()``).
    """

    recipe: str = "classroom"
    overrides: dict = dataclasses.field(default_factory=dict)
    devices: int | None = None
    weights_dtype: str | None = None
    state_dir: str | None = None

    def __post_init__(self):
        if self.recipe not in RECIPES:
            raise ValueError(f"`recipe` must be one of {tuple(RECIPES)}. Received: recipe={self.recipe!r}")
        unknown = sorted(set(self.overrides) - set(CONFIG_FIELDS))
        if unknown:
            raise ValueError(f"`overrides` must name TrainConfig fields. Received: {unknown}")
        if self.devices is not None and (isinstance(self.devices, bool) or not isinstance(self.devices, int)
                                         or self.devices < 1):
            raise ValueError(f"`devices` must be None or 1 or more. Received: devices={self.devices!r}")
        if self.weights_dtype not in (None, *WEIGHTS_DTYPES):
            raise ValueError(f"`weights_dtype` must be None or one of {WEIGHTS_DTYPES}. "
                             f"Received: weights_dtype={self.weights_dtype!r}")
        object.__setattr__(self, "overrides", dict(self.overrides))  # the caller's dict stays theirs

    @classmethod
    def of(cls, config, recipe="classroom", **rest):
        """The spec that trains ``config`` (a ``TrainConfig``) as ``recipe`` with the fields that
        differ from it; ``rest``: the other fields (``devices``, ...)."""
        return cls(recipe, **rest).with_config(config)

    def config(self):
        """The run's validated ``TrainConfig`` (``ValueError`` quotes a bad value)."""
        return recipe(self.recipe, **self.overrides)

    def with_config(self, config):
        """This spec, training ``config`` instead (its recipe and the rest kept)."""
        return dataclasses.replace(self, overrides=_differences(config, RECIPES[self.recipe]))

    def train_options(self):
        """``mobilenet.train.train``'s keyword arguments besides the config."""
        return {"devices": self.devices, "state_dir": self.state_dir,
                "weights_dtype": self.weights_dtype or WEIGHTS_DTYPE.get(self.recipe, "float32")}

    def record(self):
        """What was run, as plain JSON-ready data (a run's snapshot, its checkpoint's JSON);
        where its state was kept is the server's business, not the record's."""
        return {"recipe": self.recipe, "overrides": dict(self.overrides), "devices": self.devices,
                "weights_dtype": self.train_options()["weights_dtype"]}


def _differences(config, base):
    return {name: getattr(config, name) for name in CONFIG_FIELDS if getattr(config, name) != getattr(base, name)}
