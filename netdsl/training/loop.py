"""The training loop: classification with weighted outputs, clipping, AMP, checkpoints.

A network's outputs all train against the same labels, each weighted by its
``output name(weight=...)`` (the main output weighs 1; ``loss.output_weights``
overrides).  Auxiliary outputs count only in training: evaluation and
accuracy use the main (first) output.
"""
from __future__ import annotations

import json
import time
from contextlib import nullcontext
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable, Optional

import torch
from torch import nn

from ..errors import UsageError
from .config import TrainConfig
from .data import make_loaders
from .optimizers import build_optimizer, freeze, param_groups
from .schedules import Schedule
from .weights import load_initial_weights

Log = Callable[[str], None]


@dataclass
class EpochMetrics:
    epoch: int
    train_loss: float
    train_accuracy: float
    val_loss: float
    val_accuracy: float
    lr: float
    seconds: float

    def line(self, epochs: int) -> str:
        return (f"epoch {self.epoch:>{len(str(epochs))}}/{epochs}  "
                f"train loss {self.train_loss:.4f} acc {self.train_accuracy:6.1%}  "
                f"val loss {self.val_loss:.4f} acc {self.val_accuracy:6.1%}  "
                f"lr {self.lr:.3g}  {self.seconds:.1f}s")


def pick_device(name: str) -> torch.device:
    """``auto`` → cuda when available, else cpu."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise UsageError(f"unknown device '{name}'", hint="auto, cpu, cuda or cuda:N") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise UsageError("device cuda asked for, but torch sees no CUDA GPU", hint="use --device auto")
    return device


def output_weights(network, overrides: dict) -> list[float]:
    """Loss weight of each network output, in output order."""
    names = [o["name"] for o in network.outputs]
    for name in overrides:
        if name not in names:
            raise UsageError(f"loss.output_weights: the network has no output '{name}'",
                             hint=f"outputs: {', '.join(names)}")
    return [float(overrides.get(o["name"], o["weight"])) for o in network.outputs]


class Trainer:
    """A model, its optimizer, schedule and loss, on one device."""

    def __init__(self, network, config: TrainConfig, log: Optional[Log] = None):
        self.network, self.config, self.log = network, config, log or (lambda _: None)
        torch.manual_seed(config.seed)
        if config.threads:
            torch.set_num_threads(config.threads)
        self.device = pick_device(config.device)
        self.model = network.to_torch(device=self.device)  # sized against the device first
        if config.transfer.init_from:
            self.log(load_initial_weights(self.model, config.transfer).summary())
        freeze(self.model, config.transfer.freeze)
        self.memory_format = torch.channels_last if config.channels_last and \
            len(network.input_shape) == 3 else torch.contiguous_format
        self.model.to(self.device, memory_format=self.memory_format)
        self.groups = param_groups(self.model, network, config.optimizer)
        self.optimizer = build_optimizer(self.groups, config.optimizer)
        self.schedule = Schedule(self.optimizer, config.schedule, config.epochs)
        self.criterion = nn.CrossEntropyLoss(label_smoothing=config.loss.label_smoothing)
        self.weights = output_weights(network, config.loss.output_weights)

    def _autocast(self):
        if not self.config.amp:
            return nullcontext()
        return torch.autocast(self.device.type, dtype=torch.bfloat16)

    def _to_device(self, x: torch.Tensor, y: torch.Tensor):
        x = x.to(self.device, non_blocking=True)
        if x.dim() == 4:
            x = x.contiguous(memory_format=self.memory_format)
        return x, y.to(self.device, non_blocking=True)

    def loss(self, outputs, y: torch.Tensor) -> torch.Tensor:
        """Σ weight × criterion(output, y) over outputs with a non-zero weight."""
        outputs = outputs if isinstance(outputs, tuple) else (outputs,)
        terms = [w * self.criterion(out.float(), y) for w, out in zip(self.weights, outputs) if w]
        return torch.stack(terms).sum()

    def step(self, x: torch.Tensor, y: torch.Tensor) -> tuple[float, int]:
        """One optimisation step on a batch: (loss, correct predictions of the main output)."""
        train_mode(self.model)
        x, y = self._to_device(x, y)
        self.optimizer.zero_grad(set_to_none=True)
        with self._autocast():
            outputs = self.model(x)
            loss = self.loss(outputs, y)
        loss.backward()
        self._clip()
        self.optimizer.step()
        main = outputs[0] if isinstance(outputs, tuple) else outputs
        return loss.item(), int((main.argmax(1) == y).sum())

    def _clip(self) -> None:
        params = [p for group in self.groups for p in group["params"]]
        if self.config.clip.norm is not None:
            nn.utils.clip_grad_norm_(params, self.config.clip.norm)
        if self.config.clip.value is not None:
            nn.utils.clip_grad_value_(params, self.config.clip.value)

    def train_epoch(self, loader) -> tuple[float, float]:
        total, loss_sum, correct = 0, 0.0, 0
        for x, y in loader:
            loss, hits = self.step(x, y)
            total += len(y)
            loss_sum += loss * len(y)
            correct += hits
        return loss_sum / max(total, 1), correct / max(total, 1)

    @torch.no_grad()
    def evaluate(self, loader) -> tuple[float, float]:
        """Mean cross-entropy and accuracy of the main output (no label smoothing)."""
        self.model.eval()
        total, loss_sum, correct = 0, 0.0, 0
        for x, y in loader:
            x, y = self._to_device(x, y)
            with self._autocast():
                outputs = self.model(x)
            main = (outputs[0] if isinstance(outputs, tuple) else outputs).float()
            loss_sum += nn.functional.cross_entropy(main, y, reduction="sum").item()
            correct += int((main.argmax(1) == y).sum())
            total += len(y)
        return loss_sum / max(total, 1), correct / max(total, 1)

    def fit(self, train_loader, val_loader) -> list[EpochMetrics]:
        history = []
        for epoch in range(1, self.config.epochs + 1):
            start = time.perf_counter()
            lr = self.optimizer.param_groups[0]["lr"]
            train_loss, train_acc = self.train_epoch(train_loader)
            val_loss, val_acc = self.evaluate(val_loader)
            self.schedule.step(val_loss)
            history.append(EpochMetrics(epoch, train_loss, train_acc, val_loss, val_acc, lr,
                                        time.perf_counter() - start))
            self.log(history[-1].line(self.config.epochs))
        return history


def num_classes(network, requested: Optional[int]) -> int:
    """Classes to train on: the main output's width, or fewer if asked."""
    shape = network.output_shapes[network.outputs[0]["name"]]
    if len(shape) != 1:
        raise UsageError(f"netdsl train fits classifiers: the main output should be [classes], "
                         f"got {list(shape)}")
    if requested is not None and not 1 < requested <= shape[0]:
        raise UsageError(f"data.classes={requested}, but the network outputs {shape[0]} scores",
                         hint="change the network, e.g. --set num_classes=N")
    return requested or shape[0]


