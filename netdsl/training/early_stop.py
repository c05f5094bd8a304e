"""Early stopping: end training when a metric has stopped improving.

``EarlyStopping(config.early_stop).update(epoch_metrics)`` after every epoch
returns True when training should stop: the watched metric (``val_loss`` by
default; losses should fall, accuracies rise) has not improved by more than
``min_delta`` for ``patience`` epochs in a row.  With ``patience: null`` (the
default) it only keeps track of the best epoch.
"""
from __future__ import annotations

from typing import Any, Mapping, Optional

from ..errors import UsageError
from .config import EarlyStopConfig


class EarlyStopping:
    """Watches one metric over epochs; ``update`` says when to stop."""

    def __init__(self, config: EarlyStopConfig):
        self.config = config
        self.minimize = config.metric.endswith("loss")
        self.best: Optional[float] = None
        self.best_epoch = 0
        self.epochs = 0
        self.bad_epochs = 0

    @property
    def enabled(self) -> bool:
        return self.config.patience is not None

    def update(self, metrics: Any) -> bool:
        """Record one epoch (a mapping, or an object with the metric as attribute); stop?"""
        self.epochs += 1
        value = float(_metric(metrics, self.config.metric))
        if self.improves(value):
            self.best, self.best_epoch, self.bad_epochs = value, self.epochs, 0
        else:
            self.bad_epochs += 1
        return self.enabled and self.bad_epochs >= self.config.patience

    def improves(self, value: float) -> bool:
        """Is ``value`` better than the best so far by more than ``min_delta``? (NaN never is.)"""
        if value != value:
            return False
        if self.best is None:
            return True
        delta = self.config.min_delta
        return value < self.best - delta if self.minimize else value > self.best + delta

    def reason(self) -> str:
        """One line for the log when ``update`` returned True."""
        return (f"early stop: {self.config.metric} has not improved for {self.bad_epochs} "
                f"epoch{'s' * (self.bad_epochs != 1)} (best {self.best:.4g} at epoch "
                f"{self.best_epoch})")

    def state_dict(self) -> dict:
        return {"best": self.best, "best_epoch": self.best_epoch, "epochs": self.epochs,
                "bad_epochs": self.bad_epochs}

    def load_state_dict(self, state: dict) -> None:
        self.best, self.best_epoch = state["best"], state["best_epoch"]
        self.epochs, self.bad_epochs = state["epochs"], state["bad_epochs"]


def _metric(metrics: Any, name: str) -> Any:
    value = metrics.get(name) if isinstance(metrics, Mapping) else getattr(metrics, name, None)
    if value is None:
        raise UsageError(f"early_stop.metric: the epoch's metrics have no '{name}'")
    return value
