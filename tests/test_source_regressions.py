"""Regressions in ``Network.to_source()`` found by the fuzzer (bench/fuzz.py).

Generated text runs only through ``check_generated`` (``netdsl compile
--check``'s path: ``validate_generated``, then ``_import_validated``), which
loads the in-memory module's state_dict into the generated one and compares
their outputs bit for bit.
"""
import gc
import time

import pytest

from netdsl.commands.compile import check_generated


def assert_twin(net) -> str:
    """The generated source of ``net``, after checking it computes what ``to_torch()`` does."""
    text = net.to_source()
    assert "outputs match" in check_generated(net, text)
    return text


def shape_comments(text: str) -> list[str]:
    return [line.split("  # ")[-1] for line in text.splitlines() if "  # [N" in line]


# ------------------------------------------------------------ one class, several ranks
def test_block_used_on_inputs_of_different_rank(net_from):
    net = net_from("""block b { selu }
network net {
  input [1, 10]
  b
  flatten
  b
}""")
    text = assert_twin(net)
    assert 'self.selu = nn.SELU()  # [N, 1, 10] or [N, 10]' in text
    assert shape_comments(text)[-3:] == ["[N, 1, 10]", "[N, 10]", "[N, 10]"]


def test_block_forward_comments_list_each_rank(net_from):
    """A block that is no plain chain has a forward: its input and step comments."""
    net = net_from("""block b { add { selu
                    relu } }
network net { input [2, 3]
  b
  flatten
  b }""")
    text = assert_twin(net)
    assert "# x: [N, 2, 3] or [N, 6]" in text
    assert "x = selu + relu  # [N, 2, 3] or [N, 6]" in text


def test_ranks_with_symbolic_dimensions(net_from):
    """Each rank's instances still share symbols where their sizes differ."""
    net = net_from("""block b(c: int) { linear(c) relu }
network net { input [3, 5]
  b(4)
  b(8)
  flatten
  b(6)
  b(12) }""")
    text = assert_twin(net)
    assert "# [N, 3, c] or [N, c]" in text


def test_instances_of_rank_five_that_differ(net_from):
    """No axis letters beyond CDHW: differing sizes print as ``?``."""
    net = net_from("""block b { relu }
network n { input [2, 3, 4, 5, 6]
  b
  reshape([6, 4, 5, 2, 3])
  b }""")
    assert "# [N, ?, ?, ?, ?, ?]" in assert_twin(net)


# ------------------------------------------------------------ long merges
@pytest.mark.parametrize("merge, operator", [("add", "+"), ("mul", "*")])
def test_merge_of_many_branches_wraps_black_style(net_from, merge, operator):
    branches = "\n".join(["relu"] * 14)
    net = net_from(f"network n {{ input [3]\n {merge} {{\n{branches}\n}} }}")
    text = assert_twin(net)
    assert "        x = (\n            relu\n" in text
    assert f"            {operator} relu_13\n        )  # [N, 3]" in text
    assert max(map(len, text.splitlines())) <= 88


# ------------------------------------------------------------ linear time
SCOPES = {
    "network": "network n {{ input [3]\n repeat {n} {{ relu }} }}",
    "sequential block": "block b {{ repeat {n} {{ relu }} }}\nnetwork n {{ input [3]\n b }}",
    "inline group": "network n {{ input [3]\n s: {{ repeat {n} {{ relu }} }} }}",
    "branches": "network n {{ input [3]\n add {{\n{relus}\n}} }}",
    "parameters": "block b(k: int) {{ repeat {n} as i {{ linear(k + i) }} }}\n"
                  "network n {{ input [3]\n b(5)\n b(7) }}",
}


def source_seconds(net_from, template: str, members: int) -> float:
    """The fastest of two ``to_source()`` runs over a scope of ``members`` members.

    The cyclic garbage collector is paused while timing: its pauses depend on
    everything the test session keeps alive, not on ``to_source``."""
    net = net_from(template.format(n=members, relus="\n".join(["relu"] * members)))
    net.analyze()
    best = float("inf")
    for _ in range(2):
        gc.collect()
        gc.disable()
        try:
            start = time.perf_counter()
            net.to_source()
            best = min(best, time.perf_counter() - start)
        finally:
            gc.enable()
    return best


def test_network_of_many_members_scales_linearly(net_from):
    source_seconds(net_from, SCOPES["network"], 10)  # imports torch outside the timing
    small = source_seconds(net_from, SCOPES["network"], 5000)
    large = source_seconds(net_from, SCOPES["network"], 20000)
    assert large / small < 8, f"4x the members took {large / small:.1f}x the time"


@pytest.mark.parametrize("scope", sorted(set(SCOPES) - {"network"}))
def test_other_large_scopes_scale_linearly(net_from, scope):
    source_seconds(net_from, SCOPES[scope], 10)
    small = source_seconds(net_from, SCOPES[scope], 1500)
    large = source_seconds(net_from, SCOPES[scope], 6000)
    assert large / small < 8, f"4x the members took {large / small:.1f}x the time"
