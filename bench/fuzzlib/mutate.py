"""Byte- and token-level mutations of the zoo files.

A zoo network is read with its imports spliced in (so mutations reach the
block libraries too and no file is read while fuzzing), then mutated one to
four times: delete, duplicate or swap tokens, flip digits, put in huge or odd
numbers, very long names, deep nesting, NUL and non-UTF-8 bytes.  A case that
carries bytes is loaded from a file (``netdsl.load``), so decoding is fuzzed
as well; text goes through ``netdsl.parse``.
"""
from __future__ import annotations

import random
import re
from functools import lru_cache
from pathlib import Path
from typing import Union

ROOT = Path(__file__).resolve().parents[2]
ZOO = ROOT / "architectures"
TOKEN = re.compile(r'\s+|#[^\n]*|"(?:[^"\\\n]|\\.)*"|[A-Za-z_][A-Za-z0-9_]*:?|'
                   r'\d[\d_]*\.?[\d_]*(?:[eE][+-]?\d+)?|\*\*|//|==|!=|<=|>=|.', re.S)
NUMBERS = ["0", "-1", "10**400", "1e400-1e400", "1e400", "2**63", "2**62", "99999999999999999999",
           "0.0", "1e-400", "-0", "1_000_000", "3.5", "(1, 2, 3, 4, 5)", "()", "none", '"3"']
INSERTS = ["{", "}", "(", ")", "[", "]", ",", "=", "@", ":", ";", "\n", "\\\n", "if", "else", "elif",
           "repeat", "as", "residual", "shortcut", "dense", "inline", "import", "output", "input",
           "expect", "block", "network", "not", "and", "**", "//", "in", "in.channels", "true", "none",
           '"', "'", "#", "\t", "\r", "\x0c", "\u00e9", "\u200b", "\ufeff", "𝔁"]


@lru_cache(maxsize=None)
def zoo_sources() -> tuple[str, ...]:
    """Every zoo network with its imports spliced in, plus the libraries as they are."""
    nets = [_spliced(path) for path in sorted(ZOO.glob("*.net"))]
    # a library alone defines no network: give it one, so elaboration runs too
    libs = [path.read_text() + "\nnetwork lib_check { input [3, 32, 32]\n relu }\n"
            for path in sorted((ZOO / "lib").glob("*.net"))]
    return tuple(nets + libs)


def _spliced(path: Path) -> str:
    def replace(match):
        return _spliced(path.parent / match.group(1))
    return re.sub(r'^import "([^"]+)"\s*$', replace, path.read_text(), flags=re.M)


def tokens(text: str) -> list[str]:
    return TOKEN.findall(text)


def _significant(toks: list[str]) -> list[int]:
    return [n for n, t in enumerate(toks) if not t.isspace()]


def _delete(toks, n, places, rng):
    del toks[n]
    return toks


def _duplicate(toks, n, places, rng):
    toks.insert(n, toks[n] + " ")
    return toks


def _swap(toks, n, places, rng):
    m = rng.choice(places)
    toks[n], toks[m] = toks[m], toks[n]
    return toks


def _numbers(toks, places):
    return [k for k in places if toks[k][:1].isdigit()]


def _flip(toks, n, places, rng):
    k = rng.choice(_numbers(toks, places) or [n])
    toks[k] = _flip_digit(toks[k], rng)
    return toks


def _odd_number(toks, n, places, rng):
    toks[rng.choice(_numbers(toks, places) or [n])] = rng.choice(NUMBERS)
    return toks


def _rename(toks, n, places, rng):
    names = [k for k in places if toks[k][:1].isalpha() or toks[k][:1] == "_"] or [n]
    k = rng.choice(names)
    toks[k] = _renamed(toks[k], toks, names, rng)
    return toks


def _insert(toks, n, places, rng):
    toks.insert(n, rng.choice(INSERTS) + " ")
    return toks


def _duplicate_run(toks, n, places, rng):
    start = rng.choice(places)
    toks[start:start] = toks[start:start + rng.randint(1, 40)]
    return toks


#: (edit, weight): most edits keep the syntax, so later stages are reached too.
EDITS = [(_delete, 3), (_duplicate, 3), (_swap, 3), (_flip, 16), (_odd_number, 16), (_rename, 10),
         (_insert, 3), (lambda t, n, p, r: _deep(t, _numbers(t, p) or [n], r), 5), (_duplicate_run, 2),
         (lambda t, n, p, r: _line_edit(t, 0, r), 8), (lambda t, n, p, r: _line_edit(t, 1, r), 8),
         (lambda t, n, p, r: _line_edit(t, 2, r), 5)]


