"""The app's settings: one frozen ``Settings``, built once by the entry point and handed down.

``app.py`` builds it with ``Settings.from_environ`` (from the process's environment, every
value parsed and checked before anything starts) and passes it to ``demo.ui.build_demo``,
which hands each part of the server what it needs: the runs, the worker pools, the queue's
caps, the upload guard, the teacher's key, the connection caps, the export folder. Nothing below
the entry points reads the environment (``mobilenet.runtime`` alone reads what TensorFlow and
Keras must see before they load). Tests build ``Settings(...)`` directly.

Each field is one environment variable (``variable(name)``), documented in the README's table of
settings (``tests/test_readme.py`` checks both ways). An empty variable counts as unset; 0 is a
value like any other where it means something (``MOBILENET_KEEP_RUNS=0``: keep no run).
"""

import dataclasses
import math
import os

import mobilenet

TRUE, FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off")
# Documented in the README's table beside the fields, but read by a library itself: Gradio
# (where it listens, its upload folder) and mobilenet.runtime (TensorFlow's threads, before
# TensorFlow starts).
READ_BY_LIBRARIES = ("GRADIO_SERVER_NAME", "GRADIO_SERVER_PORT", "GRADIO_TEMP_DIR", "CPU_CORES")
SPACE_VARIABLE = "SPACE_ID"  # set by Hugging Face Spaces, whose proxy says who each client is


def _field(variable, default, minimum=None, above=False):
    """A setting read from ``variable``; numbers at least ``minimum`` (above it when ``above``)."""
    return dataclasses.field(default=default, metadata={"variable": variable, "minimum": minimum, "above": above})


@dataclasses.dataclass(frozen=True)
class Settings:
    """Everything the app's server is configured with (the README's table of settings).

    Folders and the data are paths (``None``: the default the README names); numbers are checked
    when built: a ``ValueError`` names the variable and the value.
    """

    # A CIFAR-10 archive or folder; None: Keras' or the Hub's cache, else a download
    cifar10: str | None = _field("MOBILENET_CIFAR10", None)
    # The teacher link's key; None: a new random key at each start
    teacher_key: str | None = _field("MOBILENET_TEACHER_KEY", None)
    # The longest run accepted (estimated before it starts; an overrun is stopped and saved)
    max_run_minutes: float = _field("MOBILENET_MAX_RUN_MINUTES", 10, 0, above=True)
    checkpoint_dir: str = _field("MOBILENET_CHECKPOINT_DIR", mobilenet.CHECKPOINT_DIR)  # shipped checkpoints
    runs_dir: str = _field("MOBILENET_RUNS_DIR", mobilenet.RUNS_DIR)  # runs trained in the app
    keep_runs: int = _field("MOBILENET_KEEP_RUNS", 5, 0)  # run checkpoints kept, oldest removed (0: none)
    # Runs that may wait for their turn while one trains (0: no queue: Start is refused while a
    # run trains): one per browser tab, so a class of 30 each queuing one fits
    queue_length: int = _field("MOBILENET_QUEUE_LENGTH", 40, 0)
    # ... and their estimated minutes in all (a class of 30 quick runs is about 15)
    queue_minutes: float = _field("MOBILENET_QUEUE_MINUTES", 60, 0, above=True)
    # Devices each run trains on, data parallel (GPUs, else logical CPU devices: mobilenet.distribute)
    train_devices: int = _field("MOBILENET_TRAIN_DEVICES", 1, 1)
    # Keep the next run's worker loaded and its model traced (about 1 GB) so that Start trains at
    # once; off on a machine short of memory: each Start then loads one (about 10 s on 2 cores)
    standby: bool = _field("MOBILENET_STANDBY", True)
    # The Mobile tab's exported files; None: a folder in the system temp directory
    export_dir: str | None = _field("MOBILENET_EXPORT_DIR", None)
    # Requests waiting or running per browser tab: a page opening fires about 5 events at once;
    # a student clicking fast, a few more
    max_waiting_per_session: int = _field("MOBILENET_MAX_WAITING_PER_SESSION", 8, 1)
    # ... and per address: a classroom on one address (school NAT) shares this
    max_waiting_per_address: int = _field("MOBILENET_MAX_WAITING_PER_ADDRESS", 64, 1)
    # An open page holds a few connections (its event stream, polling, files): 200 per address
    # lets a class of 30 behind one school router open two tabs each
    max_connections_per_address: int = _field("MOBILENET_MAX_CONNECTIONS_PER_ADDRESS", 200, 1)
    # Uploads per address per minute, in number and in megabytes (a phone photo is 2-10 MB)
    uploads_per_minute: int = _field("MOBILENET_UPLOADS_PER_MINUTE", 30, 1)
    upload_mb_per_minute: float = _field("MOBILENET_UPLOAD_MB_PER_MINUTE", 200, 0, above=True)
    # The upload folder's total on disk, oldest files removed first
    upload_budget_mb: float = _field("MOBILENET_UPLOAD_BUDGET_MB", 500, 0)
    # Behind a proxy that appends the client to X-Forwarded-For (on by itself on Spaces)
    trusted_proxy: bool = _field("MOBILENET_TRUSTED_PROXY", False)
    ssr: bool = _field("MOBILENET_SSR", False)  # Gradio's server-side rendering (Node)

    def __post_init__(self):
        for field in dataclasses.fields(self):
            _check(field, getattr(self, field.name))

    @classmethod
    def from_environ(cls, environ, **overrides):
        """The settings of ``environ`` (a mapping: the process's environment, at the entry point); ``overrides``
        (field values) win over it. Every variable is parsed and checked here.

        Raises:
            ValueError: a variable's value is not one its setting takes (the message names both).
        """
        values = {}
        for field in dataclasses.fields(cls):
            raw = (environ.get(field.metadata["variable"]) or "").strip()
            if field.name not in overrides and raw:
                values[field.name] = _parse(field, raw)
        if "trusted_proxy" not in values and environ.get(SPACE_VARIABLE):
            values["trusted_proxy"] = True
        return cls(**{**values, **overrides})

    @property
    def upload_budget_bytes(self):
        return int(self.upload_budget_mb * 1_000_000)

    @property
    def connections_per_address(self):
        """The cap on open connections per address; None behind a trusted proxy, where every
        connection comes from the proxy."""
        return None if self.trusted_proxy else self.max_connections_per_address


