"""Optimizers and schedules against torch.optim driven directly on the same problem.

Each case trains the same initial model on the same batches twice: once
through netdsl (config → param_groups → build_optimizer → Schedule, stepped
as the training loop steps it) and once with torch.optim / lr_scheduler
written by hand.  Parameters must be identical (torch.equal) and so must the
learning rate at every step.
"""
import copy
import math

import pytest
import torch
from torch import nn
from torch.optim import lr_scheduler as S

import netdsl
from netdsl.errors import UsageError
from netdsl.training import load_config
from netdsl.training.early_stop import EarlyStopping
from netdsl.training.optimizers import build_optimizer, param_groups
from netdsl.training.schedules import Schedule

NET = """network small(num_classes: int = 3) { input [2, 6, 6]
  conv1: conv(4, 3, padding=1)
  bn: batchnorm
  relu
  flatten
  fc: linear(num_classes) }"""
EPOCHS, BATCHES = 4, 3


@pytest.fixture(scope="module")
def problem():
    torch.manual_seed(0)
    net = netdsl.parse(NET)
    gen = torch.Generator().manual_seed(1)
    batches = [(torch.randn(8, 2, 6, 6, generator=gen), torch.randint(0, 3, (8,), generator=gen))
               for _ in range(BATCHES)]
    return net, net.to_torch(), batches


def train(model, optimizer, batches, after_batch, after_epoch, epochs=EPOCHS):
    """The loop's order: a step per batch, then the per-batch hook; the per-epoch hook; lrs seen."""
    lrs = []
    for epoch in range(epochs):
        for x, y in batches:
            lrs.append([g["lr"] for g in optimizer.param_groups])
            model.train()
            optimizer.zero_grad(set_to_none=True)
            nn.functional.cross_entropy(model(x), y).backward()
            optimizer.step()
            after_batch()
        after_epoch(epoch)
    return lrs


def run_netdsl(problem, *settings, val_losses=None):
    net, initial, batches = problem
    model = copy.deepcopy(initial)
    cfg = load_config(None, ["optimizer.name=sgd", f"epochs={EPOCHS}", *settings])
    optimizer = build_optimizer(param_groups(model, net, cfg.optimizer), cfg.optimizer)
    schedule = Schedule(optimizer, cfg.schedule, cfg.epochs, steps_per_epoch=len(batches))
    losses = val_losses or [1.0] * EPOCHS
    lrs = train(model, optimizer, batches, schedule.step_batch,
                lambda e: schedule.step_epoch(losses[e]))
    return model, optimizer, lrs


def run_torch(problem, make_optimizer, make_schedule=None, per="epoch", val_losses=None):
    _, initial, batches = problem
    model = copy.deepcopy(initial)
    optimizer = make_optimizer(model.parameters())
    schedule = make_schedule(optimizer) if make_schedule else None
    losses = val_losses or [1.0] * EPOCHS

    def epoch_end(e):
        if per == "epoch" and isinstance(schedule, S.ReduceLROnPlateau):
            schedule.step(losses[e])
        elif per == "epoch" and schedule is not None:
            schedule.step()
    batch_end = schedule.step if per == "step" else (lambda: None)
    return model, optimizer, train(model, optimizer, batches, batch_end, epoch_end)


def assert_same(ours, theirs):
    (model_a, opt_a, lrs_a), (model_b, opt_b, lrs_b) = ours, theirs
    assert lrs_a == lrs_b
    for (name, a), b in zip(model_a.state_dict().items(), model_b.state_dict().values()):
        assert torch.equal(a, b), name
    assert [g["lr"] for g in opt_a.param_groups] == [g["lr"] for g in opt_b.param_groups]


# ------------------------------------------------------------ optimizers
OPTIMIZER_CASES = {
    "sgd": ([], lambda p: torch.optim.SGD(p)),
    "sgd-nesterov": (["optimizer.lr=0.05", "optimizer.momentum=0.9", "optimizer.nesterov=true",
                      "optimizer.weight_decay=5e-4"],
                     lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.9, nesterov=True, weight_decay=5e-4)),
    "adagrad": (["optimizer.name=adagrad"], lambda p: torch.optim.Adagrad(p)),
    "adagrad-options": (["optimizer.name=adagrad", "optimizer.lr_decay=1e-3", "optimizer.eps=1e-8"],
                        lambda p: torch.optim.Adagrad(p, lr_decay=1e-3, eps=1e-8)),
    "rmsprop": (["optimizer.name=rmsprop"], lambda p: torch.optim.RMSprop(p)),
    "rmsprop-centered": (["optimizer.name=rmsprop", "optimizer.momentum=0.5", "optimizer.centered=true",
                          "optimizer.alpha=0.9"],
                         lambda p: torch.optim.RMSprop(p, momentum=0.5, centered=True, alpha=0.9)),
    "adadelta": (["optimizer.name=adadelta"], lambda p: torch.optim.Adadelta(p)),
    "adam": (["optimizer.name=adam"], lambda p: torch.optim.Adam(p)),
    "adam-amsgrad": (["optimizer.name=adam", "optimizer.amsgrad=true", "optimizer.eps=1e-6",
                      "optimizer.betas=[0.8, 0.99]"],
                     lambda p: torch.optim.Adam(p, amsgrad=True, eps=1e-6, betas=(0.8, 0.99))),
    "nadam": (["optimizer.name=nadam"], lambda p: torch.optim.NAdam(p)),
    "adamw": (["optimizer.name=adamw"], lambda p: torch.optim.AdamW(p)),
    "adamw-lr": (["optimizer.name=adamw", "optimizer.lr=3e-3", "optimizer.weight_decay=0.1"],
                 lambda p: torch.optim.AdamW(p, lr=3e-3, weight_decay=0.1)),
}


