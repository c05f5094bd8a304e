"""Per-layer activation statistics: mean, std and fraction of zeros, by forward hooks.

The classic diagnostic of weight initialisation: push one batch through the
network and look at what every activation function emits.  With weights too
small the signal shrinks layer by layer towards 0 (tanh) or dies (ReLU: all
zeros); too large and tanh saturates at ±1 while ReLU outputs grow without
bound; Xavier (tanh) and Kaiming (ReLU) keep the spread constant with depth.

``activation_statistics(model, batch)`` hooks every activation module (the
modules netdsl builds for ``relu``, ``tanh``, ...; layers whose ``select``
says so), runs the batch in eval mode without gradients and removes the
hooks.  ``run_statistics`` does it for a training run: at initialisation
(the same seed, hence the same weights, as the run's) and with the trained
weights of ``OUT/last.pt``, on the run's first validation batch.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable, Optional

import torch
from torch import nn

from .records import save_figure

#: torch activation modules that are not elementwise nonlinearities
NOT_ACTIVATIONS = (nn.Softmax, nn.LogSoftmax, nn.Softmin, nn.MultiheadAttention)


@dataclass
class LayerStats:
    name: str                    # the module's path in the model (state_dict prefix)
    kind: str                    # its class: ReLU, Tanh...
    mean: float
    std: float
    zero_fraction: float         # share of exactly-zero outputs (dead ReLUs)
    saturated_fraction: float    # share with |x| > 0.99 (tanh/sigmoid near their limits)
    numel: int


def is_activation(module: nn.Module) -> bool:
    """An elementwise nonlinearity: torch's activation modules and netdsl's maxout."""
    from_torch = type(module).__module__ == nn.ReLU.__module__
    return (from_torch and not isinstance(module, NOT_ACTIVATIONS)) or \
        type(module).__name__.lower() == "maxout"


def layer_stats(name: str, module: nn.Module, output: torch.Tensor) -> LayerStats:
    x = output.detach().double()
    return LayerStats(name, type(module).__name__, x.mean().item(), x.std().item(),
                      (x == 0).double().mean().item(), (x.abs() > 0.99).double().mean().item(),
                      x.numel())


def activation_statistics(model: nn.Module, batch: torch.Tensor,
                          select: Callable[[nn.Module], bool] = is_activation) -> list[LayerStats]:
    """Statistics of every selected module's output on ``batch``, in forward order."""
    found: list[LayerStats] = []
    hooks = [module.register_forward_hook(
        lambda m, _inputs, out, name=name: found.append(layer_stats(name, m, out)))
        for name, module in model.named_modules() if name and select(module)]
    was_training = model.training
    try:
        model.eval()  # dropout off, batch norm with its running statistics
        with torch.no_grad():
            model(batch)
    finally:
        for hook in hooks:
            hook.remove()
        model.train(was_training)
    return found


# ------------------------------------------------------------ for a training run
def first_batch(network, config, count: int = 256) -> torch.Tensor:
    """The first ``count`` validation images of the run's data, normalised as in training."""
    from .data import class_count, make_data
    data = make_data(config.data, network.input_shape, class_count(network, config.data),
                     config.seed, config.transfer)
    images, total = [], 0
    for x, _ in data.val:
        images.append(x)
        total += len(x)
        if total >= count:
            break
    return torch.cat(images)[:count]


def run_statistics(network, config, batch: Optional[torch.Tensor] = None) -> dict:
    """{"init": [...], "trained": [...]} for the run in ``config.out`` (trained: its last.pt)."""
    from .checkpoint import load_checkpoint
    batch = first_batch(network, config) if batch is None else batch
    torch.manual_seed(config.seed)  # as Trainer does: the run's own initial weights
    model = network.to_torch()
    result = {"init": activation_statistics(model, batch)}
    last = Path(config.out) / "last.pt"
    if last.exists():
        model.load_state_dict(load_checkpoint(last)["state_dict"])
        result["trained"] = activation_statistics(model, batch)
    return result


def write_statistics(results: dict, path: Path) -> Path:
    """JSON: run name → stage ("init", "trained") → list of layer statistics."""
    data = {run: {stage: [asdict(s) for s in stats] for stage, stats in stages.items()}
            for run, stages in results.items()}
    Path(path).write_text(json.dumps(data, indent=2) + "\n")
    return Path(path)


def read_statistics(path: Path) -> dict:
    """What ``write_statistics`` wrote, as LayerStats again (to redraw a plot)."""
    data = json.loads(Path(path).read_text())
    return {run: {stage: [LayerStats(**s) for s in stats] for stage, stats in stages.items()}
            for run, stages in data.items()}


def statistics_table(results: dict, stage: str = "init") -> str:
    """Markdown: per run, the std of each activation layer's output at ``stage``."""
    depth = max(len(stages.get(stage, [])) for stages in results.values())
    lines = ["| run | " + " | ".join(f"layer {i + 1} std" for i in range(depth)) +
             " | last layer zeros |", "|---|" + "---|" * (depth + 1)]
    for run, stages in results.items():
        stats = stages.get(stage, [])
        stds = [f"{s.std:.3g}" for s in stats] + [""] * (depth - len(stats))
        zeros = f"{stats[-1].zero_fraction:.0%}" if stats else ""
        lines.append(f"| {run} | " + " | ".join(stds) + f" | {zeros} |")
    return "\n".join(lines)


def plot_statistics(results: dict, png: Path, title: str = "") -> Path:
    """Mean, std (log scale), zero and saturated fractions per activation layer; one colour
    per run, solid at initialisation, dashed after training."""
    from matplotlib.figure import Figure
    figure = Figure(figsize=(20, 4.2), layout="constrained")
    panels = figure.subplots(1, 4)
    fields = (("mean", "mean"), ("std", "std (log scale)"), ("zero_fraction", "fraction of zeros"),
              ("saturated_fraction", "fraction with |x| > 0.99"))
    for colour, (run, stages) in enumerate(results.items()):
        for stage, style in (("init", "o-"), ("trained", "s--")):
            stats = stages.get(stage)
            if not stats:
                continue
            layers = range(1, len(stats) + 1)
            for axes, (attribute, _) in zip(panels, fields):
                axes.plot(layers, [getattr(s, attribute) for s in stats], style, color=f"C{colour}",
                          markersize=4, label=f"{run} ({stage})")
    for axes, (_, label) in zip(panels, fields):
        axes.set(xlabel="activation layer", title=label)
        axes.grid(alpha=0.3)
    panels[0].set_yscale("symlog", linthresh=1e-3)  # exploding means next to tiny ones
    panels[1].set_yscale("log")
    handles, labels = panels[0].get_legend_handles_labels()
    figure.legend(handles, labels, loc="outside right upper", fontsize="small")
    if title:
        figure.suptitle(title)
    return save_figure(figure, png)
