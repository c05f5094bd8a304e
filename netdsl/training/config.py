"""Training configuration: a YAML file plus ``section.key=value`` overrides → dataclasses.

Every key is checked: an unknown one is an error with a did-you-mean, and
values must have the type of the field's default (YAML's ``1e-3`` string is
read as a float).  Optimizer keys other than ``name``, ``lr`` and the weight
decay settings are passed to the torch optimizer and checked against it.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional, Sequence

import yaml

from ..errors import UsageError, suggest


@dataclass
class DataConfig:
    kind: str = "synthetic"          # synthetic | fake | folder
    root: Optional[str] = None       # folder: ROOT/train and ROOT/val, one sub-folder per class
    classes: Optional[int] = None    # default: the width of the network's main output
    train_size: int = 2000           # synthetic and fake data
    val_size: int = 500
    batch_size: int = 64
    noise: float = 1.0               # synthetic: noise std; class patterns have amplitude 1
    workers: int = 0


@dataclass
class OptimizerConfig:
    name: str = "sgd"                # sgd adagrad rmsprop adadelta adam nadam adamw
    lr: float = 0.01
    weight_decay: float = 0.0
    decay_norm_and_bias: bool = True  # false: no weight decay on biases and norm scales
    options: dict = field(default_factory=dict)  # momentum, nesterov, betas, alpha, rho, eps...


@dataclass
class ScheduleConfig:
    name: str = "none"               # none step multistep exponential cosine plateau
    step_size: int = 10              # step: epochs between decays
    milestones: list = field(default_factory=list)  # multistep: epochs where lr *= gamma
    gamma: float = 0.1               # step, multistep, exponential
    min_lr: float = 0.0              # cosine: final lr; plateau: lower bound
    factor: float = 0.1              # plateau: lr *= factor after `patience` flat epochs
    patience: int = 2
    warmup_epochs: int = 0           # linear warm-up before the schedule
    warmup_start: float = 0.1        # warm-up starts at lr * warmup_start


@dataclass
class LossConfig:
    label_smoothing: float = 0.0
    output_weights: dict = field(default_factory=dict)  # name → weight; default: the .net's


@dataclass
class ClipConfig:
    norm: Optional[float] = None     # clip the global gradient norm
    value: Optional[float] = None    # clip every gradient element to ±value


@dataclass
class TransferConfig:
    init_from: Optional[str] = None  # a .pth state_dict / checkpoint, or torchvision:NAME
    weights: Optional[str] = "DEFAULT"  # torchvision weights to ask for; null: random init
    skip_mismatched: bool = True     # load what fits (a new head), report the rest
    freeze: list = field(default_factory=list)  # module-path prefixes: layer1, features.0


@dataclass
class TrainConfig:
    epochs: int = 5
    seed: int = 0
    device: str = "auto"             # auto | cpu | cuda | cuda:1
    amp: bool = False                # bf16 autocast
    channels_last: bool = False
    threads: Optional[int] = None    # CPU threads for torch (default: torch's choice)
    out: str = "out/train"           # checkpoint.pt and metrics.json go here
    data: DataConfig = field(default_factory=DataConfig)
    optimizer: OptimizerConfig = field(default_factory=OptimizerConfig)
    schedule: ScheduleConfig = field(default_factory=ScheduleConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    clip: ClipConfig = field(default_factory=ClipConfig)
    transfer: TransferConfig = field(default_factory=TransferConfig)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def choice_hint(value: str, choices) -> str:
    """A did-you-mean for a misspelt choice, else the list of choices."""
    guess = suggest(value, choices)
    return f"did you mean '{guess}'?" if guess else f"choose from {', '.join(choices)}"


def load_config(path: Optional[str | Path] = None, overrides: Sequence[str] = ()) -> TrainConfig:
    """Read a YAML file (optional), apply ``a.b=value`` overrides, validate."""
    raw: dict = {}
    if path is not None:
        try:
            raw = yaml.safe_load(Path(path).read_text()) or {}
        except (OSError, yaml.YAMLError) as err:
            raise UsageError(f"cannot read training config {path}: {err}") from None
        if not isinstance(raw, dict):
            raise UsageError(f"{path}: a training config is a mapping of keys to values")
    for item in overrides:
        apply_override(raw, item)
    return from_dict(TrainConfig, raw, "")


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
    """Build dataclass ``cls`` from a mapping, checking names and types."""
    if not isinstance(raw, dict):
        raise UsageError(f"{where or 'config'} must be a mapping, got {raw!r}")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    values, extra = {}, {}
    for key, value in raw.items():
        if key not in fields or key == "options":
            extra[key] = value
            continue
        default = _default(fields[key])
        if dataclasses.is_dataclass(default):
            values[key] = from_dict(type(default), value or {}, f"{where}{key}.")
        else:
            values[key] = _coerce(value, _example(fields[key], default), f"{where}{key}")
    if extra and cls is OptimizerConfig:
        values["options"] = extra
    elif extra:
        key = next(iter(extra))
        guess = suggest(key, fields)
        raise UsageError(f"unknown training setting '{where}{key}'",
                         hint=f"did you mean '{where}{guess}'?" if guess else None)
    return cls(**values)


def _default(f: dataclasses.Field) -> Any:
    return f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default


def _example(f: dataclasses.Field, default: Any) -> Any:
    """A value of the field's type (optional fields default to None)."""
    if default is not None:
        return default
    return {"Optional[float]": 0.0, "Optional[int]": 0, "Optional[str]": ""}.get(str(f.type))


def _coerce(value: Any, default: Any, key: str) -> Any:
    """Check ``value`` against the type of ``default``; ints and numeric strings become floats."""
    if value is None or default is None:
        return value
    if isinstance(default, bool) or not isinstance(default, float):
        if isinstance(value, type(default)) and isinstance(value, bool) == isinstance(default, bool):
            return value
    elif isinstance(value, (int, float, str)) and not isinstance(value, bool):
        try:
            return float(value)
        except ValueError:
            pass
    raise UsageError(f"training setting '{key}' must be {type(default).__name__}, got {value!r}")
