"""``netdsl train`` and netdsl.training: configs, parameter groups, schedules, losses, a real run."""
import json
import math

import pytest
import torch
from conftest import ARCH, ROOT
from torch import nn

import netdsl
from netdsl.cli import main
from netdsl.errors import UsageError
from netdsl.training import Trainer, load_config, train
from netdsl.training.data import class_patterns, make_datasets, synthetic_dataset
from netdsl.training.optimizers import OPTIMIZERS, build_optimizer, param_groups
from netdsl.training.weights import load_initial_weights, source_state_dict

TINY = """network tiny(num_classes: int = 4) { input [1, 12, 12]
  conv1: conv(6, 3, padding=1) relu maxpool(2)
  conv2: conv(8, 3, padding=1, lr_scale=0.1) relu
  frozen: conv(8, 1, trainable=false) relu
  flatten
  fc: linear(num_classes) }"""

WITH_AUX = """network aux(num_classes: int = 3) { input [2, 6, 6]
  body: conv(4, 3, padding=1) relu
  output side(weight=0.3, aux=true) = side_head: { adaptive_avgpool(1) flatten linear(num_classes) }
  adaptive_avgpool(1) flatten
  fc: linear(num_classes) }"""


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def config(*overrides, tmp_path=None):
    out = [f"out={tmp_path}"] if tmp_path else []
    return load_config(None, ["optimizer.name=sgd", "epochs=3", "data.train_size=256", "data.val_size=128",
                              "data.batch_size=32", *out, *overrides])


# ------------------------------------------------------------ configuration
def test_yaml_and_overrides_fill_typed_sections(tmp_path):
    path = tmp_path / "t.yaml"
    path.write_text("epochs: 7\noptimizer: {name: sgd, lr: 1e-3, momentum: 0.9, nesterov: true}\n"
                    "schedule: {name: multistep, milestones: [3, 5]}\n")
    cfg = load_config(path, ["optimizer.lr=0.2", "loss.label_smoothing=0.1", "clip.norm=1"])
    assert cfg.epochs == 7 and cfg.optimizer.lr == 0.2 and cfg.clip.norm == 1.0
    assert cfg.optimizer.options == {"momentum": 0.9, "nesterov": True}
    assert cfg.schedule.milestones == [3, 5] and cfg.loss.label_smoothing == 0.1
    assert load_config(path).optimizer.lr == 1e-3  # YAML reads 1e-3 as a string


def test_config_errors_name_the_setting():
    with pytest.raises(UsageError, match="unknown training setting 'schedule.gama'") as err:
        load_config(None, ["schedule.gama=0.5"])
    assert "schedule.gamma" in err.value.hint
    with pytest.raises(UsageError, match="'epochs' must be int"):
        load_config(None, ["epochs=many"])


@pytest.mark.parametrize("path", sorted((ROOT / "examples").glob("train_*.yaml")), ids=lambda p: p.name)
def test_example_configs_are_valid(path):
    cfg = load_config(path)
    optimizer = build_optimizer(param_groups(nn.Linear(2, 2), netdsl.parse(TINY), cfg.optimizer), cfg.optimizer)
    assert type(optimizer).__name__.lower() == cfg.optimizer.name.replace("_", "")
    assert {group["lr"] for group in optimizer.param_groups} == {cfg.optimizer.lr}


# ------------------------------------------------------------ parameter groups and optimizers
def test_groups_scale_lr_skip_frozen_and_split_decay():
    net = netdsl.parse(TINY)
    model = net.to_torch()
    cfg = config("optimizer.lr=0.1", "optimizer.weight_decay=0.01",
                 "optimizer.decay_norm_and_bias=false").optimizer
    groups = {(round(g["lr"], 9), g["weight_decay"]): sorted(g["names"])
              for g in param_groups(model, net, cfg)}
    assert groups == {(0.1, 0.01): ["conv1.weight", "fc.weight"],
                      (0.1, 0.0): ["conv1.bias", "fc.bias"],
                      (0.01, 0.01): ["conv2.weight"],
                      (0.01, 0.0): ["conv2.bias"]}


