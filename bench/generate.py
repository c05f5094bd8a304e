"""Generated deep networks for the speed benchmarks.

``deep_network(layers)`` writes a residual network of about ``layers`` layers:
one block definition, then one explicit block call per line (so parsing,
elaboration and analysis all grow with the size), in stages of 100 calls.
"""
from __future__ import annotations

UNIT = """block unit(c: int) {
    residual {
        conv1: conv(c, 3, padding=1, bias=false)
        bn1: batchnorm
        relu
        conv2: conv(c, 3, padding=1, bias=false)
        bn2: batchnorm
    }
    relu
}
"""
LAYERS_PER_UNIT = 7  # 2 conv, 2 batchnorm, 2 relu, 1 add


def deep_network(layers: int, channels: int = 16, size: int = 32) -> str:
    """Source text of a network with about ``layers`` layers."""
    units = max(1, layers // LAYERS_PER_UNIT)
    lines = [UNIT, f"network deep{layers} {{", f"    input [{channels}, {size}, {size}]"]
    for stage in range(0, units, 100):
        lines.append(f"    stage{stage // 100 + 1}: {{")
        lines += [f"        unit({channels})"] * min(100, units - stage)
        lines.append("    }")
    lines += ["    adaptive_avgpool(1)", "    flatten", "    fc: linear(10)", "}"]
    return "\n".join(lines) + "\n"
