"""Initial weights for transfer learning: a local .pth file or a torchvision model.

netdsl module paths follow torchvision's, so ``torchvision:resnet18`` loads
into ``architectures/resnet18.net`` key for key.  With ``skip_mismatched``
(the default) tensors whose shape differs — a new classifier head — keep
their fresh initialisation and are reported.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import torch
from torch import nn

from ..errors import UsageError
from .config import TransferConfig


@dataclass
class LoadReport:
    source: str
    loaded: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)   # in the file, not used (absent or other shape)
    missing: list[str] = field(default_factory=list)   # in the model, left as initialised

    def summary(self) -> str:
        text = f"loaded {len(self.loaded)} tensors from {self.source}"
        if self.skipped:
            text += f"; skipped {len(self.skipped)} ({', '.join(self.skipped[:4])})"
        if self.missing:
            text += f"; {len(self.missing)} kept fresh ({', '.join(self.missing[:4])})"
        return text


def source_state_dict(spec: str, weights: Optional[str] = "DEFAULT") -> dict[str, torch.Tensor]:
    """The state_dict named by ``spec``: ``torchvision:NAME`` or a path to .pth/.pt."""
    if spec.startswith("torchvision:"):
        return _torchvision_state(spec.partition(":")[2], weights)
    path = Path(spec)
    if not path.is_file():
        raise UsageError(f"transfer.init_from: no file {spec}",
                         hint="give a .pth state_dict, a netdsl checkpoint, or torchvision:NAME")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # a non-torch or corrupt file: torch raises pickle's, zipfile's, its own
        raise UsageError(f"transfer.init_from: cannot read {spec}: {type(err).__name__}",
                         hint="give a .pth state_dict saved by torch.save, or a netdsl checkpoint") from None
    if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
        state = state["state_dict"]  # a netdsl (or Lightning-style) checkpoint
    if not isinstance(state, dict):
        raise UsageError(f"{spec} does not hold a state_dict")
    return state


def _torchvision_state(name: str, weights: Optional[str]) -> dict[str, torch.Tensor]:
    import torchvision
    try:
        builder = torchvision.models.get_model_builder(name)
    except ValueError:
        raise UsageError(f"torchvision has no model '{name}'",
                         hint="see torchvision.models.list_models()") from None
    try:
        return builder(weights=weights).state_dict()
    except (OSError, RuntimeError) as err:  # downloads fail without a network
        raise UsageError(f"cannot get torchvision weights {name}/{weights}: {err}",
                         hint="download them once, or use a local .pth file, or "
                              "transfer.weights: null for random initial weights") from None


def load_initial_weights(model: nn.Module, config: TransferConfig) -> LoadReport:
    """Copy ``config.init_from`` into ``model``; strict unless ``skip_mismatched``."""
    state = source_state_dict(config.init_from, config.weights)
    own = model.state_dict()
    fits = {k: v for k, v in state.items() if k in own and own[k].shape == v.shape}
    report = LoadReport(config.init_from, sorted(fits), sorted(set(state) - set(fits)),
                        sorted(set(own) - set(fits)))
    if not config.skip_mismatched and (report.skipped or report.missing):
        raise UsageError(f"{config.init_from} does not fit the network: "
                         f"{len(report.skipped)} unused and {len(report.missing)} missing tensors "
                         f"(first: {(report.skipped + report.missing)[0]})",
                         hint="set transfer.skip_mismatched: true to load what fits")
    model.load_state_dict(fits, strict=False)
    return report
