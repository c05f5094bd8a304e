"""``netdsl train``: train a network on synthetic, fake or folder data."""
from __future__ import annotations

from ..cli import add_network_arguments, command, load_network

#: command-line flag → the config key it sets
SHORTCUTS = {"epochs": "epochs", "lr": "optimizer.lr", "optimizer": "optimizer.name",
             "batch_size": "data.batch_size", "data": "data.kind", "data_root": "data.root",
             "device": "device", "out": "out", "init_from": "transfer.init_from",
             "schedule": "schedule.name", "seed": "seed", "threads": "threads"}


@command("train", "train a network (classification) and save a checkpoint and metrics")
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
        p.add_argument("--schedule", help="none step multistep exponential cosine plateau")
        p.add_argument("--batch-size", type=int)
        p.add_argument("--data", help="synthetic (default), fake or folder")
        p.add_argument("--data-root", help="folder of class sub-folders (with --data folder)")
        p.add_argument("--init-from", help="a .pth state_dict or checkpoint, or torchvision:NAME")
        p.add_argument("--freeze", action="append", default=[], metavar="PREFIX",
                       help="freeze the parameters under a module path (repeatable)")
        p.add_argument("--device", help="auto (default), cpu, cuda")
        p.add_argument("--amp", action="store_true", help="bf16 autocast")
        p.add_argument("--channels-last", action="store_true")
        p.add_argument("--seed", type=int)
        p.add_argument("--threads", type=int, help="CPU threads for torch")
        p.add_argument("--out", "-o", help="folder for checkpoint.pt and metrics.json")

    @staticmethod
    def run(args) -> int:
        from ..training import load_config, train
        config = load_config(args.config, args.override + _flag_overrides(args))
        net = load_network(args)
        metrics = train(net, config, log=lambda line: print(line, flush=True))
        final = metrics["final"]
        print(f"final val accuracy {final['val_accuracy']:.1%} (chance {metrics['chance_accuracy']:.1%}); "
              f"saved {config.out}/checkpoint.pt and {config.out}/metrics.json")
        return 0


def _flag_overrides(args) -> list[str]:
    items = [f"{key}={getattr(args, flag)}" for flag, key in SHORTCUTS.items()
             if getattr(args, flag) is not None]
    items += ["amp=true"] * args.amp + ["channels_last=true"] * args.channels_last
    if args.freeze:
        items.append(f"transfer.freeze=[{', '.join(args.freeze)}]")
    return items
