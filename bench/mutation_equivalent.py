"""Mutants that survive because they change nothing a user can observe.

Each entry names the file, a fragment of the mutated line's source, the
mutation (as bench/mutation.py prints it) and why no test can kill it.  A
survivor matching an entry is reported as *equivalent* with its reason and left
out of the score; a killed mutant is killed whatever this list says, so an
entry that stops being true shows up as a kill, never hides one.  Add an entry
only with a reason a reviewer can check; a behaviour that could be tested
belongs in a test instead.
"""
from __future__ import annotations

from typing import NamedTuple, Optional


class Equivalent(NamedTuple):
    path: str
    fragment: str   # text on the mutated line
    details: tuple  # the mutations, as printed: ("Add -> Sub",), ("64 -> 65", "64 -> 63")
    reason: str


EQUIVALENT = [
    Equivalent("netdsl/analysis/receptive_field.py", "CAP = 1 << 64", ("1 -> 2", "64 -> 65", "64 -> 63"),
               "the cap is a choice, not a rule: any value above the longest axis a tensor can "
               "have (2**63 − 1) keeps every window that fits in an input exact; 2**63, 2**65 or "
               "2 << 64 move only where windows wider than any input start to read as saturated"),
    Equivalent("netdsl/analysis/receptive_field.py", "_mixing(spec.mixes(data[\"args\"], shapes), shapes[0]",
               ("0 -> -1",), "every op with a `mixes` rule (softmax, linear, layer norms, MaxViT attention) "
               "takes one input: shapes[0] is shapes[-1]"),
    Equivalent("netdsl/analysis/receptive_field.py", "if any(abs(v) > CAP for axis", ("Gt -> GtE",),
               "whether a window of exactly CAP pixels reads as saturated is the same choice as "
               "the cap itself (see CAP = 1 << 64): both are beyond any input"),
    Equivalent("netdsl/analysis/train_memory.py", "for node in range(max(nodes), -1, -1):", ("1 -> 0", "1 -> 2"),
               "the stop only has to pass node 0: stopping before it skips the first input (no node "
               "comes before an input is declared), which the walk skips anyway, and −2 adds node −1, "
               "which no graph has; a changed step (0, −2) fails or skips nodes and is killed"),
    Equivalent("netdsl/analysis/saved.py", "Saved(data[\"inputs\"][2:3]", ("3 -> 4",),
               "sdpa takes exactly three inputs (checked by its shape rule): [2:4] is [2:3], the values"),
    Equivalent("netdsl/ops/dtypes.py", "_RANK = {", ("3 -> 2", "4 -> 5", "1 -> 2"),
               "only the order of the ranks matters, and a tie between different dtypes promotes to "
               "float32: float64 at 5 or bool at −2 keep the order, float32 at float16's rank 2 "
               "still gives float32 with either half type (torch.promote_types is the test's oracle)"),
    Equivalent("netdsl/analysis/memory.py", "end = max(graph.nodes) + 1", ("1 -> 2", "1 -> 0"),
               "network outputs are freed at `end`, after every node has run and its peak was "
               "taken: at the last node (+0) or two past it (+2) no later peak sees the difference"),
    Equivalent("netdsl/analysis/saved.py", "data[\"inputs\"][:1]", ("1 -> 2",),
               "the ops these rules serve (convs, pooling, norms, activations, pad, recurrent "
               "layers, windowed attention) take one input: [:2] keeps the same one value"),
    Equivalent("netdsl/analysis/saved.py", "Saved([data[\"inputs\"][0], node])", ("0 -> -1",),
               "the ops keeping their input and output (activations such as sigmoid, tanh, "
               "softmax) take one input: inputs[-1] is inputs[0]"),
    Equivalent("netdsl/ops/common.py", "return values[0] if len(set(values)) == 1", ("0 -> -1",),
               "taken only when every value is the same: the last is the first"),
    Equivalent("netdsl/ops/resize.py", "limit_denominator(1 << 20)", ("1 -> 2", "20 -> 21", "20 -> 19"),
               "as in receptive_field.py's exact(): a scale factor a person writes converts to the "
               "same fraction under any of these denominator bounds"),
    Equivalent("netdsl/analysis/receptive_field.py", "limit_denominator(1 << 20)", ("1 -> 2",),
               "a scale factor a person writes (1.5, 2.5, 0.333… for 1/3) becomes the same "
               "fraction under a denominator bound of 2**20 or 2**21; only a float near no such "
               "fraction converts differently, and its field is an approximation either way"),
    Equivalent("netdsl/analysis/inplace.py", "graph.nodes[node][\"inputs\"][0]", ("0 -> -1",),
               "the node is an in-place op (an activation or dropout): it takes one input"),
    Equivalent("netdsl/analysis/inplace.py", "reader, value = value, data[\"inputs\"][0]", ("0 -> -1",),
               "every op sharing its input's storage (views, dropout, in-place activations) takes "
               "one input"),
    Equivalent("netdsl/ops/merge.py", "a.dim % len(ins[0]) == 0", ("0 -> 1",),
               "ins[0] → ins[1]: every input of a concat has the same rank (checked by its shape "
               "rule); the line's other 0 → 1 (== 1) is killed by the field tests"),
    Equivalent("netdsl/ops/initializers.py", "InitRule(0,", ("0 -> 1", "0 -> -1"),
               "a rank-0 tensor cannot be declared (a parameter needs a positive shape; every "
               "weight and bias has rank ≥ 1) and none has a negative rank, so min_rank −1, 0 and 1 "
               "accept the same tensors"),
    Equivalent("netdsl/ops/initializers.py", "min_rank: int = 0", ("0 -> 1", "0 -> -1"),
               "the default of the rules for zeros() and ones(): as for InitRule(0, …) above"),
    Equivalent("netdsl/ops/reshape.py", "if dim == 0:", ("0 -> -1",),
               "dim is never negative (dim_index resolves it), so the early return never fires; "
               "along the channel dim the general rule gives every spatial axis kernel 1, "
               "stride 1, offset 0: the pointwise field the early return states"),
    Equivalent("netdsl/ops/norm.py", "whole_axes_rf(shape, range(1, len(shape)))", ("1 -> 0",),
               "whole_axes_rf looks only at the spatial axes (1 ..): adding the channel axis 0 to "
               "the mixed ones changes nothing"),
    Equivalent("netdsl/ops/reference.py", "return words[0] if len(words) == 1", ("0 -> -1",),
               "taken only for a single word: the last is the first"),
    Equivalent("netdsl/analysis/receptive_field.py", "if all(f == first for f in fields[1:]):", ("1 -> 0",),
               "fields[0:] adds only the comparison of the first field with itself"),
    Equivalent("netdsl/analysis/receptive_field.py", "spread = joined.spread if len(inputs) == 1 else ()",
               ("1 -> 0",), "a missing spread is computed again from the graph (analyze()): the same "
               "value, only slower; the cost this line saves is checked by "
               "tests/test_fuzz_findings_seed20261209.py (500 vs 5,000 layers)"),
    Equivalent("netdsl/ops/conv.py", "scatter=s[i] > 1", ("1 -> 0", "Gt -> GtE"),
               "at stride 1 the ends of the relaxed input range, u + P − (k−1)·d and u + P, are "
               "taps themselves: the scatter check finds nothing to trim"),
]


def explain(path: str, source_line: str, detail: str) -> Optional[str]:
    """The reason a surviving mutant is equivalent, or None when it is not listed."""
    for entry in EQUIVALENT:
        if entry.path == path and entry.fragment in source_line and detail in entry.details:
            return entry.reason
    return None
