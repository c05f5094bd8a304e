"""The architectures that ship inside netdsl (``netdsl/architectures``).

A bare name (``resnet50``) stands for the zoo's file wherever a .net path is
accepted, so ``netdsl summarize resnet50`` and ``netdsl.load("resnet50")``
work from any folder after ``pip install``; and a user's own file may
``import "lib/resnet.net"`` to reuse the zoo's block libraries.
"""
from __future__ import annotations

from pathlib import Path
from typing import Optional

ROOT = Path(__file__).resolve().parent / "architectures"


def names() -> list[str]:
    """Every network file of the zoo, by name (block libraries under lib/ excluded)."""
    return sorted(p.stem for p in ROOT.glob("*.net"))


def is_name(text: str) -> bool:
    """Whether ``text`` reads as a zoo name rather than a path."""
    return bool(text) and "/" not in text and "\\" not in text and not text.endswith(".net")


def find(text: str) -> Optional[Path]:
    """The zoo file a bare name stands for, or None."""
    if not is_name(text):
        return None
    path = ROOT / f"{text}.net"
    return path if path.is_file() else None


def library(relative: str) -> Optional[Path]:
    """The zoo file an import path names (``lib/resnet.net``), if it is one."""
    target = (ROOT / relative).resolve()
    return target if target.is_relative_to(ROOT) and target.is_file() else None


def twin(path: Path) -> Optional[str]:
    """The torchvision model a zoo file reproduces, from its ``# twin:`` line."""
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.startswith("#"):
            return None
        key, _, value = line[1:].partition(":")
        if key.strip() == "twin":
            return value.strip()
    return None


def entry(name: str) -> dict:
    """One row of ``netdsl list``: the network's figures, computed statically."""
    from .network import load
    from .report.summary import build_summary
    path = ROOT / f"{name}.net"
    summary = build_summary(load(path).analyze())
    field = summary["receptive_field"]
    return {"name": name, "params": summary["totals"]["params"], "macs": summary["totals"]["macs"],
            "input": summary["input_shape"],
            "receptive_field": field["size"] if field else None, "twin": twin(path)}


def create(name: str, *, weights: Optional[str] = None, input_shape=None, **params):
    """A ``torch.nn.Module`` for a zoo network (or any .net path) in one call, timm-style.

    ``params`` override the network's parameters (``num_classes=10``).
    ``weights``: ``"torchvision"`` (the twin's default weights),
    ``"torchvision:IMAGENET1K_V2"`` (a named set) or a path to a .pth
    state_dict or netdsl checkpoint.  Tensors whose shape the overrides
    changed (a new classifier head) keep their fresh initialisation; the
    module's ``weights_report`` says what was loaded and what was not.
    """
    from .network import load
    model = load(name, params=params or None, input_shape=input_shape).to_torch()
    if weights is not None:
        model.weights_report = _load_weights(model, name, weights)
    return model


def _load_weights(model, name: str, weights: str):
    from .errors import UsageError
    from .training.config import TransferConfig
    from .training.weights import load_initial_weights
    source, _, variant = weights.partition(":")
    if source == "torchvision":
        path = find(name) or Path(name)
        reference = twin(path) if path.is_file() else None
        if reference is None:
            raise UsageError(f"'{name}' has no torchvision twin to take weights from",
                             hint="netdsl list shows which networks have one")
        config = TransferConfig(init_from=f"torchvision:{reference.rsplit('.', 1)[-1]}",
                                weights=variant or "DEFAULT")
    else:
        config = TransferConfig(init_from=weights)
    return load_initial_weights(model, config)
