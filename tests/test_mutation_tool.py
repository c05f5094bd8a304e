"""bench/mutation.py's own rules: which tests a mutant runs, and the list of
equivalent mutants staying true to the code it describes."""
from pathlib import Path

import pytest

from bench import mutation, mutation_runner
from bench.mutation_equivalent import EQUIVALENT, explain

ROOT = Path(__file__).resolve().parent.parent


def test_a_parametrized_test_brings_its_siblings_with_the_same_parameters():
    """test_ops_registry caches run(example): only the first test of an example
    executes the op's rules, but every test of that example checks them."""
    shape = "tests/test_ops_registry.py::test_static_shape_matches_torch[conv:conv(8, 3):[(3, 9, 9)]]"
    params = "tests/test_ops_registry.py::test_parameters_and_buffers_match_torch[conv:conv(8, 3):[(3, 9, 9)]]"
    other = "tests/test_ops_registry.py::test_parameters_and_buffers_match_torch[relu:relu:[(3, 9, 9)]]"
    elsewhere = "tests/test_memory.py::test_saved[conv:conv(8, 3):[(3, 9, 9)]]"
    lines = {"netdsl/ops/conv.py": {10: {shape}, 11: {mutation_runner.WHOLE_SET}}}
    known = mutation_runner.known_tests({"x": {1: {shape, params, other, elsewhere}}})
    chosen = mutation_runner.selected_tests(lines, "netdsl/ops/conv.py", 10, ["all"], known)
    assert chosen == sorted({shape, params})
    assert mutation_runner.selected_tests(lines, "netdsl/ops/conv.py", 11, ["all"], known) == ["all"]
    assert mutation_runner.selected_tests(lines, "netdsl/ops/conv.py", 12, ["all"], known) is None


@pytest.mark.parametrize("entry", EQUIVALENT, ids=lambda e: f"{e.path}:{e.fragment[:20]}")
def test_each_equivalent_mutant_names_a_line_and_mutations_that_exist(entry):
    """An entry whose line is gone or whose mutation is no longer generated is stale."""
    mutants = [m for m in mutation.find_mutants(ROOT) if m.path == entry.path]
    source = (ROOT / entry.path).read_text(encoding="utf-8").splitlines()
    matching = {m.detail for m in mutants if entry.fragment in source[m.line - 1]}
    assert matching, f"no mutated line of {entry.path} contains {entry.fragment!r}"
    assert set(entry.details) <= matching
    assert len(entry.reason) > 40


def test_only_listed_mutations_are_explained():
    line = "CAP = 1 << 64  # pixels"
    assert explain("netdsl/analysis/receptive_field.py", line, "64 -> 65")
    assert explain("netdsl/analysis/receptive_field.py", line, "1 -> 0") is None  # a cap of 0 saturates everything
    assert explain("netdsl/analysis/memory.py", line, "64 -> 65") is None
