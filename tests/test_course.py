"""The course pages (docs/course/) quote real netdsl output; re-run it.

Convention (docs/course/index.md): a fenced block whose first line is
``$ netdsl <command> ...`` holds that command's exact output (stdout, then
stderr). Static commands are re-run in-process here and must print the same
text. Numbers quoted outside the blocks are checked too: every comma-grouped
number in prose or in a table column headed "netdsl ..." must appear in one of
the page's outputs; a column headed "slide" holds the lecture's figure, and a
column headed "slide − netdsl" must be exactly their difference.
"""
import re
import shlex
from pathlib import Path

import pytest

from netdsl.cli import main

ROOT = Path(__file__).resolve().parent.parent
COURSE = ROOT / "docs" / "course"
PAGES = sorted(COURSE.glob("*.md"))
STATIC = {"check", "summarize", "list", "diff"}
BLOCK = re.compile(r"^```[a-z]*\n\$ (netdsl [^\n]*)\n((?:(?!```)[^\n]*\n)*)```", re.M)
FENCE = re.compile(r"^```.*?^```", re.M | re.S)
GROUPED = re.compile(r"(?<![\d,.])\d{1,3}(?:,\d{3})+(?![\d,])")


def blocks(page: Path):
    return BLOCK.findall(page.read_text(encoding="utf-8"))


def all_blocks():
    return [pytest.param(page, cmd, out, id=f"{page.stem}:{cmd[7:60]}")
            for page in PAGES for cmd, out in blocks(page)]


def test_pages_exist():
    names = {page.name for page in PAGES}
    assert {"index.md", "glossary.md", "receptive-fields.md"} <= names
    assert sum(len(blocks(page)) for page in PAGES) >= 10


@pytest.mark.parametrize("page,command,expected", all_blocks())
def test_block_matches_output(page, command, expected, capsys, monkeypatch):
    argv = shlex.split(command)[1:]
    assert argv[0] in STATIC, f"{page.name}: only static commands are re-run, not {argv[0]!r}"
    monkeypatch.chdir(ROOT)   # pages give paths relative to the repository root
    main(argv)
    captured = capsys.readouterr()
    assert (captured.out + captured.err).rstrip("\n") == expected.rstrip("\n"), \
        f"{page.name}: `{command}` prints something else now; re-run it and update the page"


def outputs_of(text: str) -> set[str]:
    return {number for _, out in BLOCK.findall(text) for number in GROUPED.findall(out)}


def tables(prose: str):
    """(header cells, rows of cells) for each markdown table."""
    found, lines = [], prose.splitlines()
    for i, line in enumerate(lines[:-1]):
        if line.startswith("|") and re.match(r"^\|[\s:|-]+\|$", lines[i + 1]):
            rows = []
            for row in lines[i + 2:]:
                if not row.startswith("|"):
                    break
                rows.append(cells(row))
            found.append((cells(line), rows))
    return found


def cells(row: str) -> list[str]:
    return [cell.strip() for cell in row.strip().strip("|").split("|")]


def number(cell: str) -> int:
    """The cell's last number: '4·(128·192 + 128) = 98,816' -> 98816, '−512' -> -512."""
    return int(re.findall(r"-?\d+", cell.replace("−", "-").replace(",", ""))[-1])


@pytest.mark.parametrize("page", PAGES, ids=[p.stem for p in PAGES])
def test_quoted_numbers_come_from_outputs(page):
    text = page.read_text(encoding="utf-8")
    printed, prose = outputs_of(text), FENCE.sub("", text)
    slide_cells = set()
    for header, rows in tables(prose):
        for col, name in enumerate(header):
            values = [row[col] for row in rows if col < len(row)]
            if name.lower().startswith("slide") and "−" not in name:
                slide_cells.update(n for v in values for n in GROUPED.findall(v))
            if name.lower().startswith("netdsl"):
                missing = [v for v in values if GROUPED.search(v) and GROUPED.search(v).group() not in printed]
                assert not missing, f"{page.name}: column {name!r} quotes {missing}, which no command printed"
        check_differences(page, header, rows)
    loose = [n for n in GROUPED.findall(table_free(prose)) if n not in printed | slide_cells]
    assert not loose, f"{page.name}: prose quotes {loose}, which no command on the page printed"


def check_differences(page, header, rows):
    """A 'slide − netdsl' column must equal the two columns' difference."""
    names = [h.lower() for h in header]
    if "slide − netdsl" not in names:
        return
    diff = names.index("slide − netdsl")
    slide = next(i for i, h in enumerate(names) if h.startswith("slide") and i != diff)
    ours = next(i for i, h in enumerate(names) if h.startswith("netdsl"))
    for row in rows:
        if all(re.search(r"\d", row[i]) for i in (diff, slide, ours)):
            assert number(row[diff]) == number(row[slide]) - number(row[ours]), f"{page.name}: {row}"


def table_free(prose: str) -> str:
    return "\n".join(line for line in prose.splitlines() if not line.startswith("|"))


