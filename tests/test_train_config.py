"""Training settings: every bad value is a UsageError naming its key, raised by load_config."""
import dataclasses
import inspect
import math

import pytest
import torch
from conftest import ROOT

from netdsl.cli import main
from netdsl.errors import UsageError
from netdsl.training import TrainConfig, load_config
from netdsl.training.checks import Bounds, field_type
from netdsl.training.config import OPTIMIZERS, from_dict

TINY = """network tiny(num_classes: int = 3) { input [1, 6, 6]
  conv1: conv(4, 3, padding=1) relu
  flatten
  fc: linear(num_classes) }"""


def rejects(*overrides, match, yaml_text=None, tmp_path=None):
    """load_config refuses the settings with a message matching ``match``."""
    path = None
    if yaml_text is not None:
        path = tmp_path / "t.yaml"
        path.write_text(yaml_text)
    with pytest.raises(UsageError, match=match) as err:
        load_config(path, ["optimizer.name=sgd", *overrides])
    return err.value


# ------------------------------------------------------------ the cases issue 9 found
def test_yaml_1e_minus_8_reaches_torch_as_a_float(tmp_path):
    path = tmp_path / "t.yaml"
    path.write_text("optimizer: {name: adam, eps: 1e-8, betas: [0.8, 1e-3]}\nschedule: {min_lr: 1e-6}\n")
    cfg = load_config(path)
    assert cfg.optimizer.options == {"eps": 1e-8, "betas": (0.8, 1e-3)}
    assert isinstance(cfg.optimizer.options["eps"], float) and cfg.schedule.min_lr == 1e-6
    from netdsl.training.optimizers import build_optimizer
    optimizer = build_optimizer([{"params": [torch.zeros(2, requires_grad=True)]}], cfg.optimizer)
    assert optimizer.param_groups[0]["eps"] == 1e-8 and optimizer.param_groups[0]["betas"] == (0.8, 1e-3)


@pytest.mark.parametrize("setting, key, bound", [
    ("epochs=0", "epochs", ">= 1"),
    ("data.batch_size=0", "data.batch_size", ">= 1"),
    ("data.workers=-3", "data.workers", ">= 0"),
    ("loss.label_smoothing=2", "loss.label_smoothing", r"in \[0, 1\)"),
    ("schedule.step_size=0", "schedule.step_size", ">= 1"),
    ("optimizer.lr=.nan", "optimizer.lr", "> 0"),
    ("optimizer.lr=.inf", "optimizer.lr", "> 0"),
    ("optimizer.lr=-0.1", "optimizer.lr", "> 0"),
    ("clip.norm=-1", "clip.norm", "> 0"),
    ("clip.value=0", "clip.value", "> 0"),
    ("schedule.milestones=[3, 0]", r"schedule.milestones\[1\]", ">= 1"),
    ("loss.output_weights={aux1: -1}", "loss.output_weights.aux1", ">= 0"),
    ("schedule.factor=1", "schedule.factor", r"in \(0, 1\)"),
    ("schedule.warmup_start=0", "schedule.warmup_start", r"in \(0, 1\]"),
    ("early_stop.patience=0", "early_stop.patience", ">= 1"),
])
def test_out_of_range_values_name_their_key(setting, key, bound):
    rejects(setting, match=f"'{key}' must be .* {bound}, got")


@pytest.mark.parametrize("betas, match", [
    ("[0.9]", r"'optimizer.betas' must be a list of 2 numbers"),
    ("0.9", r"'optimizer.betas' must be a list of 2 numbers"),
    ("[0.9, 1.0]", r"'optimizer.betas\[1\]' must be a finite number in \[0, 1\)"),
    ("[-0.1, 0.9]", r"'optimizer.betas\[0\]'"),
    ("[0.9, many]", r"'optimizer.betas\[1\]' must be a number"),
])
def test_betas_need_two_numbers_in_0_1(betas, match):
    rejects("optimizer.name=adam", f"optimizer.betas={betas}", match=match)


@pytest.mark.parametrize("option, match", [
    ("momentum=-0.5", r"'optimizer.momentum' must be a finite number in \[0, 1\)"),
    ("momentum=abc", r"'optimizer.momentum' must be a number"),
    ("nesterov=1", r"'optimizer.nesterov' must be true or false"),
    ("nesterov=true", "Nesterov momentum requires a momentum"),  # torch's own cross-check
    ("weight_decay=-1", r"'optimizer.weight_decay' must be a finite number >= 0"),
])
def test_optimizer_options_are_typed_and_bounded(option, match):
    rejects(f"optimizer.{option}", match=match)


