"""Analysis passes over the IR graph.  Each module exposes one function that
reads node attributes and writes its own; none imports torch."""


def run_passes(graph) -> None:
    """Every pass after parameter counting, in dependency order."""
