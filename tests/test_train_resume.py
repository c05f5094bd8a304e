"""Checkpoints and exact resume: a run killed (SIGKILL) at any point and resumed ends
bit-identical to the uninterrupted run; a kill during a checkpoint write leaves the
previous checkpoint loadable."""
import csv
import os
import signal
import subprocess
import sys

import pytest
import torch
from conftest import ROOT

from netdsl.cli import main
from netdsl.errors import UsageError
from netdsl.training import checkpoint
from netdsl.training.checkpoint import load_checkpoint, prepare_out, rng_state, set_rng_state

pytestmark = pytest.mark.usefixtures("one_torch_thread")


# Dropout, augmentation, momentum and a cosine schedule: every piece of state a resume restores.
NET = """network drop(num_classes: int = 10) { input [1, 12, 12]
  conv1: conv(8, 3, padding=1) relu maxpool(2)
  flatten
  dropout(0.3)
  fc: linear(num_classes) }"""
ARGS = ["--data", "digits", "--epochs", "4", "--threads", "1", "--augment", "crop",
        "--augment", "flip", "--optimizer", "sgd", "--lr", "0.05", "-O", "optimizer.momentum=0.9",
        "--schedule", "cosine", "--no-progress"]

# Run netdsl train in a child that SIGKILLs itself at the point HOOK names.
CHILD = r"""
import os, signal, sys
from netdsl.cli import main
from netdsl.training import loop, session
hook, at = sys.argv[1], int(sys.argv[2])
die = lambda: os.kill(os.getpid(), signal.SIGKILL)
if hook == "after-checkpoint":
    save = session.save_checkpoints
    def after(trainer, data, state, out, improved):
        save(trainer, data, state, out, improved)
        if state.epoch == at:
            die()
    session.save_checkpoints = after
elif hook == "before-replace":  # the new last.pt is written and synced, not yet renamed
    replace, seen = os.replace, []
    def before(src, dst):
        seen.append(dst) if str(dst).endswith("last.pt") else None
        if len(seen) == at:
            die()
        replace(src, dst)
    os.replace = before
elif hook == "mid-epoch":
    step = loop.Trainer._step
    def counting(self, x, y):
        if self.steps == at:
            die()
        return step(self, x, y)
    loop.Trainer._step = counting
main(sys.argv[3:])
"""


@pytest.fixture(scope="module")
def net_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("net") / "drop.net"
    path.write_text(NET)
    return path


@pytest.fixture(scope="module")
def uninterrupted(net_file, tmp_path_factory):
    out = tmp_path_factory.mktemp("whole")
    assert main(["train", str(net_file), *ARGS, "--out", str(out)]) == 0
    return out


def killed_run(net_file, out, hook: str, at: int) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, "-c", CHILD, hook, str(at), "train", str(net_file),
                           *ARGS, "--out", str(out)], env=env, cwd=ROOT, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == -signal.SIGKILL, proc.stderr[-2000:]


def assert_same_run(a, b):
    first, second = load_checkpoint(a / "last.pt"), load_checkpoint(b / "last.pt")
    assert first["epoch"] == second["epoch"] == 4
    for key, tensor in first["state_dict"].items():
        assert torch.equal(tensor, second["state_dict"][key]), key
    for index, state in first["optimizer"]["state"].items():
        for key, value in state.items():
            assert torch.equal(value, second["optimizer"]["state"][index][key])
    columns = ("epoch", "train_loss", "train_accuracy", "val_loss", "val_accuracy", "lr")
    rows = [[tuple(r[c] for c in columns) for r in csv.DictReader(open(d / "metrics.csv"))]
            for d in (a, b)]
    assert rows[0] == rows[1] and len(rows[0]) == 4


