"""The campaign's outcome as text (for people) and as JSON (for tools)."""
from __future__ import annotations

import json
from typing import Union

from .campaign import FAILURES, Group, Outcome

SECTIONS = {
    "other": "other exceptions (bugs)",
    "hang": "hangs",
    "mismatch": "static vs torch mismatches",
    "torch_oom": "torch ran out of memory on a program netdsl accepted (not a failure: read them)",
    "unlocated": "netdsl errors without a location",
    "bad_span": "netdsl errors located outside the file",
    "rejected_valid": "rejected programs the generator meant to be valid (check: generator or netdsl?)",
    "disagrees": "accepted programs whose output shapes differ from the generator's prediction",
}


def shown(source: Union[str, bytes, None], limit: int = 1500) -> str:
    if source is None:
        return "(not shrunk)"
    if isinstance(source, bytes):
        text = repr(source)
        return f"(bytes) {text[:limit]}"
    return source if len(source) <= limit else source[:limit] + f"\n... ({len(source):,} characters)"


def counts_text(outcome: Outcome) -> list[str]:
    c = outcome.counts
    rate = outcome.cases / outcome.seconds if outcome.seconds else 0.0
    static_cpu = max(c["cpu"] - c["cpu_torch"], 1e-9)
    return [
        f"netdsl fuzz: seed {outcome.seed}, {outcome.cases} cases in {outcome.seconds:.1f} s ({rate:.1f}/s)",
        f"  CPU per worker: {outcome.cases / static_cpu:.0f} cases/s without torch; torch runs took "
        f"{c['cpu_torch']:.1f} of {c['cpu']:.1f} CPU s",
        f"  ok                     {c['ok']:>7}   (torch-checked {outcome.torch_checked})",
        f"  netdsl errors          {c['netdsl']:>7}   (unlocated {c['unlocated']}, span outside the file "
        f"{c['bad_span']}, generator-valid {c['rejected_valid']}); shapes unlike the generator's "
        f"{c['disagrees']}",
        f"  other exceptions       {c['other']:>7}",
        f"  hangs                  {c['hang']:>7}",
        f"  mismatches             {c['mismatch']:>7}",
        f"  torch out of memory    {c.get('torch_oom', 0):>7}   (static shapes not contradicted)",
    ]


def group_text(group: Group, detailed: bool) -> list[str]:
    first = group.first
    head = first.get("kind") or first.get("etype") or first["status"]
    lines = [f"- [{len(group.cases)}x] {head}: {first.get('message', '').splitlines()[0][:200] if first.get('message') else ''}",
             f"    stage {first.get('stage')}; innermost netdsl frame: {first.get('where') or '-'}; "
             f"cases {group.cases[:8]}"]
    if detailed:
        lines += ["    frames: " + " <- ".join(reversed(first.get("frames", [])[-5:]))]
        minimal = shown(group.minimal)
        lines += ["    minimal input" + (f" ({group.shrink_evaluations} shrinking runs)" if group.shrink_evaluations else "")
                  + ":"] + ["      | " + line for line in minimal.splitlines()]
    return lines


def text(outcome: Outcome) -> str:
    lines = counts_text(outcome)
    for section, title in SECTIONS.items():
        found = outcome.groups.get(section, [])
        if not found:
            continue
        lines += ["", f"{title}: {sum(len(g.cases) for g in found)} in {len(found)} group(s)"]
        for group in sorted(found, key=lambda g: -len(g.cases)):
            lines += group_text(group, detailed=section in FAILURES or section in ("rejected_valid", "disagrees"))
    return "\n".join(lines)


def as_json(outcome: Outcome) -> str:
    def group(g: Group) -> dict:
        minimal = g.minimal
        if isinstance(minimal, bytes):
            minimal = {"bytes": minimal.decode("latin-1")}
        return {"count": len(g.cases), "cases": g.cases[:50], "status": g.first["status"],
                "kind": g.first.get("kind"), "etype": g.first.get("etype"), "stage": g.first.get("stage"),
                "message": g.first.get("message"), "where": g.first.get("where"),
                "frames": g.first.get("frames"), "minimal": minimal,
                "shrink_evaluations": g.shrink_evaluations}
    data = {"seed": outcome.seed, "cases": outcome.cases, "seconds": round(outcome.seconds, 2),
            "counts": outcome.counts,
            "groups": {k: [group(g) for g in v] for k, v in outcome.groups.items()}}
    return json.dumps(data, indent=2)


def failed(outcome: Outcome) -> bool:
    return any(outcome.counts[k] for k in FAILURES)
