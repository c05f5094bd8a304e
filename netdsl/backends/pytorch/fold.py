"""``netdsl.fold_batchnorm``: a netdsl module with its batch norms folded away.

The folded module is built from the inference plan (``fold_plan.py``) — the
same plan ``netdsl compile --inference`` prints — on the meta device, then
filled with the original module's current weights, each folded batch norm's
eval-mode affine map baked into its conv: ``W' = W·γ/√(σ²+ε)`` per output
channel and ``b' = (b − μ)·γ/√(σ²+ε) + β``.  It computes what the original
computes in eval mode (batch norms on running statistics).
"""
from __future__ import annotations

from typing import Optional

import torch
from torch import nn

from ...errors import BackendError
from .fold_plan import Fold
from .lowering import lower
from .module import build_on_meta


def fold_batchnorm(module: nn.Module, network=None) -> nn.Module:
    """A new module, in eval mode on ``module``'s device and dtype, with every batch norm
    that is the sole consumer of a conv or linear folded into it.  ``module`` is one
    ``net.to_torch()`` built (or, with ``network``, any module with its state_dict keys,
    such as the generated source's); it is left unchanged."""
    network = network if network is not None else _origin(module)
    plan = lower(network.analyze().ir, fold_batchnorm=True)
    folded, _ = build_on_meta(network, plan)
    reference = next(iter(module.parameters()), None)
    folded.to_empty(device=reference.device if reference is not None else "cpu")
    if reference is not None and reference.is_floating_point():
        folded.to(dtype=reference.dtype)
    try:
        folded.load_state_dict(folded_state(module, plan.folds), strict=True)
    except (RuntimeError, AttributeError) as err:
        raise BackendError(f"this module does not match network '{network.name}': {err}") from None
    _keep_memory_format(module, folded)
    return folded.eval()


def _origin(module: nn.Module):
    origin = getattr(module, "netdsl_origin", None)
    if origin is None:
        raise BackendError("fold_batchnorm needs a module built by net.to_torch()",
                           hint="or pass the network: fold_batchnorm(module, netdsl.load(...))")
    return origin.network


def folded_state(module: nn.Module, folds: list[Fold]) -> dict[str, torch.Tensor]:
    """``module``'s state_dict with each fold applied: the batch norm's entries
    gone, its conv's weight scaled and its bias (new or shifted) set."""
    state = dict(module.state_dict())
    with torch.no_grad():
        for fold in folds:
            conv, norm = module.get_submodule(fold.conv), module.get_submodule(fold.batchnorm)
            weight, bias = folded_parameters(conv, norm)
            state[f"{fold.conv}.weight"], state[f"{fold.conv}.bias"] = weight, bias
            for key in [k for k in state if k.startswith(fold.batchnorm + ".")]:
                del state[key]
    return state


def folded_parameters(conv: nn.Module, norm: nn.Module) -> tuple[torch.Tensor, torch.Tensor]:
    """The folded conv's (weight, bias), computed in float64 and returned in the weight's dtype."""
    mean, var = norm.running_mean.double(), norm.running_var.double()
    gamma = norm.weight.double() if norm.weight is not None else torch.ones_like(mean)
    beta = norm.bias.double() if norm.bias is not None else torch.zeros_like(mean)
    scale = gamma / torch.sqrt(var + norm.eps)
    weight = conv.weight.double() * scale.reshape(-1, *(1,) * (conv.weight.dim() - 1))
    bias = conv.bias.double() if conv.bias is not None else torch.zeros_like(mean)
    dtype = conv.weight.dtype
    return weight.to(dtype), ((bias - mean) * scale + beta).to(dtype)


def _keep_memory_format(original: nn.Module, folded: nn.Module) -> None:
    """Channels-last weights stay channels-last (``load_state_dict`` copies into contiguous ones)."""
    first: Optional[torch.Tensor] = next((p for p in original.parameters() if p.dim() == 4), None)
    if first is not None and not first.is_contiguous() and first.is_contiguous(memory_format=torch.channels_last):
        folded.to(memory_format=torch.channels_last)
