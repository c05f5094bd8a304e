"""Training data: train/val/test loaders for a network's input, normalised and augmented.

``synthetic``: every class has its own pattern — a Gaussian blob at a
class-specific place on a ring plus stripes of a class-specific orientation
(images; in 1-d: a bump and a class-specific frequency), or a random mean
vector (flat inputs) — under Gaussian noise, so a small network learns it in
seconds and accuracy shows whether training works.
``fake``: torchvision's FakeData (random images, random labels: for
throughput, not for learning).  Real images — ``digits``, ``mnist``,
``fashion-mnist``, ``cifar10``, ``cifar100``, ``folder`` — come from
``datasets.py``.

Shuffling is a ``DistributedSampler`` seeded from (seed, epoch) before every
epoch (``Data.start_epoch``; with one process it is a plain shuffle), and the
loader's own generator (the workers' seeds) is re-seeded alike: a resumed run
shuffles its remaining epochs exactly as the uninterrupted run would, and a
torchrun run's ranks split the same shuffle (``distributed.py``).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional

import torch
from torch.utils.data import DataLoader, Dataset, TensorDataset

from ..errors import UsageError
from .checks import choice_hint
from .config import DataConfig, TransferConfig
from .distributed import ShardSampler, World, train_sampler
from .datasets import IMAGE_KINDS, TORCHVISION, Splits, digits, folder, known_class_count, \
    torchvision_set
from .images import Normalization, Prepared, augmentation, channel_stats
from .optional import needs

KINDS = ("synthetic", "fake", *IMAGE_KINDS)
NORMALIZE = ("auto", "train", "weights", "none")


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




# ------------------------------------------------------------ splits
def make_splits(config: DataConfig, shape: tuple[int, ...], classes: int, seed: int) -> Splits:
    """Train, validation and test datasets (not yet normalised) for an input of ``shape``."""
    kind = config.kind
    if kind not in KINDS:
        raise UsageError(f"unknown data kind '{kind}'", hint=choice_hint(kind, KINDS))
    names = [str(k) for k in range(classes)]
    if kind == "synthetic":
        sets = [synthetic_dataset(size, shape, classes, config.noise, seed + i) for i, size in
                enumerate((config.train_size, config.val_size, config.test_size))]
        return Splits(*sets, names)
    if kind == "fake":
        if len(shape) != 3:
            raise UsageError(f"data kind 'fake' needs an image input [C, H, W], got {list(shape)}")
        sizes = (config.train_size, config.val_size, config.test_size)
        return Splits(*(_fake(n, shape, classes, offset) for offset, n in enumerate(sizes)), names)
    if kind == "digits":
        return digits(shape, config.val_fraction, config.test_fraction)
    if kind in TORCHVISION:
        return torchvision_set(kind, config.root, config.download, shape, config.val_fraction)
    return folder(config.root, shape, config.val_fraction, config.test_fraction)


def _fake(size: int, shape: tuple[int, ...], classes: int, offset: int) -> Dataset:
    with needs("--data fake"):
        import torchvision
    return torchvision.datasets.FakeData(size, shape, classes,
                                         transform=torchvision.transforms.ToTensor(),
                                         random_offset=offset * 1_000_003)


def make_datasets(config: DataConfig, shape: tuple[int, ...], classes: int,
                  seed: int) -> tuple[Dataset, Dataset]:
    """(train, validation) datasets, not normalised (``make_splits`` also gives the test split)."""
    splits = make_splits(config, shape, classes, seed)
    return splits.train, splits.val


# ------------------------------------------------------------ classes
def class_count(network, config: DataConfig) -> int:
    """Classes to train on, checked against the width of the network's main output."""
    shape = network.output_shapes[network.outputs[0]["name"]]
    if len(shape) != 1:
        raise UsageError(f"netdsl train fits classifiers: the main output should be [classes], "
                         f"got {list(shape)}")
    width = shape[0]
    known = known_class_count(config.kind, config.root) if config.kind in KINDS else None
    if known is None:
        if config.classes is not None and config.classes > width:
            raise UsageError(f"data.classes={config.classes}, but the network outputs {width} "
                             "scores", hint=_width_hint(network, config.classes))
        return config.classes or width
    if config.classes is not None and config.classes != known:
        raise UsageError(f"data.classes={config.classes}, but --data {config.kind} has {known} "
                         "classes", hint="data.classes applies to synthetic and fake data")
    if known != width:
        raise UsageError(f"--data {config.kind} has {known} classes, but the network's main "
                         f"output has {width} scores", hint=_width_hint(network, known))
    return known