def test_sgd_momentum_nesterov_and_weight_decay_reach_torch():
    net = netdsl.parse(TINY)
    cfg = config("optimizer.momentum=0.9", "optimizer.nesterov=true", "optimizer.weight_decay=5e-4")
    optimizer = build_optimizer(param_groups(net.to_torch(), net, cfg.optimizer), cfg.optimizer)
    assert isinstance(optimizer, torch.optim.SGD)
    assert all(g["momentum"] == 0.9 and g["nesterov"] and g["weight_decay"] == 5e-4
               for g in optimizer.param_groups)


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_every_course_optimizer_builds(name):
    net = netdsl.parse(TINY)
    cfg = config(f"optimizer.name={name}").optimizer
    optimizer = build_optimizer(param_groups(net.to_torch(), net, cfg), cfg)
    assert type(optimizer).__name__ == OPTIMIZERS[name]


def test_optimizer_options_are_checked():  # when the config loads: tests/test_train_config.py
    with pytest.raises(UsageError, match="adam has no option 'momentum'"):
        config("optimizer.name=adam", "optimizer.momentum=0.9")
    with pytest.raises(UsageError, match="'optimizer.name' cannot be 'adamm'"):
        config("optimizer.name=adamm")


def test_freeze_prefixes_leave_parameters_out(tmp_path):
    trainer = Trainer(netdsl.parse(TINY), config("transfer.freeze=[conv1, conv2]"))
    names = {n for g in trainer.groups for n in g["names"]}
    assert names == {"fc.weight", "fc.bias"}
    assert not trainer.model.conv1.weight.requires_grad
    with pytest.raises(UsageError, match="no parameters under 'conv3'") as err:
        Trainer(netdsl.parse(TINY), config("transfer.freeze=[conv3]"))
    assert "conv1" in err.value.hint or "conv2" in err.value.hint


# ------------------------------------------------------------ schedules
# The schedule tests step the lr alone; torch warns about that, rightly elsewhere.
lr_only = pytest.mark.filterwarnings("ignore:Detected call of `lr_scheduler.step")


def lrs(*overrides, epochs=6, losses=None):
    trainer = Trainer(netdsl.parse(TINY), config(f"epochs={epochs}", "optimizer.lr=1.0", *overrides))
    seen = []
    for epoch in range(epochs):
        seen.append(trainer.optimizer.param_groups[0]["lr"])
        trainer.schedule.step(losses[epoch] if losses else 1.0)
    return seen


@lr_only
def test_step_multistep_and_exponential_decay():
    assert lrs("schedule.name=step", "schedule.step_size=2", "schedule.gamma=0.5") == \
        pytest.approx([1, 1, 0.5, 0.5, 0.25, 0.25])
    assert lrs("schedule.name=multistep", "schedule.milestones=[1, 4]") == \
        pytest.approx([1, 0.1, 0.1, 0.1, 0.01, 0.01])
    assert lrs("schedule.name=exponential", "schedule.gamma=0.5", epochs=3) == pytest.approx([1, 0.5, 0.25])


@lr_only
def test_warmup_then_cosine():
    got = lrs("schedule.name=cosine", "schedule.warmup_epochs=2", "schedule.warmup_start=0.2")
    cosine = [0.5 * (1 + math.cos(math.pi * t / 4)) for t in range(4)]
    assert got == pytest.approx([0.2, 0.6] + cosine)


@lr_only
def test_plateau_lowers_lr_when_validation_loss_stalls():
    got = lrs("schedule.name=plateau", "schedule.patience=1", "schedule.factor=0.5",
              losses=[3, 2, 2, 2, 2, 2])
    assert got == pytest.approx([1, 1, 1, 1, 0.5, 0.5])


