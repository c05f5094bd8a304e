"""The generated PyTorch source against the in-memory module.

docs/codegen.md promises that ``net.to_source()`` defines the same module as
``net.to_torch()``: the same state_dict keys and shapes and identical outputs.
Before running the text it is screened: only imports of torch and netdsl, no
builtins that run or read code (a fuzz input must never get code into it).
"""
from __future__ import annotations

import ast
import types
from typing import Optional

from .check import failure

ALLOWED_IMPORTS = ("torch", "netdsl", "typing", "math", "collections", "__future__")
FORBIDDEN_NAMES = {"eval", "exec", "compile", "open", "__import__", "globals", "locals", "vars",
                   "breakpoint", "input", "os", "sys", "subprocess", "setattr", "delattr"}


def screen(text: str) -> Optional[str]:
    """None if the source only does what generated code should, else what it does wrong."""
    if not text.isascii():
        return "generated source is not ASCII"
    try:
        tree = ast.parse(text)
    except SyntaxError as err:
        return f"generated source does not parse: {err.msg}, line {err.lineno}: {(err.text or '').strip()!r}"
    for node in ast.walk(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
            if not all(n.split(".")[0] in ALLOWED_IMPORTS for n in names):
                return f"generated source imports {names}"
        elif isinstance(node, ast.Name) and node.id in FORBIDDEN_NAMES:
            return f"generated source uses {node.id}"
        elif isinstance(node, ast.Attribute) and node.attr.startswith("__") and node.attr != "__init__":
            return f"generated source reads {node.attr}"
    return None


def _outputs(result) -> tuple:
    return result if isinstance(result, tuple) else (result,)


def _same(a, b) -> bool:
    import torch
    return a.shape == b.shape and a.dtype == b.dtype and torch.equal(a.nan_to_num(), b.nan_to_num())


def _mismatch(kind: str, message: str) -> dict:
    return {"status": "mismatch", "stage": "source check", "kind": kind, "etype": "",
            "message": message, "frames": [], "where": ""}


def _state_dict_problem(generated, reference) -> Optional[str]:
    want = {k: tuple(v.shape) for k, v in reference.state_dict().items()}
    got = {k: tuple(v.shape) for k, v in generated.state_dict().items()}
    if got == want:
        return None
    extra, missing = sorted(set(got) - set(want))[:4], sorted(set(want) - set(got))[:4]
    return f"state_dict differs: missing {missing}, extra {extra}, or shapes differ"


def _run_both(net, text: str, batch: int, progress: dict) -> Optional[dict]:
    import torch
    from .torchcheck import sample_inputs
    module = types.ModuleType("netdsl_fuzz_generated")
    exec(compile(text, "<generated>", "exec"), module.__dict__)  # noqa: S102 - screened first
    generated, reference = module.build().eval(), net.to_torch().eval()
    problem = _state_dict_problem(generated, reference)
    if problem:
        return _mismatch("generated source state_dict", problem)
    generated.load_state_dict(reference.state_dict())
    progress["stage"] = "source forward"
    torch.manual_seed(1)
    xs = sample_inputs(net, batch)
    with torch.no_grad():
        # fresh copies for each: an in-place first layer may write into its input
        ours, theirs = generated(*[x.clone() for x in xs]), reference(*[x.clone() for x in xs])
    pairs = list(zip(_outputs(ours), _outputs(theirs)))
    if len(_outputs(ours)) != len(_outputs(theirs)) or not all(_same(a, b) for a, b in pairs):
        return _mismatch("generated source outputs", "generated module's outputs differ from to_torch()'s")
    return None


def compare_source(net, batch: int) -> Optional[dict]:
    """None when the source's module matches ``to_torch()``, else a mismatch record."""
    text = net.to_source()
    problem = screen(text)
    if problem:
        kind = "generated source does not parse" if "parse" in problem else "unsafe generated source"
        return _mismatch(kind, problem)
    progress = {"stage": "source build"}
    try:
        return _run_both(net, text, batch, progress)
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException as err:  # noqa: BLE001 - the generated module failing is the finding
        from .check import FuzzTimeout
        if isinstance(err, FuzzTimeout):
            raise
        stage = progress["stage"]
        return failure("mismatch", stage, err, kind=f"generated source raised in {stage}")
