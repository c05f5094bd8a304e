"""Static numbers against torch: "whatever passes check must build and run".

The built module runs on random inputs of the static input shapes (batch 2)
in eval mode and in train mode; every output's shape, the parameter count
(all and trainable) and the buffer count must equal what netdsl computed
without torch.  torch raising on a program netdsl accepted is a mismatch too.
"""
from __future__ import annotations

import time
from typing import Optional

from .check import failure

INT_DTYPES = ("int64", "int32")


def sample_inputs(net, batch: int) -> list:
    """Random float inputs; integer inputs (ids) are zeros: valid for every embedding
    even after ops that add or multiply them (the third 100k run found mul of ids)."""
    import torch
    nodes = net.nodes()
    xs = []
    for info in net.inputs:
        shape = (batch, *nodes[info["node"]]["shape"])
        dtype = getattr(torch, info.get("dtype") or "float32")
        if info.get("dtype") in INT_DTYPES:
            # ids may be added or multiplied before they index (netdsl cannot know values):
            # zeros stay zeros through any of that, and index every table
            xs.append(torch.zeros(shape, dtype=dtype))
        else:
            xs.append(torch.randn(shape).to(dtype))
    return xs


def shape_problem(net, output, batch: int) -> Optional[str]:
    outputs = output if isinstance(output, tuple) else (output,)
    expected = [(batch, *shape) for shape in net.output_shapes.values()]
    got = [tuple(o.shape) for o in outputs]
    if got != expected:
        return f"output shapes: static {expected}, torch {got}"  # eval and train: the same text
    return None


def count_problems(net, model) -> list[str]:
    problems = []
    params = sum(p.numel() for p in model.parameters())
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    buffers = sum(b.numel() for b in model.buffers())
    for what, static, measured in (("params", net.params, params),
                                   ("trainable params", net.trainable_params, trainable),
                                   ("buffers", net.buffers, buffers)):
        if static != measured:
            problems.append(f"{what}: static {static}, torch {measured}")
    return problems


def _out_of_memory(err: BaseException) -> bool:
    """An allocation torch could not make (lrn(size=2**31) pads a 137 GB buffer)."""
    text = str(err)
    return isinstance(err, MemoryError) or type(err).__name__ == "OutOfMemoryError" or (
        isinstance(err, RuntimeError) and ("can't allocate memory" in text or "DefaultCPUAllocator" in text))


def compare(net, batch: int) -> dict:
    started = time.process_time()
    result = _compare(net, batch)
    result["cpu_torch"] = time.process_time() - started
    return result


def _compare(net, batch: int) -> dict:
    import torch
    torch.manual_seed(0)
    stage = "torch build"
    try:
        model = net.to_torch()
        problems = count_problems(net, model)
        xs = sample_inputs(net, batch)
        stage = "forward eval"
        model.eval()
        with torch.no_grad():
            problems.append(shape_problem(net, model(*[x.clone() for x in xs]), batch))
        stage = "forward train"
        model.train()
        problems.append(shape_problem(net, model(*[x.clone() for x in xs]), batch))
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException as err:  # noqa: BLE001 - torch refusing a checked program is the finding
        from .check import FuzzTimeout
        if isinstance(err, FuzzTimeout):
            raise
        if _out_of_memory(err):  # the static shapes may be right; torch's kernel wants a huge workspace
            return failure("torch_oom", stage, err, kind=f"torch ran out of memory in {stage}")
        return failure("mismatch", stage, err, kind=f"torch raised in {stage}")
    problems = list(dict.fromkeys(p for p in problems if p))
    if problems:
        kind = ", ".join(sorted({p.split(":")[0] for p in problems}))
        return {"status": "mismatch", "stage": "compare", "kind": kind, "etype": "",
                "message": "; ".join(problems), "frames": [], "where": ""}
    return {"status": "ok", "torch": True}