@pytest.mark.parametrize("case", sorted(OPTIMIZER_CASES))
def test_optimizer_matches_torch(problem, case):
    settings, make = OPTIMIZER_CASES[case]
    assert_same(run_netdsl(problem, *settings), run_torch(problem, make))


def test_no_decay_on_biases_and_norms_matches_two_torch_groups(problem):
    def make(params):
        params = list(params)
        return torch.optim.AdamW([{"params": [p for p in params if p.ndim > 1]},
                                  {"params": [p for p in params if p.ndim <= 1], "weight_decay": 0.0}])
    ours = run_netdsl(problem, "optimizer.name=adamw", "optimizer.decay_norm_and_bias=false")
    assert sorted(g["weight_decay"] for g in ours[1].param_groups) == [0.0, 0.01]
    model, optimizer, lrs = run_torch(problem, make)
    assert all(torch.equal(a, b) for a, b in zip(ours[0].state_dict().values(), model.state_dict().values()))


def test_the_optimizer_state_matches_too(problem):
    ours = run_netdsl(problem, "optimizer.name=adam")
    theirs = run_torch(problem, lambda p: torch.optim.Adam(p))
    for a, b in zip(ours[1].state.values(), theirs[1].state.values()):
        assert all(torch.equal(a[k], b[k]) for k in ("exp_avg", "exp_avg_sq", "step"))


# ------------------------------------------------------------ schedules
SGD = ["optimizer.lr=0.1", "optimizer.momentum=0.9"]
TOTAL = EPOCHS * BATCHES
SCHEDULE_CASES = {
    "step": (["schedule.name=step", "schedule.step_size=2", "schedule.gamma=0.5"],
             lambda o: S.StepLR(o, step_size=2, gamma=0.5), "epoch"),
    "multistep": (["schedule.name=multistep", "schedule.milestones=[1, 3]"],
                  lambda o: S.MultiStepLR(o, milestones=[1, 3]), "epoch"),
    "exponential": (["schedule.name=exponential", "schedule.gamma=0.7"],
                    lambda o: S.ExponentialLR(o, gamma=0.7), "epoch"),
    "cosine": (["schedule.name=cosine", "schedule.min_lr=1e-3"],
               lambda o: S.CosineAnnealingLR(o, T_max=EPOCHS, eta_min=1e-3), "epoch"),
    "cosine-per-step": (["schedule.name=cosine", "schedule.interval=step"],
                        lambda o: S.CosineAnnealingLR(o, T_max=TOTAL), "step"),
    "warmup-cosine": (["schedule.name=cosine", "schedule.warmup_epochs=1", "schedule.warmup_start=0.2"],
                      lambda o: S.SequentialLR(o, [S.LinearLR(o, start_factor=0.2, total_iters=1),
                                                   S.CosineAnnealingLR(o, T_max=EPOCHS - 1)], [1]),
                      "epoch"),
    "warmup-steps-cosine": (["schedule.name=cosine", "schedule.interval=step", "schedule.warmup_steps=4"],
                            lambda o: S.SequentialLR(o, [S.LinearLR(o, start_factor=0.1, total_iters=4),
                                                         S.CosineAnnealingLR(o, T_max=TOTAL - 4)], [4]),
                            "step"),
    "warmup-epochs-per-step": (["schedule.interval=step", "schedule.warmup_epochs=2"],
                               lambda o: S.LinearLR(o, start_factor=0.1, total_iters=2 * BATCHES), "step"),
    "onecycle": (["schedule.name=onecycle", "schedule.interval=step"],
                 lambda o: S.OneCycleLR(o, max_lr=0.1, total_steps=TOTAL, cycle_momentum=False), "step"),
    "onecycle-momentum": (["schedule.name=onecycle", "schedule.interval=step", "schedule.pct_start=0.5",
                           "schedule.cycle_momentum=true"],
                          lambda o: S.OneCycleLR(o, max_lr=0.1, total_steps=TOTAL, pct_start=0.5), "step"),
    "warmup-multistep": (["schedule.name=multistep", "schedule.milestones=[1, 3]", "schedule.warmup_epochs=2"],
                         lambda o: S.ChainedScheduler([S.LinearLR(o, start_factor=0.1, total_iters=2),
                                                       S.MultiStepLR(o, milestones=[1, 3])]), "epoch"),
}


