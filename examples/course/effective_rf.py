"""Theoretical vs effective receptive field (docs/course/receptive-fields.md).

Builds ``erf_probe`` from receptive_field.net, back-propagates a unit gradient
from the centre output pixel to the input, and averages |d out / d input| over
several random initialisations and inputs. netdsl's static field says which
pixels *can* influence the unit; the gradient shows how much each one does.

    python examples/course/effective_rf.py            # prints figures, writes the PNG
"""
import argparse
import os
from pathlib import Path

import torch

import netdsl

HERE = Path(__file__).resolve().parent
PNG = HERE.parent.parent / "docs" / "course" / "effective_rf.png"


def gradient_support(net, trials: int, seed: int) -> torch.Tensor:
    """Mean |gradient| of the centre output pixel with respect to the input."""
    torch.manual_seed(seed)
    shape = net.input_shape
    total = torch.zeros(shape[1:])
    for _ in range(trials):
        model = net.to_torch().eval()   # a fresh random initialisation each trial
        x = torch.randn(1, *shape, requires_grad=True)
        out = model(x)
        out[0, 0, shape[1] // 2, shape[2] // 2].backward()
        total += x.grad[0, 0].abs()
    return total / trials


def share_within(grad: torch.Tensor, size: int) -> float:
    """Fraction of the gradient mass inside the central size x size square."""
    cy, cx, half = grad.shape[0] // 2, grad.shape[1] // 2, size // 2
    inner = grad[cy - half:cy + half + 1, cx - half:cx + half + 1]
    return float(inner.sum() / grad.sum())


def plot(grad: torch.Tensor, rf: int, path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle
    fig, (left, right) = plt.subplots(1, 2, figsize=(9, 4))
    image = left.imshow(grad.numpy(), cmap="magma")
    c = grad.shape[0] // 2
    left.add_patch(Rectangle((c - rf / 2, c - rf / 2), rf, rf, fill=False, ec="cyan", lw=1.5))
    left.set_title(f"|d out / d input|, cyan: {rf}x{rf} field")
    fig.colorbar(image, ax=left, fraction=0.046)
    row = grad[c] / grad[c].max()
    right.plot(range(-c, grad.shape[1] - c), row.numpy(), marker=".")
    right.axvspan(-(rf // 2), rf // 2, color="cyan", alpha=0.2, label="theoretical field")
    right.set_xlim(-rf, rf)
    right.set_xlabel("offset from the centre pixel (px)")
    right.set_title("centre row, normalised")
    right.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--layers", type=int, default=10)
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--png", type=Path, default=PNG, help="'' to skip the plot")
    args = parser.parse_args()
    net = netdsl.load(HERE / "receptive_field.net", network="erf_probe", params={"n": args.layers})
    rf = net.receptive_field.size[0]
    grad = gradient_support(net, args.trials, args.seed)
    print(f"theoretical field: {rf}x{rf}; nonzero gradient: {int((grad[grad.shape[0] // 2] > 0).sum())} px wide")
    for size in (3, 7, 11, rf):
        print(f"gradient mass within the central {size}x{size}: {share_within(grad, size):.1%}")
    if str(args.png):
        plot(grad, rf, args.png)
        print(f"wrote {os.path.relpath(args.png)}")


if __name__ == "__main__":
    main()
