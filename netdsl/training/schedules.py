"""Learning-rate schedules, stepped once per epoch, with an optional linear warm-up.

``step``, ``multistep``, ``exponential`` and ``cosine`` are torch's
schedulers; ``plateau`` lowers the lr when the validation loss stops
improving.  During ``warmup_epochs`` the lr climbs linearly from
``lr × warmup_start`` to ``lr``; the schedule proper starts after it.
"""
from __future__ import annotations

from typing import Optional

import torch
from torch.optim import lr_scheduler

from ..errors import UsageError
from .config import ScheduleConfig, choice_hint

SCHEDULES = ("none", "step", "multistep", "exponential", "cosine", "plateau")


class Schedule:
    """Call ``step(val_loss)`` at the end of every epoch."""

    def __init__(self, optimizer: torch.optim.Optimizer, config: ScheduleConfig, epochs: int):
        if config.name not in SCHEDULES:
            raise UsageError(f"unknown schedule '{config.name}'", hint=choice_hint(config.name, SCHEDULES))
        self.config = config
        self.epoch = 0
        self.warmup = None
        if config.warmup_epochs > 0:
            self.warmup = lr_scheduler.LinearLR(optimizer, start_factor=config.warmup_start,
                                                total_iters=config.warmup_epochs)
        self.main = _main_schedule(optimizer, config, max(epochs - config.warmup_epochs, 1))

    def step(self, val_loss: Optional[float] = None) -> None:
        if self.epoch < self.config.warmup_epochs:
            self.warmup.step()
        elif isinstance(self.main, lr_scheduler.ReduceLROnPlateau):
            if val_loss is not None:
                self.main.step(val_loss)
        elif self.main is not None:
            self.main.step()
        self.epoch += 1


def _main_schedule(optimizer, config: ScheduleConfig, epochs: int):
    name = config.name
    if name == "step":
        return lr_scheduler.StepLR(optimizer, step_size=config.step_size, gamma=config.gamma)
    if name == "multistep":
        milestones = [m - config.warmup_epochs for m in config.milestones]
        return lr_scheduler.MultiStepLR(optimizer, milestones=milestones, gamma=config.gamma)
    if name == "exponential":
        return lr_scheduler.ExponentialLR(optimizer, gamma=config.gamma)
    if name == "cosine":
        return lr_scheduler.CosineAnnealingLR(optimizer, T_max=epochs, eta_min=config.min_lr)
    if name == "plateau":
        return lr_scheduler.ReduceLROnPlateau(optimizer, factor=config.factor,
                                              patience=config.patience, min_lr=config.min_lr)
    return None
