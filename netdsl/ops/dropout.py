"""Dropout (inverted: scaled by 1/(1-p) at training time, identity at eval)."""
from __future__ import annotations

from .registry import Arg, OpSpec, TorchCall, register

_P = Arg("p", "float", 0.5, minimum=0, maximum=1, doc="probability of zeroing an element (or channel)")
_INPLACE = Arg("inplace", "bool", False, doc="overwrite the input (saves memory; refused where the input "
                                              "is still needed)")


def _dropout(name: str, torch_class: str, doc: str, ranks=(), inplace: Arg = _INPLACE) -> None:
    register(OpSpec(
        name=name, category="dropout", doc=doc, args=(_P, inplace), shape=lambda a, ins: ins[0],
        input_rank=ranks, torch=lambda a, ins: TorchCall(torch_class, dict(p=a.p, inplace=a.inplace))))


_dropout("dropout", "torch.nn.Dropout", "Inverted dropout of single elements.")
_dropout("dropout1d", "torch.nn.Dropout1d", "Drops whole channels of [C, L].", (2,))
_dropout("dropout2d", "torch.nn.Dropout2d", "Drops whole channels of [C, H, W] (spatial dropout).", (3,))
_dropout("dropout3d", "torch.nn.Dropout3d", "Drops whole channels of [C, D, H, W].", (4,))
_dropout("alpha_dropout", "torch.nn.AlphaDropout",
         "Dropout that keeps the self-normalizing mean and variance (use with selu).",
         inplace=Arg("inplace", "bool", False, doc="accepted, but torch's AlphaDropout never runs in place"))


register(OpSpec(
    name="stochastic_depth", category="dropout",
    doc="Drops a residual branch for a whole sample (mode \"row\") or the whole batch "
        "(\"batch\") with probability p, scaling what is kept by 1/(1-p) "
        "(torchvision.ops.StochasticDepth); identity in eval.",
    args=(Arg("p", "float", minimum=0, maximum=1, doc="probability of dropping the branch"),
          Arg("mode", "str", "row", choices=("row", "batch"))),
    shape=lambda a, ins: ins[0], dtypes="float",
    torch=lambda a, ins: TorchCall("netdsl.runtime.StochasticDepth", dict(p=a.p, mode=a.mode))))
