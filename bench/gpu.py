#!/usr/bin/env python3
"""netdsl's compiled modules against hand-written torchvision, side by side in one process.

For each model (resnet50, resnet18, vgg16, densenet121, googlenet, and convnext_tiny,
vit_b_16 when their .net files exist): training images/s (bf16 autocast,
channels_last, SGD with momentum) eager and ``torch.compile``d, with peak memory;
inference images/s eager, BN-folded (``netdsl.fold_batchnorm``) and compiled;
MFU (netdsl's static FLOPs x 3 for forward + backward, over the time, over the
measured bf16 matmul peak; fp32 on a CPU); and the static training-memory estimate against
``torch.cuda.max_memory_allocated``.  Prints the device and a table of ratios
(netdsl / torchvision; above 1 is netdsl faster or, for memory, larger).
The two are timed in alternating rounds, not one after the other, so drift in
the machine's speed weighs on both alike; a model's peak memory is the device
peak of one of its steps less what the other model holds.

    python3 bench/gpu.py                       # the GPU run (batch 256)
    python3 bench/gpu.py --models resnet50 --batch 64 --json out.json
    python3 bench/gpu.py --smoke               # seconds on a CPU: tiny inputs, no compile
    python3 bench/gpu.py --budget 420 --json $OUT/gpu.json   # a lent machine's one call
    python3 bench/gpu.py --cpu --inference-only --models resnet50 --batch 8   # CPU inference, fp32

A device lease is short (bench/README.md): ``--json`` is rewritten after every
model, so a run stopped at its time limit keeps what it finished, and
``--budget`` starts no model after that many seconds (the ones left are listed).
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from contextlib import nullcontext
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402
import torchvision  # noqa: E402

import netdsl  # noqa: E402
from netdsl.analysis.memory import activation_sizes  # noqa: E402
from netdsl.analysis.train_memory import training_memory  # noqa: E402

MODELS = ["resnet50", "resnet18", "vgg16", "densenet121", "googlenet", "convnext_tiny", "vit_b_16"]
#: torchvision constructor arguments that make the twin the .net file's network
TWIN_KWARGS = {"googlenet": dict(aux_logits=True, init_weights=False, transform_input=False)}
AUX_WEIGHT = 0.3  # GoogLeNet's auxiliary loss weight, the same for both models
PRECISION = {"cuda": "bf16", "cpu": "fp32"}  # autocast on the GPU; a CPU runs float32


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--models", nargs="+", default=MODELS)
    p.add_argument("--batch", type=int, default=256)
    p.add_argument("--steps", type=int, default=20, help="timed steps per measurement")
    p.add_argument("--warmup", type=int, default=5)
    p.add_argument("--rounds", type=int, default=4,
                   help="alternating rounds the timed steps are split into (netdsl, torchvision, then the reverse)")
    p.add_argument("--no-compile", action="store_true", help="skip the torch.compile measurements")
    p.add_argument("--smoke", action="store_true",
                   help="tiny sizes (batch 2, 3x32x32, 2 steps, no compile): runs on a CPU in seconds")
    p.add_argument("--inference-only", action="store_true",
                   help="only inference (eager, folded, compiled): no training, memory or MFU")
    p.add_argument("--cpu", action="store_true", help="run on the CPU at full size (fp32: no autocast)")
    p.add_argument("--json", metavar="FILE",
                   help="also write the results as JSON, after every model ('-': stdout, at the end)")
    p.add_argument("--budget", type=float, metavar="SECONDS",
                   help="start no further model after this many seconds of the run")
    args = p.parse_args(argv)
    if args.smoke:
        args.batch, args.steps, args.warmup, args.rounds, args.no_compile = 2, 2, 1, 2, True
        torch.set_num_threads(1)  # tiny tensors: threads only contend
    return args


# ------------------------------------------------------------ timing
def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def autocast(device: torch.device):
    """bf16 autocast on the GPU; float32 on a CPU (its bf16 kernels would only slow the smoke run)."""
    return torch.autocast("cuda", dtype=torch.bfloat16) if device.type == "cuda" else nullcontext()


def timed(step, steps: int, warmup: int, device: torch.device) -> float:
    """Seconds per call of ``step`` after ``warmup`` calls."""
    for _ in range(warmup):
        step()
    sync(device)
    start = time.perf_counter()
    for _ in range(steps):
        step()
    sync(device)
    return (time.perf_counter() - start) / steps


def timed_side_by_side(steps: dict, args, device: torch.device) -> dict:
    """Seconds per call of each named step, timed in alternating rounds (a b, b a, a b, ...).

    Timing one model after the other lets a clock boost, thermal drift or a busy
    neighbour favour whichever runs first; alternating spreads that over all."""
    for step in steps.values():
        for _ in range(args.warmup):
            step()
    sync(device)
    names, per_round = list(steps), max(1, args.steps // args.rounds)
    seconds = dict.fromkeys(names, 0.0)
    for index in range(args.rounds):
        for name in names if index % 2 == 0 else names[::-1]:
            start = time.perf_counter()
            for _ in range(per_round):
                steps[name]()
            sync(device)
            seconds[name] += time.perf_counter() - start
    return {name: seconds[name] / (per_round * args.rounds) for name in names}


def tensor_bytes(tensors) -> int:
    return sum(t.numel() * t.element_size() for t in tensors if t is not None)


def step_peak_bytes(step, own_bytes: int, device: torch.device):
    """Peak device bytes of one ``step`` counting only its own model: the device
    peak less whatever else is resident (the other model's weights and state)."""
    if device.type != "cuda":
        return None
    sync(device)
    torch.cuda.empty_cache()
    others = torch.cuda.memory_allocated() - own_bytes
    torch.cuda.reset_peak_memory_stats()
    step()
    sync(device)
    return torch.cuda.max_memory_allocated() - others


def matmul_peak(device: torch.device, smoke: bool) -> float:
    """Measured matmul FLOP/s in the precision the models train in (bf16 on the
    GPU, float32 on a CPU): the MFU denominator."""
    n = 256 if smoke else 8192 if device.type == "cuda" else 2048
    dtype = torch.bfloat16 if device.type == "cuda" else torch.float32
    a = torch.randn(n, n, device=device, dtype=dtype)
    b = torch.randn(n, n, device=device, dtype=dtype)
    seconds = timed(lambda: a @ b, 2 if smoke else 50, 1 if smoke else 10, device)
    return 2 * n ** 3 / seconds


# ------------------------------------------------------------ measurements
def main_and_aux_loss(outputs, y, criterion):
    """Cross-entropy on the main output plus 0.3 x each auxiliary one (either model's outputs)."""
    if isinstance(outputs, torch.Tensor):
        return criterion(outputs.float(), y)
    main, *aux = outputs
    return criterion(main.float(), y) + sum(AUX_WEIGHT * criterion(a.float(), y) for a in aux)


def training_step(model, x, y, device, compiled: bool):
    """One SGD-momentum step under bf16 autocast, and the bytes of its model's own
    state (weights, buffers, gradients, momentum) plus the batch."""
    model.train()
    runner = torch.compile(model) if compiled else model
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    criterion = torch.nn.CrossEntropyLoss()

    def step():
        optimizer.zero_grad(set_to_none=True)
        with autocast(device):
            loss = main_and_aux_loss(runner(x), y, criterion)
        loss.backward()
        optimizer.step()

    def own_bytes() -> int:
        params = list(model.parameters())
        momentum = [optimizer.state[p].get("momentum_buffer") for p in params]
        return tensor_bytes([*params, *(p.grad for p in params), *model.buffers(), *momentum, x, y])

    return step, own_bytes


def training(models: dict, x, y, args, device, compiled: bool) -> dict:
    """Per model: images/s of training steps (timed side by side) and the peak bytes of a step."""
    steps, rows = {}, {}
    for name, model in models.items():
        step, own_bytes = training_step(model, x, y, device, compiled)
        step()  # optimizer state and gradients exist before the peak is measured
        steps[name], rows[name] = step, {"peak_bytes": step_peak_bytes(step, own_bytes(), device)}
    for name, seconds in timed_side_by_side(steps, args, device).items():
        rows[name]["images_per_s"] = x.shape[0] / seconds
    for model in models.values():
        model.zero_grad(set_to_none=True)  # the next measurement starts from weights alone
    return rows


def inference(models: dict, x, args, device, compiled: bool = False) -> dict:
    """Per model: images/s of inference under autocast, timed side by side."""
    def step_of(model):
        runner = torch.compile(model.eval()) if compiled else model.eval()

        def step():
            with torch.inference_mode(), autocast(device):
                runner(x)
        return step

    seconds = timed_side_by_side({name: step_of(model) for name, model in models.items()}, args, device)
    return {name: {"images_per_s": x.shape[0] / s} for name, s in seconds.items()}


def memory_estimate(net, batch: int) -> int:
    """The static estimate of a bf16-autocast step: fp32 weights, gradients and
    momentum, activations saved in bf16 (``netdsl summarize --memory`` terms)."""
    weights = training_memory(net.ir, batch, "float32", "momentum")
    activation_sizes(net.ir, "bfloat16")
    activations = training_memory(net.ir, batch, "bfloat16", "momentum")
    activation_sizes(net.ir, "float32")
    return weights.params + weights.buffers + weights.optimizer + activations.backward_peak \
        + weights.grads - activations.grads


def build_pair(name: str, args, device: torch.device):
    """(netdsl module, torchvision module, network) on ``device`` in channels_last."""
    shape = (3, 32, 32) if args.smoke else None
    net = netdsl.load(name, input_shape=shape)
    ours = net.to_torch(device=device, memory_format=torch.channels_last)
    theirs = getattr(torchvision.models, name)(**TWIN_KWARGS.get(name, {}))
    theirs = theirs.to(device, memory_format=torch.channels_last)
    return ours, theirs, net


def measure_model(name: str, args, device: torch.device, peak_flops: float) -> dict:
    ours, theirs, net = build_pair(name, args, device)
    batch = args.batch
    x = torch.randn(batch, *net.input_shape, device=device).contiguous(memory_format=torch.channels_last)
    y = torch.randint(0, net.output_shapes[net.outputs[0]["name"]][0], (batch,), device=device)
    row: dict = {"model": name, "batch": batch, "input": list(net.input_shape)}
    if not args.inference_only:
        row.update(measure_training(ours, theirs, net, x, y, args, device, peak_flops))
    folded = netdsl.fold_batchnorm(ours)
    row["infer_eager"] = inference({"netdsl": ours, "netdsl_folded": folded, "torchvision": theirs},
                                   x, args, device)
    if not args.no_compile:
        row["infer_compiled"] = inference({"netdsl": ours, "torchvision": theirs}, x, args, device, True)
    return row


def measure_training(ours, theirs, net, x, y, args, device, peak_flops: float) -> dict:
    """Training images/s and peak memory, eager and compiled; the memory estimate; MFU."""
    row = {}
    for compiled in [False] if args.no_compile else [False, True]:
        tag = "compiled" if compiled else "eager"
        row[f"train_{tag}"] = training({"netdsl": ours, "torchvision": theirs}, x, y, args, device, compiled)
    row["train_eager"]["netdsl"]["estimate_bytes"] = memory_estimate(net, x.shape[0])
    row["mfu_train_eager"] = 3 * net.flops * row["train_eager"]["netdsl"]["images_per_s"] / peak_flops
    return row


def measured_models(args) -> list[str]:
    """The asked-for models that have both a .net file and a torchvision twin."""
    zoo = set(netdsl.zoo_names())
    return [m for m in args.models if m in zoo and hasattr(torchvision.models, m)]


# ------------------------------------------------------------ report
def ratio(ours, theirs) -> str:
    return f"{ours / theirs:6.2f}x" if ours and theirs else "     -"


def table(rows: list[dict]) -> list[str]:
    mib = 2 ** 20
    lines = [f"{'model':<14}{'metric':<30}{'torchvision':>14}{'netdsl':>14}{'ratio':>9}"]
    for row in rows:
        for key in ("train_eager", "train_compiled", "infer_eager", "infer_compiled"):
            if key not in row:
                continue
            theirs, ours = row[key]["torchvision"], row[key]["netdsl"]
            lines.append(f"{row['model']:<14}{key + ' images/s':<30}{theirs['images_per_s']:>14.1f}"
                         f"{ours['images_per_s']:>14.1f}{ratio(ours['images_per_s'], theirs['images_per_s']):>9}")
            if ours.get("peak_bytes"):
                lines.append(f"{'':<14}{key + ' peak MiB':<30}{theirs['peak_bytes'] / mib:>14.0f}"
                             f"{ours['peak_bytes'] / mib:>14.0f}{ratio(ours['peak_bytes'], theirs['peak_bytes']):>9}")
        folded = row["infer_eager"]["netdsl_folded"]["images_per_s"]
        theirs = row["infer_eager"]["torchvision"]["images_per_s"]
        lines.append(f"{'':<14}{'infer_folded images/s':<30}{theirs:>14.1f}{folded:>14.1f}{ratio(folded, theirs):>9}")
        if "train_eager" not in row:
            continue
        train = row["train_eager"]["netdsl"]
        if train.get("peak_bytes"):
            lines.append(f"{'':<14}{'memory estimate / measured':<30}{train['peak_bytes'] / mib:>14.0f}"
                         f"{train['estimate_bytes'] / mib:>14.0f}{ratio(train['estimate_bytes'], train['peak_bytes']):>9}")
        lines.append(f"{'':<14}{'MFU (train, eager)':<30}{'':>14}{row['mfu_train_eager']:>14.1%}")
    return lines


def main(argv=None) -> int:
    args = parse_args(argv)
    started = time.perf_counter()
    device = torch.device("cuda" if torch.cuda.is_available() and not args.cpu else "cpu")
    if device.type != "cuda" and not (args.smoke or args.cpu):
        print("no CUDA device: run on a GPU, or with --cpu (full size) or --smoke (a quick check)")
        return 2
    torch.backends.cudnn.benchmark = True
    name = torch.cuda.get_device_name() if device.type == "cuda" else "cpu"
    peak = None if args.inference_only else matmul_peak(device, args.smoke)  # MFU's denominator
    print(f"device: {name}, {torch.get_num_threads()} CPU threads; torch {torch.__version__}"
          + ("" if peak is None else f"; measured {PRECISION[device.type]} matmul peak {peak / 1e12:.2f} TFLOP/s"))
    result = {"device": name, "torch": torch.__version__, "precision": PRECISION[device.type],
              "matmul_flops": peak, "rows": [], "skipped": []}
    models = measured_models(args)
    for index, model in enumerate(models):
        if args.budget is not None and time.perf_counter() - started > args.budget:
            result["skipped"] = models[index:]
            print(f"budget of {args.budget:g} s spent: skipped {', '.join(result['skipped'])}")
            break
        torch.manual_seed(0)
        result["rows"].append(measure_model(model, args, device, peak))
        print("\n".join(table(result["rows"][-1:])), flush=True)
        if args.json and args.json != "-":  # a run killed later keeps this model
            Path(args.json).write_text(json.dumps(result, indent=2) + "\n")
    if args.json == "-":
        sys.stdout.write(json.dumps(result, indent=2) + "\n")
    elif args.json:
        Path(args.json).write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
