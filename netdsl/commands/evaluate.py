"""``netdsl eval``: score a checkpoint on a data split: loss, top-1/top-5, per class, confusion."""
from __future__ import annotations

from ..cli import add_network_arguments, command, load_network


@command("eval", "score a trained checkpoint: loss, top-1/top-5, per-class accuracy, confusion matrix")
class Evaluate:
    @staticmethod
    def add_arguments(p):
        add_network_arguments(p)
        p.add_argument("--checkpoint", required=True, metavar="FILE.pt",
                       help="a netdsl train checkpoint (OUT/best.pt or OUT/last.pt)")
        p.add_argument("--data", help="the data kind (default: the checkpoint's)")
        p.add_argument("--data-root", metavar="DIR", help="where the data is (default: the checkpoint's)")
        p.add_argument("--download", action="store_true", help="let torchvision download the data")
        p.add_argument("--split", default="test", help="test (default), val or train")
        p.add_argument("--batch-size", type=int)
        p.add_argument("--device", help="auto, cpu, cuda (default: the checkpoint's setting)")
        p.add_argument("--override", "-O", action="append", default=[], metavar="KEY=VALUE",
                       help="change any of the checkpoint's settings, e.g. -O data.workers=4")
        p.add_argument("--out", "-o", metavar="DIR",
                       help="where confusion.png goes (default: the checkpoint's folder)")

    @staticmethod
    def run(args) -> int:
        from pathlib import Path

        from ..training.checkpoint import load_checkpoint
        from ..training.evaluate import plot_confusion, report_lines, summary_line
        from ..training.inference import evaluate_checkpoint
        payload = load_checkpoint(args.checkpoint)
        network = load_network(args)
        scored = evaluate_checkpoint(network, payload, args.override + _overrides(args),
                                     args.split, args.device)
        if scored.note:
            print(f"note: {scored.note}")
        print(f"{network.name} ({args.checkpoint}, epoch {payload.get('epoch')}) on the "
              f"{scored.split} split: {summary_line(scored.result)}")
        print()
        print("\n".join(report_lines(scored.result, scored.classes)))
        out = Path(args.out) if args.out else Path(args.checkpoint).parent
        out.mkdir(parents=True, exist_ok=True)
        name = "confusion.png" if scored.split == "test" else f"confusion-{scored.split}.png"
        print(f"\nwrote {plot_confusion(scored.result.confusion, scored.classes, out / name)}")
        return 0


def _overrides(args) -> list[str]:
    items = [f"data.kind={args.data}"] if args.data else []
    items += [f"data.root={args.data_root}"] if args.data_root else []
    items += ["data.download=true"] if args.download else []
    items += [f"data.batch_size={args.batch_size}"] if args.batch_size else []
    return items
