"""Training data: digits, torchvision sets, folders, splits, normalisation, augmentation,
class-count checks and missing optional dependencies."""
import struct
import sys

import pytest
import torch
from conftest import ARCH

import netdsl
from netdsl.cli import main
from netdsl.errors import UsageError
from netdsl.training import load_config
from netdsl.training.data import class_count, make_data, make_splits, weights_normalization
from netdsl.training.images import Normalization, augmentation, channel_stats, fit_channels
from netdsl.training.progress import terminal_bar

pytestmark = pytest.mark.usefixtures("one_torch_thread")



def data_config(*overrides):
    return load_config(None, list(overrides)).data


def test_digits_splits_are_fixed_disjoint_and_resized():
    splits = make_splits(data_config("data.kind=digits"), (1, 32, 32), 10, seed=0)
    sizes = [len(s) for s in (splits.train, splits.val, splits.test)]
    assert sizes == [1257, 270, 270] and splits.classes == [str(d) for d in range(10)]
    x, y = splits.train[0]
    assert x.shape == (1, 32, 32) and 0 <= x.min() and x.max() <= 1 and 0 <= y < 10
    again = make_splits(data_config("data.kind=digits"), (1, 32, 32), 10, seed=7)
    assert torch.equal(splits.test.tensors[0], again.test.tensors[0])  # the seed trains, not splits
    rows = {tuple(t.flatten()[:40].tolist()) for s in (splits.train, splits.test) for t in s.tensors[0]}
    assert len(rows) > 1257  # no image in both (a few digits are duplicates in the set itself)
    rgb = make_splits(data_config("data.kind=digits"), (3, 16, 16), 10, 0)
    image = rgb.train[0][0]
    assert image.shape == (3, 16, 16) and torch.equal(image[0], image[2])


def test_normalisation_comes_from_the_training_split_and_is_applied():
    data = make_data(data_config("data.kind=digits"), (1, 32, 32), 10, seed=0)
    assert data.normalization is not None and data.normalization.std[0] > 0.1
    batch = torch.cat([x for x, _ in data.train])
    assert abs(batch.mean()) < 0.05 and abs(batch.std() - 1) < 0.05
    none = make_data(data_config("data.kind=digits", "data.normalize=none"), (1, 32, 32), 10, 0)
    assert none.normalization is None and next(iter(none.val))[0].min() >= 0
    synthetic = make_data(data_config("data.train_size=64", "data.val_size=8", "data.test_size=8"),
                          (1, 8, 8), 3, 0)
    assert synthetic.normalization is None and len(synthetic.test.dataset) == 8
    stats = channel_stats(torch.utils.data.TensorDataset(torch.stack([torch.zeros(2, 3, 3),
                                                                      torch.ones(2, 3, 3)]),
                                                         torch.zeros(2)))
    assert stats.mean == [0.5, 0.5] and Normalization(**stats.to_dict()) == stats


def test_pretrained_weights_bring_their_own_normalisation():
    transfer = load_config(None, ["transfer.init_from=torchvision:resnet18"]).transfer
    assert weights_normalization(transfer, (3, 224, 224)).mean == [0.485, 0.456, 0.406]
    with pytest.raises(UsageError, match="needs transfer.init_from"):
        make_data(data_config("data.kind=digits", "data.normalize=weights"), (1, 8, 8), 10, 0)


def test_shuffling_is_seeded_per_epoch():
    data = make_data(data_config("data.kind=digits"), (1, 8, 8), 10, seed=3)
    order = lambda: torch.cat([y for _, y in data.train])  # noqa: E731
    data.start_epoch(2)
    second = order()
    data.start_epoch(1)
    first = order()
    data.start_epoch(2)
    assert torch.equal(order(), second) and not torch.equal(first, second)


def test_augmentation_keeps_the_shape_and_is_off_by_default():
    assert augmentation(0, False, 0.0, (1, 32, 32)) is None
    augment = augmentation(4, True, 0.5, (3, 32, 32))
    torch.manual_seed(0)
    x = torch.rand(3, 32, 32)
    out = augment(x)
    assert out.shape == x.shape and not torch.equal(out, x)
    assert fit_channels(torch.ones(3, 2, 2), 1).shape == (1, 2, 2)
    with pytest.raises(UsageError, match="wants 4"):
        fit_channels(torch.ones(3, 2, 2), 4)


