"""``netdsl export``: write the network as ONNX or a torch.export program (.pt2)."""
from __future__ import annotations

from ..cli import add_network_arguments, command, load_network
from .summarize import with_examples

EPILOG = """examples:
  netdsl export resnet18 -o resnet18.onnx                     # ONNX, dynamic batch, checked in onnxruntime
  netdsl export resnet18 -o resnet18.onnx --opset 18
  netdsl export lstm_classifier -o lstm.pt2                   # torch.export program
  netdsl export lenet5.net --checkpoint out/d/best.pt -o lenet5.onnx   # trained weights"""


@command("export", "export a network for deployment: ONNX (.onnx) or torch.export (.pt2)")
class Export:
    @staticmethod
    def add_arguments(p):
        add_network_arguments(p)
        with_examples(p, EPILOG)
        p.add_argument("-o", "--output", required=True, metavar="FILE",
                       help="where to write: FILE.onnx or FILE.pt2 (the suffix picks the format)")
        p.add_argument("--checkpoint", metavar="FILE.pt",
                       help="export these trained weights (a netdsl train checkpoint) instead of a fresh build")
        p.add_argument("--format", choices=("onnx", "pt2"), help="the format, whatever the suffix")
        p.add_argument("--opset", type=int, metavar="N",
                       help="ONNX opset (default: the exporter's recommended one)")
        p.add_argument("--batch", type=int, default=2, metavar="N",
                       help="the batch traced (default 2; with --static-batch, the only batch accepted)")
        p.add_argument("--static-batch", action="store_true",
                       help="a fixed batch axis instead of a dynamic one")
        p.add_argument("--no-check", action="store_true",
                       help="skip running the written file and comparing its outputs with torch")

    @staticmethod
    def run(args) -> int:
        net = load_network(args)
        report = net.export(args.output, format=args.format, opset=args.opset, batch=args.batch,
                            dynamic_batch=not args.static_batch, check=not args.no_check,
                            module=_trained(net, args.checkpoint) if args.checkpoint else None)
        print(report.summary())
        return 0


def _trained(net, checkpoint: str):
    """The network with a training checkpoint's weights, in eval mode."""
    from ..training.checkpoint import load_checkpoint, load_model
    return load_model(net, load_checkpoint(checkpoint), "cpu", source=checkpoint)