@pytest.mark.parametrize("case", sorted(SCHEDULE_CASES))
def test_schedule_matches_torch(problem, case):
    settings, make_schedule, per = SCHEDULE_CASES[case]
    ours = run_netdsl(problem, *SGD, *settings)
    theirs = run_torch(problem, lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9), make_schedule, per)
    assert_same(ours, theirs)
    if "momentum" in case:
        assert ours[1].param_groups[0]["momentum"] == theirs[1].param_groups[0]["momentum"] != 0.9


def test_plateau_matches_torch(problem):
    losses = [3.0, 2.0, 2.0, 2.0]
    ours = run_netdsl(problem, *SGD, "schedule.name=plateau", "schedule.patience=1",
                      "schedule.factor=0.5", val_losses=losses)
    theirs = run_torch(problem, lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9),
                       lambda o: S.ReduceLROnPlateau(o, factor=0.5, patience=1), val_losses=losses)
    assert_same(ours, theirs)
    assert ours[1].param_groups[0]["lr"] == 0.05  # lowered after the last epoch


def lr_per_epoch(*settings, epochs, losses=None):
    """The lr of each epoch under a schedule (lr 1), the model left alone."""
    cfg = load_config(None, ["optimizer.name=sgd", f"epochs={epochs}", "optimizer.lr=1", *settings])
    optimizer = torch.optim.SGD([nn.Parameter(torch.zeros(1))], lr=cfg.optimizer.lr)
    schedule = Schedule(optimizer, cfg.schedule, epochs)
    seen = []
    for epoch in range(epochs):
        seen.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        schedule.step_epoch(losses[epoch] if losses else None)
    return seen


def test_warmup_multistep_by_hand():
    """Milestones count epochs from the start; one inside the warm-up lowers its target."""
    got = lr_per_epoch("schedule.name=multistep", "schedule.milestones=[2, 5]", "schedule.gamma=0.1",
                       "schedule.warmup_epochs=3", "schedule.warmup_start=0.25", epochs=7)
    assert got == pytest.approx([0.25, 0.5, 0.75 * 0.1, 0.1, 0.1, 0.01, 0.01], rel=1e-12)
    late = lr_per_epoch("schedule.name=multistep", "schedule.milestones=[4]", "schedule.warmup_epochs=2",
                        "schedule.warmup_start=0.5", epochs=6)
    assert late == pytest.approx([0.5, 0.75, 1, 1, 0.1, 0.1], rel=1e-12)  # no decay at construction


def test_warmup_then_plateau_and_warmup_step_by_hand():
    got = lr_per_epoch("schedule.name=plateau", "schedule.patience=0", "schedule.factor=0.5",
                       "schedule.warmup_epochs=2", "schedule.warmup_start=0.5", epochs=5,
                       losses=[9, 9, 3, 3, 3])
    assert got == pytest.approx([0.5, 0.75, 1, 1, 0.5])
    step = lr_per_epoch("schedule.name=step", "schedule.step_size=2", "schedule.gamma=0.5",
                        "schedule.warmup_epochs=1", "schedule.warmup_start=0.5", epochs=5)
    assert step == pytest.approx([0.5, 1, 0.5, 0.5, 0.25])


def test_per_step_cosine_by_hand():
    cfg = load_config(None, ["optimizer.name=sgd", "epochs=2", "optimizer.lr=1", "schedule.name=cosine", "schedule.interval=step",
                             "schedule.warmup_steps=2", "schedule.warmup_start=0.5"])
    optimizer = torch.optim.SGD([nn.Parameter(torch.zeros(1))], lr=1.0)
    schedule = Schedule(optimizer, cfg.schedule, cfg.epochs, steps_per_epoch=3)
    seen = []
    for _ in range(2):
        for _ in range(3):
            seen.append(optimizer.param_groups[0]["lr"])
            optimizer.step()
            schedule.step_batch()
        schedule.step_epoch(1.0)  # no effect per step
    cosine = [0.5 * (1 + math.cos(math.pi * t / 4)) for t in range(4)]
    assert seen == pytest.approx([0.5, 0.75] + cosine)


