"""Mutation testing for netdsl's numeric core (issue 14).

    python bench/mutation.py --sample 80 --seed 1 --json mutation.json

Small, deliberate bugs ("mutants") are planted one at a time in
``netdsl/ops/``, ``netdsl/analysis/`` and ``netdsl/training/schedules.py``:
an arithmetic operator flipped (+ ↔ −, * ↔ //), an integer constant moved by
±1, a comparison swapped (< ↔ <=, == ↔ !=), ``and`` ↔ ``or``, a returned
number or condition tweaked.  For each, the tests that execute the mutated
line (bench/mutation_runner.py: coverage contexts, forked children, two at a
time) run with a timeout; a mutant is *killed* when they fail, *survives*
when they pass or when no test executes its line.  A survivor listed in
bench/mutation_equivalent.py (a change nothing can observe, with the reason)
is *equivalent*.  The score is killed / (killed + survived); survivors are
printed with their location so each becomes a new test or an explained
equivalent mutant.

The repository is never touched: netdsl/, tests/ and docs/ are copied into a
temporary folder once, each mutant is written there, and the tests import
that copy (PYTHONPATH).  Error messages, docstrings and f-strings are not
mutated (their text is checked elsewhere and would only add noise), nor
``ins[0]`` into ``ins[-1]`` (the registry gives one-input ops a one-element
``ins``: an equivalent mutant).  Tests that already fail in the copy (someone's
work in progress) are listed and deselected before any mutant runs.
``--rerun FILE`` runs again the survivors a ``--json FILE`` recorded.
"""
from __future__ import annotations

import argparse
import ast
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench import mutation_runner as runner  # noqa: E402
from bench.mutation_equivalent import explain  # noqa: E402
TARGETS = ("netdsl/ops", "netdsl/analysis", "netdsl/training/schedules.py")
FAST_OPS = ["tests/test_ops_registry.py", "tests/test_flops_oracle.py", "tests/test_padding_same.py",
            "tests/test_pooling_edges.py"]
#: The op examples' fields against gradient support (node ids: only these tests of the file).
FIELD_EXAMPLES = ("tests/test_receptive_field.py::test_example_field_bounds_gradient_support",
                  "tests/test_receptive_field.py::test_only_the_listed_examples_are_unchecked")
#: Arguments and sizes torch refuses, each refusal checked against torch's own.
OP_REFUSALS = ["tests/test_ops_torch_refuses.py", "tests/test_ops_bounds.py"]
#: Module (path prefix) → the fast tests that cover it; the first matching prefix wins.
TEST_MAP = [
    ("netdsl/analysis/receptive_field.py", ["tests/test_receptive_field.py", "tests/test_pooling_edges.py",
                                            "tests/test_rf_modern.py"]),
    ("netdsl/analysis/inplace.py", ["tests/test_inplace.py"]),
    ("netdsl/analysis/expect.py", ["tests/test_analysis_expect.py"]),
    ("netdsl/analysis/memory.py", ["tests/test_memory.py"]),
    ("netdsl/analysis/saved.py", ["tests/test_memory.py", "tests/test_inplace.py"]),  # keeps_output: in-place checks
    ("netdsl/analysis/train_memory.py", ["tests/test_memory.py"]),
    ("netdsl/analysis/rollup.py", ["tests/test_summarize.py", "tests/test_summary_api.py", "tests/test_analysis_diff.py"]),
    # tied weights: counted once, where they are owned
    ("netdsl/analysis/ties.py", ["tests/test_language_modern.py", "tests/test_analysis_ir.py"]),
    ("netdsl/analysis/params.py", ["tests/test_analysis_ir.py", *FAST_OPS, "tests/test_language_modern.py"]),
    ("netdsl/analysis/", ["tests/test_analysis_ir.py", *FAST_OPS]),
    ("netdsl/ops/initializers.py", ["tests/test_ops_registry.py", "tests/test_ops_torch_refuses.py"]),
    ("netdsl/ops/dtypes.py", ["tests/test_ops_registry.py", "tests/test_ops_torch_refuses.py"]),
    ("netdsl/ops/registry.py", [*FAST_OPS, *OP_REFUSALS, *FIELD_EXAMPLES, "tests/test_rf_modern.py"]),
    # the ops' refusals (each against torch's), receptive fields and saved tensors too
    ("netdsl/ops/", [*FAST_OPS, *OP_REFUSALS, *FIELD_EXAMPLES, "tests/test_rf_modern.py",
                     "tests/test_memory.py", "tests/test_ops_attention.py"]),
    ("netdsl/training/schedules.py", ["tests/test_schedule_warmup.py", "tests/test_train_config.py"]),
]
COPIED = ("netdsl", "tests", "docs", "examples")

