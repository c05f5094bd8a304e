"""A fuzzing campaign: cases from a seed, run in workers, grouped, shrunk.

Case ``i`` of seed ``S`` is fully determined by ``(S, i)``: a generated
program, a mutated zoo file, or a mutated generated program.  Workers
regenerate it from the seed (so generation runs in parallel too); the parent
regenerates the few it needs to show.
"""
from __future__ import annotations

import random
import time
from dataclasses import dataclass, field
from typing import Optional, Union

from .check import check, pattern, workdir
from .pool import WorkerPool

FAILURES = ("other", "hang", "mismatch")
_WORKDIR: Optional[str] = None


# ------------------------------------------------------------------ cases
def case_kind(seed: int, index: int) -> str:
    roll = random.Random(f"{seed}:{index}:kind").random()
    return "generated" if roll < 0.55 else "zoo-mutation" if roll < 0.85 else "generated-mutation"


def materialize(seed: int, index: int) -> tuple[Union[str, bytes], Optional[bool]]:
    """(source, whether the generator believes it valid; None when unknown)."""
    source, program = _materialize(seed, index)
    return source, (program.expected_valid if program else None)


def _materialize(seed: int, index: int):
    """(source, the generated Program when the source is one unchanged)."""
    from .genprog import generate
    from .mutate import mutate, token_mutation, tokens
    kind = case_kind(seed, index)
    key = f"{seed}:{index}"
    if kind == "zoo-mutation":
        return mutate(key), None
    program = generate(key)
    if kind == "generated":
        return program.text, program
    rng = random.Random(key + ":mutation")
    toks = tokens(program.text)
    for _ in range(rng.randint(1, 3)):
        toks = token_mutation(toks, rng)
    return "".join(toks), None


def execute(task: dict) -> dict:
    """Worker side: build the case (from its seed or given source) and check it."""
    global _WORKDIR
    _WORKDIR = _WORKDIR or workdir()
    started = time.process_time()
    if "source" in task:
        source, expected = task["source"], None
    else:
        source, expected = materialize(task["seed"], task["index"])
    result = check(source, task["timeout"], _WORKDIR)
    result["cpu"] = time.process_time() - started
    result["expected_valid"] = expected
    result["size"] = len(source)
    return result


# ------------------------------------------------------------------ grouping
def group_key(result: dict) -> tuple:
    status = result["status"]
    if status == "hang":
        return (status, result.get("stage", "?"))
    if status == "netdsl":  # spans: what matters is where the error is raised
        return (status, result.get("span"), result.get("etype"), result.get("where"))
    return (status, result.get("kind", ""), result.get("etype", ""), result.get("where", ""),
            pattern(result.get("message", "")))


def same_failure(a: dict, b: dict) -> bool:
    """The shrinking criterion: same outcome, exception type and innermost netdsl frame."""
    if a["status"] != b["status"]:
        return False
    if a["status"] == "hang":
        return True
    return (a.get("etype"), a.get("where"), a.get("kind")) == (b.get("etype"), b.get("where"), b.get("kind"))


@dataclass
class Group:
    key: tuple
    first: dict
    cases: list = field(default_factory=list)
    minimal: Union[str, bytes, None] = None
    shrink_evaluations: int = 0


@dataclass
class Outcome:
    seed: int
    cases: int
    seconds: float
    counts: dict
    groups: dict  # section → list of Group
    torch_checked: int = 0


def _section(result: dict) -> Optional[str]:
    status = result["status"]
    if status in FAILURES or status == "torch_oom":
        return status
    if status == "netdsl" and result.get("span"):
        return "unlocated" if result["span"] == "unlocated" else "bad_span"
    if status == "netdsl" and result.get("expected_valid"):
        return "rejected_valid"  # the generator's mistake or netdsl's: read these
    if result.get("disagrees"):
        return "disagrees"
    return None


def tally(results: dict) -> tuple[dict, dict]:
    counts = {"ok": 0, "netdsl": 0, "unlocated": 0, "bad_span": 0, "other": 0, "hang": 0,
              "mismatch": 0, "torch_oom": 0, "rejected_valid": 0, "disagrees": 0, "torch_checked": 0, "cpu": 0.0, "cpu_torch": 0.0}
    groups: dict = {}
    for index in sorted(results):
        result = results[index]
        counts[result["status"]] += 1
        counts["torch_checked"] += bool(result.get("torch"))
        counts["cpu"] += result.get("cpu", 0.0)
        counts["cpu_torch"] += result.get("cpu_torch", 0.0)
        section = _section(result)
        if section is None:
            continue
        if section in ("unlocated", "bad_span", "rejected_valid", "disagrees"):
            counts[section] += 1
        bucket = groups.setdefault(section, {})
        key = group_key(result)
        bucket.setdefault(key, Group(key, result)).cases.append(index)
    return counts, {k: list(v.values()) for k, v in groups.items()}


# ------------------------------------------------------------------ running
def run(cases: int, seed: int = 0, workers: int = 2, timeout: float = 10.0,
        shrink_budget: int = 200, progress=None) -> Outcome:
    """Run ``cases`` cases; shrink one input per failure group (``shrink_budget`` runs each)."""
    started = time.monotonic()
    tasks = [{"seed": seed, "index": i, "timeout": timeout} for i in range(cases)]
    results: dict = {}
    with WorkerPool(execute, workers, timeout) as pool:
        for task, result in pool.map(tasks):
            results[task["index"]] = result
            if progress and len(results) % 500 == 0:
                progress(len(results), time.monotonic() - started)
        counts, groups = tally(results)
        for section, found in groups.items():
            for group in found:
                _shrink_group(pool, group, seed, results, timeout,
                              shrink_budget if section in FAILURES else 0)
    return Outcome(seed, cases, time.monotonic() - started, counts, groups, counts["torch_checked"])


def _shrink_group(pool: WorkerPool, group: Group, seed: int, results: dict, timeout: float,
                  budget: int) -> None:
    from .shrink import shrink
    smallest = min(group.cases[:50], key=lambda i: (results[i].get("size", 0), i))
    source, _ = materialize(seed, smallest)
    reference = results[smallest]
    if reference["status"] == "hang":
        budget = min(budget, 12)

    def still_fails(candidates: list) -> list[bool]:
        tasks = [{"source": c, "timeout": timeout, "n": n} for n, c in enumerate(candidates)]
        verdicts = [False] * len(candidates)
        for task, result in pool.map(tasks):
            verdicts[task["n"]] = same_failure(reference, result)
        return verdicts
    if budget > 0:
        source, group.shrink_evaluations = shrink(source, still_fails, budget, batch=2 * len(pool.slots))
    group.minimal = source