# ------------------------------------------------------------ losses and steps
def test_output_weights_come_from_the_network_and_can_be_overridden():
    net = netdsl.parse(WITH_AUX)
    trainer = Trainer(net, config("loss.label_smoothing=0.1"))
    assert trainer.criterion.label_smoothing == 0.1
    assert trainer.weights == [1.0, 0.3]
    main_out, side = torch.randn(4, 3), torch.randn(4, 3)
    y = torch.tensor([0, 1, 2, 0])
    ce = nn.CrossEntropyLoss(label_smoothing=0.1)
    assert trainer.loss((main_out, side), y).item() == pytest.approx(
        (ce(main_out, y) + 0.3 * ce(side, y)).item())
    only_main = Trainer(net, config("loss.output_weights={side: 0}"))
    assert only_main.loss((main_out, side), y).item() == pytest.approx(
        nn.CrossEntropyLoss()(main_out, y).item())
    with pytest.raises(UsageError, match="no output 'aux9'"):
        Trainer(net, config("loss.output_weights={aux9: 1}"))


def test_evaluation_scores_the_main_output_only():
    trainer = Trainer(netdsl.parse(WITH_AUX), config())
    x, y = torch.randn(8, 2, 6, 6), torch.randint(0, 3, (8,))
    with torch.no_grad():
        outputs = trainer.model.eval()(x)  # eval mode may leave the auxiliary heads out
        main_out = outputs[0] if isinstance(outputs, tuple) else outputs
    loss, accuracy = trainer.evaluate([(x, y)])
    assert loss == pytest.approx(nn.functional.cross_entropy(main_out, y).item(), rel=1e-5)
    assert accuracy == (main_out.argmax(1) == y).float().mean().item()


@pytest.mark.parametrize("setting, check", [
    ("clip.norm=0.01", lambda grads: torch.cat([g.flatten() for g in grads]).norm() <= 0.01 + 1e-6),
    ("clip.value=0.001", lambda grads: max(g.abs().max() for g in grads) <= 0.001),
])
def test_gradient_clipping(setting, check):
    trainer = Trainer(netdsl.parse(TINY), config(setting, "optimizer.lr=1e-9"))  # lr > 0
    trainer.step(torch.randn(8, 1, 12, 12) * 10, torch.randint(0, 4, (8,)))
    grads = [p.grad for g in trainer.groups for p in g["params"]]
    assert all(g is not None for g in grads) and check(grads)


def test_frozen_layers_do_not_move_and_amp_channels_last_step_runs():
    trainer = Trainer(netdsl.parse(TINY), config("amp=true", "channels_last=true", "optimizer.lr=0.5"))
    frozen, moving = trainer.model.frozen.weight.clone(), trainer.model.conv1.weight.clone()
    trainer.step(torch.randn(8, 1, 12, 12), torch.randint(0, 4, (8,)))
    assert torch.equal(trainer.model.frozen.weight, frozen)
    assert not torch.equal(trainer.model.conv1.weight, moving)
    assert trainer.model.conv1.weight.is_contiguous(memory_format=torch.channels_last)


def test_devices():
    with pytest.raises(UsageError):
        Trainer(netdsl.parse(TINY), config("device=tpu"))
    want = "cuda" if torch.cuda.is_available() else "cpu"
    assert Trainer(netdsl.parse(TINY), config()).device.type == want


# ------------------------------------------------------------ data
def test_synthetic_patterns_differ_per_class_and_labels_balance():
    patterns = class_patterns((1, 12, 12), 4)
    assert patterns.shape == (4, 1, 12, 12)
    flat = patterns.flatten(1)
    assert min(torch.dist(flat[i], flat[j]) for i in range(4) for j in range(i)) > 1
    data = synthetic_dataset(40, (3, 8), 4, 0.5, seed=0)
    assert data.tensors[0].shape == (40, 3, 8) and torch.bincount(data.tensors[1]).tolist() == [10] * 4
    assert synthetic_dataset(5, (7,), 2, 0.1, 0).tensors[0].shape == (5, 7)