def test_adagrad_rmsprop_adadelta_options_are_bounded():
    rejects("optimizer.name=rmsprop", "optimizer.alpha=1.5", match=r"'optimizer.alpha'.*in \[0, 1\]")
    rejects("optimizer.name=adadelta", "optimizer.rho=-1", match=r"'optimizer.rho'")
    rejects("optimizer.name=adagrad", "optimizer.eps=-1e-10", match=r"'optimizer.eps'")


def test_unknown_device_and_devices_this_machine_lacks():
    rejects("device=tpu", match="'device': unknown device 'tpu'")
    if not torch.backends.mps.is_available():
        rejects("device=mps", match="'device': device mps asked for, but .* no MPS")
    if not torch.cuda.is_available():
        rejects("device=cuda", match="'device': device cuda asked for, but .* no CUDA")
    else:
        rejects(f"device=cuda:{torch.cuda.device_count()}", match="torch sees")
    assert load_config(None, ["optimizer.name=sgd", "device=cpu"]).device == "cpu"


def test_unknown_keys_suggest_the_closest():
    assert rejects("epoch=3", match="unknown training setting 'epoch'").hint == "did you mean 'epochs'?"
    assert "data.batch_size" in rejects("data.batchsize=3", match="'data.batchsize'").hint
    assert "'momentum'" in rejects("optimizer.momentun=0.9", match="no option 'momentun'").hint
    assert "'cosine'" in rejects("schedule.name=cosin", match="'schedule.name' cannot be").hint
    assert "'val_accuracy'" in rejects("early_stop.metric=val_acc", match="early_stop.metric").hint
    assert "epochs" in rejects("zzz=1", match="'zzz'").hint  # no close name: the list


def test_types_and_sections(tmp_path):
    rejects("epochs=many", match="'epochs' must be int")
    rejects("amp=2", match="'amp' must be a string")
    rejects("amp=fp8", match="'amp' cannot be 'fp8'")
    rejects("optimizer=adam", match="'optimizer' is a section")
    rejects(match="'schedule.milestones' must be a list", yaml_text="schedule: {milestones: 3}\n",
            tmp_path=tmp_path)
    cfg = load_config(None, ["optimizer.name=sgd", "loss.label_smoothing='0.1'", "optimizer.lr=1"])
    assert cfg.loss.label_smoothing == 0.1 and cfg.optimizer.lr == 1.0


@pytest.mark.parametrize("settings, match", [
    (["schedule.name=multistep", "schedule.interval=step"], "'schedule.interval': multistep"),
    (["schedule.name=plateau", "schedule.interval=step"], "'schedule.interval': plateau"),
    (["schedule.warmup_steps=10"], "'schedule.warmup_steps' counts batches"),
    (["schedule.interval=step", "schedule.warmup_steps=10", "schedule.warmup_epochs=1"], "both set"),
    (["schedule.name=onecycle", "schedule.warmup_epochs=1"], "onecycle warms up by itself"),
    (["schedule.name=multistep", "schedule.milestones=[5, 3]"], "'schedule.milestones' must increase"),
    (["schedule.name=cosine", "epochs=3", "schedule.warmup_epochs=3"], "'schedule.warmup_epochs'"),
    (["schedule.name=onecycle", "schedule.cycle_momentum=true", "optimizer.name=adagrad"], "momentum"),
])
def test_schedule_combinations_that_cannot_work(settings, match):
    if "onecycle" in settings[0] and "adagrad" in settings[-1]:  # found when the schedule is built
        from netdsl.training.schedules import Schedule
        cfg = load_config(None, settings)
        opt = torch.optim.Adagrad([torch.zeros(1, requires_grad=True)])
        with pytest.raises(UsageError, match=match):
            Schedule(opt, cfg.schedule, cfg.epochs, steps_per_epoch=4)
        return
    rejects(*settings, match=match)


def test_the_cli_refuses_before_training(tmp_path, capsys):
    source = tmp_path / "tiny.net"
    source.write_text(TINY)
    for flags, key in ((["--epochs", "0"], "'epochs'"), (["--lr", "nan"], "'optimizer.lr'"),
                       (["--batch-size", "0"], "'data.batch_size'")):
        assert main(["train", str(source), "--out", str(tmp_path / "run"), *flags]) == 2
        assert key in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