_BINOPS = {ast.Add: ast.Sub, ast.Sub: ast.Add, ast.Mult: ast.FloorDiv, ast.FloorDiv: ast.Mult,
           ast.Div: ast.Mult, ast.Mod: ast.FloorDiv, ast.Pow: ast.Mult}
_COMPARES = {ast.Lt: ast.LtE, ast.LtE: ast.Lt, ast.Gt: ast.GtE, ast.GtE: ast.Gt, ast.Eq: ast.NotEq,
             ast.NotEq: ast.Eq, ast.In: ast.NotIn, ast.NotIn: ast.In, ast.Is: ast.IsNot, ast.IsNot: ast.Is}


@dataclass(frozen=True)
class Mutant:
    path: str     # relative to the repository
    index: int    # the index-th mutation point of that file, in AST walk order
    line: int
    kind: str
    detail: str


# ------------------------------------------------------------ finding and applying mutations
def _quiet_nodes(tree: ast.AST) -> set[int]:
    """ids of nodes not worth mutating: inside raise statements, f-strings, docstrings,
    ``__all__`` and calls building error messages (their text, not their logic)."""
    quiet: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Raise, ast.JoinedStr, ast.Assert)) or (
                isinstance(node, ast.Assign) and any(getattr(t, "id", "") == "__all__" for t in node.targets)):
            quiet.update(id(child) for child in ast.walk(node))
    return quiet


def _points(tree: ast.AST):
    """Yield (node, kind, detail, apply) for every mutation point, in a stable order."""
    quiet = _quiet_nodes(tree)
    _mark_input_indices(tree)
    for node in ast.walk(tree):
        if id(node) in quiet:
            continue
        yield from _node_points(node)


def _node_points(node: ast.AST):
    if isinstance(node, ast.BinOp) and type(node.op) in _BINOPS:
        new = _BINOPS[type(node.op)]
        yield node, "binop", f"{type(node.op).__name__} -> {new.__name__}", lambda n=node, t=new: setattr(n, "op", t())
    elif isinstance(node, ast.Compare):
        for i, op in enumerate(node.ops):
            new = _COMPARES[type(op)]
            yield node, "compare", f"{type(op).__name__} -> {new.__name__}", \
                lambda n=node, i=i, t=new: n.ops.__setitem__(i, t())
    elif isinstance(node, ast.BoolOp):
        new = ast.Or if isinstance(node.op, ast.And) else ast.And
        yield node, "boolop", f"{type(node.op).__name__} -> {new.__name__}", lambda n=node, t=new: setattr(n, "op", t())
    elif isinstance(node, ast.Constant) and type(node.value) is int:
        for delta in (1, -1):
            if not (delta == -1 and node.value == 0 and id(node) in _single_input_indices(node)):
                yield node, "constant", f"{node.value} -> {node.value + delta}", \
                    lambda n=node, d=delta: setattr(n, "value", n.value + d)
    elif isinstance(node, ast.Return) and node.value is not None:
        yield from _return_points(node)


_INPUT_INDICES: set[int] = set()


def _single_input_indices(node: ast.AST) -> set[int]:
    """ids of the 0 in ``ins[0]``: the registry passes one-input ops a one-element ``ins``,
    where ins[-1] is ins[0] (an equivalent mutant, so not generated)."""
    return _INPUT_INDICES


