#!/usr/bin/env python3
"""The static training-memory estimate against ``torch.cuda.max_memory_allocated``.

Builds a .net file's module on the GPU, runs training steps (forward, loss,
backward, optimizer step, ``zero_grad``), and compares the peak allocated
during a steady-state step with ``netdsl.analysis.memory.training_memory``.
Also compares the saved activations with what autograd really keeps.
Acceptance: within 10% for resnet50 at batch 64 (float32, SGD with momentum).

    python3 bench/gpu_memory.py [resnet50 | FILE.net] [--batch 64] [--optimizer momentum]
    python3 bench/gpu_memory.py resnet18 --batch 2 --device cpu   # no peak: saved activations only
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Optional

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

import torch  # noqa: E402

import netdsl  # noqa: E402
from netdsl.analysis.memory import DTYPE_BYTES, activation_sizes  # noqa: E402
from netdsl.analysis.train_memory import training_memory  # noqa: E402
from autograd_memory import kept_by_autograd  # noqa: E402

OPTIMIZERS = {
    "sgd": lambda params: torch.optim.SGD(params, lr=0.01),
    "momentum": lambda params: torch.optim.SGD(params, lr=0.01, momentum=0.9),
    "adam": lambda params: torch.optim.Adam(params, lr=1e-3),
}
TORCH_DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}


def measured_peak(model, batch: int, shape, dtype, optimizer_name: str, steps: int = 3) -> int:
    """Peak bytes allocated during the last of ``steps`` training steps."""
    optimizer = OPTIMIZERS[optimizer_name](model.parameters())
    x = torch.randn(batch, *shape, device="cuda", dtype=dtype)
    for step in range(steps):
        if step == steps - 1:
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
        out = model(x)
        out = out[0] if isinstance(out, tuple) else out
        out.float().mean().backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
    torch.cuda.synchronize()
    return torch.cuda.max_memory_allocated()


def saved_by_autograd(model, batch: int, shape, dtype, device: str) -> int:
    """Bytes of the distinct non-parameter storages autograd keeps in one forward."""
    return kept_by_autograd(model, [torch.randn(batch, *shape, device=device, dtype=dtype)])


def report(net, args, estimate, saved: int, peak: Optional[int]) -> None:
    mib = 2 ** 20
    device = torch.cuda.get_device_name() if args.device == "cuda" else "cpu"
    print(f"{net.name}, batch {args.batch}, {args.dtype}, {args.optimizer}, {device}")
    print(f"  saved activations: estimate {estimate.saved_activations / mib:9.1f} MiB, "
          f"autograd {saved / mib:9.1f} MiB ({estimate.saved_activations / saved - 1:+.1%})")
    weights = estimate.params + estimate.buffers + estimate.optimizer
    print(f"  weights+optimizer: {weights / mib:.1f} MiB ({net.params:,} params x "
          f"{DTYPE_BYTES[args.dtype]} B), backward peak {estimate.backward_peak / mib:.1f} MiB")
    if peak is not None:
        print(f"  training step:     estimate {estimate.total / mib:9.1f} MiB, "
              f"max_memory_allocated {peak / mib:9.1f} MiB ({estimate.total / peak - 1:+.1%})")


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("net", nargs="?", default="resnet50", help="a zoo name or a .net file")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--optimizer", choices=sorted(OPTIMIZERS), default="momentum")
    parser.add_argument("--dtype", choices=sorted(TORCH_DTYPES), default="float32")
    parser.add_argument("--device", choices=["cuda", "cpu"], default="cuda",
                        help="cpu: no peak to measure, only saved activations against autograd")
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.device == "cuda" and not torch.cuda.is_available():
        print("no CUDA device: this benchmark needs a GPU (--device cpu compares saved activations only)")
        return 2
    net = netdsl.load(args.net).analyze()
    activation_sizes(net.ir, args.dtype)
    estimate = training_memory(net.ir, args.batch, args.dtype, args.optimizer, device=args.device)
    dtype = TORCH_DTYPES[args.dtype]
    model = net.to_torch(device=args.device, dtype=dtype).train()
    saved = saved_by_autograd(model, args.batch, net.input_shape, dtype, args.device)
    peak = None
    if args.device == "cuda":
        del model
        torch.cuda.empty_cache()
        model = net.to_torch(device="cuda", dtype=dtype).train()
        peak = measured_peak(model, args.batch, net.input_shape, dtype, args.optimizer)
    report(net, args, estimate, saved, peak)
    if peak is None:
        return 0
    within = abs(estimate.total / peak - 1) <= 0.10
    print("  within 10%" if within else "  NOT within 10%")
    return 0 if within else 1


if __name__ == "__main__":
    sys.exit(main())
