"""Real images: scikit-learn's digits (offline), torchvision's sets, image folders.

Every source gives a ``Splits``: train, validation and test datasets whose
items are ``(float tensor [C, H, W] in [0, 1] at the network's input size,
label)``, and the class names.  Splits are fixed (seed ``SPLIT_SEED``,
whatever the training seed), so test accuracies of different runs compare.

- ``digits``: scikit-learn's 1,797 handwritten 8×8 digits (grey 0..16,
  shipped inside the package), split ``1 - val - test`` / ``val`` / ``test``.
- ``mnist``, ``fashion-mnist``, ``cifar10``, ``cifar100``: torchvision's
  files under ``root`` (fetched only with ``download``); the official test
  set is the test split, and ``val_fraction`` of the training set (fixed) the
  validation split.
- ``folder``: ``ROOT/train``, ``ROOT/val``, ``ROOT/test`` of class
  sub-folders, or one tree of class sub-folders split like digits.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional, Sequence

import torch
from torch.utils.data import Dataset, Subset, TensorDataset

from ..errors import UsageError
from .images import ToNetwork, check_image_input, fit_channels, resize
from .optional import needs

SPLIT_SEED = 0
#: torchvision's datasets: --data name → class name, number of classes
TORCHVISION = {"mnist": ("MNIST", 10), "fashion-mnist": ("FashionMNIST", 10),
               "cifar10": ("CIFAR10", 10), "cifar100": ("CIFAR100", 100)}
IMAGE_KINDS = ("digits", *TORCHVISION, "folder")


@dataclass
class Splits:
    train: Dataset
    val: Dataset
    test: Dataset
    classes: list = field(default_factory=list)
    note: str = ""                   # how the splits were made, when worth saying


def split_indices(count: int, val: float, test: float,
                  seed: int = SPLIT_SEED) -> tuple[list[int], list[int], list[int]]:
    """A fixed random split of ``range(count)``: (train, val, test) index lists."""
    order = torch.randperm(count, generator=torch.Generator().manual_seed(seed)).tolist()
    n_val = max(1, round(count * val)) if val else 0
    n_test = max(1, round(count * test)) if test else 0
    if count - n_val - n_test < 1:
        raise UsageError(f"{count} images are too few to split into train, val and test")
    return order[n_val + n_test:], order[:n_val], order[n_val:n_val + n_test]


def known_class_count(kind: str, root: Optional[str]) -> Optional[int]:
    """How many classes ``kind`` has, found without loading it (None: not an image kind)."""
    if kind == "digits":
        return 10
    if kind in TORCHVISION:
        return TORCHVISION[kind][1]
    if kind == "folder":
        return len(folder_classes(folder_tree(root)[0]))
    return None


# ------------------------------------------------------------ digits
def digits(shape: Sequence[int], val: float, test: float) -> Splits:
    """scikit-learn's digits resized to ``shape``, split train/val/test."""
    check_image_input(shape, "--data digits")
    with needs("--data digits"):
        from sklearn.datasets import load_digits
    bunch = load_digits()
    images = torch.tensor(bunch.images, dtype=torch.float32).unsqueeze(1) / 16.0
    images = fit_channels_batch(resize(images, shape[1:]), shape[0])
    labels = torch.tensor(bunch.target, dtype=torch.long)
    train, val_i, test_i = split_indices(len(labels), val, test)
    part = lambda idx: TensorDataset(images[idx], labels[idx])  # noqa: E731
    return Splits(part(train), part(val_i), part(test_i), [str(d) for d in range(10)],
                  f"scikit-learn digits, 8x8 resized to {shape[1]}x{shape[2]}")


def fit_channels_batch(images: torch.Tensor, channels: int) -> torch.Tensor:
    return torch.stack([fit_channels(x, channels) for x in images]) if images.shape[1] != channels \
        else images


