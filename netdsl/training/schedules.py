"""Learning-rate schedules with an optional linear warm-up, built from torch's schedulers.

The training loop calls ``step_batch()`` after every optimizer step and
``step_epoch(val_loss)`` after every epoch; the schedule acts on the one its
``interval`` names (``epoch``, the default, or ``step``: every batch).

- ``step``, ``multistep``, ``exponential`` decay at epochs counted from the
  start of training; a warm-up multiplies them (torch's ``ChainedScheduler``):
  a milestone inside the warm-up lowers the lr the warm-up climbs to.
- ``cosine`` anneals over what follows the warm-up (torch's ``SequentialLR``);
  with ``interval: step`` over the batches, and the warm-up counts batches
  (``warmup_steps``, or ``warmup_epochs`` × batches per epoch).
- ``onecycle`` is torch's ``OneCycleLR`` peaking at the optimizer's lr (its
  own warm-up: ``pct_start``); ``plateau`` lowers the lr when the validation
  loss stops improving, after the warm-up.

``check_schedule`` (called by ``TrainConfig.validate()``) rejects the
combinations that cannot work before any training starts.
"""
from __future__ import annotations

from typing import Optional

import torch
from torch.optim import lr_scheduler

from ..errors import UsageError
from .config import SCHEDULES, ScheduleConfig

__all__ = ["SCHEDULES", "Schedule", "check_schedule"]

EPOCH_ONLY = ("step", "multistep", "exponential", "plateau")
DECAYS = ("step", "multistep", "exponential")


def check_schedule(config: ScheduleConfig, epochs: int) -> None:
    """Cross-checks of the schedule settings (each setting's own range is checked already)."""
    name = config.name
    if name in EPOCH_ONLY and config.interval == "step":
        raise UsageError(f"training setting 'schedule.interval': {name} changes the lr between "
                         "epochs", hint="use interval: epoch, or schedule cosine or onecycle")
    if config.warmup_steps and config.interval != "step":
        raise UsageError("training setting 'schedule.warmup_steps' counts batches: it needs "
                         "schedule.interval: step", hint="or use schedule.warmup_epochs")
    if config.warmup_steps and config.warmup_epochs:
        raise UsageError("training settings 'schedule.warmup_steps' and 'schedule.warmup_epochs' "
                         "both set", hint="give the warm-up's length once")
    if name == "onecycle" and (config.warmup_epochs or config.warmup_steps):
        raise UsageError("training setting 'schedule.warmup_epochs': onecycle warms up by itself",
                         hint="set its share of the steps with schedule.pct_start")
    if name == "multistep" and config.milestones != sorted(set(config.milestones)):
        raise UsageError(f"training setting 'schedule.milestones' must increase, "
                         f"got {config.milestones}")
    if name == "cosine" and config.interval == "epoch" and config.warmup_epochs >= epochs:
        raise UsageError(f"training setting 'schedule.warmup_epochs' ({config.warmup_epochs}) "
                         f"leaves no epoch of the {epochs} for the cosine decay")


class Schedule:
    """The lr schedule of one optimizer: ``step_batch()`` every batch, ``step_epoch()`` every epoch."""

    def __init__(self, optimizer: torch.optim.Optimizer, config: ScheduleConfig, epochs: int,
                 steps_per_epoch: int = 1):
        check_schedule(config, epochs)
        self.config, self.per_step = config, config.interval == "step"
        per_unit = steps_per_epoch if self.per_step else 1
        self.total = epochs * per_unit
        self.warmup = config.warmup_steps or config.warmup_epochs * per_unit
        need = {"cosine": 1, "onecycle": 2}.get(config.name, 0)
        if self.total - self.warmup < need:
            unit = "batches" if self.per_step else "epochs"
            raise UsageError(f"schedule {config.name} needs {need} or more {unit} after the "
                             f"warm-up; this run has {self.total - self.warmup}")
        self.epochs_done = 0
        self.plateau: Optional[lr_scheduler.ReduceLROnPlateau] = None
        self.scheduler = self._build(optimizer)

    def _build(self, optimizer) -> Optional[lr_scheduler.LRScheduler]:
        config, name = self.config, self.config.name
        warmup = None
        if self.warmup:
            warmup = lr_scheduler.LinearLR(optimizer, start_factor=config.warmup_start,
                                           total_iters=self.warmup)
        if name == "plateau":
            self.plateau = lr_scheduler.ReduceLROnPlateau(
                optimizer, factor=config.factor, patience=config.patience, min_lr=config.min_lr)
            return warmup
        main = _main(optimizer, config, self.total - self.warmup)
        if warmup is None or main is None:
            return warmup or main
        if name in DECAYS:
            return lr_scheduler.ChainedScheduler([warmup, main])
        return lr_scheduler.SequentialLR(optimizer, [warmup, main], milestones=[self.warmup])

    def step_batch(self) -> None:
        """Call after every optimizer step."""
        if self.per_step and self.scheduler is not None:
            self.scheduler.step()

    def step_epoch(self, val_loss: Optional[float] = None) -> None:
        """Call after every epoch, with the validation loss (``plateau`` needs it)."""
        if not self.per_step:
            if self.plateau is not None and self.epochs_done >= self.warmup:
                if val_loss is not None:
                    self.plateau.step(val_loss)
            elif self.scheduler is not None:
                self.scheduler.step()
        self.epochs_done += 1

    step = step_epoch  # the name before step_batch existed

    def state_dict(self) -> dict:
        """For checkpoints: the torch schedulers' states and the epochs done."""
        return {"epochs_done": self.epochs_done,
                "scheduler": self.scheduler.state_dict() if self.scheduler else None,
                "plateau": self.plateau.state_dict() if self.plateau else None}

    def load_state_dict(self, state: dict) -> None:
        self.epochs_done = state["epochs_done"]
        if self.scheduler is not None:
            self.scheduler.load_state_dict(state["scheduler"])
        if self.plateau is not None:
            self.plateau.load_state_dict(state["plateau"])


def _main(optimizer, config: ScheduleConfig, steps: int) -> Optional[lr_scheduler.LRScheduler]:
    """The schedule proper; ``steps``: epochs (or batches) after the warm-up."""
    name = config.name
    if name == "step":
        return lr_scheduler.StepLR(optimizer, step_size=config.step_size, gamma=config.gamma)
    if name == "multistep":
        return lr_scheduler.MultiStepLR(optimizer, milestones=config.milestones, gamma=config.gamma)
    if name == "exponential":
        return lr_scheduler.ExponentialLR(optimizer, gamma=config.gamma)
    if name == "cosine":
        return lr_scheduler.CosineAnnealingLR(optimizer, T_max=steps, eta_min=config.min_lr)
    if name == "onecycle":
        try:
            return lr_scheduler.OneCycleLR(
                optimizer, max_lr=[g["lr"] for g in optimizer.param_groups], total_steps=steps,
                pct_start=config.pct_start, cycle_momentum=config.cycle_momentum)
        except ValueError as err:
            raise UsageError(f"schedule onecycle: {err}",
                             hint="cycle_momentum needs an optimizer with momentum or betas"
                             if config.cycle_momentum else None) from None
    return None