def token_mutation(toks: list[str], rng: random.Random) -> list[str]:
    """One edit of the token list."""
    places = _significant(toks) or [0]
    edit = rng.choices([e for e, _ in EDITS], weights=[w for _, w in EDITS])[0]
    return edit(list(toks), rng.choice(places), places, rng)


def _renamed(token: str, toks: list[str], names: list[int], rng: random.Random) -> str:
    """Another name from the file, a very long one, or a near-miss spelling."""
    colon = ":" if token.endswith(":") else ""
    bare = token.rstrip(":")
    roll = rng.random()
    if roll < 0.5:
        return toks[rng.choice(names)].rstrip(":") + colon
    if roll < 0.7:
        return bare * rng.choice([50, 2000]) + colon
    if roll < 0.85 and len(bare) > 1:
        k = rng.randrange(len(bare))
        return bare[:k] + bare[k + 1:] + colon
    return rng.choice(["in", "out", "x", "forward", "_x", "training", "input", "true"]) + colon


def _line_edit(toks: list[str], kind: int, rng: random.Random) -> list[str]:
    """Delete, duplicate or move one whole line."""
    lines = "".join(toks).splitlines(keepends=True)
    if len(lines) < 2:
        return toks
    k = rng.randrange(len(lines))
    if kind == 0:
        del lines[k]
    elif kind == 1:
        lines.insert(k, lines[k])
    else:
        lines.insert(rng.randrange(len(lines)), lines.pop(k))
    return tokens("".join(lines))


def _flip_digit(token: str, rng: random.Random) -> str:
    where = [k for k, ch in enumerate(token) if ch.isdigit()]
    if not where:
        return token
    k = rng.choice(where)
    return token[:k] + rng.choice("0123456789") + token[k + 1:]


def _deep(toks: list[str], numbers: list[int], rng: random.Random) -> list[str]:
    """Deep nesting where it parses: around a number, or a nest of groups on a line of its own."""
    depth = rng.choice([63, 65, 200, 1000, 5000])
    kind = rng.randrange(4)
    k = rng.choice(numbers)
    if kind == 0:
        toks[k] = "(" * depth + toks[k] + ")" * depth
    elif kind == 1:
        toks[k] = toks[k] + " + 1" * depth
    elif kind == 2:
        toks[k] = "-" * depth + toks[k]
    else:
        lines = [n for n, t in enumerate(toks) if "\n" in t] or [0]
        toks.insert(rng.choice(lines) + 1, "{ " * depth + "relu" + " }" * depth + "\n")
    return toks


def byte_mutation(data: bytes, rng: random.Random) -> bytes:
    """One edit of the raw bytes: odd bytes, NUL, broken UTF-8, truncation."""
    n = rng.randrange(len(data) + 1)
    kind = rng.randrange(6)
    if kind == 0:
        return data[:n] + b"\x00" + data[n:]
    if kind == 1:
        return data[:n] + rng.choice([b"\xff", b"\xc3", b"\xed\xa0\x80", b"\xef\xbb\xbf", b"\x80\x80"]) + data[n:]
    if kind == 2 and data:
        n = min(n, len(data) - 1)
        return data[:n] + bytes([data[n] ^ (1 << rng.randrange(8))]) + data[n + 1:]
    if kind == 3:
        return data[:n]
    if kind == 4:
        return b"\xef\xbb\xbf" + data  # a byte-order mark
    return data.replace(b"\n", b"\r\n") if rng.random() < 0.5 else data.replace(b"\n", b"\r")


def mutate(seed: str) -> Union[str, bytes]:
    """A mutated zoo file: text, or bytes when a byte-level edit was made."""
    rng = random.Random(seed)
    text = rng.choice(zoo_sources())
    toks = tokens(text)
    for _ in range(rng.choice([1, 1, 1, 1, 2, 2, 3])):
        toks = token_mutation(toks, rng)
    text = "".join(toks)
    if rng.random() < 0.15:
        data = text.encode("utf-8")
        for _ in range(rng.randint(1, 2)):
            data = byte_mutation(data, rng)
        return data
    return text
