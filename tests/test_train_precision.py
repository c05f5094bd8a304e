"""Mixed precision (bf16, fp16 with a GradScaler), torch.compile and TensorBoard logging in
``netdsl train``, each checked against torch driven by hand or read back independently."""
import copy
import csv
import functools
import sys

import pytest
import torch
from torch import nn

import netdsl
from netdsl.errors import UsageError
from netdsl.training import Trainer, load_config, train
from netdsl.training.checkpoint import load_checkpoint

pytestmark = pytest.mark.usefixtures("one_torch_thread")

TINY = """network tiny(num_classes: int = 4) { input [1, 12, 12]
  conv1: conv(6, 3, padding=1) relu maxpool(2)
  flatten
  fc: linear(num_classes) }"""


def config(*overrides, tmp_path=None):
    out = [f"out={tmp_path}"] if tmp_path else []
    return load_config(None, ["optimizer.name=sgd", "optimizer.lr=0.1", "epochs=2",
                              "data.train_size=128", "data.val_size=64", "data.test_size=64",
                              "data.batch_size=32", "progress=false", *out, *overrides])


def batches(count=3, seed=0):
    generator = torch.Generator().manual_seed(seed)
    return [(torch.randn(16, 1, 12, 12, generator=generator),
             torch.randint(0, 4, (16,), generator=generator)) for _ in range(count)]


def conv_dtype(trainer) -> torch.dtype:
    seen = []
    hook = trainer.model.conv1.register_forward_hook(lambda m, i, o: seen.append(o.dtype))
    trainer.step(*batches(1)[0])
    hook.remove()
    return seen[0]


def test_amp_true_and_the_flag_alone_mean_bf16():
    assert config("amp=true").amp == "bf16" and config("amp=false").amp is None
    assert conv_dtype(Trainer(netdsl.parse(TINY), config("amp=bf16"))) == torch.bfloat16
    assert conv_dtype(Trainer(netdsl.parse(TINY), config())) == torch.float32


def test_a_bf16_run_learns(tmp_path):
    summary = train(netdsl.parse(TINY), config("amp=bf16", "data.noise=0.3", tmp_path=tmp_path))
    assert summary["final"]["val_accuracy"] > 0.6  # chance: 0.25


def test_fp16_steps_are_torchs_gradscaler_loop():
    """The trainer's fp16 steps equal autocast + GradScaler written out by hand."""
    trainer = Trainer(netdsl.parse(TINY), config("amp=fp16", "clip.norm=1"))
    reference = copy.deepcopy(trainer.model)
    optimizer = torch.optim.SGD(reference.parameters(), lr=0.1)
    scaler = torch.amp.GradScaler("cpu")
    for x, y in batches():
        trainer.step(x, y)
        optimizer.zero_grad()
        with torch.autocast("cpu", dtype=torch.float16):
            loss = nn.functional.cross_entropy(reference(x).float(), y)
        scaler.scale(loss).backward()
        scaler.unscale_(optimizer)
        nn.utils.clip_grad_norm_(list(reference.parameters()), 1.0)
        scaler.step(optimizer)
        scaler.update()
    assert conv_dtype(copy.deepcopy(trainer)) == torch.float16
    for (name, mine), theirs in zip(trainer.model.named_parameters(), reference.parameters()):
        assert torch.equal(mine, theirs), name
    assert trainer.scaler.state_dict() == scaler.state_dict()


def test_fp16_scaler_state_is_checkpointed_and_restored(tmp_path):
    summary = train(netdsl.parse(TINY), config("amp=fp16", "data.noise=0.3", tmp_path=tmp_path))
    assert summary["final"]["val_accuracy"] > 0.6  # it learns (chance: 0.25)
    saved = load_checkpoint(tmp_path / "last.pt")["scaler"]
    assert saved["scale"] == 65536.0 and saved["_growth_tracker"] == 2 * (128 // 32)
    again = Trainer(netdsl.parse(TINY), config("amp=fp16"))
    again.load_state_dict(load_checkpoint(tmp_path / "last.pt"))
    assert again.scaler.state_dict() == saved


def test_compiled_runs_checkpoint_the_plain_module(tmp_path, monkeypatch):
    """torch.compile's wrapper prefixes its keys with ``_orig_mod.``; checkpoints must not.
    (The eager backend: the same wrapper, without minutes of C++ compiling on a CPU.)"""
    monkeypatch.setattr(torch, "compile", functools.partial(torch.compile, backend="eager"))
    trainer = Trainer(netdsl.parse(TINY), config("compile=true"))
    assert type(trainer.train_model).__name__ == "OptimizedModule"
    assert all(k.startswith("_orig_mod.") for k in trainer.train_model.state_dict())
    train(netdsl.parse(TINY), config("compile=true", tmp_path=tmp_path))
    state = load_checkpoint(tmp_path / "last.pt")["state_dict"]
    assert set(state) == set(netdsl.parse(TINY).to_torch().state_dict())
    netdsl.parse(TINY).to_torch().load_state_dict(state)  # strict


def test_tensorboard_logs_the_metrics(tmp_path):
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    train(netdsl.parse(TINY), config("tensorboard=true", tmp_path=tmp_path))
    events = EventAccumulator(str(tmp_path / "tb"))
    events.Reload()
    rows = list(csv.DictReader(open(tmp_path / "metrics.csv")))
    for tag, column in (("val/loss", "val_loss"), ("train/accuracy", "train_accuracy"), ("lr", "lr")):
        logged = [(e.step, e.value) for e in events.Scalars(tag)]
        assert logged == [(int(r["epoch"]), pytest.approx(float(r[column]), rel=1e-5))
                          for r in rows], tag


def test_tensorboard_missing_is_an_error_before_training(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "tensorboard", None)  # import tensorboard fails
    with pytest.raises(UsageError, match="--tensorboard needs the package tensorboard"):
        train(netdsl.parse(TINY), config("tensorboard=true", tmp_path=tmp_path))
    assert not (tmp_path / "last.pt").exists()
    train(netdsl.parse(TINY), config("epochs=1", tmp_path=tmp_path))  # off by default
    assert not (tmp_path / "tb").exists()


def test_amp_a_device_cannot_autocast_is_a_clear_error(monkeypatch):
    from netdsl.training import precision
    monkeypatch.setattr(torch.amp.autocast_mode, "is_autocast_available", lambda kind: False)
    with pytest.raises(UsageError, match="--amp fp16: torch has no autocast for cpu devices"):
        precision.check_amp("fp16", torch.device("cpu"))
