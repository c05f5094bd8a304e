"""Training configuration: a YAML file plus ``section.key=value`` overrides → dataclasses.

Every key is checked before training starts (``load_config`` ends with
``TrainConfig.validate()``): an unknown one is an error with a did-you-mean;
values are coerced to the type of their field (YAML 1.1 reads ``1e-3`` as a
string: numeric strings become floats) and checked against the range each
field declares (``setting(5, ">= 1")``, see ``checks.py``). Optimizer keys
other than ``name``, ``lr``, ``weight_decay`` and ``decay_norm_and_bias`` are
passed to the torch optimizer and checked against its signature.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional, Sequence

import yaml

from ..errors import UsageError, suggest
from .checks import check_device, check_settings, choice_hint, setting

#: config name → torch.optim class name
OPTIMIZERS = {"sgd": "SGD", "adagrad": "Adagrad", "rmsprop": "RMSprop", "adadelta": "Adadelta",
              "adam": "Adam", "nadam": "NAdam", "adamw": "AdamW"}
SCHEDULES = ("none", "step", "multistep", "exponential", "cosine", "onecycle", "plateau")
#: what early stopping can watch: losses should fall, accuracies rise
EARLY_STOP_METRICS = ("val_loss", "val_accuracy", "val_top5", "train_loss", "train_accuracy",
                      "train_top5")  # EpochMetrics fields
AMP = ("bf16", "fp16")
DATA_KINDS = ("synthetic", "fake", "digits", "mnist", "fashion-mnist", "cifar10", "cifar100",
              "folder")


@dataclass
class DataConfig:
    kind: str = setting("synthetic", choices=DATA_KINDS)
    root: Optional[str] = None       # folder: ROOT/{train,val,test}/CLASS/* or ROOT/CLASS/*;
    #                                  torchvision sets: where their files are (default ./data)
    download: bool = False           # torchvision sets: fetch them into root when missing
    classes: Optional[int] = setting(None, ">= 2")  # default: the width of the main output
    train_size: int = setting(2000, ">= 1")  # synthetic and fake data
    val_size: int = setting(500, ">= 1")
    test_size: int = setting(500, ">= 1")
    val_fraction: float = setting(0.15, "(0, 1)")  # digits, folders: fixed split shares
    test_fraction: float = setting(0.15, "(0, 1)")
    batch_size: int = setting(32, ">= 1")
    noise: float = setting(1.0, ">= 0")  # synthetic: noise std; class patterns have amplitude 1
    workers: int = setting(0, ">= 0")
    normalize: str = setting("auto", choices=("auto", "train", "weights", "none"))
    crop_padding: int = setting(0, ">= 0")  # augmentation: random crop after padding (0: off)
    flip: bool = False               # augmentation: random horizontal flip
    resized_crop: float = setting(0.0, "[0, 1]")  # augmentation: RandomResizedCrop min scale


@dataclass
class OptimizerConfig:
    name: str = setting("adam", choices=tuple(OPTIMIZERS))
    lr: Optional[float] = setting(None, "> 0")  # None: torch's default for the optimizer
    weight_decay: Optional[float] = setting(None, ">= 0")  # None: torch's (AdamW 0.01, else 0)
    decay_norm_and_bias: bool = True  # false: no weight decay on biases and norm scales
    options: dict = field(default_factory=dict)  # momentum, nesterov, betas, alpha, rho, eps...


@dataclass
class ScheduleConfig:
    name: str = setting("none", choices=SCHEDULES)
    interval: str = setting("epoch", choices=("epoch", "step"))  # step: after every batch
    step_size: int = setting(10, ">= 1")  # step: epochs between decays
    milestones: list = setting(factory=list, item=int, item_bounds=">= 1")  # multistep: epochs
    gamma: float = setting(0.1, "> 0")  # step, multistep, exponential: lr *= gamma
    min_lr: float = setting(0.0, ">= 0")  # cosine: final lr; plateau: lower bound
    factor: float = setting(0.1, "(0, 1)")  # plateau: lr *= factor after `patience` flat epochs
    patience: int = setting(2, ">= 0")
    warmup_epochs: int = setting(0, ">= 0")  # linear warm-up
    warmup_steps: int = setting(0, ">= 0")  # interval step: warm-up length in batches instead
    warmup_start: float = setting(0.1, "(0, 1]")  # warm-up starts at lr * warmup_start
    pct_start: float = setting(0.3, "(0, 1)")  # onecycle: share of the steps spent rising
    cycle_momentum: bool = False     # onecycle: cycle momentum / beta1 inversely to the lr


@dataclass
class LossConfig:
    label_smoothing: float = setting(0.0, "[0, 1)")
    output_weights: dict = setting(factory=dict, item=float, item_bounds=">= 0")  # name → weight


@dataclass
class ClipConfig:
    norm: Optional[float] = setting(None, "> 0")  # clip the global gradient norm
    value: Optional[float] = setting(None, "> 0")  # clip every gradient element to ±value


@dataclass
class EarlyStopConfig:
    patience: Optional[int] = setting(None, ">= 1")  # None: off; stop after this many flat epochs
    min_delta: float = setting(0.0, ">= 0")  # smaller improvements do not count
    metric: str = setting("val_loss", choices=EARLY_STOP_METRICS)


@dataclass
class TransferConfig:
    init_from: Optional[str] = None  # a .pth state_dict / checkpoint, or torchvision:NAME
    weights: Optional[str] = "DEFAULT"  # torchvision weights to ask for; null: random init
    skip_mismatched: bool = True     # load what fits (a new head), report the rest
    freeze: list = setting(factory=list, item=str)  # module-path prefixes: layer1, features.0


@dataclass
class TrainConfig:
    epochs: int = setting(5, ">= 1")
    seed: int = setting(0, ">= 0")
    device: str = "auto"             # auto | cpu | cuda | cuda:1 | mps
    amp: Optional[str] = setting(None, choices=AMP)  # autocast; true means bf16
    channels_last: bool = False
    compile: bool = False            # torch.compile the model (checkpoints keep plain keys)
    sync_bn: bool = False            # torchrun: SyncBatchNorm (statistics of the global batch)
    threads: Optional[int] = setting(None, ">= 1")  # CPU threads for torch (default: torch's)
    out: str = "out/train"           # last.pt, best.pt, metrics.csv/json, curves.png go here
    resume: Optional[str] = None     # a run's folder (or a checkpoint in it) to continue
    progress: bool = True            # a progress bar per epoch when stdout is a terminal
    tensorboard: bool = False        # also log to OUT/tb (needs the tensorboard package)
    data: DataConfig = field(default_factory=DataConfig)
    optimizer: OptimizerConfig = field(default_factory=OptimizerConfig)
    schedule: ScheduleConfig = field(default_factory=ScheduleConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    clip: ClipConfig = field(default_factory=ClipConfig)
    early_stop: EarlyStopConfig = field(default_factory=EarlyStopConfig)
    transfer: TransferConfig = field(default_factory=TransferConfig)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def validate(self) -> "TrainConfig":
        """Coerce and check every setting, in place (idempotent): a UsageError naming the key.

        Fills in the optimizer's learning rate and weight decay from torch's defaults."""
        if isinstance(self.amp, bool):  # `amp: true` (and --amp) before fp16 existed
            self.amp = "bf16" if self.amp else None
        check_settings(self)
        check_device(self.device)
        from .optimizers import check_optimizer
        from .schedules import check_schedule
        check_optimizer(self.optimizer)
        check_schedule(self.schedule, self.epochs)
        return self


def read_config_file(path: str | Path) -> dict:
    """A YAML training config as a mapping (a usage error for anything else)."""
    try:
        raw = yaml.safe_load(Path(path).read_text()) or {}
    except (OSError, yaml.YAMLError) as err:
        raise UsageError(f"cannot read training config {path}: {err}") from None
    if not isinstance(raw, dict):
        raise UsageError(f"{path}: a training config is a mapping of keys to values")
    return raw


def load_config(path: Optional[str | Path] = None, overrides: Sequence[str] = ()) -> TrainConfig:
    """Read a YAML file (optional), apply ``a.b=value`` overrides, validate."""
    raw = read_config_file(path) if path is not None else {}
    for item in overrides:
        apply_override(raw, item)
    return from_dict(TrainConfig, raw, "").validate()


def apply_override(raw: dict, item: str) -> None:
    """``optimizer.momentum=0.9`` → raw["optimizer"]["momentum"] = 0.9 (value read as YAML)."""
    key, sep, text = item.partition("=")
    if not sep or not key.strip():
        raise UsageError(f"an override needs KEY=VALUE, got {item!r}")
    *sections, last = key.strip().split(".")
    target = raw
    for section in sections:
        target = target.setdefault(section, {})
        if not isinstance(target, dict):
            raise UsageError(f"{key}: '{section}' is not a section")
    target[last] = yaml.safe_load(text) if text.strip() else None


def from_dict(cls, raw: dict, where: str):
    """Build dataclass ``cls`` from a mapping, checking names (values: ``validate``)."""
    if not isinstance(raw, dict):
        raise UsageError(f"training setting '{where.rstrip('.') or 'config'}' is a section: "
                         f"a mapping of keys to values, got {raw!r}")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    values, extra = {}, {}
    for key, value in raw.items():
        if key not in fields or key == "options":
            extra[key] = value
            continue
        default = _default(fields[key])
        if dataclasses.is_dataclass(default):
            values[key] = from_dict(type(default), {} if value is None else value, f"{where}{key}.")
        else:
            values[key] = value
    if extra and cls is OptimizerConfig:
        values["options"] = extra
    elif extra:
        key = str(next(iter(extra)))
        guess = suggest(key, fields)
        raise UsageError(f"unknown training setting '{where}{key}'",
                         hint=f"did you mean '{where}{guess}'?" if guess
                         else f"{where.rstrip('.') or 'the config'} has {', '.join(fields)}")
    return cls(**values)


def _default(f: dataclasses.Field) -> Any:
    return f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default
