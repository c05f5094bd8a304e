"""``netdsl predict``: the most probable classes of image files, from a trained checkpoint."""
from __future__ import annotations

from ..cli import add_network_arguments, command, load_network


@command("predict", "classify image files with a trained checkpoint: top-k classes and probabilities")
class Predict:
    @staticmethod
    def add_arguments(p):
        add_network_arguments(p)
        p.add_argument("images", nargs="+", metavar="IMAGE", help="image files (PNG, JPEG, ...)")
        p.add_argument("--checkpoint", required=True, metavar="FILE.pt",
                       help="a netdsl train checkpoint (OUT/best.pt or OUT/last.pt)")
        p.add_argument("--top-k", "-k", type=int, default=5, help="classes to show per image (5)")
        p.add_argument("--device", help="cpu (default), cuda, auto")

    @staticmethod
    def run(args) -> int:
        from ..training.checkpoint import load_checkpoint
        from ..training.inference import predict_files
        payload = load_checkpoint(args.checkpoint)
        network = load_network(args)
        results = predict_files(network, payload, args.images, args.top_k, args.device)
        width = max(len(path) for path in args.images)
        for path, top in zip(args.images, results):
            ranked = "  ".join(f"{name} {p:6.1%}" for name, p in top)
            print(f"{path:<{width}}  {ranked}")
        return 0
