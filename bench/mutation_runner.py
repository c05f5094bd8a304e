"""Fast execution for bench/mutation.py: per-line test selection and forked workers.

Two things make a mutant cheap to judge:

* **Which tests can see it.**  Each module's test set runs once under coverage
  with one context per test (pytest-cov's ``--cov-context=test``); a mutant on
  line L then runs only the tests that executed L.  Lines run only while
  modules are imported (registrations, constants) have no test context: their
  mutants run the module's whole set.  A line no test executes cannot be
  caught: its mutants survive without a run (and are reported as such).
* **No start-up per mutant.**  A server process imports torch and pytest once;
  each mutant runs in a forked child that imports netdsl from a private copy
  of the tree holding the mutated file, so nothing mutated is ever imported
  by the server.  The copies are byte-compiled with hash-checked .pyc files,
  so a rewritten module is always recompiled, and children write no bytecode.
"""
from __future__ import annotations

import compileall
import os
import py_compile
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable, Optional

WHOLE_SET = "*"  # the mutant's line runs at import: the whole test set


# ------------------------------------------------------------ which tests see which line
def coverage_map(workdir: Path, tests: list[str], timeout: float) -> dict[str, dict[int, set[str]]]:
    """file (relative) → line → test node ids that executed it ({WHOLE_SET} at import only)."""
    try:
        from coverage import CoverageData
        import pytest_cov  # noqa: F401 — pytest's --cov-context comes from it
    except ImportError:
        raise SystemExit("selecting tests per line needs coverage and pytest-cov: "
                         "pip install -e '.[dev]', or run with --all-tests") from None
    data_file = workdir / f".coverage-{abs(hash(tuple(tests)))}"
    env = dict(os.environ, PYTHONPATH=str(workdir), COVERAGE_FILE=str(data_file), OMP_NUM_THREADS="1")
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--no-header",
               "--cov=netdsl", "--cov-context=test", "--cov-report=", *tests]
    subprocess.run(command, cwd=workdir, env=env, timeout=timeout, capture_output=True, text=True)
    data = CoverageData(basename=str(data_file))
    data.read()
    lines: dict[str, dict[int, set[str]]] = {}
    for measured in data.measured_files():
        rel = Path(measured).resolve().relative_to(workdir.resolve()).as_posix()
        per_line = lines.setdefault(rel, {})
        for line, contexts in data.contexts_by_lineno(measured).items():
            ids = {c.rsplit("|", 1)[0] for c in contexts if c}
            per_line[line] = ids or {WHOLE_SET}
    return lines


def selected_tests(lines: dict[str, dict[int, set[str]]], path: str, line: int,
                   whole_set: list[str], known: frozenset = frozenset()) -> Optional[list[str]]:
    """The tests to run for a mutant at ``path:line``; None when no test executes it.
    A parametrized test brings its siblings of the same file and parameters (``known``:
    every test id of the set): tests that share a cached result (test_ops_registry's
    ``run(example)``) execute the line only in the first of them."""
    ids = lines.get(path, {}).get(line)
    if not ids:
        return None
    if WHOLE_SET in ids:
        return whole_set
    keys = {_file_and_params(i) for i in ids} - {None}
    return sorted(ids | {k for k in known if _file_and_params(k) in keys})


def _file_and_params(test_id: str) -> Optional[tuple[str, str]]:
    """``(file, [params])`` of a parametrized test id, None for a plain one."""
    if not test_id.endswith("]") or "[" not in test_id:
        return None
    head, params = test_id.split("[", 1)
    return head.split("::", 1)[0], params


def known_tests(lines: dict[str, dict[int, set[str]]]) -> frozenset:
    """Every test id that executed some line."""
    return frozenset(i for per_line in lines.values() for ids in per_line.values() for i in ids) - {WHOLE_SET}


# ------------------------------------------------------------ forked runs
def prepare_copy(workdir: Path) -> None:
    """Byte-compile the copy once, hash-checked: a mutated file never matches its .pyc."""
    compileall.compile_dir(str(workdir / "netdsl"), quiet=1,
                           invalidation_mode=py_compile.PycInvalidationMode.CHECKED_HASH)


#: pytest plugins installed beside it (loaded by every pytest.main): imported once, not per child
PLUGINS = ("hypothesis", "_hypothesis_pytestplugin", "pytest_benchmark.plugin", "pytest_cov.plugin")


def warm_server() -> None:
    """What every child needs and never mutates, imported once before forking; then
    the heap is frozen, so the collections pytest forces in each child (about 0.6 s
    over torch's objects) scan only what the child itself allocated."""
    import gc
    import importlib
    import numpy  # noqa: F401
    import pytest  # noqa: F401
    import torch
    torch.set_num_threads(1)
    for name in PLUGINS:
        try:
            importlib.import_module(name)
        except ImportError:
            pass
    gc.collect()
    gc.freeze()


def _child(workdir: Path, args: list[str]) -> None:
    """In the forked child: run pytest on the copy, exit with its status."""
    code = 3
    try:
        os.chdir(workdir)
        sys.path.insert(0, str(workdir))
        sys.dont_write_bytecode = True
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 1)
        os.dup2(devnull, 2)
        import pytest
        code = int(pytest.main(["-q", "-x", "-p", "no:cacheprovider", "--no-header", *args]))
    finally:
        os._exit(code)


class Slot:
    """One worker: a private copy of the tree and at most one child in flight."""

    def __init__(self, workdir: Path):
        self.workdir = workdir
        self.pid: Optional[int] = None
        self.started = 0.0
        self.done: Optional[Callable[[str, float], None]] = None
        self.restore: Optional[Callable[[], None]] = None

    def start(self, target: Path, mutated: str, args: list[str], done: Callable[[str, float], None]) -> None:
        original = target.read_text(encoding="utf-8")
        target.write_text(mutated, encoding="utf-8")
        self.restore = lambda: target.write_text(original, encoding="utf-8")
        self.done, self.started = done, time.monotonic()
        self.pid = os.fork()
        if self.pid == 0:
            _child(self.workdir, args)

    def poll(self, timeout: float) -> bool:
        """True when the child has finished (or was killed for taking too long)."""
        pid, status = os.waitpid(self.pid, os.WNOHANG)
        seconds = time.monotonic() - self.started
        if pid == 0 and seconds < timeout:
            return False
        if pid == 0:
            os.kill(self.pid, signal.SIGKILL)
            os.waitpid(self.pid, 0)
            outcome = "timeout"
        else:  # pytest: 0 passed, 5 nothing collected (a selection gone wrong), else a failure
            outcome = {0: "passed", 5: "error"}.get(os.waitstatus_to_exitcode(status), "failed")
        self.restore()
        self.pid = None
        self.done(outcome, seconds)
        return True


def run_all(slots: list[Slot], jobs: list[tuple], timeout: float) -> None:
    """Run each ``(target, mutated source, pytest args, done)`` job on a free slot."""
    pending = list(jobs)
    while pending or any(s.pid for s in slots):
        for slot in slots:
            if slot.pid is not None and not slot.poll(timeout):
                continue
            if slot.pid is None and pending:
                target, mutated, args, done = pending.pop(0)
                slot.start(slot.workdir / target, mutated, args, done)
        time.sleep(0.02)
