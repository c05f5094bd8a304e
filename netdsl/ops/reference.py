"""The op reference (docs/ops.md), rendered from the registry so it never drifts.

``scripts/gen_ops_doc.py`` writes it; a test checks the file is current.
"""
from __future__ import annotations

from .initializers import describe
from .registry import COMMON_ARGS, REQUIRED, WEIGHT_ARGS, Arg, OpSpec, all_ops

#: Categories in reading order; any other category follows, alphabetically.
CATEGORY_ORDER = ("conv", "pool", "norm", "activation", "linear", "embedding", "recurrent",
                  "attention", "merge", "reshape", "resize", "dropout")

_TITLES = {"conv": "Convolution", "pool": "Pooling", "norm": "Normalization",
           "activation": "Activations", "linear": "Linear", "embedding": "Embedding",
           "recurrent": "Recurrent", "attention": "Attention", "merge": "Merges", "reshape": "Shape",
           "resize": "Padding and resizing", "dropout": "Dropout"}

_PREAMBLE = """\
# Op reference

Generated from the op registry (`netdsl/ops/`) by `scripts/gen_ops_doc.py`;
do not edit by hand — a test fails when this file is out of date.

Conventions:

- Shapes exclude the batch dimension: `[C, H, W]` for images, `[T, F]` for sequences.
  `dim` arguments count from 0 = channels (negative dims count from the end).
- **MACs** are multiply-accumulates, equal to `torch.utils.flop_counter.FlopCounterMode`
  total / 2 (convolutions, linear, matmul; 0 for what torch does not count).
  Recurrent ops count `T · gates · H · (F_in + H)` per layer and direction.
- **FLOPs** are the elementwise work beyond 2·MACs: activations 1 per element, a bias
  1 per output element, normalization 2 per element (4 with affine), pooling 1 per
  window element, merges (inputs − 1) per element; each op's entry states its own,
  and an op whose entry names no cost has none.
- **Receptive field**: spatial ops declare per-axis kernel, stride, padding and dilation;
  ops that see their whole input (global pooling, linear, recurrent) are global.
- **Numbers** in arguments are finite and within float32's range (|x| ≤ 3.4e38), as torch
  holds them.
- **Dtypes**: ops compute on floating-point inputs unless their facts say otherwise;
  integer inputs (token ids) go to `embedding` or to ops that only move values.
- Every op also accepts {common}; ops marked *weights* accept {weight}.
  Fan-based initializers (kaiming, xavier, orthogonal) need weights of 2 or more dims.
"""

#: OpSpec.dtypes → how the facts line says it (the default, "float", goes unsaid).
_DTYPE_FACTS = {"integer": "integer input (int64, int32), float32 output",
                "any": "any input dtype", "matching": "inputs of any one dtype"}


def render() -> str:
    """The whole reference as Markdown."""
    specs = all_ops()
    categories = _ordered_categories({s.category for s in specs})
    parts = [_PREAMBLE.format(common=_arg_names(COMMON_ARGS), weight=_arg_names(WEIGHT_ARGS)),
             "## Contents\n", *(_contents_line(c, specs) for c in categories), ""]
    for category in categories:
        parts.append(f"## {_TITLES.get(category, category.capitalize())}\n")
        parts += [_op_section(s) for s in specs if s.category == category]
    return "\n".join(parts).rstrip() + "\n"


def _ordered_categories(present: set[str]) -> list[str]:
    known = [c for c in CATEGORY_ORDER if c in present]
    return known + sorted(present - set(known))


def _arg_names(args) -> str:
    return ", ".join(f"`{a.name}=`" for a in args)


def _contents_line(category: str, specs: list[OpSpec]) -> str:
    names = ", ".join(f"[`{s.name}`](#{s.name})" for s in specs if s.category == category)
    return f"- {_TITLES.get(category, category.capitalize())}: {names}"


def _op_section(spec: OpSpec) -> str:
    lines = [f"### {spec.name}\n", spec.doc, ""]
    facts = []
    if spec.aliases:
        facts.append("aliases " + ", ".join(f"`{a}`" for a in spec.aliases))
    if spec.input_rank:
        facts.append("input rank " + _either(spec.input_rank))
    if spec.layer_on_branches:
        facts.append("reads the current value, or its branches `" + spec.name + " { ... }` as inputs")
    elif spec.arity is None:
        facts.append("merges branches: `" + spec.name + " { ... }`")
    if spec.dtypes in _DTYPE_FACTS:
        facts.append(_DTYPE_FACTS[spec.dtypes])
    if spec.has_weights:
        facts.append("*weights*")
    if facts:
        lines += ["Facts: " + "; ".join(facts) + ".", ""]
    if spec.args:
        lines += ["| argument | type | default | notes |", "|---|---|---|---|"]
        lines += [_arg_row(a) for a in spec.args]
        lines.append("")
    return "\n".join(lines)


def _either(values) -> str:
    """(2, 3, 4) → "2, 3 or 4"."""
    words = [str(v) for v in values]
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " or " + words[-1]


def _arg_row(arg: Arg) -> str:
    notes = []
    if arg.choices:
        notes.append("one of " + ", ".join(f"`{describe(c)}`" for c in arg.choices))
    if arg.minimum is not None:
        notes.append(f"≥ {_number(arg.minimum)}")
    if arg.above is not None:
        notes.append(f"> {_number(arg.above)}")
    if arg.maximum is not None:
        notes.append(f"≤ {_number(arg.maximum)}")
    if arg.doc:
        notes.append(arg.doc.replace("|", "\\|"))
    default = "*required*" if arg.default is REQUIRED else f"`{describe(arg.default)}`"
    return f"| `{arg.name}` | {arg.type} | {default} | {'; '.join(notes)} |"


def _number(value) -> str:
    return repr(value) if isinstance(value, float) else str(value)
