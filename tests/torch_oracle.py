"""Run an op example in torch without netdsl's checks: the oracle for refusals.

A call netdsl refuses never becomes a network, so this builds the torch side
straight from the op's own torch rule (``OpSpec.torch``) with the call's
arguments bound loosely (declared defaults, no validation), applies ``init=``
and ``bias_init=`` with ``torch.nn.init`` as the backends do, and runs a
training-mode forward.  Whatever torch raises is the verdict.
"""
from __future__ import annotations

import importlib
from contextlib import contextmanager

import torch
from torch.nn.attention import SDPBackend, sdpa_kernel

from netdsl.errors import NetdslError
from netdsl.expr import Evaluator
from netdsl.ops import Args, get_op
from netdsl.ops.registry import all_args
from netdsl.parser import parse_expr
from op_examples import padding_mask

#: The outcome of a forward that raised.
RAISED = "raised"
#: Batch sizes the verdict covers; 1 is torch's degenerate case (a singleton
#: batch broadcasts against anything and has no batch statistics).
BATCH_SIZES = (2, 3)


def call_parts(call: str):
    """``conv(4, 3, init=normal())`` → ("conv", [4, 3], {"init": {...}}); branches are dropped."""
    head = call.split("{")[0].strip()
    if "(" not in head:
        return head, [], {}
    node = parse_expr(head, "oracle", 1, 1)
    evaluate = Evaluator({}).eval
    return (node.func, [evaluate(e) for e in node.args.positional],
            {key: evaluate(value) for key, value, _ in node.args.keywords})


def loose_args(spec, positional, keywords) -> Args:
    """The call's arguments over the declared defaults, unvalidated."""
    args = Args({arg.name: arg.default for arg in all_args(spec)})
    args.update(zip([arg.name for arg in spec.args], positional))
    args.update(keywords)
    return args


def _resolve(dotted: str):
    module_name, _, attr = dotted.rpartition(".")
    return getattr(importlib.import_module(module_name), attr)


def _apply_inits(module: torch.nn.Module, args: Args) -> None:
    """init= reaches parameters named weight*, bias_init= those named bias*."""
    for key, prefix in (("init", "weight"), ("bias_init", "bias")):
        spec = args.get(key)
        if spec is None:
            continue
        initialize = getattr(torch.nn.init, spec["init"] + "_")
        kwargs = {k: v for k, v in spec.items() if k != "init"}
        for name, param in module.named_parameters():
            if name.rpartition(".")[2].startswith(prefix):
                with torch.no_grad():
                    initialize(param, **kwargs)


def build(spec, args: Args, shapes):
    """The torch callable of ``spec`` for inputs of ``shapes``, in training mode."""
    call = spec.torch(args, list(shapes))
    target = _resolve(call.target)
    if call.functional:
        return lambda *xs: target(*xs, **call.kwargs)
    module = target(**call.kwargs)
    _apply_inits(module, args)
    return module.train()


def sample(shape, dtype: str, batch: int) -> torch.Tensor:
    if dtype == "bool":
        return padding_mask(shape, batch)
    if dtype.startswith("int"):  # id 0: valid for every embedding table
        return torch.zeros((batch, *shape), dtype=getattr(torch, dtype))
    return torch.randn(batch, *shape).to(getattr(torch, dtype))


def outcome(example, batch: int):
    """The per-sample output shape torch gives for ``batch`` samples, or RAISED."""
    name, positional, keywords = call_parts(example.call)
    spec = get_op(name)
    try:
        fn = build(spec, loose_args(spec, positional, keywords), example.inputs)
        out = fn(*(sample(shape, dtype, batch) for shape, dtype in zip(example.inputs, example.dtypes)))
    except NetdslError:
        raise  # the torch rule itself refused: that proves nothing about torch
    except Exception:  # noqa: BLE001 — any torch failure is the verdict
        return RAISED
    return tuple(out.shape[1:]) if out.shape[0] == batch else ("batch moved", tuple(out.shape))


def torch_refuses(example) -> bool:
    """torch raises at every batch size, or what it computes depends on the batch
    size (the batch dim broadcast against another dim mixes samples)."""
    seen = {outcome(example, batch) for batch in BATCH_SIZES}
    return seen == {RAISED} or len(seen) > 1


#: Ops whose MACs include work torch runs once per forward whatever the batch (Swin
#: V2's position-bias MLP): netdsl counts it once in its batch-1 figure, so their
#: counts are compared with FlopCounterMode at batch 1.
ONCE_PER_FORWARD = frozenset({"shifted_window_attention_v2"})


def counting_batch(net, batch: int) -> int:
    """``batch``, or 1 where ``net`` runs an op of ONCE_PER_FORWARD."""
    return 1 if any(d["op"] in ONCE_PER_FORWARD for d in net.layers()) else batch


@contextmanager
def countable_attention():
    """Attention as FlopCounterMode and autograd's saved tensors can see it: the
    math SDPA backend (the fused CPU kernel counts 0 and keeps less) and no
    nn.MultiheadAttention fast path (one native call, counted 0)."""
    fastpath = torch.backends.mha.get_fastpath_enabled()
    torch.backends.mha.set_fastpath_enabled(False)
    try:
        with sdpa_kernel(SDPBackend.MATH):
            yield
    finally:
        torch.backends.mha.set_fastpath_enabled(fastpath)


def assert_generated_source_equal(net, ours, batch: int = 2) -> str:
    """``net.to_source()`` passes the validator, builds, loads ``ours``'s state_dict
    strictly and gives bit-identical eval outputs; returns the source."""
    import importlib.util

    from netdsl.backends.pytorch.validate import validate_generated
    source = net.to_source()
    validate_generated(source)
    module = importlib.util.module_from_spec(importlib.util.spec_from_loader("generated", loader=None))
    exec(compile(source, "generated.py", "exec"), module.__dict__)  # noqa: S102 — validated above
    generated = module.build().eval()
    generated.load_state_dict(ours.state_dict(), strict=True)
    x = torch.randn(batch, *net.input_shape)
    with torch.no_grad():
        assert torch.equal(ours.eval()(x), generated(x))
    return source
