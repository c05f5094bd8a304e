"""torchrun / DistributedDataParallel: a 2-process gloo run on the CPU trains the same weights
as one process with the same global batch and seed (the network has no batch norm, whose
per-process statistics would differ by design; --sync-bn is for GPUs)."""
import csv
import os
import subprocess
import sys

import pytest
import torch
from conftest import ROOT

from netdsl.cli import main
from netdsl.errors import UsageError
from netdsl.training.checkpoint import load_checkpoint
from netdsl.training.distributed import ShardSampler, World, convert_sync_bn

pytestmark = pytest.mark.usefixtures("one_torch_thread")

NET = """network tiny(num_classes: int = 10) { input [1, 12, 12]
  conv1: conv(8, 3, padding=1) relu maxpool(2)
  flatten
  fc: linear(num_classes) }"""
# 1257 training digits: 39 steps of 32 per epoch (16 per process per step)
ARGS = ["--data", "digits", "--epochs", "2", "--threads", "1", "--batch-size", "32",
        "--optimizer", "sgd", "--lr", "0.05", "-O", "optimizer.momentum=0.9", "--schedule",
        "cosine", "-O", "schedule.interval=step", "--seed", "3", "--no-progress"]


def torchrun(*args: str, processes: int = 2) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK")}
    env["PYTHONPATH"] = str(ROOT)
    command = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", str(processes),
               "--standalone", "-m", "netdsl", *args]
    return subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True, timeout=300)


def rows(out):
    with open(out / "metrics.csv") as handle:
        return list(csv.DictReader(handle))


def test_two_processes_train_the_weights_of_one(tmp_path, capsys):
    net = tmp_path / "tiny.net"
    net.write_text(NET)
    assert main(["train", str(net), *ARGS, "--out", str(tmp_path / "one")]) == 0
    capsys.readouterr()
    proc = torchrun("train", str(net), *ARGS, "--out", str(tmp_path / "two"))
    assert proc.returncode == 0, proc.stderr[-3000:]
    # rank 0 alone speaks and writes
    assert proc.stdout.count("final val accuracy") == 1 and proc.stdout.count("epoch 2/2") == 1
    assert "2 processes (DDP)" in proc.stdout
    one, two = load_checkpoint(tmp_path / "one" / "last.pt"), load_checkpoint(tmp_path / "two" / "last.pt")
    assert one["step"] == two["step"] == 2 * 39
    for key, tensor in one["state_dict"].items():
        assert torch.allclose(tensor, two["state_dict"][key], atol=1e-4, rtol=0), key
    assert len(two["rank_rng"]) == 2  # each rank's random state, for resuming
    # validation over the ranks' shares is the one-process validation of the whole split
    for a, b in zip(rows(tmp_path / "one"), rows(tmp_path / "two"), strict=True):
        assert float(a["val_loss"]) == pytest.approx(float(b["val_loss"]), abs=1e-4)
        assert a["val_accuracy"] == b["val_accuracy"] and a["train_accuracy"] == b["train_accuracy"]
        assert a["lr"] == b["lr"]
    tests = [load_json(tmp_path / d)["test"] for d in ("one", "two")]
    assert tests[0]["images"] == tests[1]["images"] == 270
    assert tests[0]["accuracy"] == tests[1]["accuracy"] > 0.5  # and it did learn (chance: 0.1)


def load_json(out):
    import json
    return json.loads((out / "metrics.json").read_text())


def test_the_global_batch_must_split_evenly():
    assert World(1, 4, 1).per_rank_batch(32) == 8
    with pytest.raises(UsageError, match="--batch-size 30 is the global batch.*4 processes"):
        World(1, 4, 1).per_rank_batch(30)


def test_evaluation_shards_cover_each_image_once():
    shards = [list(ShardSampler(range(11), World(rank, 3, rank))) for rank in range(3)]
    assert sorted(sum(shards, [])) == list(range(11))


def test_world_from_torchrun_environment(monkeypatch):
    assert not World.from_environment().distributed
    monkeypatch.setenv("WORLD_SIZE", "4")
    monkeypatch.setenv("RANK", "5")
    monkeypatch.setenv("LOCAL_RANK", "1")
    world = World.from_environment()
    assert (world.rank, world.size, world.local_rank, world.is_main) == (5, 4, 1, False)


def test_sync_bn_on_the_cpu_is_a_clear_error():
    module = torch.nn.Sequential(torch.nn.Conv2d(1, 2, 3), torch.nn.BatchNorm2d(2))
    with pytest.raises(UsageError, match="--sync-bn needs CUDA"):
        convert_sync_bn(module, World(0, 2, 0), torch.device("cpu"), sync_bn=True)
    assert convert_sync_bn(module, World(), torch.device("cpu"), sync_bn=True) is module
