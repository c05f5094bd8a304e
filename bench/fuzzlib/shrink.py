"""Greedy shrinking: delete runs of lines, brace-delimited bodies and tokens
while the failure stays the same, until nothing more can go or the budget is spent.

Candidates are judged ``batch`` at a time (one per worker); after a deletion
the scan goes on from where it stood, so one pass costs about one run per piece.
"""
from __future__ import annotations

from typing import Callable, Optional, Union

from .mutate import tokens

Source = Union[str, bytes]
Oracle = Callable[[list[Source]], list[bool]]


def _pairs(toks: list[str]) -> list[tuple[int, int]]:
    """(open, close) index of every balanced ``{ }`` with something inside, outermost first."""
    stack, pairs = [], []
    for n, tok in enumerate(toks):
        if tok == "{":
            stack.append(n)
        elif tok == "}" and stack:
            start = stack.pop()
            if n > start + 1:
                pairs.append((start, n))
    return sorted(pairs, key=lambda p: p[0] - p[1])


class _Shrinker:
    def __init__(self, oracle: Oracle, budget: int, batch: int, encode):
        self.oracle, self.budget, self.batch, self.encode = oracle, budget, batch, encode
        self.spent = 0

    def left(self) -> int:
        return self.budget - self.spent

    def first_failing(self, variants: list[list[str]]) -> Optional[int]:
        """Index of the first variant that still fails, or None (spends one run per variant)."""
        variants = variants[: self.left()]
        if not variants:
            return None
        verdicts = self.oracle([self.encode("".join(v)) for v in variants])
        self.spent += len(variants)
        return next((k for k, ok in enumerate(verdicts) if ok), None)

    def delete_runs(self, pieces: list[str], size: int, step: int) -> list[str]:
        start = 0
        while start < len(pieces) and self.left() > 0:
            starts, s = [], start
            while len(starts) < self.batch and s < len(pieces):
                if not all(p.isspace() for p in pieces[s:s + size]):
                    starts.append(s)
                s += step
            if not starts:
                break
            variants = [pieces[:s] + pieces[s + size:] for s in starts]
            hit = self.first_failing(variants)
            if hit is None:
                start = starts[-1] + step
            else:
                pieces, start = variants[hit], starts[hit]
        return pieces

    def ddmin(self, pieces: list[str], overlap: bool = False, largest: int = 1 << 30) -> list[str]:
        """Delete runs of halving size; ``overlap`` also tries runs that straddle the grid."""
        size = max(1, min(largest, len(pieces) // 2))
        while size >= 1 and self.left() > 0:
            step = max(1, size // 2) if overlap and size <= 8 else size
            pieces = self.delete_runs(pieces, size, step)
            size //= 2
        return pieces

    def bodies(self, text: str) -> str:
        """Empty ``{ ... }`` bodies, outermost first."""
        toks, done = tokens(text), 0
        while self.left() > 0:
            pairs = _pairs(toks)[done:done + self.batch]
            if not pairs:
                break
            variants = [toks[:a + 1] + toks[b:] for a, b in pairs]
            hit = self.first_failing(variants)
            if hit is None:
                done += len(pairs)
            else:
                toks = variants[hit]
        return "".join(toks)


def shrink(source: Source, still_fails: Oracle, budget: int = 300, batch: int = 4) -> tuple[Source, int]:
    """The smallest variant found of ``source`` that ``still_fails``; (variant, runs spent)."""
    is_bytes = isinstance(source, bytes)
    text = source.decode("utf-8", "surrogateescape") if is_bytes else source
    encode = (lambda t: t.encode("utf-8", "surrogateescape")) if is_bytes else (lambda t: t)
    work = _Shrinker(still_fails, budget, batch, encode)
    previous = None
    while text != previous and work.left() > 0:
        previous = text
        text = "".join(work.ddmin(text.splitlines(keepends=True)))
        text = work.bodies(text)
        text = "".join(work.ddmin(text.splitlines(keepends=True)))
        text = "".join(work.ddmin(tokens(text), largest=16))
    text = "".join(work.ddmin(tokens(text), overlap=True, largest=4))
    return encode(text), work.spent
