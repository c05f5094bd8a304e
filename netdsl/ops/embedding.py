"""Embedding lookup: integer token ids → vectors."""
from __future__ import annotations

from ..errors import ArgumentError
from .registry import Arg, OpSpec, TorchCall, register


def _embedding_shape(a, ins):
    if a.padding_idx is not None and not -a.num_embeddings <= a.padding_idx < a.num_embeddings:
        raise ArgumentError(f"embedding: padding_idx {a.padding_idx} out of range for "
                            f"{a.num_embeddings} embeddings")
    if a.scale_grad_by_freq and a.sparse and a.get("trainable", True):
        raise ArgumentError("embedding: scale_grad_by_freq=true needs dense gradients: torch's backward "
                            "refuses it with sparse=true", hint="drop one of them, or freeze the table "
                            "(trainable=false)")
    return (*ins[0], a.embedding_dim)


register(OpSpec(
    name="embedding", category="embedding",
    doc="Look up a learned vector per integer id: int64 or int32 [T] → float32 [T, embedding_dim]. "
        "A table lookup: no MACs, no FLOPs.",
    args=(Arg("num_embeddings", "int", minimum=1, doc="vocabulary size (ids are 0 .. num_embeddings-1)"),
          Arg("embedding_dim", "int", minimum=1, doc="length of each vector"),
          Arg("padding_idx", "int", None, doc="id whose vector stays zero and gets no gradient"),
          Arg("max_norm", "float", None, minimum=0, doc="renormalize looked-up vectors to this norm"),
          Arg("norm_type", "float", 2.0, minimum=0, doc="the p of the p-norm for max_norm"),
          Arg("scale_grad_by_freq", "bool", False, doc="scale gradients by the ids' frequency in the "
              "batch; not with sparse=true"),
          Arg("sparse", "bool", False, doc="sparse gradients for the table")),
    shape=_embedding_shape, dtypes="integer",
    weights=lambda a, ins: {"weight": (a.num_embeddings, a.embedding_dim)},
    torch=lambda a, ins: TorchCall("torch.nn.Embedding", dict(
        num_embeddings=a.num_embeddings, embedding_dim=a.embedding_dim, padding_idx=a.padding_idx,
        max_norm=a.max_norm, norm_type=a.norm_type, scale_grad_by_freq=a.scale_grad_by_freq,
        sparse=a.sparse)),
    has_weights=True))
