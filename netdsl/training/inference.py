"""Using a trained checkpoint: score it on a data split, or classify image files.

The checkpoint brings its own settings (data kind, batch size, seed...),
class names and normalisation statistics; overrides change the settings, so
a model trained on one copy of a dataset can be scored on another.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Sequence

from ..errors import UsageError
from .checkpoint import load_model, settings_of
from .config import TrainConfig, apply_override, from_dict
from .data import class_count, make_data
from .evaluate import Evaluation, evaluate_model, read_images, top_classes
from .images import Normalization
from .loop import pick_device

SPLITS = ("test", "val", "train")


def checkpoint_config(payload: dict, overrides: Sequence[str] = ()) -> TrainConfig:
    """The checkpoint's training settings with ``KEY=VALUE`` overrides, validated."""
    raw = settings_of(payload)
    for item in overrides:
        apply_override(raw, item)
    return from_dict(TrainConfig, raw, "").validate()


@dataclass
class Scored:
    result: Evaluation
    classes: list
    split: str
    images: int
    note: str = ""


def evaluate_checkpoint(network, payload: dict, overrides: Sequence[str] = (),
                        split: str = "test", device: Optional[str] = None) -> Scored:
    """Score the checkpoint's weights on ``split`` of the (checkpoint's) data."""
    if split not in SPLITS:
        raise UsageError(f"no split '{split}'", hint=f"choose from {', '.join(SPLITS)}")
    config = checkpoint_config(payload, overrides)
    target = pick_device(device or config.device)
    model = load_model(network, payload, target)
    classes = class_count(network, config.data)
    data = make_data(config.data, network.input_shape, classes, config.seed, config.transfer,
                     Normalization.from_dict(payload.get("normalization")), augment=False)
    loader = getattr(data, split)
    prepare = lambda x, y: (x.to(target), y.to(target))  # noqa: E731
    result = evaluate_model(model, loader, prepare)
    names = payload.get("classes") or data.classes
    note = "" if list(names) == list(data.classes) else \
        f"the data's classes {data.classes[:5]}... differ from the checkpoint's {names[:5]}..."
    return Scored(result, list(names), split, len(loader.dataset), note)


def predict_files(network, payload: dict, paths: Sequence[str], k: int = 5,
                  device: Optional[str] = None) -> list[list[tuple[str, float]]]:
    """The ``k`` most probable classes of each image file, with probabilities."""
    if k < 1:
        raise UsageError(f"--top-k must be 1 or more, got {k}")
    target = pick_device(device or "cpu")
    model = load_model(network, payload, target)
    images = read_images(paths, network.input_shape,
                         Normalization.from_dict(payload.get("normalization")))
    names = payload.get("classes") or []
    results = []
    for start in range(0, len(images), 256):
        results += top_classes(model, images[start:start + 256].to(target), names, k)
    return results
