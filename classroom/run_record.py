"""A training run as every viewer sees it: its ``Run`` record, where it is (``RunState``,
``Stage``), what Stop did (``StopReply``), why Start was refused (``RunBusy``, ``RunTooLong``,
``NotYourRun``) and why it failed (``failure_reason``).

Everything here is data, never display text: who stopped a run is a visitor's name (or the time
limit), a failure is a small dict. The Train tab (``demo.tabs.train``) words them, in the viewer's
language; ``classroom.runs`` (the server's one run) fills them in.
"""

import dataclasses
import enum
import json
import signal
import time

from mobilenet.checkpoints import atomic_write, checkpoint_paths
from mobilenet.worker import describe_exit


class RunState(enum.StrEnum):
    """Where a run is. A ``str``: snapshots stay JSON, and ``state == "finished"`` holds."""
    STARTING = "starting"  # loading the data and the model
    RUNNING = "running"
    STOPPING = "stopping"  # Stop was pressed (or the time limit passed): it saves, then ends
    STOPPED = "stopped"
    FINISHED = "finished"
    FAILED = "failed"


ACTIVE_STATES = (RunState.STARTING, RunState.RUNNING, RunState.STOPPING)


class Stage(enum.StrEnum):
    """What a run does after its training steps (``mobilenet.train``'s "stage" events); the set
    it evaluates on is ``Run.stage_split``."""
    SWA = "swa"              # weight averaging (``mobilenet.weight_averaging``)
    BATCHNORM = "batchnorm"  # re-estimating the BatchNorm statistics
    EVALUATE = "evaluate"
    SAVE = "save"


class StopOutcome(enum.StrEnum):
    """What a press of Stop did."""
    NO_RUN = "no_run"      # nothing was training
    STOPPING = "stopping"  # the run saves what it learned, then ends
    SAVING = "saving"      # too late: the run is already saving and ends in a moment


@dataclasses.dataclass(frozen=True)
class StopReply:
    outcome: StopOutcome
    started_by: str | None = None  # whose run it was (a visitor's name)


class RunBusy(RuntimeError):
    """Another run is training: ``who`` started it, ``seconds_left`` its ETA (None: just started)."""

    def __init__(self, who, seconds_left):
        super().__init__(who, seconds_left)
        self.who, self.seconds_left = who, seconds_left


class RunTooLong(RuntimeError):
    """The settings would train for about ``estimate_s`` seconds here; a run may take ``limit_s``."""

    def __init__(self, estimate_s, limit_s):
        super().__init__(estimate_s, limit_s)
        self.estimate_s, self.limit_s = estimate_s, limit_s


class NotYourRun(PermissionError):
    """Stop from someone who neither started the run (``who`` did) nor is the teacher."""

    def __init__(self, who):
        super().__init__(who)
        self.who = who


@dataclasses.dataclass
class Run:
    run_id: int
    started_by: str
    config: dict  # the TrainConfig it trains (dataclasses.asdict)
    spec: dict | None = None  # what was asked for: its RunSpec's record (recipe, overrides, devices)
    owner: str | None = None  # the session that started it (None: anyone may stop it); never shown
    started_by_teacher: bool = False
    started_at: float = dataclasses.field(default_factory=time.time)
    state: RunState = RunState.STARTING
    total_steps: int = 0
    steps_per_epoch: int = 0
    train_images: int = 0
    validation_images: int = 0
    history: list = dataclasses.field(default_factory=list)  # "batch", "epoch" and "validation" events
    latest: dict | None = None  # the last "batch"/"epoch" event
    latest_at: float | None = None
    stage: Stage | None = None
    stage_split: str | None = None  # the set a Stage.EVALUATE runs on: "validation", "test", ...
    stopped_by: str | None = None  # the visitor who pressed Stop
    stopped_by_teacher: bool = False
    stopped_by_time_limit: bool = False  # stopped by the server: it ran past max_run_minutes
    checkpoint: str | None = None
    metrics: dict | None = None
    error: dict | None = None  # why it failed, or why a stopped run saved nothing: failure_reason
    finished_at: float | None = None

    def seconds_left(self):
        """ETA of the training steps from the last progress event, or None before it."""
        if not self.latest or self.latest.get("eta_s") is None:
            return None
        return max(0.0, self.latest["eta_s"] - (time.time() - self.latest_at))


def record_trainer(checkpoint, run):
    """Writes who trained ``checkpoint`` into its JSON (``trained_by``: a visitor's name, plain
    text; ``trained_by_teacher``), so the checkpoint list can say whose run each one is, and what
    was asked for (``run_spec``: the recipe and its overrides)."""
    json_path = checkpoint_paths(checkpoint)[1]
    with open(json_path, encoding="utf-8") as f:
        record = json.load(f)
    record.update(trained_by=run.started_by, trained_by_teacher=run.started_by_teacher, run_spec=run.spec)

    def write(path):
        with open(path, "w", encoding="utf-8") as f:
            json.dump(record, f, indent=1, ensure_ascii=False)
    atomic_write(json_path, write)


def public(run):
    """What every viewer may see of ``run``: all but its owner's session id."""
    if run is None:
        return None
    view = dataclasses.asdict(run)
    del view["owner"]
    return view


def failure_reason(error):
    """Why a run failed, as data every viewer may see (no server paths): ``{"reason": ...}``
    with "out_of_memory", "disk_full", "killed" (SIGKILL, most often memory), "exited" (and
    ``how``: ``mobilenet.worker.describe_exit``'s words), "io" (and ``detail``: the system's
    words) or "error" (and ``detail``: the exception's type and message).

    ``error`` is the worker's ``error`` dict (``mobilenet.worker.describe_error``) or its
    ``exited`` dict (the process ended without a result)."""
    if error.get("out_of_memory"):
        return {"reason": "out_of_memory"}
    if error.get("disk_full"):
        return {"reason": "disk_full"}
    if error["event"] == "exited":
        if error["exitcode"] == -signal.SIGKILL:
            return {"reason": "killed"}
        return {"reason": "exited", "exitcode": error["exitcode"], "how": describe_exit(error["exitcode"])}
    if error.get("errno") is not None:
        return {"reason": "io", "detail": error.get("strerror") or error["type"]}
    return {"reason": "error", "detail": f"{error['type']}: {error['message']}"}
