"""Zoo transformers without a torchvision twin (transformer_classifier, gpt_mini)
against hand-built torch models, and what the post-2017 zoo files promise beyond
the twin test: torchvision's stochastic-depth schedule, generated source, and a
torch-free summary of ViT-B/16.

Oracles: hand-written nn.Module models (nn.Embedding, nn.MultiheadAttention,
nn.LayerNorm), sum(p.numel()), FlopCounterMode under the math SDPA backend,
torchvision's own StochasticDepth modules, the forward pass itself (causality).
"""
import importlib.util
import json
import re
import subprocess
import sys

import pytest
import torch
import torchvision
from torch import nn
from torch.nn.attention import SDPBackend, sdpa_kernel
from torch.utils.flop_counter import FlopCounterMode

import netdsl
from conftest import ROOT
from netdsl.backends.pytorch.validate import validate_generated
from netdsl.runtime import StochasticDepth

SMALL = dict(vocab=50, dim=16, heads=2, depth=2, length=12)


class PreLNBlock(nn.Module):
    def __init__(self, dim: int, heads: int, causal: bool):
        super().__init__()
        self.causal = causal
        self.ln_1 = nn.LayerNorm(dim)
        self.attn = nn.MultiheadAttention(dim, heads, batch_first=True)
        self.ln_2 = nn.LayerNorm(dim)
        self.mlp = nn.Sequential(nn.Linear(dim, 4 * dim), nn.GELU(), nn.Linear(4 * dim, dim), nn.Dropout(0.0))

    def forward(self, x):
        h = self.ln_1(x)
        mask = nn.Transformer.generate_square_subsequent_mask(x.shape[1]) if self.causal else None
        x = x + self.attn(h, h, h, attn_mask=mask, need_weights=False)[0]
        return x + self.mlp(self.ln_2(x))


class TokenModel(nn.Module):
    """Token + position embeddings, pre-LN blocks, final LayerNorm, then either the
    mean over tokens and a classifier, or a next-token head at every position."""

    def __init__(self, vocab, dim, heads, depth, length, num_classes=None, causal=False):
        super().__init__()
        self.wte = nn.Embedding(vocab, dim)
        self.wpe = nn.Parameter(torch.randn(length, dim) * 0.02)
        self.blocks = nn.Sequential(*(PreLNBlock(dim, heads, causal) for _ in range(depth)))
        self.ln_f = nn.LayerNorm(dim)
        if num_classes is None:
            self.lm_head = nn.Linear(dim, vocab, bias=False)
            self.lm_head.weight = self.wte.weight  # GPT-2's tied head
        else:
            self.head = nn.Linear(dim, num_classes)

    def forward(self, ids):
        x = self.ln_f(self.blocks(self.wte(ids) + self.wpe))
        return self.lm_head(x) if hasattr(self, "lm_head") else self.head(x.mean(dim=1))


def classifier(**config):
    return TokenModel(config.pop("vocab", 20_000), config.pop("dim", 128), config.pop("heads", 4),
                      config.pop("depth", 2), config.pop("length", 200), config.pop("num_classes", 2))


def gpt(**config):
    return TokenModel(config.pop("vocab", 65), config.pop("dim", 384), config.pop("heads", 6),
                      config.pop("depth", 6), config.pop("length", 256), causal=True)


CASES = [("transformer_classifier", classifier, dict(SMALL, num_classes=3)),
         ("gpt_mini", gpt, dict(SMALL, dropout=0.0))]


def perturbed(model: nn.Module) -> nn.Module:
    """LayerNorm's ones and zeros and zero biases made random: a swapped norm shows."""
    torch.manual_seed(1)
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn_like(p) * 0.5)
    return model


def counted_macs(model: nn.Module, x: torch.Tensor) -> float:
    """FlopCounterMode/2 per sample, attention as it can see it (math backend, no fast path)."""
    fastpath = torch.backends.mha.get_fastpath_enabled()
    torch.backends.mha.set_fastpath_enabled(False)
    try:
        with torch.no_grad(), sdpa_kernel(SDPBackend.MATH), FlopCounterMode(display=False) as counter:
            model(x)
    finally:
        torch.backends.mha.set_fastpath_enabled(fastpath)
    return counter.get_total_flops() / 2 / x.shape[0]


@pytest.mark.parametrize("name, hand_built", [(n, h) for n, h, _ in CASES])
def test_default_size_has_the_hand_built_models_parameters(name, hand_built):
    net = netdsl.load(name)
    with torch.device("meta"):
        reference = hand_built()
    assert net.params == sum(p.numel() for p in reference.parameters())
    model = net.to_torch(device="meta")
    assert {k: v.shape for k, v in model.state_dict().items()} == \
        {k: v.shape for k, v in reference.state_dict().items()}


@pytest.mark.parametrize("name, hand_built, config", CASES, ids=[c[0] for c in CASES])
def test_small_model_equals_hand_built_torch(name, hand_built, config, one_torch_thread):
    torch.manual_seed(0)
    net = netdsl.load(name, params=config)
    model = net.to_torch().eval()
    reference = perturbed(hand_built(**{k: v for k, v in config.items() if k != "dropout"})).eval()
    model.load_state_dict(reference.state_dict(), strict=True)
    reference.load_state_dict(model.state_dict(), strict=True)
    assert net.params == sum(p.numel() for p in reference.parameters())
    ids = torch.randint(0, config["vocab"], (3, config["length"]))
    with torch.no_grad():
        torch.testing.assert_close(model(ids), reference(ids), rtol=0, atol=1e-5)
    assert net.macs == counted_macs(reference, ids) == counted_macs(model.train(), ids)


