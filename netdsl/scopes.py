"""Module scopes: how IR nodes get the names their torch modules will have.

A scope is one level of the module tree (``layer1``, ``layer1.0``).  Every
child that owns a module takes the next position in its scope, as children of
``nn.Sequential`` do; an explicit label replaces the number but still uses up
the position, so ``conv relu conv`` is ``0 1 2`` and VGG's ``features.N``
indices come out right.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Optional

from .errors import ArgumentError, Span

_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_INDEX = re.compile(r"^(0|[1-9][0-9]{0,8})$")  # a position: no leading zeros, as torch numbers them
_QUOTED = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_-]{0,99}$")

#: Attributes every torch ``nn.Module`` has: a child module cannot take these
#: names (``add_module`` refuses them), so a label must not either.
MODULE_ATTRIBUTES = frozenset("""
    T_destination add_module apply bfloat16 buffers call_super_init children compile cpu cuda
    double dump_patches eval extra_repr float forward get_buffer get_extra_state get_parameter
    get_submodule half ipu load_state_dict modules mtia named_buffers named_children
    named_modules named_parameters parameters register_backward_hook register_buffer
    register_forward_hook register_forward_pre_hook register_full_backward_hook
    register_full_backward_pre_hook register_load_state_dict_post_hook
    register_load_state_dict_pre_hook register_module register_parameter
    register_state_dict_post_hook register_state_dict_pre_hook requires_grad_ set_extra_state
    set_submodule share_memory state_dict to to_empty train training type xpu zero_grad
""".split())


@dataclass
class ScopeInfo:
    """What the IR records about a scope (graph.graph['scopes'][path])."""

    path: tuple[str, ...]
    block: Optional[str] = None           # block definition this scope instantiates
    args: dict[str, Any] = field(default_factory=dict)
    span: Optional[Span] = None
    children: list[str] = field(default_factory=list)


def check_label(label: str, span: Optional[Span], quoted: bool = False) -> str:
    """A label must be a name a torch module can take as a child name: an
    identifier, a number (``0:``, as nn.Sequential's children), or a quoted
    name of letters, digits, ``_`` and ``-`` (torchvision's ``"block1-0"``)."""
    pattern = _QUOTED if quoted else _IDENT
    if not pattern.fullmatch(label) and not _INDEX.fullmatch(label):
        allowed = "letters, digits, _ and -" if quoted else "letters, digits and _; quote other names"
        raise ArgumentError(f"'{label}' is not a valid name ({allowed})", span)
    if label in MODULE_ATTRIBUTES or label.startswith("_"):
        raise ArgumentError(f"'{label}' cannot name a layer: torch modules use that name "
                            "themselves", span, hint=f"call it e.g. '{label.strip('_')}_layer'")
    return label


class Scope:
    """Allocates child names inside one scope."""

    def __init__(self, info: ScopeInfo, registry: dict):
        self.info = info
        self.registry = registry
        self.position = 0
        self.spans: dict[str, Optional[Span]] = {}

    @property
    def path(self) -> tuple[str, ...]:
        return self.info.path

    def allocate(self, label: Optional[str], span: Optional[Span]) -> str:
        """The name of the next child: its label, or its position."""
        name = label if label is not None else str(self.position)
        self.position += 1
        if name in self.spans:
            where = self.spans[name]
            raise ArgumentError(f"the name '{name}' is used twice in scope "
                                f"'{'.'.join(self.path) or '<network>'}'"
                                + (f" (first at {where})" if where else ""), span)
        self.spans[name] = span
        self.info.children.append(name)
        return name

    def allocate_attribute(self, name: Optional[str], span: Optional[Span]) -> str:
        """The name of a learned tensor: its label, without using up a position
        (an ``nn.Parameter`` is no child module)."""
        if name is None:
            raise ArgumentError("a learned tensor needs a name: `param NAME: [shape]` "
                                "or `NAME: parameter([shape])`", span)
        position = self.position
        try:
            return self.allocate(name, span)
        finally:
            self.position = position

    def child(self, label: Optional[str], span: Optional[Span], block: Optional[str] = None,
              args: Optional[dict] = None) -> "Scope":
        name = self.allocate(label, span)
        info = ScopeInfo(self.path + (name,), block, dict(args or {}), span)
        self.registry[info.path] = info
        return Scope(info, self.registry)
