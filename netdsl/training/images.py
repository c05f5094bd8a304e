"""Images as the network sees them: float tensors ``[C, H, W]`` at its input size, normalised.

Every image source (scikit-learn's digits, torchvision's datasets, image
folders, ``netdsl predict``'s files) goes through the same steps: grey or RGB
to match the network's channels (grey is replicated; RGB becomes luminance),
a bilinear resize to the input size (antialiased when shrinking), then — in
training only — augmentation, then per-channel normalisation
``(x - mean) / std`` with the statistics kept in the checkpoint.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional, Sequence

import torch
from torch.nn import functional as F
from torch.utils.data import Dataset

from ..errors import UsageError
from .optional import needs

#: RGB → luminance (ITU-R 601, as PIL's convert("L"))
LUMA = (0.299, 0.587, 0.114)


def fit_channels(x: torch.Tensor, channels: int) -> torch.Tensor:
    """``x`` ``[c, H, W]`` with ``channels`` channels: grey replicated, RGB to luminance."""
    if x.shape[0] == channels:
        return x
    if x.shape[0] == 1:
        return x.expand(channels, *x.shape[1:]).contiguous()
    if x.shape[0] == 3 and channels == 1:
        return torch.tensordot(torch.tensor(LUMA, dtype=x.dtype), x, dims=1).unsqueeze(0)
    raise UsageError(f"images have {x.shape[0]} channels; the network wants {channels}",
                     hint="image data gives grey or RGB images: use a network input [1, H, W] "
                          "or [3, H, W]")


def resize(x: torch.Tensor, size: Sequence[int]) -> torch.Tensor:
    """Bilinear resize of ``x`` (``[C, H, W]`` or ``[N, C, H, W]``) to ``size`` (H, W)."""
    size = tuple(size)
    if tuple(x.shape[-2:]) == size:
        return x
    batch = x if x.dim() == 4 else x.unsqueeze(0)
    out = F.interpolate(batch, size=size, mode="bilinear", align_corners=False, antialias=True)
    return out if x.dim() == 4 else out[0]


def check_image_input(shape: Sequence[int], what: str) -> None:
    if len(shape) != 3 or shape[0] not in (1, 3):
        raise UsageError(f"{what} gives images: the network's input should be [1, H, W] or "
                         f"[3, H, W], got {list(shape)}", hint="set it with --input 1x32x32")


class ToNetwork:
    """A PIL image → float tensor ``[C, H, W]`` in [0, 1] at the network's input shape."""

    def __init__(self, shape: Sequence[int]):
        self.shape = tuple(shape)

    def __call__(self, image) -> torch.Tensor:
        with needs("reading images"):
            import numpy
        mode = "L" if self.shape[0] == 1 else "RGB"
        array = numpy.asarray(image.convert(mode) if image.mode != mode else image)
        x = torch.from_numpy(array.astype(numpy.float32) / 255.0)
        x = x.unsqueeze(0) if x.dim() == 2 else x.permute(2, 0, 1)
        return resize(x.contiguous(), self.shape[1:])


@dataclass
class Normalization:
    """Per-channel ``(x - mean) / std``; one value for every channel when given once."""

    mean: list
    std: list

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        view = [1] * x.dim()  # channels: [C, ...] or a batch [N, C, H, W]
        view[1 if x.dim() == 4 else 0] = len(self.mean)
        mean = torch.tensor(self.mean, dtype=x.dtype).view(view)
        std = torch.tensor(self.std, dtype=x.dtype).view(view)
        return (x - mean) / std

    def to_dict(self) -> dict:
        return {"mean": [float(m) for m in self.mean], "std": [float(s) for s in self.std]}

    @classmethod
    def from_dict(cls, data: Optional[dict]) -> Optional["Normalization"]:
        return cls(list(data["mean"]), list(data["std"])) if data else None


def channel_stats(dataset: Dataset, limit: int = 2000, seed: int = 0) -> Normalization:
    """Mean and std per channel over (a seeded sample of at most ``limit``) items of ``dataset``."""
    count = len(dataset)
    order = torch.randperm(count, generator=torch.Generator().manual_seed(seed))[:limit]
    tensors = getattr(dataset, "tensors", None)
    images = tensors[0][order] if tensors else torch.stack([dataset[int(i)][0] for i in order])
    images = images.double()
    per_channel = images.transpose(0, 1).reshape(images.shape[1], -1) if images.dim() > 2 \
        else images.reshape(1, -1)
    mean, std = per_channel.mean(1), per_channel.std(1)
    std = torch.where(std > 1e-6, std, torch.ones_like(std))
    return Normalization([round(float(m), 6) for m in mean], [round(float(s), 6) for s in std])


def augmentation(crop_padding: int, flip: bool, resized_crop: float,
                 shape: Sequence[int]) -> Optional[Callable]:
    """The training augmentation the settings ask for, on tensors (None: none)."""
    if not (crop_padding or flip or resized_crop):
        return None
    check_image_input(shape, "augmentation")
    with needs("augmentation"):
        from torchvision import transforms
    size = tuple(shape[1:])
    steps = []
    if resized_crop:
        steps.append(transforms.RandomResizedCrop(size, scale=(resized_crop, 1.0), antialias=True))
    if crop_padding:
        steps.append(transforms.RandomCrop(size, padding=crop_padding))
    if flip:
        steps.append(transforms.RandomHorizontalFlip())
    return transforms.Compose(steps)


class Prepared(Dataset):
    """``base``'s items augmented (training only) and normalised."""

    def __init__(self, base: Dataset, augment: Optional[Callable] = None,
                 normalization: Optional[Normalization] = None):
        self.base, self.augment, self.normalization = base, augment, normalization

    def __len__(self) -> int:
        return len(self.base)

    def __getitem__(self, index: int):
        x, y = self.base[index]
        if self.augment is not None:
            x = self.augment(x)
        if self.normalization is not None:
            x = self.normalization(x)
        return x, y
