"""The training step: classification with weighted outputs, clipping, AMP, channels_last,
torch.compile and DistributedDataParallel.

A network's outputs all train against the same labels, each weighted by its
``output name(weight=...)`` (the main output weighs 1; ``loss.output_weights``
overrides).  Auxiliary outputs count only in training: evaluation and
accuracy use the main (first) output.  ``session.train`` runs the epochs.
"""
from __future__ import annotations

import time
from typing import Callable, Optional

import torch
from torch import nn

from ..errors import UsageError
from . import distributed, precision
from .config import TrainConfig
from .distributed import World
from .evaluate import Evaluation, evaluate_model, main_output
from .optimizers import build_optimizer, freeze, param_groups
from .records import EpochMetrics  # noqa: F401 — its home before records.py
from .schedules import Schedule
from .weights import load_initial_weights

Log = Callable[[str], None]


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
    """A model, its optimizer, schedule and loss, on one device.

    ``model`` is the plain module (its state_dict goes into checkpoints);
    ``train_model`` is what the steps call: ``model`` in DDP under torchrun
    (``world``), compiled with ``compile``.  ``initial_weights=False`` skips
    ``transfer.init_from`` (a resumed run loads a checkpoint over them anyway);
    ``steps_per_epoch`` sizes per-step schedules."""

    def __init__(self, network, config: TrainConfig, log: Optional[Log] = None,
                 steps_per_epoch: int = 1, initial_weights: bool = True,
                 world: Optional[World] = None):
        self.network, self.config, self.log = network, config, log or (lambda _: None)
        self.world = world or World()
        torch.manual_seed(config.seed)
        if config.threads:
            torch.set_num_threads(config.threads)
        self.device = distributed.start(self.world, pick_device(config.device))
        precision.check_amp(config.amp, self.device)
        self.model = self._build_model(initial_weights)
        self.groups = param_groups(self.model, network, config.optimizer)
        self.optimizer = build_optimizer(self.groups, config.optimizer)
        self.schedule = Schedule(self.optimizer, config.schedule, config.epochs, steps_per_epoch)
        self.criterion = nn.CrossEntropyLoss(label_smoothing=config.loss.label_smoothing)
        self.weights = output_weights(network, config.loss.output_weights)
        self.scaler = precision.grad_scaler(config.amp, self.device)  # fp16 only
        self.train_model, self.eval_model = self._wrap_model()
        self.steps = 0
        if self.world.distributed:  # the same weights everywhere, but each rank its own dropout
            torch.manual_seed(config.seed + self.world.rank)

    def _build_model(self, initial_weights: bool) -> nn.Module:
        config = self.config
        model = self.network.to_torch(device=self.device)  # sized against the device first
        if config.transfer.init_from and initial_weights:
            self.log(load_initial_weights(model, config.transfer).summary())
        freeze(model, config.transfer.freeze)
        model = distributed.convert_sync_bn(model, self.world, self.device, config.sync_bn)
        self.memory_format = torch.channels_last if config.channels_last and \
            len(self.network.input_shape) == 3 else torch.contiguous_format
        return model.to(self.device, memory_format=self.memory_format)

    def _wrap_model(self) -> tuple[nn.Module, nn.Module]:
        """(model for training steps, model for evaluation).  Evaluation never goes through
        DDP: its forward is a collective, and ranks score different numbers of batches."""
        unused = len(self.weights) > 1 and not all(self.weights)  # outputs left out of the loss
        parallel = distributed.wrap(self.model, self.world, self.device, unused)
        train_model = precision.compiled(parallel, self.config.compile)
        return train_model, train_model if parallel is self.model else self.model

    def _autocast(self):
        return precision.autocast(self.config.amp, self.device)

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

    def step(self, x: torch.Tensor, y: torch.Tensor) -> tuple[float, int, int]:
        """One optimisation step on a batch: (loss, top-1 and top-5 hits of the main output)."""
        loss, hits1, hits5 = self._step(x, y)
        return loss.item(), int(hits1), int(hits5)

    def _step(self, x: torch.Tensor, y: torch.Tensor):
        """``step`` with its results left on the device (no synchronisation)."""
        train_mode(self.model)
        x, y = self._to_device(x, y)
        self.optimizer.zero_grad(set_to_none=True)
        with self._autocast():
            outputs = self.train_model(x)
            loss = self.loss(outputs, y)
        if self.scaler is None:
            loss.backward()
            self._clip()
            self.optimizer.step()
        else:  # fp16: scaled loss; true gradients for clipping; skip steps that overflowed
            self.scaler.scale(loss).backward()
            self.scaler.unscale_(self.optimizer)
            self._clip()
            self.scaler.step(self.optimizer)
            self.scaler.update()
        self.schedule.step_batch()
        self.steps += 1
        main = main_output(outputs).detach()
        top5 = (main.topk(min(5, main.shape[1]), 1).indices == y[:, None]).any(1).sum()
        return loss.detach(), (main.argmax(1) == y).sum(), top5

    def _clip(self) -> None:
        params = [p for group in self.groups for p in group["params"]]
        if self.config.clip.norm is not None:
            nn.utils.clip_grad_norm_(params, self.config.clip.norm)
        if self.config.clip.value is not None:
            nn.utils.clip_grad_value_(params, self.config.clip.value)

    def train_epoch(self, loader, bar=None) -> dict:
        """One pass over ``loader``: mean loss, top-1, top-5, images and images/s."""
        total, sums = 0, torch.zeros(3, dtype=torch.float64, device=self.device)
        start = time.perf_counter()
        try:
            for x, y in loader:
                loss, hits1, hits5 = self._step(x, y)
                sums += torch.stack([loss.double() * len(y), hits1.double(), hits5.double()])
                total += len(y)
                if bar is not None:
                    bar.update(len(y), lambda: (sums[:2] / total).tolist())
        finally:
            if bar is not None:
                bar.close()
        seconds = time.perf_counter() - start
        sums = self._sum_over_ranks(torch.cat([sums, sums.new_tensor([total])]))
        total = int(sums[3])
        loss_sum, top1, top5 = (sums[:3] / max(total, 1)).tolist()
        return {"loss": loss_sum, "top1": top1, "top5": top5, "images": total,
                "images_per_second": total / max(seconds, 1e-9)}

    def _sum_over_ranks(self, tensor: torch.Tensor) -> torch.Tensor:
        return distributed.all_reduce_sum(tensor, self.world, self.device)

    def evaluation(self, loader) -> Evaluation:
        """Loss, top-1, top-5 and confusion matrix of the main output (no label smoothing);
        under torchrun each rank scores its share of ``loader`` and the counts are summed."""
        distributed.broadcast_buffers(self.model, self.world)
        return evaluate_model(self.eval_model, loader, self._to_device, self._autocast,
                              self._sum_over_ranks)

    def evaluate(self, loader) -> tuple[float, float]:
        """Mean cross-entropy and accuracy of the main output (no label smoothing)."""
        result = self.evaluation(loader)
        return result.loss, result.top1

    # ------------------------------------------------------------ checkpoints
    def state_dict(self) -> dict:
        """Everything that changes while training, for a checkpoint."""
        return {"state_dict": self.model.state_dict(), "optimizer": self.optimizer.state_dict(),
                "schedule": self.schedule.state_dict(), "step": self.steps,
                "scaler": self.scaler.state_dict() if self.scaler is not None else None}

    def load_state_dict(self, state: dict, source: str = "the checkpoint") -> None:
        try:
            self.model.load_state_dict(state["state_dict"])
        except RuntimeError as err:
            raise UsageError(f"{source} does not fit the network: {str(err).splitlines()[0]}",
                             hint="give the same .net file and --set/--input as in training "
                                  f"(it was trained with {state.get('net_params')})") from None
        self.optimizer.load_state_dict(state["optimizer"])
        self.schedule.load_state_dict(state["schedule"])
        if self.scaler is not None and state.get("scaler"):
            self.scaler.load_state_dict(state["scaler"])
        self.steps = state.get("step", 0)


def train_mode(model: torch.nn.Module) -> None:
    """``model.train()``, except that frozen layers stay in eval mode, so a frozen
    batch norm keeps its running statistics (transfer learning)."""
    model.train()
    for module in model.modules():
        own = list(module.parameters(recurse=False))
        if own and not any(p.requires_grad for p in own):
            module.eval()
