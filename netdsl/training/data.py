"""Datasets without a network connection.

``synthetic``: every class has its own pattern — a Gaussian blob at a
class-specific place on a ring plus stripes of a class-specific orientation
(images; in 1-d: a bump and a class-specific frequency), or a random mean
vector (flat inputs) — under Gaussian noise, so a small network learns it in
seconds and accuracy shows whether training works.
``fake``: torchvision's FakeData (random images, random labels: for
throughput, not for learning).  ``folder``: torchvision's ImageFolder on a
local directory, resized to the network's input.
"""
from __future__ import annotations

import math
from pathlib import Path

import torch
from torch.utils.data import DataLoader, Dataset, TensorDataset, random_split

from ..errors import UsageError
from .config import DataConfig, choice_hint

KINDS = ("synthetic", "fake", "folder")


def class_patterns(shape: tuple[int, ...], classes: int, seed: int = 0) -> torch.Tensor:
    """One pattern per class, shape ``(classes, *shape)``, values in [0, 1]."""
    if len(shape) == 1:
        generator = torch.Generator().manual_seed(seed)
        return torch.rand(classes, *shape, generator=generator)
    spatial = shape[1:]
    grids = torch.meshgrid(*[torch.arange(n, dtype=torch.float32) for n in spatial], indexing="ij")
    patterns = [(_blob(grids, spatial, k, classes) + _stripes(grids, k, classes)) / 2
                for k in range(classes)]
    return torch.stack([p.expand(shape[0], *spatial) for p in patterns])


def _blob(grids, spatial, k: int, classes: int) -> torch.Tensor:
    """A Gaussian bump at the k-th place on a ring: tells classes apart by position."""
    angle = 2 * math.pi * k / classes
    centre = [n / 2 + 0.3 * n * (math.sin(angle) if axis % 2 == 0 else math.cos(angle))
              for axis, n in enumerate(spatial)]
    distance = sum((g - c) ** 2 for g, c in zip(grids, centre))
    return torch.exp(-distance / (2 * (max(spatial) / 8) ** 2))


def _stripes(grids, k: int, classes: int) -> torch.Tensor:
    """Stripes of a class-specific orientation (frequency in 1-d): visible after global pooling."""
    if len(grids) == 1:
        phase = grids[0] * (k + 1) / (2 * classes + 2)
    else:
        angle = math.pi * k / classes
        period = max(4.0, max(grids[-1].shape) / 4)
        phase = (grids[-2] * math.sin(angle) + grids[-1] * math.cos(angle)) / period
    return 0.5 + 0.5 * torch.cos(2 * math.pi * phase)


def synthetic_dataset(size: int, shape: tuple[int, ...], classes: int, noise: float,
                      seed: int) -> TensorDataset:
    """``size`` samples: a class pattern plus N(0, noise²) per element; balanced labels."""
    generator = torch.Generator().manual_seed(seed)
    labels = torch.arange(size) % classes
    labels = labels[torch.randperm(size, generator=generator)]
    patterns = class_patterns(shape, classes)
    images = patterns[labels] + noise * torch.randn(size, *shape, generator=generator)
    return TensorDataset(images, labels)


def make_datasets(config: DataConfig, shape: tuple[int, ...], classes: int,
                  seed: int) -> tuple[Dataset, Dataset]:
    """(train, validation) datasets for a network input of ``shape`` (batch excluded)."""
    if config.kind not in KINDS:
        raise UsageError(f"unknown data kind '{config.kind}'", hint=choice_hint(config.kind, KINDS))
    if config.kind == "synthetic":
        return (synthetic_dataset(config.train_size, shape, classes, config.noise, seed),
                synthetic_dataset(config.val_size, shape, classes, config.noise, seed + 1))
    if len(shape) != 3:
        raise UsageError(f"data kind '{config.kind}' needs an image input [C, H, W], got {list(shape)}")
    if config.kind == "fake":
        return _fake(config.train_size, shape, classes, 0), _fake(config.val_size, shape, classes, 1)
    return _folder(config, shape)


def _fake(size: int, shape: tuple[int, ...], classes: int, offset: int) -> Dataset:
    from torchvision import datasets, transforms
    return datasets.FakeData(size, shape, classes, transform=transforms.ToTensor(),
                             random_offset=offset * size)


def _folder(config: DataConfig, shape: tuple[int, ...]) -> tuple[Dataset, Dataset]:
    from torchvision import datasets, transforms
    if not config.root or not Path(config.root).is_dir():
        raise UsageError(f"data.root must be a folder of class sub-folders, got {config.root!r}")
    if shape[0] not in (1, 3):
        raise UsageError(f"image folders give grey or RGB images; the network wants {shape[0]} channels")
    colour = transforms.Grayscale(1) if shape[0] == 1 else transforms.Lambda(_rgb)
    transform = transforms.Compose([transforms.Resize(shape[1:]), colour, transforms.ToTensor()])
    root = Path(config.root)
    if (root / "train").is_dir() and (root / "val").is_dir():
        return (datasets.ImageFolder(root / "train", transform),
                datasets.ImageFolder(root / "val", transform))
    everything = datasets.ImageFolder(root, transform)
    if len(everything) < 2:
        raise UsageError(f"{root} holds fewer than 2 images")
    val = max(1, len(everything) // 5)
    return tuple(random_split(everything, [len(everything) - val, val],
                              generator=torch.Generator().manual_seed(0)))


def _rgb(image):
    return image.convert("RGB")


def make_loaders(config: DataConfig, shape: tuple[int, ...], classes: int,
                 seed: int) -> tuple[DataLoader, DataLoader]:
    train, val = make_datasets(config, shape, classes, seed)
    generator = torch.Generator().manual_seed(seed)
    return (DataLoader(train, config.batch_size, shuffle=True, num_workers=config.workers,
                       generator=generator, drop_last=len(train) > config.batch_size),
            DataLoader(val, config.batch_size, num_workers=config.workers))