def test_class_count_is_checked_against_the_network():
    lenet5 = netdsl.load(ARCH / "lenet5.net", params={"num_classes": "5"})
    with pytest.raises(UsageError, match="digits has 10 classes, but the network's main output "
                                         "has 5 scores") as err:
        class_count(lenet5, data_config("data.kind=digits"))
    assert "--set num_classes=10" in err.value.hint
    with pytest.raises(UsageError, match="cifar100 has 100 classes"):
        class_count(netdsl.load(ARCH / "lenet5.net"), data_config("data.kind=cifar100"))
    assert class_count(lenet5, data_config("data.classes=3")) == 3


def _idx(path, magic, dims, data: bytes):
    path.write_bytes(struct.pack(">I", magic) + b"".join(struct.pack(">I", d) for d in dims) + data)


def test_torchvision_mnist_from_local_files_and_a_clear_error_without_them(tmp_path):
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for prefix, count in (("train", 40), ("t10k", 10)):
        pixels = bytes((i * 7) % 256 for i in range(count * 28 * 28))
        _idx(raw / f"{prefix}-images-idx3-ubyte", 2051, (count, 28, 28), pixels)
        _idx(raw / f"{prefix}-labels-idx1-ubyte", 2049, (count,), bytes(i % 10 for i in range(count)))
    splits = make_splits(data_config("data.kind=mnist", f"data.root={tmp_path}"), (3, 32, 32), 10, 0)
    assert [len(s) for s in (splits.train, splits.val, splits.test)] == [34, 6, 10]
    assert splits.train[0][0].shape == (3, 32, 32) and splits.classes[0] == "0 - zero"
    with pytest.raises(UsageError, match="no usable copy") as err:
        make_splits(data_config("data.kind=cifar10", f"data.root={tmp_path}"), (3, 32, 32), 10, 0)
    assert "--download" in err.value.hint


def test_image_folders_with_split_sub_folders(tmp_path):
    from PIL import Image
    for split, count in (("train", 4), ("val", 2), ("test", 2)):
        for cls in ("cat", "dog"):
            (tmp_path / split / cls).mkdir(parents=True)
            for i in range(count):
                Image.new("RGB", (20, 16), (40 * i, 90, 200)).save(tmp_path / split / cls / f"{i}.png")
    splits = make_splits(data_config("data.kind=folder", f"data.root={tmp_path}"), (1, 8, 8), 2, 0)
    assert [len(s) for s in (splits.train, splits.val, splits.test)] == [8, 4, 4]
    assert splits.classes == ["cat", "dog"] and splits.train[0][0].shape == (1, 8, 8)
    (tmp_path / "empty").mkdir()
    with pytest.raises(UsageError, match="no class sub-folders"):
        make_splits(data_config("data.kind=folder", f"data.root={tmp_path / 'empty'}"), (1, 8, 8), 2, 0)


@pytest.mark.parametrize("module, argv", [
    ("sklearn", ["--data", "digits"]),
    ("torchvision", ["--data", "digits", "--augment", "flip"]),
    ("matplotlib", []),
])
def test_a_missing_optional_package_is_a_usage_error(module, argv, monkeypatch, capsys, tmp_path):
    for name in [m for m in sys.modules if m == module or m.startswith(module + ".")] + [module]:
        monkeypatch.setitem(sys.modules, name, None)
    status = main(["train", str(ARCH / "lenet5.net"), *argv, "--epochs", "1", "--out", str(tmp_path)])
    err = capsys.readouterr().err
    assert status != 0 and "pip install 'netdsl[train]'" in err and "Traceback" not in err


def test_the_progress_bar_needs_tqdm_only_on_a_terminal(monkeypatch):
    class Terminal:
        def isatty(self):
            return True

        def write(self, text):
            pass

        def flush(self):
            pass
    assert terminal_bar(None) is None or sys.stdout.isatty()  # pytest captures stdout
    bar = terminal_bar(Terminal())(100, "epoch 1/1")
    bar.update(50, lambda: (0.5, 0.25))
    bar.close()
    monkeypatch.setitem(sys.modules, "tqdm", None)
    with pytest.raises(UsageError, match=r"pip install 'netdsl\[train\]'"):
        terminal_bar(Terminal())