def test_fake_and_folder_data(tmp_path):
    from PIL import Image
    fake_train, _ = make_datasets(config("data.kind=fake", "data.train_size=4").data, (1, 10, 12), 3, 0)
    assert fake_train[0][0].shape == (1, 10, 12)
    for cls in ("cat", "dog"):
        (tmp_path / cls).mkdir()
        for i in range(3):
            Image.new("RGB", (20, 16), (40 * i, 90, 200)).save(tmp_path / cls / f"{i}.png")
    train_set, val_set = make_datasets(config("data.kind=folder", f"data.root={tmp_path}").data,
                                       (3, 8, 8), 2, 0)
    assert len(train_set) + len(val_set) == 5 and train_set[0][0].shape == (3, 8, 8)  # 1 for test


# ------------------------------------------------------------ transfer learning
def test_torchvision_weights_load_by_name_and_a_new_head_stays_fresh():
    net = netdsl.load(ARCH / "resnet18.net", params={"num_classes": "10"}, input_shape=(3, 32, 32))
    model = net.to_torch()
    state = source_state_dict("torchvision:resnet18", weights=None)
    assert set(state) == set(model.state_dict())
    report = load_initial_weights(model, config("transfer.init_from=torchvision:resnet18",
                                                "transfer.weights=null").transfer)
    assert report.skipped == ["fc.bias", "fc.weight"] and report.missing == ["fc.bias", "fc.weight"]
    strict = config("transfer.init_from=torchvision:resnet18", "transfer.weights=null",
                    "transfer.skip_mismatched=false").transfer
    with pytest.raises(UsageError, match="does not fit"):
        load_initial_weights(model, strict)


# ------------------------------------------------------------ the real thing
def test_training_learns_and_checkpoints_load_back(tmp_path):
    net = netdsl.parse(TINY)
    metrics = train(net, config("optimizer.name=adam", "optimizer.lr=0.01", "data.train_size=512",
                                tmp_path=tmp_path))
    first, last = metrics["epochs"][0], metrics["final"]
    assert last["train_loss"] < 0.8 * first["train_loss"]
    assert last["val_accuracy"] > 2 * metrics["chance_accuracy"]  # 67-83% over seeds 0-3
    assert json.loads((tmp_path / "metrics.json").read_text())["final"] == last
    again = Trainer(net, config(f"transfer.init_from={tmp_path / 'last.pt'}"))
    saved = torch.load(tmp_path / "last.pt", weights_only=True)["state_dict"]
    assert all(torch.equal(again.model.state_dict()[k], v) for k, v in saved.items())


def test_cli_trains_and_reports(tmp_path, capsys):
    source = tmp_path / "tiny.net"
    source.write_text(TINY)
    status = main(["train", str(source), "--epochs", "2", "--optimizer", "adam", "--lr", "0.01",
                   "--threads", "1", "-O", "data.train_size=128", "-O", "data.val_size=64",
                   "--out", str(tmp_path / "run")])
    out = capsys.readouterr().out
    assert status == 0 and "epoch 2/2" in out and "final val accuracy" in out
    assert (tmp_path / "run" / "last.pt").is_file()
    assert main(["train", str(source), "-O", "optimizer.nam=sgd"]) != 0
    assert "did you mean 'name'" in capsys.readouterr().err


def test_frozen_batchnorm_keeps_its_running_statistics():
    import torch
    from netdsl.training.loop import train_mode
    net = netdsl.parse("network n { input [3, 8, 8]\n conv(4, 3)\n bn: batchnorm(trainable=false)\n"
                       " head: batchnorm }", "frozen.net")
    model = net.to_torch()
    train_mode(model)
    model(torch.randn(4, 3, 8, 8) * 5 + 3)
    assert torch.equal(model.bn.running_mean, torch.zeros(4)) and not model.bn.training
    assert model.head.training and not torch.equal(model.head.running_mean, torch.zeros(4))
