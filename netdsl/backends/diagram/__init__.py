"""Diagram backend: IR → drawn model → Graphviz DOT (no torch, no graphviz package)."""
