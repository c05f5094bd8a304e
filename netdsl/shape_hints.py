"""Hints for shape errors that have a well-known remedy (the lectures' own fixes)."""
from __future__ import annotations

from typing import Optional, Sequence


def residual_hint(body: Sequence, shortcut: Sequence, has_shortcut: bool) -> Optional[str]:
    """Why a residual's body and shortcut do not add up, and the usual fix: a
    projection shortcut (ResNet's 1×1 conv with the body's stride, then bn)."""
    if len(body) != len(shortcut) or len(body) < 2:
        return None
    what = f"the body gives {list(body)} but the shortcut carries {list(shortcut)}"
    if has_shortcut:
        return what + "; make the shortcut end in the body's shape"
    stride = _stride(body[1:], shortcut[1:])
    if stride is None:
        return what + ("; the spatial sizes differ by a non-integer factor: pad the body's convs "
                       "(padding=kernel // 2) so only strides change the size")
    projection = f"conv({body[0]}, 1" + (f", stride={stride}" if stride != 1 else "") + ", bias=false) bn"
    return what + f"; project the shortcut: residual {{ ... }} shortcut {{ {projection} }}"


def _stride(body: Sequence, shortcut: Sequence) -> Optional[int]:
    """The stride s of a 1×1 conv (size n → ceil(n / s)) taking every spatial
    axis of the shortcut to the body's, if one exists."""
    if not all(isinstance(n, int) and n > 0 for n in (*body, *shortcut)):
        return None
    for stride in range(1, max(shortcut) + 1):
        if all(-(-s // stride) == b for b, s in zip(body, shortcut)):
            return stride
    return None