def test_gpt_logits_never_see_later_tokens(one_torch_thread):
    """Causal masking as the forward pass shows it: changing token 7 changes the
    scores at positions 7.. only."""
    torch.manual_seed(0)
    model = netdsl.load("gpt_mini", params=dict(SMALL, dropout=0.0)).to_torch().eval()
    ids = torch.randint(0, SMALL["vocab"], (1, SMALL["length"]))
    changed = ids.clone()
    changed[0, 7] = (ids[0, 7] + 1) % SMALL["vocab"]
    with torch.no_grad():
        before, after = model(ids), model(changed)
    assert torch.equal(before[0, :7], after[0, :7])
    assert not torch.allclose(before[0, 7], after[0, 7])


# ------------------------------------------------------- stochastic depth schedule
def applied_drop_probabilities(model: nn.Module, kind: type) -> dict:
    return {name: (round(m.p, 12), m.mode) for name, m in model.named_modules() if isinstance(m, kind)}


def residual_blocks(model: nn.Module) -> set:
    """torchvision builds StochasticDepth in every block but applies it only where
    the block adds its input (use_res_connect; every ConvNeXt block)."""
    return {f"{name}.stochastic_depth" for name, m in model.named_modules()
            if hasattr(m, "stochastic_depth") and getattr(m, "use_res_connect", True)}


@pytest.mark.parametrize("name", ["efficientnet_b0", "efficientnet_b3", "efficientnet_v2_m",
                                  "convnext_tiny", "convnext_small"])
def test_stochastic_depth_is_torchvisions_per_block(name):
    ours = netdsl.load(name).to_torch(device="meta")
    with torch.device("meta"):
        theirs = getattr(torchvision.models, name)()
    got = applied_drop_probabilities(ours, StochasticDepth)
    want = applied_drop_probabilities(theirs, torchvision.ops.StochasticDepth)
    assert set(got) == residual_blocks(theirs)
    assert got == {key: want[key] for key in got}
    assert max(p for p, _ in got.values()) >= 0.1  # the schedule rises: not all zeros


def test_stochastic_depth_drops_branches_while_training(one_torch_thread):
    """In training mode a block's branch is dropped per sample: some samples of a
    batch come out of features.7 equal to their input of it."""
    torch.manual_seed(0)
    model = netdsl.load("convnext_tiny", params={"stochastic_depth": 0.9}).to_torch()
    stage = model.features[7]
    x = torch.randn(64, 768, 2, 2)
    block = stage[2].train()
    with torch.no_grad():
        kept = (block(x) - x).flatten(1).abs().amax(1) > 0
    assert 0 < int(kept.sum()) < 64


# ------------------------------------------------------- source, summaries
def exec_source(net) -> nn.Module:
    source = net.to_source()
    validate_generated(source)
    module = importlib.util.module_from_spec(importlib.util.spec_from_loader("generated", loader=None))
    exec(compile(source, "generated.py", "exec"), module.__dict__)  # validated above
    return module.build()


@pytest.mark.parametrize("name, options", [
    ("convnext_tiny", dict(params={"num_classes": 10}, input_shape=(3, 32, 32))),
    ("vit_b_32", dict(params={"num_classes": 10}, input_shape=(3, 64, 64))),
    ("transformer_classifier", dict(params=SMALL)),
    ("gpt_mini", dict(params=dict(SMALL, dropout=0.0))),
])
def test_generated_source_has_the_same_outputs(name, options, one_torch_thread):
    net = netdsl.load(name, **options)
    torch.manual_seed(0)
    built = net.to_torch().eval()
    generated = exec_source(net).eval()
    generated.load_state_dict(perturbed(built).state_dict(), strict=True)
    shape = (2, *net.input_shape)
    x = torch.randint(0, SMALL["vocab"], shape) if name in ("transformer_classifier", "gpt_mini") \
        else torch.randn(shape)
    with torch.no_grad():
        assert torch.equal(built(x), generated(x))


def test_vit_summary_imports_no_torch():
    """`netdsl summarize vit_b_16` stays a static analysis (measured: about 0.25 s
    of CPU, cold, on the development machine)."""
    code = ("import sys, json\nfrom netdsl.cli import main\nmain(['summarize', 'vit_b_16'])\n"
            "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] == 'torch')))\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    assert "86,567,656" in proc.stdout and "17,563,828,224" in proc.stdout
    assert json.loads(proc.stdout.strip().splitlines()[-1]) == []


def test_vit_walkthrough_quotes_the_example_file_and_its_numbers():
    """examples/vit_from_scratch.md shows pieces of vit_digits.net and its summary:
    both stay true when either changes."""
    example = ROOT / "examples" / "vit_digits.net"
    net = netdsl.load(example)
    text = (ROOT / "examples" / "vit_from_scratch.md").read_text()
    assert f"Params     {net.params:,}" in text and f"MACs      {net.macs:,}" in text
    lines = {line.strip() for line in example.read_text().splitlines()}
    for snippet in re.findall(r"```\n(.*?)```", text, re.S):
        if not snippet.startswith("$"):
            assert {line.strip() for line in snippet.splitlines()} <= lines, snippet


def test_gpt_head_shares_the_embedding_through_training(one_torch_thread):
    net = netdsl.load("gpt_mini", params=dict(SMALL, dropout=0.0))
    model = net.to_torch()
    assert model.lm_head.weight is model.wte.weight
    assert net.params == sum(p.numel() for p in model.parameters())  # counted once
    assert {"wte.weight", "lm_head.weight"} <= set(model.state_dict())  # both names, as torch keeps them
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    ids = torch.randint(0, SMALL["vocab"], (2, SMALL["length"]))
    model(ids).logsumexp(-1).mean().backward()
    optimizer.step()
    assert torch.equal(model.lm_head.weight, model.wte.weight)