def test_lr_scale_groups_follow_the_schedule_together():
    net = netdsl.parse("""network n { input [4]
      a: linear(3)
      b: linear(2, lr_scale=0.1) }""")
    cfg = load_config(None, ["optimizer.name=sgd", "epochs=4", "optimizer.lr=1", "schedule.name=onecycle", "schedule.interval=step"])
    optimizer = build_optimizer(param_groups(net.to_torch(), net, cfg.optimizer), cfg.optimizer)
    schedule = Schedule(optimizer, cfg.schedule, cfg.epochs, steps_per_epoch=2)
    for _ in range(5):
        optimizer.step()
        schedule.step_batch()
    fast, slow = (g["lr"] for g in optimizer.param_groups)
    assert slow == pytest.approx(0.1 * fast)


def test_too_few_steps_for_the_schedule():
    cfg = load_config(None, ["optimizer.name=sgd", "epochs=1", "schedule.name=onecycle"])
    with pytest.raises(UsageError, match="onecycle needs 2 or more epochs"):
        Schedule(torch.optim.SGD([nn.Parameter(torch.zeros(1))]), cfg.schedule, cfg.epochs)
    cfg = load_config(None, ["optimizer.name=sgd", "epochs=1", "schedule.name=cosine", "schedule.interval=step",
                             "schedule.warmup_steps=4"])
    with pytest.raises(UsageError, match="cosine needs 1 or more batches"):
        Schedule(torch.optim.SGD([nn.Parameter(torch.zeros(1))]), cfg.schedule, 1, steps_per_epoch=4)


@pytest.mark.parametrize("settings, per", [
    (["schedule.name=cosine", "schedule.interval=step", "schedule.warmup_steps=3"], "step"),
    (["schedule.name=multistep", "schedule.milestones=[2, 3]", "schedule.warmup_epochs=2"], "epoch"),
    (["schedule.name=plateau", "schedule.patience=0", "schedule.warmup_epochs=1"], "epoch"),
])
def test_schedule_resumes_from_its_state_dict(settings, per):
    """Stopped after 2 of 4 epochs and rebuilt from the saved states: the same lrs as unbroken."""
    cfg = load_config(None, ["optimizer.name=sgd", "epochs=4", "optimizer.lr=1", "optimizer.momentum=0.9", *settings])
    losses = [5.0, 4.0, 4.0, 4.0]

    def fresh():
        opt = torch.optim.SGD([nn.Parameter(torch.zeros(1))], lr=1.0, momentum=0.9)
        return opt, Schedule(opt, cfg.schedule, cfg.epochs, steps_per_epoch=3)

    def run(opt, schedule, epochs):
        seen = []
        for epoch in epochs:
            for _ in range(3):
                seen.append(opt.param_groups[0]["lr"])
                opt.step()
                schedule.step_batch()
            schedule.step_epoch(losses[epoch])
        return seen

    whole = run(*fresh(), range(4))
    opt, schedule = fresh()
    first = run(opt, schedule, range(2))
    saved = {"opt": copy.deepcopy(opt.state_dict()), "schedule": copy.deepcopy(schedule.state_dict())}
    opt, schedule = fresh()
    opt.load_state_dict(saved["opt"])
    schedule.load_state_dict(saved["schedule"])
    assert first + run(opt, schedule, range(2, 4)) == whole


# ------------------------------------------------------------ early stopping
def stopper(*settings):
    return EarlyStopping(load_config(None, ["optimizer.name=sgd", *settings]).early_stop)


def test_early_stopping_waits_patience_epochs_without_improvement():
    stop = stopper("early_stop.patience=2")
    assert [stop.update({"val_loss": v}) for v in (3.0, 2.0, 2.5, 1.9, 2.0, 1.95)] == \
        [False, False, False, False, False, True]
    assert stop.best == 1.9 and stop.best_epoch == 4
    assert "val_loss has not improved for 2 epochs (best 1.9 at epoch 4)" in stop.reason()


def test_early_stopping_min_delta_accuracy_and_off():
    stop = stopper("early_stop.patience=1", "early_stop.metric=val_accuracy", "early_stop.min_delta=0.01")
    assert [stop.update({"val_accuracy": v}) for v in (0.5, 0.6, 0.605)] == [False, False, True]
    off = stopper()
    assert not any(off.update({"val_loss": v}) for v in (1.0, 2.0, 3.0, 4.0)) and off.best_epoch == 1
    nan = stopper("early_stop.patience=1")
    assert [nan.update({"val_loss": v}) for v in (1.0, math.nan)] == [False, True]


def test_early_stopping_reads_attributes_and_resumes():
    class Epoch:
        val_loss = 1.0
    stop = stopper("early_stop.patience=3")
    stop.update(Epoch())
    again = stopper("early_stop.patience=3")
    again.load_state_dict(stop.state_dict())
    assert again.state_dict() == stop.state_dict() == {"best": 1.0, "best_epoch": 1, "epochs": 1,
                                                       "bad_epochs": 0}
    with pytest.raises(UsageError, match="no 'val_loss'"):
        stop.update({"loss": 1.0})
