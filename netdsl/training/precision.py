"""Mixed precision (``amp: bf16 | fp16``), channels_last and ``torch.compile`` for a trainer.

bf16 keeps float32's exponent range, so it needs no loss scaling; fp16 does:
its gradients underflow, so the loss is multiplied by a ``GradScaler`` scale
(lowered when a step overflows, raised after 2000 good ones) and the
gradients are unscaled before clipping and the optimizer step.  The scaler's
state goes into checkpoints with the rest.
"""
from __future__ import annotations

from contextlib import nullcontext
from typing import Optional

import torch

from ..errors import UsageError

AMP_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}


def check_amp(amp: Optional[str], device: torch.device) -> None:
    """A UsageError when this torch cannot autocast ``device`` to ``amp``."""
    if amp is None:
        return
    available = getattr(torch.amp.autocast_mode, "is_autocast_available", lambda _: True)
    if not available(device.type):
        raise UsageError(f"--amp {amp}: torch has no autocast for {device.type} devices",
                         hint="leave out --amp")
    if amp == "bf16" and device.type == "cuda" and not torch.cuda.is_bf16_supported():
        raise UsageError("--amp bf16: this GPU has no bfloat16 support", hint="use --amp fp16")
    try:
        with torch.autocast(device.type, dtype=AMP_DTYPES[amp]):
            pass
    except (RuntimeError, ValueError) as err:  # torch refuses an unsupported dtype here
        raise UsageError(f"--amp {amp} is not supported on {device.type}: {err}",
                         hint="use --amp bf16, or leave out --amp") from None


def autocast(amp: Optional[str], device: torch.device):
    """The autocast context of a forward pass (a no-op without ``amp``)."""
    if amp is None:
        return nullcontext()
    return torch.autocast(device.type, dtype=AMP_DTYPES[amp])


def grad_scaler(amp: Optional[str], device: torch.device) -> Optional[torch.amp.GradScaler]:
    """fp16's loss scaler; None for bf16 and float32 (nothing to scale)."""
    if amp != "fp16":
        return None
    return torch.amp.GradScaler(device.type)


def compiled(module: torch.nn.Module, enabled: bool) -> torch.nn.Module:
    """``torch.compile(module)`` when ``enabled``.  The compiled wrapper's state_dict keys
    start with ``_orig_mod.``: checkpoints save the module itself, never the wrapper."""
    if not enabled:
        return module
    if not hasattr(torch, "compile"):
        raise UsageError("--compile needs torch 2.0 or later")
    return torch.compile(module)