def variable(name):
    """The environment variable of the field ``name``."""
    return next(f.metadata["variable"] for f in dataclasses.fields(Settings) if f.name == name)


def variables():
    """Every field's environment variable, in the fields' order."""
    return [field.metadata["variable"] for field in dataclasses.fields(Settings)]


def _kind(field):
    return field.type if isinstance(field.type, type) else str  # "str | None" -> str


def _parse(field, raw):
    """The value of the variable's text ``raw``, checked; a ``ValueError`` says what it expected."""
    kind = _kind(field)
    try:
        if kind is bool:
            if raw.lower() not in TRUE + FALSE:
                raise ValueError(raw)
            return raw.lower() in TRUE
        value = raw if kind is str else int(raw) if kind is int and raw.isdigit() else float(raw)
        _check(field, value)
        return value
    except ValueError:
        raise ValueError(f"{field.metadata['variable']}={raw!r}: expected {_expected(field)}") from None


def _expected(field):
    kind = _kind(field)
    if kind is bool:
        return "1 or 0 (also true/false, yes/no, on/off)"
    return f"a {'whole ' if kind is int else ''}number, {_range(field)}"


def _check(field, value):
    kind, name, minimum = _kind(field), field.name, field.metadata["minimum"]
    received = f"{field.metadata['variable']}: received {name}={value!r}"
    if value is None and field.default is None:
        return
    if kind is bool:
        if not isinstance(value, bool):
            raise ValueError(f"{name} must be True or False ({received})")
        return
    if kind in (int, float):
        number = (int,) if kind is int else (int, float)
        if isinstance(value, bool) or not isinstance(value, number) or not math.isfinite(value) \
                or value < minimum or (field.metadata["above"] and value == minimum):
            raise ValueError(f"{name} must be {_expected(field)} ({received})")
        return
    if not isinstance(value, (str, os.PathLike)):
        raise ValueError(f"{name} must be a string ({received})")


def _range(field):
    minimum = field.metadata["minimum"]
    return f"more than {minimum}" if field.metadata["above"] else f"{minimum} or more"


DEFAULTS = Settings()  # the modules below take their own defaults from here
