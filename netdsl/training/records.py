"""What a run leaves besides checkpoints: metrics.csv, curves.png, metrics.json, TensorBoard.

``metrics.csv`` gets one row per epoch as the epoch ends (a resumed run first
drops the rows of epochs its checkpoint does not hold, so every epoch appears
once); ``curves.png`` is drawn from it with matplotlib (no display needed);
with ``tensorboard: true`` (``--tensorboard``) the same numbers go to
TensorBoard event files in ``OUT/tb`` (the ``tensorboard`` package needed).
"""
from __future__ import annotations

import csv
import io
import json
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Optional

from .checkpoint import write_atomically
from .optional import needs


@dataclass
class EpochMetrics:
    epoch: int
    train_loss: float
    train_accuracy: float            # top-1
    val_loss: float
    val_accuracy: float              # top-1
    lr: float
    seconds: float
    train_top5: float = 0.0
    val_top5: float = 0.0
    images_per_second: float = 0.0

    def line(self, epochs: int) -> str:
        return (f"epoch {self.epoch:>{len(str(epochs))}}/{epochs}  "
                f"train loss {self.train_loss:.4f} acc {self.train_accuracy:6.1%}  "
                f"val loss {self.val_loss:.4f} acc {self.val_accuracy:6.1%}  "
                f"lr {self.lr:.3g}  {self.images_per_second:,.0f} img/s  {self.seconds:.1f}s")


COLUMNS = [f.name for f in fields(EpochMetrics)]


class MetricsLog:
    """OUT/metrics.csv (and TensorBoard), one row per finished epoch."""

    def __init__(self, out: Path, done_epochs: int = 0, tensorboard: bool = False):
        self.path = Path(out) / "metrics.csv"
        kept = [row for row in read_metrics(self.path) if int(row["epoch"]) <= done_epochs] \
            if done_epochs else []
        text = io.StringIO()
        writer = csv.DictWriter(text, COLUMNS, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(kept)
        write_atomically(self.path, text.getvalue().encode())
        self.writer = _tensorboard(Path(out)) if tensorboard else None

    def append(self, metrics: EpochMetrics) -> None:
        with open(self.path, "a", newline="") as handle:
            csv.DictWriter(handle, COLUMNS).writerow(
                {k: f"{v:.6g}" if isinstance(v, float) else v for k, v in asdict(metrics).items()})
        if self.writer is not None:
            for name, value in asdict(metrics).items():
                if name != "epoch":
                    self.writer.add_scalar(name.replace("_", "/", 1), value, metrics.epoch)
            self.writer.flush()

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


class NoRecords:
    """What the ranks other than 0 keep of a torchrun run: nothing (rank 0 writes)."""

    path = None

    def append(self, metrics: EpochMetrics) -> None:
        pass

    def close(self) -> None:
        pass


def check_tensorboard() -> None:
    """A UsageError naming the package when TensorBoard logging cannot work (before training)."""
    with needs("--tensorboard"):
        import tensorboard  # noqa: F401 — torch.utils.tensorboard imports it
        from torch.utils.tensorboard import SummaryWriter  # noqa: F401


def _tensorboard(out: Path):
    check_tensorboard()
    from torch.utils.tensorboard import SummaryWriter
    return SummaryWriter(str(out / "tb"))


def read_metrics(path: Path) -> list[dict]:
    """The rows of a metrics.csv (numbers as strings), [] when there is none."""
    if not Path(path).is_file():
        return []
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def plot_curves(csv_path: Path, png_path: Path) -> Optional[Path]:
    """Loss and accuracy per epoch, from metrics.csv, as a PNG (None without rows)."""
    rows = read_metrics(csv_path)
    if not rows:
        return None
    with needs("drawing curves.png"):
        from matplotlib.figure import Figure  # no pyplot: no display, no global state
    column = lambda name: [float(r[name]) for r in rows]  # noqa: E731
    epochs = column("epoch")
    figure = Figure(figsize=(10, 3.8), layout="constrained")
    loss, accuracy = figure.subplots(1, 2)
    loss.plot(epochs, column("train_loss"), "o-", label="train")
    loss.plot(epochs, column("val_loss"), "o-", label="val")
    loss.set(xlabel="epoch", ylabel="cross-entropy", title="loss")
    for name, label in (("train_accuracy", "train top-1"), ("val_accuracy", "val top-1"),
                        ("val_top5", "val top-5")):
        accuracy.plot(epochs, [100 * v for v in column(name)], "o-", label=label)
    accuracy.set(xlabel="epoch", ylabel="%", title="accuracy")
    for axes in (loss, accuracy):
        axes.grid(alpha=0.3)
        axes.legend()
    return save_figure(figure, png_path)


def save_figure(figure, path: Path) -> Path:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100)
    write_atomically(Path(path), buffer.getvalue())
    return Path(path)


def write_summary(out: Path, summary: dict) -> Path:
    """OUT/metrics.json: the run's history, final and test metrics, and config."""
    path = Path(out) / "metrics.json"
    write_atomically(path, (json.dumps(summary, indent=2) + "\n").encode())
    return path