# ---------------------------------------------------------------- torch oracles
# The pages quote netdsl; these check the course networks against torch itself:
# parameter count, output shape, MACs (FlopCounterMode / 2), and the slide
# figures the pages say netdsl reproduces.
EXAMPLES = ROOT / "examples" / "course"
RF_NET = EXAMPLES / "receptive_field.net"
FORMULAS = EXAMPLES / "formulas.net"
TORCH_CASES = [
    (RF_NET, "conv3_stack", {}), (RF_NET, "conv5_stack", {}), (RF_NET, "strided", {}),
    (RF_NET, "dilated", {}), (RF_NET, "pooled", {}), (RF_NET, "deep_stack", {"n": 3}),
    (RF_NET, "erf_probe", {}),
    *[(FORMULAS, name, {}) for name in ("fc_head", "gap_head", "standard", "bottleneck", "grouped",
                                        "separable", "shuffle_unit", "square7", "factorized7")],
    (EXAMPLES / "resnet18_slide.net", None, {}),
    (EXAMPLES / "resnet18_slide.net", None, {"bias": False, "bn": True, "shortcuts": True}),
    (EXAMPLES / "googlenet_paper.net", None, {"bias": False}),
    (EXAMPLES / "alexnet_two_gpu.net", None, {}),
]


def torch_macs(model, shape):
    """(MACs as FlopCounterMode counts them, the output) for one random sample."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        out = model(torch.randn(1, *shape))
    return counter.get_total_flops() // 2, out


@pytest.mark.parametrize("path,network,params", TORCH_CASES,
                         ids=[f"{p.stem}:{n or ''}:{v or ''}" for p, n, v in TORCH_CASES])
def test_course_network_matches_torch(path, network, params, one_torch_thread):
    import netdsl
    net = netdsl.load(path, network=network, params=params)
    model = net.to_torch().eval()
    assert sum(p.numel() for p in model.parameters()) == net.params
    macs, out = torch_macs(model, net.input_shape)
    assert macs == net.macs
    assert tuple(out.shape[1:]) == net.output_shapes["out"]


def test_lstm_count_is_torchs_not_the_decks(one_torch_thread):
    """Deck 002's 4·(h·(h+x)+h) misses torch's second bias vector (heads-and-formulas.md)."""
    import torch
    import netdsl
    h, x = 128, 64
    for bias in (True, False):
        net = netdsl.load(FORMULAS, network="lstm_cell", params={"bias": bias})
        torch_count = sum(p.numel() for p in torch.nn.LSTM(x, h, bias=bias).parameters())
        assert net.params == torch_count == 4 * (h * (h + x) + (2 * h if bias else 0))


SLIDE_TOTALS = [  # the slide totals the pages say netdsl reproduces, counted by torch
    (EXAMPLES / "resnet18_slide.net", {}, 11_511_784),
    (EXAMPLES / "resnet18_slide.net", {"bias": False, "bn": True, "shortcuts": True}, 11_689_512),
]


@pytest.mark.parametrize("path,params,total", SLIDE_TOTALS, ids=["slide", "torchvision"])
def test_resnet18_slide_totals_in_torch(path, params, total):
    import netdsl
    model = netdsl.load(path, params=params).to_torch()
    assert sum(p.numel() for p in model.parameters()) == total


def test_resnet18_with_all_switches_is_torchvisions_layout():
    import torchvision
    import netdsl
    ours = netdsl.load(EXAMPLES / "resnet18_slide.net",
                       params={"bias": False, "bn": True, "shortcuts": True}).to_torch()
    theirs = torchvision.models.resnet18()
    assert sorted(p.numel() for p in ours.parameters()) == sorted(p.numel() for p in theirs.parameters())


@pytest.mark.parametrize("network", ["conv3_stack", "conv5_stack", "strided", "dilated", "pooled"])
def test_receptive_fields_are_gradient_support(network):
    """The RF page's numbers against torch: the input pixels the last layer's corner
    unit depends on (positive weights, average for max pooling; tests/test_receptive_field.py)."""
    from test_receptive_field import positive, support
    import netdsl
    net = netdsl.load(RF_NET, network=network)
    first, last = support(positive(net.to_torch()), net.input_shape, (0, 0))[0]
    assert last - first + 1 == net.receptive_field.size[0]


def test_effective_field_is_smaller_than_theoretical(one_torch_thread):
    """The claim of receptive-fields.md: gradient support fills exactly the static
    field, but its mass concentrates in the middle (a short run of effective_rf.py)."""
    import importlib.util
    import netdsl
    spec = importlib.util.spec_from_file_location("effective_rf", EXAMPLES / "effective_rf.py")
    erf = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(erf)
    net = netdsl.load(RF_NET, network="erf_probe", params={"n": 6, "c": 8})
    grad = erf.gradient_support(net, trials=2, seed=0)
    rf = net.receptive_field.size[0]
    assert rf == 13 and int((grad[grad.shape[0] // 2] > 0).sum()) == rf
    assert erf.share_within(grad, rf) == pytest.approx(1.0)
    assert erf.share_within(grad, 5) > 0.3   # 5x5 is 15% of the 13x13 area, with far more of the mass
