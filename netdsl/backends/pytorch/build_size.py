"""How many bytes building a network's torch module will allocate, known before
anything is allocated.

``linear(10**7) linear(10**7)`` is a valid network (``summarize`` reports its
1.49 PB happily) but building it would ask the allocator for 400 TB.  So every
build — ``to_torch()``, ``compile --check``, training — first adds up
parameters and buffers from the analysed IR and refuses, with a
``BackendError``, above ``Limits.build_bytes``; when that is None, above the
memory available where the module will live (less a safety margin).  A build
always happens on the CPU first (so a seed gives the same weights anywhere),
so CPU memory is checked too when the target is a GPU.
"""
from __future__ import annotations

import os
from math import prod
from pathlib import Path
from typing import Any, Optional

from ...errors import BackendError
from ...limits import DEFAULT

PARAM_BYTES = 4    # float32 parameters and floating-point buffers
COUNTER_BYTES = 8  # int64 buffers (BatchNorm's num_batches_tracked)
SAFETY = 0.9       # leave a tenth of the available memory to everything else


def build_bytes(network) -> int:
    """Bytes of parameters and buffers of ``network.to_torch()``."""
    total = 0
    for data in network.nodes():
        total += data["params"] * PARAM_BYTES
        for name, shape in data["buffer_shapes"].items():
            width = COUNTER_BYTES if name.endswith("num_batches_tracked") else PARAM_BYTES
            total += prod(shape) * width
    return total


def check_build(network, device: Any = None) -> int:
    """Raise ``BackendError`` unless building ``network`` (then moving it to ``device``)
    fits the limit; the bytes it will allocate otherwise."""
    need = build_bytes(network)
    limits = getattr(network, "limits", None) or DEFAULT
    if limits.build_bytes is not None:
        if need > limits.build_bytes:
            raise _refusal(network, need, limits.build_bytes, f"the limit build_bytes={limits.build_bytes:,}")
        return need
    for target in _targets(device):
        available = available_bytes(target)
        if available is not None and need > available * SAFETY:
            raise _refusal(network, need, int(available * SAFETY),
                           f"90% of the memory available on {target}")
    return need


def _targets(device: Any) -> list[str]:
    """Where the build allocates: the CPU, then the device it moves to."""
    if device is None:
        return ["cpu"]
    import torch
    target = torch.device(device)
    return ["cpu"] if target.type == "cpu" else ["cpu", str(target)]


def available_bytes(target: str) -> Optional[int]:
    """Free memory on ``"cpu"`` or a CUDA device; None where netdsl cannot tell."""
    if target == "cpu":
        return _cpu_available()
    if target.startswith("cuda"):
        import torch
        if not torch.cuda.is_available():
            return None  # moving there fails anyway, with torch's own error
        free, _total = torch.cuda.mem_get_info(torch.device(target))
        return int(free)
    return None


def _cpu_available() -> Optional[int]:
    """MemAvailable (or free pages), capped by this process's cgroup memory limit."""
    found = [value for value in (_meminfo_available(), _cgroup_room()) if value is not None]
    if not found:
        try:
            found = [os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")]
        except (ValueError, OSError, AttributeError):
            return None
    return min(found)


def _meminfo_available() -> Optional[int]:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def _cgroup_room() -> Optional[int]:
    """cgroup v2 ``memory.max - memory.current``: a container's own ceiling."""
    root = Path("/sys/fs/cgroup")
    try:
        limit = (root / "memory.max").read_text().strip()
        if limit == "max":
            return None
        return max(int(limit) - int((root / "memory.current").read_text()), 0)
    except (OSError, ValueError):
        return None


def _refusal(network, need: int, limit: int, what: str) -> BackendError:
    suggested = max(need, 1)
    return BackendError(
        f"building '{network.name}' would allocate {human_bytes(need)} of parameters and buffers "
        f"(float32), more than {what} ({human_bytes(limit)})",
        hint=f"if the memory is there, raise the limit: --limit build_bytes={suggested} on the "
             f"command line, or netdsl.load(..., limits=netdsl.Limits(build_bytes={suggested}))")


def human_bytes(count: int) -> str:
    """``1_490_000_000_000_000`` → ``'1.3 PiB'``."""
    for unit, scale in (("EiB", 1 << 60), ("PiB", 1 << 50), ("TiB", 1 << 40), ("GiB", 1 << 30),
                        ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if count >= scale:
            return f"{count / scale:.1f} {unit}"
    return f"{count} B"
