"""Data-parallel training under ``torchrun``: one process per device, PyTorch's DDP.

``torchrun --nproc_per_node N -m netdsl train FILE ...`` starts N copies of
the command with ``RANK``, ``WORLD_SIZE`` and ``LOCAL_RANK`` in their
environment; ``World.from_environment()`` reads them (no ``WORLD_SIZE``, or
1: a plain single-process run, no process group).  ``start`` joins the
process group — NCCL when training on CUDA, gloo on the CPU — and picks the
device ``cuda:LOCAL_RANK``.  ``--batch-size`` stays the global batch: each
rank loads ``batch / world`` images of every step, taken from one shared
shuffle (``ShardSampler``), and DDP averages the ranks' gradients, so a step
sees the same images and the same mean gradient as a one-process step of
the whole batch.  Only rank 0 logs and writes files (``is_main``).
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Optional

import torch
import torch.distributed as dist
from torch.utils.data import DistributedSampler, Sampler

from ..errors import UsageError


@dataclass(frozen=True)
class World:
    """This process's place among the training processes (1 of 1 without torchrun)."""

    rank: int = 0
    size: int = 1
    local_rank: int = 0

    @classmethod
    def from_environment(cls) -> "World":
        try:
            size = int(os.environ.get("WORLD_SIZE", "1"))
            rank = int(os.environ.get("RANK", "0"))
            local = int(os.environ.get("LOCAL_RANK", str(rank)))
        except ValueError:
            raise UsageError("RANK, WORLD_SIZE and LOCAL_RANK must be integers (torchrun sets "
                             "them)") from None
        return cls(rank, size, local) if size > 1 else cls()

    @property
    def distributed(self) -> bool:
        return self.size > 1

    @property
    def is_main(self) -> bool:
        """Rank 0: the one process that logs and writes files."""
        return self.rank == 0

    def per_rank_batch(self, batch_size: int) -> int:
        """The global ``batch_size`` split between the ranks (a UsageError when uneven)."""
        if batch_size % self.size:
            raise UsageError(f"--batch-size {batch_size} is the global batch: it must divide "
                             f"evenly between the {self.size} processes",
                             hint=f"use a multiple of {self.size}")
        return batch_size // self.size


def start(world: World, device: torch.device) -> torch.device:
    """Join the process group (if ``world`` is distributed); the device this rank trains on."""
    if not world.distributed:
        return device
    if device.type == "cuda":
        device = torch.device("cuda", world.local_rank)
        torch.cuda.set_device(device)
    elif device.type != "cpu":
        raise UsageError(f"torchrun training runs on CUDA GPUs (NCCL) or the CPU (gloo), "
                         f"not {device.type}", hint="use --device cuda or --device cpu")
    if not dist.is_initialized():
        backend = "nccl" if device.type == "cuda" else "gloo"
        dist.init_process_group(backend, **({"device_id": device} if backend == "nccl" else {}))
    return device


def stop(world: World) -> None:
    """Leave the process group (every rank, at the end of the run)."""
    if world.distributed and dist.is_initialized():
        dist.destroy_process_group()


def wrap(module: torch.nn.Module, world: World, device: torch.device,
         find_unused: bool = False) -> torch.nn.Module:
    """``module`` in DistributedDataParallel (rank 0's weights broadcast to all);
    ``find_unused``: some parameters get no gradient (an output weighted 0)."""
    if not world.distributed:
        return module
    from torch.nn.parallel import DistributedDataParallel
    ids = [device.index] if device.type == "cuda" else None
    return DistributedDataParallel(module, device_ids=ids, output_device=ids[0] if ids else None,
                                   find_unused_parameters=find_unused)


def convert_sync_bn(module: torch.nn.Module, world: World, device: torch.device,
                    sync_bn: bool) -> torch.nn.Module:
    """Batch norms computing their statistics over the global batch (``--sync-bn``);
    done before the optimizer is built (the parameters stay the same tensors)."""
    if not (sync_bn and world.distributed):
        return module
    if device.type != "cuda":
        raise UsageError("--sync-bn needs CUDA GPUs: torch's SyncBatchNorm does not run on the "
                         "CPU", hint="leave out --sync-bn (each process then normalises its "
                                     "share of the batch)")
    return torch.nn.SyncBatchNorm.convert_sync_batchnorm(module)


# ------------------------------------------------------------ collectives
def all_reduce_sum(tensor: torch.Tensor, world: World, device: torch.device) -> torch.Tensor:
    """``tensor`` summed over the ranks (itself with one process), on its own device."""
    if not world.distributed:
        return tensor
    moved = tensor.to(device)  # NCCL reduces GPU tensors only
    dist.all_reduce(moved, op=dist.ReduceOp.SUM)
    return moved.to(tensor.device)


def broadcast_buffers(module: torch.nn.Module, world: World, parameters: bool = False) -> None:
    """Rank 0's buffers (batch-norm statistics) on every rank: DDP broadcasts them before
    each forward, so after the last training step each rank holds its own update.
    ``parameters``: the weights too (rank 0 alone read them from a file)."""
    if world.distributed:
        tensors = [*module.buffers(), *(module.parameters() if parameters else ())]
        with torch.no_grad():
            for tensor in tensors:
                dist.broadcast(tensor, src=0)


def gather_objects(value, world: World) -> list:
    """Every rank's ``value``, in rank order (``[value]`` with one process)."""
    if not world.distributed:
        return [value]
    values = [None] * world.size
    dist.all_gather_object(values, value)
    return values


def barrier(world: World) -> None:
    if world.distributed:
        dist.barrier()


# ------------------------------------------------------------ samplers
def train_sampler(dataset, world: World, seed: int) -> DistributedSampler:
    """One shuffle of the training split per epoch (``set_epoch``), the same on every rank;
    rank r takes its positions r, r + world, ...: step k's global batch is positions
    [k·batch, (k+1)·batch) of the shuffle, as in one process.  ``drop_last`` leaves out the
    tail that does not divide between the ranks (one process: nothing)."""
    return DistributedSampler(dataset, num_replicas=world.size, rank=world.rank, shuffle=True,
                              seed=seed * 1_000_003, drop_last=True)


class ShardSampler(Sampler):
    """Evaluation: rank r scores items r, r + world, ... — each item exactly once over the
    ranks (no padding, unlike DistributedSampler), so summed counts are exact."""

    def __init__(self, dataset, world: World):
        self.indices = range(world.rank, len(dataset), world.size)

    def __iter__(self):
        return iter(self.indices)

    def __len__(self) -> int:
        return len(self.indices)


def rank_rng(states: Optional[list], world: World, fallback: dict) -> dict:
    """This rank's random-number state from a checkpoint's per-rank list (rank 0's when
    the checkpoint came from a run with another number of processes)."""
    if states and len(states) == world.size:
        return states[world.rank]
    return fallback
