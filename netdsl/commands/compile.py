"""``netdsl compile``: write the network as readable PyTorch source."""
from __future__ import annotations

import importlib.util
import sys
import tempfile
from pathlib import Path

from ..cli import add_network_arguments, command, load_network
from ..errors import BackendError


@command("compile", "generate readable PyTorch source (a .py file) for a network")
class Compile:
    @staticmethod
    def add_arguments(p):
        add_network_arguments(p)
        p.add_argument("-o", "--output", metavar="FILE.py", help="write here (default: stdout)")
        p.add_argument("--check", action="store_true",
                       help="import the generated file, build it and compare it with the "
                            "in-memory module (state_dict keys, shapes and outputs)")

    @staticmethod
    def run(args) -> int:
        net = load_network(args)
        text = net.to_source(args.file)
        if args.output:
            path = Path(args.output)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
        elif not args.check:
            sys.stdout.write(text)
        if args.check:
            print(check_generated(net, text, args.output))
        return 0


def check_generated(net, text: str, path: str | None = None) -> str:
    """Build the generated model and compare it with ``net.to_torch()``; a one-line verdict."""
    import torch
    if path is None:
        with tempfile.TemporaryDirectory() as folder:
            temp = Path(folder) / f"{net.name}_generated.py"
            temp.write_text(text)
            return check_generated(net, text, str(temp))
    generated = _import_file(path).build().eval()
    reference = net.to_torch().eval()
    want = {k: tuple(v.shape) for k, v in reference.state_dict().items()}
    got = {k: tuple(v.shape) for k, v in generated.state_dict().items()}
    if got != want:
        missing, extra = sorted(set(want) - set(got)), sorted(set(got) - set(want))
        raise BackendError(f"generated state_dict differs: missing {missing[:5]}, extra {extra[:5]}")
    generated.load_state_dict(reference.state_dict())
    inputs = [_example(net, spec) for spec in net.inputs]
    with torch.no_grad():
        same = _outputs_equal(generated(*inputs), reference(*inputs))
    if not same:
        raise BackendError("generated module's outputs differ from the in-memory module's")
    count = sum(p.numel() for p in generated.parameters())
    return f"{path}: ok — {count:,} parameters, {len(want)} state_dict entries, outputs match"


def _import_file(path: str):
    spec = importlib.util.spec_from_file_location(Path(path).stem, path)
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


def _outputs_equal(a, b) -> bool:
    import torch
    if isinstance(a, (tuple, list)):
        return len(a) == len(b) and all(_outputs_equal(x, y) for x, y in zip(a, b))
    return torch.equal(a, b)
