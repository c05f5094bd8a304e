"""The course's training half: ``netdsl sweep``, activation statistics, and a smoke run of
every experiment config in examples/course/ (docs/course/training-*.md).

Oracles: activation statistics against a forward pass written out by hand with
torch.nn.functional; a sweep's run against ``netdsl.training.train`` called
directly with the same settings; the init experiment's physics (activations
vanish with too-small weights, saturate with too-large ones, keep their scale
with Kaiming) measured on torch.
"""
import json
import re
import shlex
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("sklearn")
pytest.importorskip("matplotlib")

import netdsl  # noqa: E402
from netdsl.cli import main  # noqa: E402
from netdsl.errors import UsageError  # noqa: E402
from netdsl.training import load_config, train  # noqa: E402
from netdsl.training.activation_stats import activation_statistics  # noqa: E402
from netdsl.training.sweep import Variant, parse_vary, plan, read_sweep_config, run_sweep  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
COURSE = ROOT / "examples" / "course"
MLP = COURSE / "mlp.net"
CONFIGS = sorted(COURSE.glob("training-*.yaml"))


@pytest.fixture
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


# ---------------------------------------------------------------- activation statistics
def test_activation_statistics_match_a_hand_written_forward(one_thread):
    torch.manual_seed(0)
    model = netdsl.load(MLP, params={"depth": 2, "width": 16, "act": "relu"}).to_torch()
    batch = torch.randn(32, 1, 8, 8)
    stats = activation_statistics(model, batch)
    weights = model.state_dict()
    h = batch.flatten(1)
    expected = []
    names = [k[:-len(".fc.weight")] for k in weights if k.endswith(".fc.weight")]
    for name in names:
        h = torch.relu(torch.nn.functional.linear(h, weights[f"{name}.fc.weight"],
                                                  weights[f"{name}.fc.bias"]))
        expected.append(h)
    assert [s.kind for s in stats] == ["ReLU", "ReLU"]
    for got, want in zip(stats, expected):
        assert got.mean == pytest.approx(want.mean().item(), rel=1e-5)
        assert got.std == pytest.approx(want.std().item(), rel=1e-5)
        assert got.zero_fraction == pytest.approx((want == 0).float().mean().item())
        assert got.numel == want.numel()
    assert model.training  # the hooks leave the model as they found it


def _stds(act: str, init: str) -> list:
    torch.manual_seed(0)
    model = netdsl.load(MLP, params={"depth": 8, "width": 256, "act": act,
                                     "init": init}).to_torch()
    return activation_statistics(model, torch.randn(256, 1, 8, 8))


def test_init_scale_decides_what_activations_do(one_thread):
    """Deck 001's figure: too small → vanishing, too large → tanh saturates, Xavier/Kaiming
    keep the spread."""
    small = _stds("tanh", "small")
    assert small[-1].std < 1e-6 < small[0].std
    large = _stds("tanh", "large")
    assert all(s.saturated_fraction > 0.5 for s in large[1:])
    for act, init in (("tanh", "xavier"), ("relu", "kaiming")):
        stats = _stds(act, init)
        assert 0.2 < stats[-1].std / stats[1].std < 5, (act, init, [s.std for s in stats])
    dead = _stds("relu", "small")
    assert dead[-1].std < 1e-6 and dead[0].zero_fraction > 0.3


# ---------------------------------------------------------------- sweep
def test_parse_vary():
    runs = parse_vary("optimizer.name=sgd, adam")
    assert [(r.name, r.config_overrides(), r.network_params()) for r in runs] == [
        ("sgd", ['optimizer.name="sgd"'], {}), ("adam", ['optimizer.name="adam"'], {})]
    assert parse_vary("set.dropout=0,0.5")[1].network_params() == {"dropout": 0.5}
    for bad in ("optimizer.name", "=1,2", "set.p=0,,1"):
        with pytest.raises(UsageError):
            parse_vary(bad)


def _digits_base(out: Path) -> dict:
    return {"epochs": 2, "seed": 3, "device": "cpu", "threads": 1, "progress": False,
            "data": {"kind": "digits", "batch_size": 64}, "out": str(out)}


def _load(params):
    return netdsl.load(MLP, params={"depth": 1, "width": 32, **params})