# steps per epoch: 1257 training digits // 32 = 39
@pytest.mark.parametrize("hook, at, left", [
    ("after-checkpoint", 2, 2),    # killed right after epoch 2's checkpoints
    ("before-replace", 3, 2),      # killed inside epoch 3's last.pt write
    ("mid-epoch", 2 * 39 + 17, 2),  # killed in the middle of epoch 3
])
def test_killed_and_resumed_run_is_bit_identical(net_file, uninterrupted, tmp_path, hook, at, left):
    killed_run(net_file, tmp_path, hook, at)
    assert load_checkpoint(tmp_path / "last.pt")["epoch"] == left  # the previous one, intact
    if hook == "before-replace":
        assert list(tmp_path.glob(".last.pt.*.tmp"))  # the unfinished write, never read
    assert main(["train", str(net_file), "--resume", str(tmp_path), "--no-progress"]) == 0
    assert not list(tmp_path.glob(".*.tmp"))
    assert_same_run(uninterrupted, tmp_path)


def test_resume_continues_the_out_folder_and_a_finished_run_trains_no_more(
        net_file, uninterrupted, capsys):
    before = (uninterrupted / "last.pt").read_bytes()
    assert main(["train", str(net_file), *ARGS, "--out", str(uninterrupted), "--resume"]) == 0
    out = capsys.readouterr().out
    assert "resuming" in out and "epoch 4/4" not in out and "test accuracy" in out
    assert (uninterrupted / "last.pt").read_bytes() == before


def test_checkpoint_contents_load_with_weights_only(uninterrupted):
    payload = torch.load(uninterrupted / "last.pt", weights_only=True)
    assert payload["classes"] == [str(d) for d in range(10)]
    assert payload["net_source"] == NET and payload["input_shape"] == [1, 12, 12]
    assert payload["config"]["data"]["kind"] == "digits" and payload["step"] == 4 * 39
    assert set(payload["rng"]) >= {"python", "torch", "numpy"}
    assert len(payload["normalization"]["mean"]) == 1 and payload["schedule"]
    best = load_checkpoint(uninterrupted / "best.pt")
    assert best["run"]["best_epoch"] == best["epoch"]


def test_rng_states_round_trip():
    import random

    import numpy
    state = rng_state()
    drawn = (random.random(), numpy.random.rand(), torch.rand(3))
    set_rng_state(state)
    again = (random.random(), numpy.random.rand(), torch.rand(3))
    assert drawn[:2] == again[:2] and torch.equal(drawn[2], again[2])


def test_a_failed_write_keeps_the_previous_file(tmp_path, monkeypatch):
    target = tmp_path / "last.pt"
    checkpoint.write_atomically(target, b"old")

    def crash(src, dst):
        raise OSError("disk full")
    monkeypatch.setattr(checkpoint.os, "replace", crash)
    with pytest.raises(OSError):
        checkpoint.write_atomically(target, b"new")
    assert target.read_bytes() == b"old" and list(tmp_path.iterdir()) == [target]


def test_output_folder_is_checked_before_training(tmp_path, net_file, capsys):
    (tmp_path / "file").write_text("")
    with pytest.raises(UsageError, match="is a file"):
        prepare_out(tmp_path / "file")
    with pytest.raises(UsageError, match="is under the file"):
        prepare_out(tmp_path / "file" / "run")
    assert main(["train", str(net_file), "--out", str(tmp_path / "file" / "x")]) != 0
    assert "under the file" in capsys.readouterr().err
    with pytest.raises(UsageError, match="no checkpoint"):
        load_checkpoint(tmp_path / "nothing")
    (tmp_path / "torn.pt").write_bytes(b"PK\x03\x04 torn")
    with pytest.raises(UsageError, match="cannot read checkpoint"):
        load_checkpoint(tmp_path / "torn.pt")


def test_early_stopping_ends_the_run_and_a_stopped_run_stays_stopped(net_file, tmp_path, capsys):
    argv = ["train", str(net_file), *ARGS, "--out", str(tmp_path), "-O", "early_stop.patience=1",
            "-O", "early_stop.metric=val_accuracy", "-O", "early_stop.min_delta=0.9"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "early stop: val_accuracy" in out and "epoch 2/4" in out and "epoch 3/4" not in out
    assert load_checkpoint(tmp_path / "last.pt")["run"]["stopped_early"]
    assert main(argv + ["--resume"]) == 0
    assert "epoch 3/4" not in capsys.readouterr().out
