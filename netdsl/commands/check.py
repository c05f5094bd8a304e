"""``netdsl check``: validate a file and print its output shapes."""
from __future__ import annotations

from ..cli import add_network_arguments, command, load_network, verify_expectations


@command("check", "validate a .net file and print its output shapes")
class Check:
    @staticmethod
    def add_arguments(p):
        add_network_arguments(p)

    @staticmethod
    def run(args) -> int:
        net = load_network(args)
        net.analyze()
        skipped = verify_expectations(net)
        inputs = ", ".join(f"{i['name']} {list(net.ir.nodes[i['node']]['shape'])}" for i in net.inputs)
        print(f"{net.name}: ok — input {inputs}")
        for name, shape in net.output_shapes.items():
            print(f"  output {name}: {list(shape)}")
        if skipped:
            print(f"  expect: {skipped} skipped (they describe the file's defaults, which --set/--input changed)")
        return 0