def test_sweep_runs_equal_direct_training_runs(tmp_path, one_thread):
    variants = [Variant("sgd", {"optimizer.name": "sgd", "optimizer.lr": 0.1}),
                Variant("tanh", {"set.act": "tanh"})]
    runs = plan(variants, _digits_base(tmp_path), [], tmp_path / "sweep", _load)
    results = run_sweep(runs, tmp_path / "sweep")
    direct = train(_load({}), load_config(None, [f"{k}={json.dumps(v)}" for k, v in [
        ("epochs", 2), ("seed", 3), ("device", "cpu"), ("threads", 1), ("data.kind", "digits"),
        ("data.batch_size", 64), ("optimizer.name", "sgd"), ("optimizer.lr", 0.1),
        ("out", str(tmp_path / "direct"))]]))
    assert results[0].summary["epochs"][-1]["val_loss"] == direct["epochs"][-1]["val_loss"]
    assert results[0].summary["test"]["accuracy"] == direct["test"]["accuracy"]
    assert "Tanh" in repr(runs[1].network.to_torch())  # the network parameter reached the run
    for name in ("sgd", "tanh"):
        rows = (tmp_path / "sweep" / name / "metrics.csv").read_text().splitlines()
        assert len(rows) == 3
    table = (tmp_path / "sweep" / "sweep.md").read_text()
    assert table.count("\n| ") == 2 and "| sgd |" in table and "| tanh |" in table
    assert (tmp_path / "sweep" / "sweep.png").stat().st_size > 10_000


def test_sweep_checks_every_run_before_training(tmp_path):
    variants = [Variant("ok", {}), Variant("bad", {"optimizer.momentun": 0.9})]
    with pytest.raises(UsageError, match="sweep run 'bad'"):
        plan(variants, _digits_base(tmp_path), [], tmp_path, _load)
    assert not any(tmp_path.iterdir())
    with pytest.raises(UsageError, match="distinct"):
        plan([Variant("a/b", {}), Variant("a_b", {})], _digits_base(tmp_path), [], tmp_path, _load)
    with pytest.raises(UsageError, match="needs runs"):
        plan([], _digits_base(tmp_path), [], tmp_path, _load)


def test_sweep_command_with_vary_and_activation_stats(tmp_path, capsys, one_thread):
    code = main(["sweep", str(MLP), "--set", "depth=2", "--set", "width=16", "--data", "digits",
                 "--epochs", "1", "--device", "cpu", "--no-progress", "--activation-stats",
                 "--vary", "set.dropout=0,0.5", "--out", str(tmp_path)])
    assert code == 0
    out = capsys.readouterr().out
    assert "| 0 |" in out and "| 0.5 |" in out and "activation std per layer, init" in out
    stats = json.loads((tmp_path / "activations.json").read_text())
    assert set(stats) == {"0", "0.5"} and len(stats["0"]["init"]) == 2
    assert stats["0"]["init"] == stats["0.5"]["init"]  # same seed, same weights; eval: no dropout
    assert stats["0"]["trained"] != stats["0"]["init"]
    assert (tmp_path / "activations.png").exists()
    assert main(["sweep", str(MLP), "--vary", "x", "--out", str(tmp_path)]) == 2


# ---------------------------------------------------------------- the experiments
def documented_command(config: Path) -> list[str]:
    """The `netdsl sweep` line a config's header comment gives (what the page runs)."""
    for line in config.read_text().splitlines():
        found = re.search(r"netdsl sweep .*", line)
        if line.startswith("#") and found:
            return shlex.split(found.group())[1:]
    raise AssertionError(f"{config.name} documents no netdsl sweep command")


def _transfer_inputs(tmp_path: Path) -> Path:
    """The transfer page's folders and a one-epoch pretrained network, under tmp_path."""
    import runpy
    import sys
    argv = sys.argv
    sys.argv = ["digits_transfer_data.py", "--out", str(tmp_path)]
    try:
        runpy.run_path(str(COURSE / "digits_transfer_data.py"), run_name="__main__")
    finally:
        sys.argv = argv
    assert main(["train", str(COURSE / "cnn.net"), "-n", "digits_cnn", "--set", "num_classes=5",
                 "--data", "folder", "--data-root", str(tmp_path / "digits-0to4"), "--epochs", "1",
                 "--device", "cpu", "--out", str(tmp_path / "transfer-pretrain"),
                 "--no-progress"]) == 0
    config = tmp_path / "training-transfer.yaml"
    config.write_text((COURSE / "training-transfer.yaml").read_text()
                      .replace("out/course/", f"{tmp_path}/"))
    return config


@pytest.mark.parametrize("config", CONFIGS, ids=[c.stem for c in CONFIGS])
def test_experiment_runs_one_epoch(config, tmp_path, capsys, one_thread, monkeypatch):
    monkeypatch.chdir(ROOT)
    argv = documented_command(config)
    if "transfer" in config.name:
        argv[argv.index("--config") + 1] = str(_transfer_inputs(tmp_path))
    _, variants, _ = read_sweep_config(argv[argv.index("--config") + 1])
    if argv[1].endswith("mlp.net"):  # smaller layers: the same settings, less arithmetic
        argv += ["--set", "width=32"]
    epochs = "4" if "schedules" in config.name else "1"  # a 3-epoch warm-up, then decay
    assert main(argv + ["--epochs", epochs, "--out", str(tmp_path / "sweep"), "--no-progress"]) == 0
    for variant in variants:
        assert (tmp_path / "sweep" / variant.name / "metrics.json").exists()
    if "transfer" in config.name:
        assert "loaded" in capsys.readouterr().out  # the pretrained weights did load
