"""The grammar-aware fuzzer (bench/fuzz.py, issue 8) as a CI smoke test.

A fixed seed and a small budget: programs generated from the grammar and the
op registry, mutated zoo files and mutated generated programs go through
parse, analyses, summary, diagram, generated source and (small valid ones)
torch in eval and train mode.  Nothing may raise anything but a netdsl error,
hang, or disagree with torch.  A failure prints each failure class with a
shrunk input; reproduce with ``python bench/fuzz.py --seed SEED --cases N``.
"""
import netdsl
from bench.fuzzlib import campaign, report
from bench.fuzzlib.check import MAX_TORCH_FLOPS, torch_sized
from bench.fuzzlib.genprog import generate

SEED = 8
CASES = 2000  # about a minute on 2 cores, shrinking included


def test_same_seed_same_cases():
    assert [campaign.materialize(SEED, i) for i in range(40)] == \
           [campaign.materialize(SEED, i) for i in range(40)]
    assert generate("1:2").text != generate("1:3").text


def test_fuzz_finds_no_crash_hang_or_mismatch():
    outcome = campaign.run(CASES, SEED, workers=2, timeout=10.0, shrink_budget=80)
    assert outcome.counts["ok"] > CASES // 4, report.text(outcome)  # the generator reaches torch
    assert not report.failed(outcome), "\n" + report.text(outcome)


def test_flop_heavy_work_without_macs_stays_out_of_the_torch_stage():
    # seed 61 case 989: lrn over a 1,000,000-channel window is legal, has no MACs,
    # and takes torch over 10 s; the harness read it as a hang
    heavy = netdsl.parse("network net {\n input x: [3, 10, 20]\n lrn(1_000_000, beta=0.736) relu6\n}\n")
    assert heavy.macs == 0 and heavy.flops > MAX_TORCH_FLOPS and not torch_sized(heavy)
    assert torch_sized(netdsl.parse("network net {\n input x: [3, 10, 20]\n lrn(5) relu6\n}\n"))
