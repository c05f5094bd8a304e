"""Analysis passes over the IR graph.  Each module exposes one function that
reads node attributes and writes its own; none imports torch."""


def run_passes(graph) -> None:
    """Every pass after parameter counting, in dependency order."""
    from .macs import count_macs
    from .memory import activation_sizes
    from .receptive_field import receptive_fields
    count_macs(graph)
    receptive_fields(graph)
    activation_sizes(graph)
