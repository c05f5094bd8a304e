"""``netdsl compile``: write the network as readable PyTorch source."""
from __future__ import annotations

import importlib.util
import shlex
import sys
import tempfile
import types
from pathlib import Path
from typing import Optional

from ..cli import add_network_arguments, command, load_network
from ..backends.export import FORMATS as EXPORT_FORMATS
from ..errors import BackendError, UsageError


@command("compile", "generate readable PyTorch source (a .py file) for a network")
class Compile:
    @staticmethod
    def add_arguments(p):
        add_network_arguments(p)
        p.add_argument("-o", "--output", metavar="FILE.py", help="write here (default: stdout)")
        p.add_argument("--inference", action="store_true",
                       help="the inference build: each batch norm folded into the conv or linear "
                            "before it (weights: netdsl.fold_batchnorm(model).state_dict())")
        p.add_argument("--check", action="store_true",
                       help="import the generated file, build it and compare it with the "
                            "in-memory module (state_dict keys, shapes and outputs)")

    @staticmethod
    def run(args) -> int:
        _refuse_export_suffix(args.output, args.file)
        net = load_network(args)
        text = net.to_source(args.file, inference=args.inference)
        if args.output:
            path = Path(args.output)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
            print(f"wrote {path}", file=sys.stderr)  # as render and export say it
        elif not args.check:
            sys.stdout.write(text)
        if args.check:
            print(check_generated(net, text, args.output, args.inference))
        return 0


def _refuse_export_suffix(output: Optional[str], source: str) -> None:
    """``compile -o model.onnx`` would write Python source under an ONNX name."""
    suffix = Path(output).suffix.lower() if output else ""
    if suffix in EXPORT_FORMATS:
        raise UsageError(f"compile writes PyTorch source, not {suffix}: {output} would hold Python code",
                         hint=f"netdsl export {shlex.quote(source)} -o {shlex.quote(output)}")


def check_generated(net, text: str, path: Optional[str] = None, inference: bool = False) -> str:
    """Build the generated model and compare it with ``net.to_torch()`` (folded by
    ``fold_batchnorm`` for ``inference``); a one-line verdict.  Outputs are compared
    in eval mode and, with auxiliary outputs, with the root in training mode too.

    ``path`` (the ``-o`` file) is compared with ``text`` but never imported: the
    text runs only through ``_import_validated``."""
    import torch
    from ..backends.pytorch.build_size import check_build
    check_build(net)  # before either module allocates anything
    if path is not None and Path(path).read_bytes() != text.encode("utf-8"):
        raise BackendError(f"{path} changed after it was written; not checking it")
    generated = _import_validated(text, net.name).build().eval()
    reference = net.to_torch().eval()
    if inference:
        from ..backends.pytorch.fold import fold_batchnorm
        reference = fold_batchnorm(reference)
    entries = _load_same_layout(generated, reference)
    inputs = [_example(net, spec) for spec in net.inputs]
    same = True
    for root_training in (False, True) if len(net.outputs) > 1 else (False,):
        generated.training = reference.training = root_training  # the root only: aux heads
        with torch.no_grad():
            same = same and _same_bits(generated(*inputs), reference(*inputs))
    if not same:
        raise BackendError("generated module's outputs differ from the in-memory module's")
    count = sum(p.numel() for p in generated.parameters())
    return f"{path or 'generated source'}: ok — {count:,} parameters, {entries} state_dict entries, outputs match"


def _load_same_layout(generated, reference) -> int:
    """Load ``reference``'s weights into ``generated`` after checking both have the
    same state_dict keys and shapes; the number of entries."""
    want = {k: tuple(v.shape) for k, v in reference.state_dict().items()}
    got = {k: tuple(v.shape) for k, v in generated.state_dict().items()}
    if got != want:
        missing, extra = sorted(set(want) - set(got)), sorted(set(got) - set(want))
        raise BackendError(f"generated state_dict differs: missing {missing[:5]}, extra {extra[:5]}")
    generated.load_state_dict(reference.state_dict())
    return len(want)


def _import_validated(text: str, name: str) -> types.ModuleType:
    """The one way netdsl runs generated source: only text ``validate_generated``
    accepts, imported from a private copy whose bytes are compared with it first."""
    from ..backends.pytorch.validate import validate_generated
    validate_generated(text)  # ASCII only, so the bytes are the text's
    expected = text.encode("ascii")
    with tempfile.TemporaryDirectory(prefix="netdsl-check-") as folder:
        path = Path(folder) / "generated.py"
        path.write_bytes(expected)
        if path.read_bytes() != expected:
            raise BackendError("the generated file changed before it could be imported")
        spec = importlib.util.spec_from_file_location(f"netdsl_generated_{name}", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    return module


def _example(net, spec: dict):
    import torch
    shape = (2, *net.ir.nodes[spec["node"]]["shape"])
    dtype = getattr(torch, spec.get("dtype") or "float32")
    if dtype.is_floating_point:
        return torch.randn(shape, generator=torch.Generator().manual_seed(0), dtype=dtype)
    return torch.zeros(shape, dtype=dtype)


def _same_bits(a, b) -> bool:
    """Outputs equal bit for bit (so a NaN equals the same NaN)."""
    import torch
    if isinstance(a, (tuple, list)):
        return isinstance(b, (tuple, list)) and len(a) == len(b) and all(map(_same_bits, a, b))
    if a.dtype != b.dtype or a.shape != b.shape:
        return False
    return torch.equal(a.contiguous().view(torch.uint8), b.contiguous().view(torch.uint8))