# ------------------------------------------------------------ torchvision
def torchvision_set(kind: str, root: Optional[str], download: bool, shape: Sequence[int],
                    val: float) -> Splits:
    """torchvision's ``kind`` under ``root``: a fixed share of its training set validates."""
    check_image_input(shape, f"--data {kind}")
    with needs(f"--data {kind}"):
        from torchvision import datasets
    cls = getattr(datasets, TORCHVISION[kind][0])
    root = root or "data"
    full = _open(cls, kind, root, True, download, shape)
    test = _open(cls, kind, root, False, download, shape)
    train_i, val_i, _ = split_indices(len(full), val, 0.0)
    return Splits(Subset(full, train_i), Subset(full, val_i), test, [str(c) for c in full.classes],
                  f"torchvision {TORCHVISION[kind][0]} from {root}")


def _open(cls, kind: str, root: str, train: bool, download: bool, shape) -> Dataset:
    try:
        return cls(root, train=train, download=download, transform=ToNetwork(shape))
    except RuntimeError as err:  # torchvision: "Dataset not found or corrupted"
        hint = (f"add --download to fetch it into {root} (needs a network connection), or give "
                f"--data-root DIR where it is" if not download else None)
        raise UsageError(f"--data {kind}: no usable copy under {root}: {err}", hint=hint) from None
    except OSError as err:  # urllib's URLError is an OSError: offline
        raise UsageError(f"--data {kind}: cannot download it into {root}: {err}",
                         hint="offline? copy the dataset's files there, or use --data digits, "
                              "which needs no network") from None


# ------------------------------------------------------------ folders
def folder_tree(root: Optional[str]) -> tuple[Path, dict[str, Path]]:
    """The class tree to count classes in, and the split folders present (train/val/test)."""
    if not root or not Path(root).is_dir():
        raise UsageError(f"data.root must be a folder of class sub-folders, got {root!r}",
                         hint="--data folder --data-root DIR")
    base = Path(root)
    splits = {name: base / name for name in ("train", "val", "test") if (base / name).is_dir()}
    return (splits["train"] if "train" in splits else base), splits


def folder_classes(tree: Path) -> list[str]:
    classes = sorted(d.name for d in tree.iterdir() if d.is_dir())
    if not classes:
        raise UsageError(f"{tree} has no class sub-folders",
                         hint="put each class's images in a sub-folder: ROOT/cat/*.jpg, ROOT/dog/*.jpg")
    return classes


def folder(root: Optional[str], shape: Sequence[int], val: float, test: float) -> Splits:
    check_image_input(shape, "--data folder")
    tree, splits = folder_tree(root)
    classes = folder_classes(tree)
    if "train" not in splits:
        everything = _image_folder(tree, shape)
        train_i, val_i, test_i = split_indices(len(everything), val, test)
        return Splits(*(Subset(everything, i) for i in (train_i, val_i, test_i)), classes,
                      f"one folder split {len(train_i)}/{len(val_i)}/{len(test_i)}")
    train_set = _image_folder(splits["train"], shape)
    if "val" in splits:
        val_set = _image_folder(splits["val"], shape, classes)
    else:
        train_i, val_i, _ = split_indices(len(train_set), val, 0.0)
        train_set, val_set = Subset(train_set, train_i), Subset(train_set, val_i)
    if "test" in splits:
        return Splits(train_set, val_set, _image_folder(splits["test"], shape, classes), classes)
    return Splits(train_set, val_set, val_set, classes, "no test folder: the test split is the val split")


def _image_folder(path: Path, shape, classes: Optional[list] = None) -> Dataset:
    with needs("--data folder"):
        from torchvision import datasets
    try:
        data = datasets.ImageFolder(path, ToNetwork(shape))
    except (FileNotFoundError, OSError) as err:
        raise UsageError(f"{path}: {err}", hint="each class sub-folder needs images "
                                                "(.jpg, .png, ...)") from None
    if classes is not None and data.classes != classes:
        raise UsageError(f"{path} has classes {data.classes}, the training folder {classes}")
    return data
