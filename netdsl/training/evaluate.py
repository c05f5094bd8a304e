"""Scoring a trained classifier: loss, top-1/top-5, per-class accuracy, confusion matrix;
and predicting the classes of image files.

Only the main (first) output is scored; auxiliary outputs are training aids.
"""
from __future__ import annotations

from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional, Sequence

import torch
from torch import nn

from ..errors import UsageError
from .images import Normalization, ToNetwork, check_image_input
from .optional import needs


def main_output(outputs) -> torch.Tensor:
    return outputs[0] if isinstance(outputs, (tuple, list)) else outputs


@dataclass
class Evaluation:
    loss: float
    top1: float
    top5: float                      # top-k with k = min(5, classes)
    count: int
    confusion: torch.Tensor          # [classes, classes]: rows true class, columns predicted

    def per_class(self) -> list[Optional[float]]:
        """Accuracy of each true class (None for a class with no images)."""
        totals = self.confusion.sum(1)
        return [float(self.confusion[c, c] / n) if n else None for c, n in enumerate(totals.tolist())]


def _identity(x: torch.Tensor, y: torch.Tensor):
    return x, y


@torch.no_grad()
def evaluate_model(model: nn.Module, loader, prepare: Callable = _identity,
                   autocast: Callable = nullcontext,
                   reduce: Optional[Callable[[torch.Tensor], torch.Tensor]] = None) -> Evaluation:
    """Mean cross-entropy (no label smoothing), top-1, top-5 and confusion of the main output.

    ``reduce`` sums a tensor over processes (torchrun: each scored its share of the split)."""
    model.eval()
    sums, confusion = torch.zeros(4, dtype=torch.float64), None  # loss, top-1, top-5, images
    for x, y in loader:
        x, y = prepare(x, y)
        with autocast():
            logits = main_output(model(x)).float()
        classes = logits.shape[1]
        if confusion is None:
            confusion = torch.zeros(classes, classes, dtype=torch.int64)
        top5 = (logits.topk(min(5, classes), 1).indices == y[:, None]).any(1).sum()
        predicted = logits.argmax(1)
        batch = [nn.functional.cross_entropy(logits, y, reduction="sum"), (predicted == y).sum(),
                 top5, torch.tensor(len(y), device=logits.device)]
        sums += torch.stack([value.double() for value in batch]).cpu()
        pairs = (y * classes + predicted).cpu()
        confusion += torch.bincount(pairs, minlength=classes * classes).view(classes, classes)
    if confusion is None:
        raise UsageError("nothing to evaluate: the split is empty")
    if reduce is not None:
        sums, confusion = reduce(sums), reduce(confusion)
    loss_sum, top1, top5, total = sums.tolist()
    return Evaluation(loss_sum / total, top1 / total, top5 / total, int(total), confusion)


# ------------------------------------------------------------ reports
def summary_line(result: Evaluation) -> str:
    return (f"loss {result.loss:.4f}  top-1 {result.top1:.1%}  top-5 {result.top5:.1%}  "
            f"({result.count:,} images)")


def report_lines(result: Evaluation, names: Sequence[str], matrix_limit: int = 20) -> list[str]:
    """Per-class accuracy, and the confusion matrix (or its largest confusions when big)."""
    names = _names(names, result.confusion.shape[0])
    width = max(len(n) for n in names)
    totals = result.confusion.sum(1).tolist()
    lines = [f"{'class':<{width}}  images  accuracy"]
    for name, count, accuracy in zip(names, totals, result.per_class()):
        if count:
            lines.append(f"{name:<{width}}  {count:>6}  {accuracy:8.1%}")
    lines.append("")
    if len(names) <= matrix_limit:
        return lines + confusion_text(result.confusion, names)
    return lines + most_confused(result.confusion, names)


def _names(names: Sequence[str], classes: int) -> list[str]:
    names = [str(n) for n in names][:classes]
    return names + [str(k) for k in range(len(names), classes)]


def confusion_text(confusion: torch.Tensor, names: Sequence[str]) -> list[str]:
    cell = max(max(len(str(int(v))) for v in confusion.flatten()), 3)
    label = max(len(n) for n in names)
    short = [n[:cell] for n in names]
    lines = ["confusion matrix (rows: true class, columns: predicted)",
             " " * label + "  " + " ".join(f"{s:>{cell}}" for s in short)]
    for name, row in zip(names, confusion.tolist()):
        lines.append(f"{name:>{label}}  " + " ".join(f"{v:>{cell}}" for v in row))
    return lines


def most_confused(confusion: torch.Tensor, names: Sequence[str], count: int = 10) -> list[str]:
    off = confusion.clone()
    off.fill_diagonal_(0)
    values, flat = off.flatten().topk(min(count, off.numel()))
    lines = ["most frequent confusions (true → predicted)"]
    for value, index in zip(values.tolist(), flat.tolist()):
        if value:
            true, predicted = divmod(index, confusion.shape[0])
            lines.append(f"  {names[true]} → {names[predicted]}: {value}")
    return lines


def plot_confusion(confusion: torch.Tensor, names: Sequence[str], path: Path) -> Path:
    """The confusion matrix as a PNG (counts written in the cells up to 20 classes)."""
    with needs("drawing the confusion matrix"):
        from matplotlib.figure import Figure
    from .records import save_figure
    classes = confusion.shape[0]
    names = _names(names, classes)
    size = min(4 + 0.45 * classes, 24)
    figure = Figure(figsize=(size, size * 0.9), layout="constrained")
    axes = figure.subplots()
    image = axes.imshow(confusion.numpy(), cmap="Blues")
    figure.colorbar(image, ax=axes, shrink=0.8)
    ticks = range(classes) if classes <= 50 else []
    axes.set_xticks(list(ticks), [names[i] for i in ticks], rotation=90)
    axes.set_yticks(list(ticks), [names[i] for i in ticks])
    axes.set(xlabel="predicted", ylabel="true class", title="confusion matrix")
    if classes <= 20:
        top = int(confusion.max()) or 1
        for (true, predicted), value in zip(_cells(classes), confusion.flatten().tolist()):
            axes.text(predicted, true, str(value), ha="center", va="center", fontsize=8,
                      color="white" if value > top / 2 else "black")
    return save_figure(figure, path)


def _cells(classes: int):
    return ((i, j) for i in range(classes) for j in range(classes))


# ------------------------------------------------------------ prediction
def read_images(paths: Sequence[str], shape: Sequence[int],
                normalization: Optional[Normalization]) -> torch.Tensor:
    """Image files as one batch, prepared exactly as the validation images were."""
    check_image_input(shape, "netdsl predict")
    with needs("reading images"):
        from PIL import Image as image_module
    to_network = ToNetwork(shape)
    batch = []
    for path in paths:
        try:
            with image_module.open(path) as image:
                x = to_network(image)
        except (OSError, ValueError) as err:
            raise UsageError(f"cannot read image {path}: {err}") from None
        batch.append(normalization(x) if normalization else x)
    return torch.stack(batch)


@torch.no_grad()
def top_classes(model: nn.Module, images: torch.Tensor, names: Sequence[str],
                k: int = 5) -> list[list[tuple[str, float]]]:
    """For each image, the ``k`` most probable classes and their probabilities."""
    model.eval()
    probabilities = main_output(model(images)).float().softmax(1)
    names = _names(names, probabilities.shape[1])
    values, indices = probabilities.topk(min(k, probabilities.shape[1]), 1)
    return [[(names[i], p) for i, p in zip(row_i, row_p)]
            for row_i, row_p in zip(indices.tolist(), values.tolist())]