def _mark_input_indices(tree: ast.AST) -> None:
    _INPUT_INDICES.clear()
    _INPUT_INDICES.update(id(n.slice) for n in ast.walk(tree) if isinstance(n, ast.Subscript)
                          and getattr(n.value, "id", "") == "ins" and isinstance(n.slice, ast.Constant))


def _return_points(node: ast.Return):
    value = node.value
    if isinstance(value, (ast.Compare, ast.BoolOp)) or (isinstance(value, ast.UnaryOp) and isinstance(value.op, ast.Not)):
        yield node, "return", "return not (...)", lambda n=node: setattr(n, "value", ast.UnaryOp(ast.Not(), n.value))
    elif isinstance(value, ast.BinOp) or (isinstance(value, ast.Call) and getattr(value.func, "id", "") == "prod"):
        yield node, "return", "return (...) + 1", \
            lambda n=node: setattr(n, "value", ast.BinOp(n.value, ast.Add(), ast.Constant(1)))


def find_mutants(root: Path) -> list[Mutant]:
    mutants = []
    for path in _target_files(root):
        rel = path.relative_to(root).as_posix()
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for index, (node, kind, detail, _) in enumerate(_points(tree)):
            mutants.append(Mutant(rel, index, getattr(node, "lineno", 0), kind, detail))
    return mutants


def _target_files(root: Path) -> list[Path]:
    files = []
    for target in TARGETS:
        path = root / target
        files += sorted(path.glob("*.py")) if path.is_dir() else [path]
    return [f for f in files if f.name != "__init__.py"]


def mutated_source(source: str, index: int) -> str:
    tree = ast.parse(source)
    for i, (_, _, _, apply) in enumerate(_points(tree)):
        if i == index:
            apply()
            return ast.unparse(ast.fix_missing_locations(tree))
    raise IndexError(f"no mutation point {index}")


# ------------------------------------------------------------ running
def tests_for(path: str) -> list[str]:
    return next(tests for prefix, tests in TEST_MAP if path.startswith(prefix))


#: Tests already failing in the unmutated copy (someone's work in progress): deselected.
DESELECTED: list[str] = []


def run_tests(workdir: Path, tests: list[str], timeout: float, first_failure: bool = True) -> tuple[str, list[str]]:
    """('passed' | 'failed' | 'timeout', the failing test ids) for the tests in the copy."""
    env = dict(os.environ, PYTHONPATH=str(workdir), PYTHONDONTWRITEBYTECODE="1", OMP_NUM_THREADS="1")
    command = [sys.executable, "-m", "pytest", "-q", "-rf", "-p", "no:cacheprovider", "--no-header",
               *(["-x"] if first_failure else []), *tests, *(f"--deselect={t}" for t in DESELECTED)]
    try:
        done = subprocess.run(command, cwd=workdir, env=env, timeout=timeout, capture_output=True, text=True)
    except subprocess.TimeoutExpired:
        return "timeout", []
    failed = [line[len("FAILED "):].split(" - ")[0] for line in done.stdout.splitlines() if line.startswith("FAILED ")]
    return ("passed" if done.returncode == 0 else "failed"), failed