def train(network, config: TrainConfig, log: Optional[Log] = None) -> dict:
    """Train ``network`` as ``config`` says; write checkpoint.pt and metrics.json; the metrics."""
    log = log or (lambda _: None)
    classes = num_classes(network, config.data.classes)
    trainer = Trainer(network, config, log)
    train_loader, val_loader = make_loaders(config.data, network.input_shape, classes, config.seed)
    trainable = sum(p.numel() for g in trainer.groups for p in g["params"])
    log(f"training {network.name} on {config.data.kind} data ({len(train_loader.dataset)} train, "
        f"{len(val_loader.dataset)} val, {classes} classes) on {trainer.device}: "
        f"{config.optimizer.name} lr {config.optimizer.lr:g}, {trainable:,} trainable parameters")
    history = trainer.fit(train_loader, val_loader)
    return save_results(trainer, history, classes)


def save_results(trainer: Trainer, history: list[EpochMetrics], classes: int) -> dict:
    out = Path(trainer.config.out)
    out.mkdir(parents=True, exist_ok=True)
    config = trainer.config.to_dict()
    torch.save({"state_dict": trainer.model.state_dict(), "network": trainer.network.name,
                "epoch": len(history), "config": config}, out / "checkpoint.pt")
    metrics = {"network": trainer.network.name, "device": str(trainer.device), "classes": classes,
               "chance_accuracy": 1 / classes, "epochs": [asdict(m) for m in history],
               "final": asdict(history[-1]) if history else None, "config": config}
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    return metrics


def train_mode(model: torch.nn.Module) -> None:
    """``model.train()``, except that frozen layers stay in eval mode, so a frozen
    batch norm keeps its running statistics (transfer learning)."""
    model.train()
    for module in model.modules():
        own = list(module.parameters(recurse=False))
        if own and not any(p.requires_grad for p in own):
            module.eval()
