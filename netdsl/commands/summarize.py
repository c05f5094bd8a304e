"""``netdsl summarize``: the layer table.  Never imports torch."""
from __future__ import annotations

from ..analysis.expect import check_expectations
from ..cli import add_network_arguments, command, load_network


def _fmt_int(n: int) -> str:
    return f"{n:,}"


def layer_rows(net) -> list[tuple[str, str, str, str]]:
    rows = []
    for data in net.nodes():
        if data["op"] == "input":
            rows.append((f"input {data['label']}", "input", str(list(data["shape"])), ""))
            continue
        name = data["path"] or ".".join(data["scope"] + (data["op"],))
        rows.append((name, data["op"], str(list(data["shape"])), _fmt_int(data["params"])))
    return rows


def format_table(net) -> str:
    header = ("Layer", "Op", "Output shape", "Params")
    rows = layer_rows(net)
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(4)]
    line = lambda r: "  ".join([r[0].ljust(widths[0]), r[1].ljust(widths[1]),
                                r[2].ljust(widths[2]), r[3].rjust(widths[3])])
    rule = "-" * len(line(header))
    out = [f"{net.name}", rule, line(header), rule, *map(line, rows), rule]
    out.append(f"Total params:     {_fmt_int(net.params)}")
    out.append(f"Trainable params: {_fmt_int(net.trainable_params)}")
    out.append(f"Buffers:          {_fmt_int(net.buffers)}")
    return "\n".join(out)


@command("summarize", "print a layer table: output shapes and parameters")
class Summarize:
    @staticmethod
    def add_arguments(p):
        add_network_arguments(p)

    @staticmethod
    def run(args) -> int:
        net = load_network(args).analyze()
        check_expectations(net)
        print(format_table(net))
        return 0