def make_copy(root: Path) -> Path:
    workdir = Path(tempfile.mkdtemp(prefix="netdsl-mutation-"))
    for name in COPIED:
        if (root / name).exists():
            shutil.copytree(root / name, workdir / name, symlinks=True,
                            ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    os.symlink("netdsl/architectures", workdir / "architectures")
    return workdir


def check_baseline(workdir: Path, mutants: list[Mutant], timeout: float) -> dict[str, str]:
    """Each test set run once unmutated; tests failing already would 'kill' every mutant,
    so they are deselected (and listed), and the set must then pass."""
    results = {}
    for tests in sorted({tuple(tests_for(m.path)) for m in mutants}):
        status, failed = run_tests(workdir, list(tests), timeout, first_failure=False)
        DESELECTED.extend(failed)
        if failed:
            status = run_tests(workdir, list(tests), timeout)[0]
        results[" ".join(tests)] = status
    return results


def _forked_campaign(workdir: Path, mutants: list[Mutant], args, record) -> None:
    """Mutants in forked children on ``--workers`` private copies, each running only the
    tests that execute its line (bench/mutation_runner.py)."""
    lines, known = {}, {}  # path → (test set, line) → test ids; test set → every id it ran
    if not args.all_tests:
        for tests in sorted({tuple(tests_for(m.path)) for m in mutants}):
            measured = runner.coverage_map(workdir, list(tests), args.timeout * 10)
            known[tests] = runner.known_tests(measured)
            for path, per_line in measured.items():
                lines.setdefault(path, {}).update({(tests, k): v for k, v in per_line.items()})
    slots = [runner.Slot(workdir if i == 0 else _clone(workdir, i)) for i in range(max(args.workers, 1))]
    for slot in slots:
        runner.prepare_copy(slot.workdir)
    runner.warm_server()
    jobs = []
    for mutant in mutants:
        whole = tests_for(mutant.path)
        chosen = whole if args.all_tests else _chosen(lines, known, mutant, whole)
        if chosen is None:
            record(mutant, "survived", 0.0, "no test executes the line")
            continue
        source = mutated_source((workdir / mutant.path).read_text(encoding="utf-8"), mutant.index)
        label = "all tests" if chosen == whole else f"{len(chosen)} tests"
        done = (lambda m, t: lambda outcome, s: record(m, _verdict(outcome), s, t))(mutant, label)
        jobs.append((mutant.path, source, [*chosen, *(f"--deselect={t}" for t in DESELECTED)], done))
    runner.run_all(slots, jobs, args.timeout)
    for slot in slots[1:]:
        shutil.rmtree(slot.workdir, ignore_errors=True)


def _chosen(lines: dict, known: dict, mutant: Mutant, whole: list[str]):
    per_line = lines.get(mutant.path, {})
    return runner.selected_tests({mutant.path: {k[1]: v for k, v in per_line.items() if list(k[0]) == whole}},
                                 mutant.path, mutant.line, whole, known.get(tuple(whole), frozenset()))


def _verdict(outcome: str) -> str:
    """passed → survived; failed or timed out → killed; pytest collecting nothing → error."""
    return {"passed": "survived", "error": "error"}.get(outcome, "killed")


def _clone(workdir: Path, number: int) -> Path:
    copy = Path(tempfile.mkdtemp(prefix=f"netdsl-mutation-{number}-"))
    shutil.rmtree(copy)
    shutil.copytree(workdir, copy, symlinks=True)
    return copy


def run_mutant(workdir: Path, mutant: Mutant, timeout: float) -> tuple[str, float]:
    target = workdir / mutant.path
    original = target.read_text(encoding="utf-8")
    start = time.monotonic()
    try:
        target.write_text(mutated_source(original, mutant.index), encoding="utf-8")
        status = run_tests(workdir, tests_for(mutant.path), timeout)[0]
    finally:
        target.write_text(original, encoding="utf-8")
    return ("survived" if status == "passed" else "killed"), time.monotonic() - start


# ------------------------------------------------------------ command line
def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--sample", type=int, default=0, help="run N randomly chosen mutants (default: all)")
    p.add_argument("--seed", type=int, default=0, help="seed of the sample")
    p.add_argument("--only", default="", help="only mutants whose path contains this text")
    p.add_argument("--timeout", type=float, default=300, help="seconds per mutant's tests (a timeout kills)")
    p.add_argument("--json", metavar="FILE", help="write every mutant's result as JSON")
    p.add_argument("--list", action="store_true", help="list the mutants and stop")
    p.add_argument("--rerun", metavar="FILE", help="run again the survivors recorded in a --json FILE")
    p.add_argument("--workers", type=int, default=2, help="mutants judged at once (default 2)")
    p.add_argument("--all-tests", action="store_true",
                   help="run each mutant's whole test set, not only the tests that execute its line")
    p.add_argument("--isolated", action="store_true",
                   help="a fresh interpreter per mutant (slow; the forked runner's cross-check)")
    return p.parse_args(argv)


def select(mutants: list[Mutant], args) -> list[Mutant]:
    if args.rerun:  # the same file, index and mutation (a file edited since moves its indices)
        recorded = json.loads(Path(args.rerun).read_text(encoding="utf-8"))["mutants"]
        wanted = {(r["path"], r["index"], r["detail"]) for r in recorded if r["status"] in ("survived", "equivalent")}
        return [m for m in mutants if (m.path, m.index, m.detail) in wanted]
    chosen = [m for m in mutants if args.only in m.path]
    if args.sample and args.sample < len(chosen):
        chosen = sorted(random.Random(args.seed).sample(chosen, args.sample), key=lambda m: (m.path, m.index))
    return chosen


def report(results: list[dict]) -> float:
    """Print the score, killed / (killed + survived), then the survivors and the
    equivalent mutants (bench/mutation_equivalent.py) with their reasons."""
    killed = sum(r["status"] == "killed" for r in results)
    survivors = [r for r in results if r["status"] == "survived"]
    equivalent = [r for r in results if r["status"] == "equivalent"]
    score = killed / max(killed + len(survivors), 1)
    print(f"\nkilled {killed} of {len(results)} mutants ({len(equivalent)} equivalent, explained): "
          f"score {score:.1%}; counting the equivalent ones as survivors "
          f"{killed / max(killed + len(survivors) + len(equivalent), 1):.1%}")
    for r in survivors:
        print(f"  survived    {r['path']}:{r['line']}  {r['kind']}: {r['detail']}")
    for r in equivalent:
        print(f"  equivalent  {r['path']}:{r['line']}  {r['kind']}: {r['detail']}\n      {r['reason']}")
    return score


def _judged(mutant: Mutant, status: str) -> tuple[str, str]:
    """(status, reason): a survivor listed in bench/mutation_equivalent.py is equivalent."""
    if status != "survived":
        return status, ""
    line = (ROOT / mutant.path).read_text(encoding="utf-8").splitlines()[mutant.line - 1]
    reason = explain(mutant.path, line, mutant.detail)
    return ("equivalent", reason) if reason else (status, "")


def main(argv=None) -> int:
    args = parse_args(argv)
    mutants = select(find_mutants(ROOT), args)
    if args.list:
        for m in mutants:
            print(f"{m.path}:{m.line}  #{m.index}  {m.kind}: {m.detail}")
        return 0
    workdir = make_copy(ROOT)
    try:
        return _campaign(workdir, mutants, args)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def _campaign(workdir: Path, mutants: list[Mutant], args) -> int:
    baseline = check_baseline(workdir, mutants, args.timeout)
    if DESELECTED:
        print(f"{len(DESELECTED)} tests fail before any mutation and are deselected, e.g.:",
              *DESELECTED[:5], sep="\n  ")
    broken = {tests for tests, status in baseline.items() if status != "passed"}
    if broken:  # such a set would 'kill' every mutant: its modules are left out, and said so
        print("unmutated tests that do not pass; their modules' mutants are not run:", *broken, sep="\n  ")
        mutants = [m for m in mutants if " ".join(tests_for(m.path)) not in broken]
    results: list[dict] = []

    def record(mutant: Mutant, status: str, seconds: float, tests: str = "") -> None:
        status, reason = _judged(mutant, status)
        results.append({**asdict(mutant), "status": status, "seconds": round(seconds, 1), "tests": tests,
                        **({"reason": reason} if reason else {})})
        print(f"[{len(results)}/{len(mutants)}] {status:8} {mutant.path}:{mutant.line} {mutant.kind}: "
              f"{mutant.detail} ({seconds:.1f} s{', ' + tests if tests else ''})", flush=True)
    if args.isolated:
        for mutant in mutants:
            record(mutant, *run_mutant(workdir, mutant, args.timeout))
    else:
        _forked_campaign(workdir, mutants, args, record)
    results.sort(key=lambda r: (r["path"], r["index"]))
    score = report(results)
    if args.json:
        Path(args.json).write_text(json.dumps({"score": score, "deselected": DESELECTED, "mutants": results},
                                              indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