def _width_hint(network, classes: int) -> str:
    """``--set num_classes=N`` when the network has such a parameter."""
    width = network.output_shapes[network.outputs[0]["name"]][0]
    params = network.ir.graph.get("params") or {}
    named = [k for k, v in params.items() if "class" in k.lower() and v == width]
    if named:
        return f"set the network's classes: --set {named[0]}={classes}"
    return f"make the network's last layer {classes} wide"


# ------------------------------------------------------------ loaders
@dataclass
class Data:
    """Loaders of the three splits, class names, and the normalisation applied."""

    train: DataLoader
    val: DataLoader
    test: DataLoader
    classes: list
    normalization: Optional[Normalization]
    seed: int
    note: str = ""

    def start_epoch(self, epoch: int) -> None:
        """Re-seed the shuffling (and the workers' seeds) of training epoch ``epoch``."""
        self.train.sampler.set_epoch(epoch)
        self.train.generator.manual_seed(self.seed * 1_000_003 + epoch)


def make_data(config: DataConfig, shape: tuple[int, ...], classes: int, seed: int,
              transfer: Optional[TransferConfig] = None,
              normalization: Optional[Normalization] = None, augment: bool = True,
              world: Optional[World] = None) -> Data:
    """Loaders for training; ``normalization`` given (a checkpoint's) is used as it is;
    ``augment=False``: the training split as the others, unaugmented (evaluation).
    Under torchrun (``world``) each rank loads its share: batches of
    ``batch_size / world.size`` images, and every world.size-th validation image."""
    world = world or World()
    batch = world.per_rank_batch(config.batch_size)
    splits = make_splits(config, shape, classes, seed)
    if normalization is None:
        normalization = choose_normalization(config, transfer, splits, shape)
    augment = augmentation(config.crop_padding, config.flip, config.resized_crop, shape) \
        if augment else None
    loader = lambda data, **kw: DataLoader(data, batch, num_workers=config.workers,  # noqa: E731
                                           generator=torch.Generator().manual_seed(seed), **kw)
    shuffled = Prepared(splits.train, augment, normalization)
    sampler = train_sampler(shuffled, world, seed)
    train = loader(shuffled, sampler=sampler, drop_last=len(sampler) > batch)
    val, test = (loader(part, sampler=ShardSampler(part, world) if world.distributed else None)
                 for part in (Prepared(s, None, normalization) for s in (splits.val, splits.test)))
    return Data(train, val, test, splits.classes, normalization, seed, splits.note)


def choose_normalization(config: DataConfig, transfer: Optional[TransferConfig], splits: Splits,
                         shape: tuple[int, ...]) -> Optional[Normalization]:
    """``normalize``: auto (the pretrained weights', else the training split's for real
    images, none for synthetic and fake data), train, weights or none."""
    choice = config.normalize
    if choice not in NORMALIZE:
        raise UsageError(f"training setting 'data.normalize' cannot be '{choice}'",
                         hint=choice_hint(choice, NORMALIZE))
    pretrained = bool(transfer and transfer.weights and
                      (transfer.init_from or "").startswith("torchvision:"))
    if choice == "auto":
        choice = "weights" if pretrained else "none" if config.kind in ("synthetic", "fake") \
            else "train"
    if choice == "none":
        return None
    if choice == "train":
        return channel_stats(splits.train)
    if not pretrained:
        raise UsageError("data.normalize: weights needs transfer.init_from: torchvision:NAME "
                         "with transfer.weights")
    return weights_normalization(transfer, shape)


def weights_normalization(transfer: TransferConfig, shape: tuple[int, ...]) -> Normalization:
    """The mean and std of torchvision's pretrained weights' own transforms."""
    with needs("data.normalize: weights"):
        from torchvision import models
    name = transfer.init_from.partition(":")[2]
    try:
        preset = models.get_model_weights(name)[transfer.weights].transforms()
    except (KeyError, ValueError) as err:
        raise UsageError(f"no torchvision weights {name}/{transfer.weights}: {err}") from None
    mean, std = list(preset.mean), list(preset.std)
    if shape[0] == 1:
        mean, std = [sum(mean) / 3], [sum(std) / 3]
    return Normalization(mean, std)