# ------------------------------------------------------------ systematic: every field
def all_fields(cls=TrainConfig, where=""):
    """(dotted key, field) of every setting."""
    for f in dataclasses.fields(cls):
        default = f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default
        if dataclasses.is_dataclass(default):
            yield from all_fields(type(default), f"{where}{f.name}.")
        else:
            yield f"{where}{f.name}", f


def numeric_fields():
    return [(key, f) for key, f in all_fields() if field_type(f) in (int, float)]


def test_every_numeric_setting_declares_a_range():
    missing = [key for key, f in numeric_fields() if f.metadata.get("bounds") is None]
    assert not missing, f"settings without a range: {missing}"


def outside(bounds: Bounds, kind: type) -> list:
    values = [] if kind is int else [math.nan, math.inf]
    if bounds.low is not None:
        values.append(bounds.low if bounds.open_low else bounds.low - 1)
    if bounds.high is not None:
        values.append(bounds.high if bounds.open_high else bounds.high + 1)
    return values


@pytest.mark.parametrize("key, f", numeric_fields(), ids=lambda v: v if isinstance(v, str) else "")
def test_every_numeric_setting_rejects_values_outside_its_range(key, f):
    values = outside(f.metadata["bounds"], field_type(f))
    assert values
    for value in values:
        rejects(f"{key}={value}", match=f"'{key}' must be")


def test_defaults_validate_and_validation_is_idempotent():
    cfg = TrainConfig().validate()
    assert cfg.optimizer.lr == 1e-3 and cfg == TrainConfig().validate().validate()
    with pytest.raises(UsageError, match="'epochs'"):
        TrainConfig(epochs=0).validate()
    assert from_dict(TrainConfig, {"epochs": 0}, "").epochs == 0  # names only; values: validate()


# ------------------------------------------------------------ torch's default learning rates
@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_default_lr_and_weight_decay_are_torchs(name):
    cls = getattr(torch.optim, OPTIMIZERS[name])
    params = inspect.signature(cls).parameters
    cfg = load_config(None, ["optimizer.name=sgd", f"optimizer.name={name}"]).optimizer
    assert cfg.lr == params["lr"].default and cfg.weight_decay == params["weight_decay"].default
    assert load_config(None, ["optimizer.name=sgd", f"optimizer.name={name}", "optimizer.lr=0.5"]).optimizer.lr == 0.5
    assert load_config(None, ["optimizer.name=sgd", f"optimizer.name={name}", "optimizer.weight_decay=0"]).optimizer.weight_decay == 0


def test_default_lrs_the_docs_promise():
    lr = {name: load_config(None, ["optimizer.name=sgd", f"optimizer.name={name}"]).optimizer.lr for name in OPTIMIZERS}
    assert lr == {"sgd": 1e-3, "adagrad": 0.01, "rmsprop": 0.01, "adadelta": 1.0, "adam": 1e-3,
                  "nadam": 2e-3, "adamw": 1e-3}
    adamw = load_config(None, ["optimizer.name=sgd", "optimizer.name=adamw"]).optimizer
    assert adamw.weight_decay == 0.01


def test_sgd_without_a_torch_default_falls_back(monkeypatch):
    from netdsl.training import optimizers
    monkeypatch.setattr(optimizers, "torch_defaults", lambda cls: {})
    assert optimizers.default_lr("sgd") == optimizers.FALLBACK_LR == 0.01


def documented_ranges() -> dict:
    """docs/training.md's 'Checked ranges' table: key → range text."""
    text = (ROOT / "docs" / "training.md").read_text().split("## Checked ranges", 1)[1]
    ranges = {}
    for line in text.split("\n## ", 1)[0].splitlines():
        cells = [c.strip() for c in line.strip("|").split("|")]
        if len(cells) != 2 or not cells[0].startswith("`"):
            continue
        names = [n.strip(" `") for n in cells[0].split(",")]
        section = names[0].rpartition(".")[0]
        for name in names:
            ranges[name if "." in name or not section else f"{section}.{name}"] = cells[1]
    return ranges


def test_the_docs_list_every_range():
    from netdsl.training.optimizers import OPTION_BOUNDS
    code = {key: (f.metadata.get("bounds") or f.metadata.get("item_bounds")).text
            for key, f in all_fields() if f.metadata.get("bounds") or f.metadata.get("item_bounds")}
    code.update({f"optimizer.{name}": bounds.text for name, bounds in OPTION_BOUNDS.items()})
    assert documented_ranges() == code, "update the 'Checked ranges' table in docs/training.md"

