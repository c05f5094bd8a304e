"""``netdsl train``: train a classifier; checkpoints, metrics and curves every epoch; resume."""
from __future__ import annotations

from ..cli import add_network_arguments, command, load_network

#: command-line flag → the config key it sets
SHORTCUTS = {"epochs": "epochs", "lr": "optimizer.lr", "optimizer": "optimizer.name",
             "batch_size": "data.batch_size", "data": "data.kind", "data_root": "data.root",
             "device": "device", "out": "out", "init_from": "transfer.init_from",
             "schedule": "schedule.name", "seed": "seed", "threads": "threads",
             "workers": "data.workers"}
#: --augment NAME → the settings it stands for
AUGMENTATIONS = {"crop": "data.crop_padding=4", "flip": "data.flip=true",
                 "resized-crop": "data.resized_crop=0.08"}


@command("train", "train a network (classification): checkpoints, metrics, curves, test accuracy")
class Train:
    @staticmethod
    def add_arguments(p):
        add_network_arguments(p)
        p.add_argument("--config", "-c", metavar="FILE.yaml", help="training settings (docs/training.md)")
        p.add_argument("--override", "-O", action="append", default=[], metavar="KEY=VALUE",
                       help="set any setting, e.g. -O optimizer.momentum=0.9 -O schedule.name=cosine")
        p.add_argument("--epochs", type=int)
        p.add_argument("--lr", type=float)
        p.add_argument("--optimizer", help="sgd adagrad rmsprop adadelta adam nadam adamw")
        p.add_argument("--schedule", help="none step multistep exponential cosine onecycle plateau")
        _data_arguments(p)
        p.add_argument("--init-from", help="a .pth state_dict or checkpoint, or torchvision:NAME")
        p.add_argument("--freeze", action="append", default=[], metavar="PREFIX",
                       help="freeze the parameters under a module path (repeatable)")
        p.add_argument("--device", help="auto (default), cpu, cuda")
        _speed_arguments(p)
        p.add_argument("--tensorboard", action="store_true",
                       help="also log the metrics to OUT/tb (needs the tensorboard package)")
        p.add_argument("--seed", type=int)
        p.add_argument("--threads", type=int, help="CPU threads for torch")
        p.add_argument("--out", "-o", help="folder for last.pt, best.pt, metrics.csv, curves.png "
                                           "(default out/train)")
        p.add_argument("--resume", nargs="?", const="", metavar="DIR",
                       help="continue the run in DIR (default: --out) from its last.pt; its "
                            "settings apply unless flags change them")
        p.add_argument("--no-progress", action="store_true", help="no progress bar")

    @staticmethod
    def run(args) -> int:
        from ..training import train
        from ..training.progress import terminal_bar
        config = training_config(args)
        net = load_network(args)
        bars = None if args.no_progress or not config.progress else terminal_bar()
        summary = train(net, config, log=lambda line: print(line, flush=True), progress=bars)
        if summary.get("rank", 0) == 0:  # torchrun: the other ranks print nothing
            print(result_lines(summary, config.out), flush=True)
        return 0


def _speed_arguments(p) -> None:
    p.add_argument("--amp", nargs="?", const="bf16", choices=("bf16", "fp16"),
                   help="mixed precision: bf16 autocast (the default), or fp16 with a GradScaler")
    p.add_argument("--channels-last", action="store_true", help="NHWC model and batches")
    p.add_argument("--compile", action="store_true", help="torch.compile the model")
    p.add_argument("--sync-bn", action="store_true",
                   help="torchrun: batch-norm statistics over the global batch (GPUs)")


def _data_arguments(p) -> None:
    p.add_argument("--batch-size", type=int)
    p.add_argument("--data", help="synthetic (default), fake, digits, mnist, fashion-mnist, "
                                  "cifar10, cifar100 or folder")
    p.add_argument("--data-root", metavar="DIR",
                   help="folder of class sub-folders (--data folder), or where torchvision's "
                        "datasets are (default ./data)")
    p.add_argument("--download", action="store_true",
                   help="let torchvision download --data mnist/fashion-mnist/cifar10/cifar100")
    p.add_argument("--augment", action="append", default=[], choices=sorted(AUGMENTATIONS),
                   help="training augmentation (repeatable): crop (pad 4, random crop), flip, "
                        "resized-crop (RandomResizedCrop)")
    p.add_argument("--workers", type=int, help="data-loading processes (default 0)")


def training_config(args):
    """The settings: --config and flags; with --resume, the checkpoint's and flags."""
    from ..training import load_config
    overrides = args.override + _flag_overrides(args)
    config = load_config(args.config, overrides)
    if args.resume is None:
        return config
    from ..training.checkpoint import load_checkpoint, settings_of
    from ..training.config import TrainConfig, apply_override, from_dict
    folder = args.resume or config.out
    if args.config is None:
        raw = settings_of(load_checkpoint(folder))
        raw["out"] = args.out or str(folder if not folder.endswith(".pt") else _parent(folder))
        for item in overrides:
            apply_override(raw, item)
        config = from_dict(TrainConfig, raw, "").validate()
    config.resume = folder
    return config


def _parent(path: str) -> str:
    from pathlib import Path
    return str(Path(path).parent)


def result_lines(summary: dict, out: str) -> str:
    final, test = summary["final"], summary["test"]
    if final is None:
        return f"nothing trained; see {out}"
    text = (f"final val accuracy {final['val_accuracy']:.1%} (chance "
            f"{summary['chance_accuracy']:.1%}); best val accuracy "
            f"{summary['best_val_accuracy']:.1%} at epoch {summary['best_epoch']}")
    if test:
        text += (f"\ntest accuracy {test['accuracy']:.1%} (top-5 {test['top5']:.1%}, loss "
                 f"{test['loss']:.4f}) on {test['images']:,} test images, best.pt weights")
    return text + (f"\nsaved {out}/last.pt, best.pt, metrics.csv, metrics.json and curves.png")


def _flag_overrides(args) -> list[str]:
    items = [f"{key}={getattr(args, flag)}" for flag, key in SHORTCUTS.items()
             if getattr(args, flag) is not None]
    items += [f"amp={args.amp}"] * bool(args.amp) + ["channels_last=true"] * args.channels_last
    items += ["compile=true"] * args.compile + ["sync_bn=true"] * args.sync_bn
    items += ["tensorboard=true"] * args.tensorboard
    items += ["data.download=true"] * args.download
    items += [AUGMENTATIONS[name] for name in args.augment]
    if args.freeze:
        items.append(f"transfer.freeze=[{', '.join(args.freeze)}]")
    return items
