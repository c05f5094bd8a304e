"""LR schedules with a linear warm-up, epoch by epoch, against closed forms and torch.

No training: a Schedule drives a one-parameter SGD optimizer and the lr after
each epoch is compared with the formula docs/training.md states (warm-up
factor start + (1 − start)·min(e, W)/W, multiplying the decay for
step/multistep/exponential; cosine annealing over the epochs after the
warm-up) and with torch's schedulers stepped directly.
"""
import math

import pytest
import torch
from torch.optim import lr_scheduler as S

from netdsl.errors import UsageError
from netdsl.training.config import ScheduleConfig
from netdsl.training.schedules import Schedule

BASE, EPOCHS = 0.1, 9
pytestmark = pytest.mark.filterwarnings(r"ignore:Detected call of .lr_scheduler.step\(\)")


def lrs(config: ScheduleConfig, epochs: int = EPOCHS, steps_per_epoch: int = 1) -> list[float]:
    """The lr in force during each unit (epoch, or batch with interval step)."""
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=BASE)
    schedule = Schedule(optimizer, config, epochs, steps_per_epoch)
    seen = []
    for _ in range(epochs):
        for _ in range(steps_per_epoch):
            seen.append(optimizer.param_groups[0]["lr"])
            schedule.step_batch()
        schedule.step_epoch(val_loss=1.0)
    return seen if config.interval == "step" else seen[::steps_per_epoch]


def warm(e: int, warmup: int, start: float) -> float:
    return start + (1 - start) * min(e, warmup) / warmup if warmup else 1.0


DECAYS = {
    "step": (dict(step_size=3, gamma=0.5), lambda e: 0.5 ** (e // 3)),
    "multistep": (dict(milestones=[2, 5], gamma=0.3), lambda e: 0.3 ** sum(e >= m for m in (2, 5))),
    "exponential": (dict(gamma=0.8), lambda e: 0.8 ** e),
}


@pytest.mark.parametrize("warmup", [0, 1, 3])
@pytest.mark.parametrize("name", sorted(DECAYS))
def test_decay_times_warmup_matches_the_closed_form(name, warmup):
    options, decay = DECAYS[name]
    config = ScheduleConfig(name=name, warmup_epochs=warmup, warmup_start=0.25, **options)
    want = [BASE * warm(e, warmup, 0.25) * decay(e) for e in range(EPOCHS)]
    assert lrs(config) == pytest.approx(want, rel=1e-9)


def cosine(e: int, warmup: int, total: int, min_lr: float, start: float) -> float:
    if e < warmup:
        return BASE * warm(e, warmup, start)
    return min_lr + (BASE - min_lr) * (1 + math.cos(math.pi * (e - warmup) / (total - warmup))) / 2


@pytest.mark.parametrize("warmup", [0, 1, 4])
def test_cosine_after_warmup_matches_the_closed_form(warmup):
    config = ScheduleConfig(name="cosine", warmup_epochs=warmup, warmup_start=0.1, min_lr=0.01)
    want = [cosine(e, warmup, EPOCHS, 0.01, 0.1) for e in range(EPOCHS)]
    assert lrs(config) == pytest.approx(want, rel=1e-9)


def test_cosine_per_batch_with_warmup_steps_matches_torch_driven_directly():
    config = ScheduleConfig(name="cosine", interval="step", warmup_steps=5, warmup_start=0.2)
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=BASE)
    total = 4 * 6
    torch_schedule = S.SequentialLR(optimizer, [S.LinearLR(optimizer, start_factor=0.2, total_iters=5),
                                                S.CosineAnnealingLR(optimizer, T_max=total - 5)], milestones=[5])
    want = []
    for _ in range(total):
        want.append(optimizer.param_groups[0]["lr"])
        torch_schedule.step()
    assert lrs(config, epochs=4, steps_per_epoch=6) == pytest.approx(want, rel=1e-9)
    assert want[5] == pytest.approx(BASE) and want[0] == pytest.approx(0.2 * BASE)


def test_step_decay_with_warmup_matches_torch_chained_directly():
    """A decay inside the warm-up lowers the lr it climbs to (the documented choice)."""
    config = ScheduleConfig(name="step", step_size=2, gamma=0.5, warmup_epochs=3, warmup_start=0.5)
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=BASE)
    torch_schedule = S.ChainedScheduler([S.LinearLR(optimizer, start_factor=0.5, total_iters=3),
                                         S.StepLR(optimizer, step_size=2, gamma=0.5)])
    want = []
    for _ in range(EPOCHS):
        want.append(optimizer.param_groups[0]["lr"])
        torch_schedule.step()
    assert lrs(config) == pytest.approx(want, rel=1e-9)


def test_warmup_alone_climbs_linearly_and_stays():
    config = ScheduleConfig(warmup_epochs=4, warmup_start=0.2)
    assert lrs(config) == pytest.approx([BASE * warm(e, 4, 0.2) for e in range(EPOCHS)], rel=1e-9)


@pytest.mark.parametrize("config, epochs, match", [
    (ScheduleConfig(name="cosine", warmup_epochs=3), 3, "leaves no epoch of the 3"),
    (ScheduleConfig(name="step", interval="step"), 3, "step changes the lr between epochs"),
    (ScheduleConfig(warmup_steps=2), 3, "counts batches"),
    (ScheduleConfig(name="cosine", interval="step", warmup_steps=2, warmup_epochs=1), 3, "both set"),
    (ScheduleConfig(name="multistep", milestones=[3, 2]), 5, "must increase"),
    (ScheduleConfig(name="onecycle", interval="step", warmup_epochs=1), 3, "warms up by itself"),
])
def test_impossible_combinations_are_refused(config, epochs, match):
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=BASE)
    with pytest.raises(UsageError, match=match):
        Schedule(optimizer, config, epochs)


@pytest.mark.parametrize("config, steps, match", [
    (ScheduleConfig(name="cosine", interval="step", warmup_steps=6), 3, "needs 1 or more batches after the "
                                                                        "warm-up; this run has 0"),
    (ScheduleConfig(name="cosine", interval="step", warmup_steps=5), 3, None),  # 1 batch left: enough
    (ScheduleConfig(name="onecycle", interval="step"), 1, "needs 2 or more batches after the warm-up; "
                                                          "this run has 1"),
    # a decay needs no batch after the warm-up, but the warm-up must fit in the run
    (ScheduleConfig(name="step", step_size=2, warmup_epochs=2), 3,
     "needs 0 or more epochs after the warm-up; this run has -1"),
])
def test_a_schedule_needs_room_after_its_warmup(config, steps, match):
    """Per batch: 2 epochs of ``steps`` batches, the warm-up counted in batches."""
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=BASE)
    epochs = 2 if config.name == "cosine" else 1
    if match is None:
        assert Schedule(optimizer, config, epochs, steps).total == 6
        return
    with pytest.raises(UsageError, match=match):
        Schedule(optimizer, config, epochs, steps)


def test_one_batch_per_epoch_unless_told():
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=BASE)
    assert Schedule(optimizer, ScheduleConfig(name="cosine", interval="step"), 3).total == 3


# ------------------------------------------------------------ found by bench/mutation.py
def _driven(config: ScheduleConfig, epochs: int, steps_per_epoch: int = 1):
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=BASE)
    return optimizer, Schedule(optimizer, config, epochs, steps_per_epoch)


def test_cosine_per_batch_anneals_over_every_batch_of_every_epoch():
    config = ScheduleConfig(name="cosine", interval="step", min_lr=0.01)
    seen = lrs(config, epochs=3, steps_per_epoch=4)  # 12 batches: the last is one step from the end
    want = [0.01 + (BASE - 0.01) * (1 + math.cos(math.pi * t / 12)) / 2 for t in range(12)]
    assert seen == pytest.approx(want, rel=1e-12)


def test_a_decay_may_leave_no_epoch_after_its_warm_up():
    """Only cosine (1) and onecycle (2) need units after the warm-up; step decays do not."""
    assert lrs(ScheduleConfig(name="step", step_size=2, warmup_epochs=3), epochs=3)[-1] < BASE


@pytest.mark.parametrize("name", ["cosine", "plateau", "step"])
def test_resuming_a_schedule_continues_its_lr_exactly(name):
    config = ScheduleConfig(name=name, warmup_epochs=2, patience=0, step_size=2)
    first, schedule = _driven(config, 8)
    for loss in (1.0, 1.0, 1.0, 1.0):
        schedule.step_epoch(val_loss=loss)
    second, resumed = _driven(config, 8)
    second.load_state_dict(first.state_dict())
    resumed.load_state_dict(schedule.state_dict())
    assert resumed.state_dict()["epochs_done"] == 4
    for loss in (1.0, 1.0, 1.0):
        schedule.step_epoch(val_loss=loss)
        resumed.step_epoch(val_loss=loss)
        assert second.param_groups[0]["lr"] == first.param_groups[0]["lr"]


def test_plateau_starts_watching_right_after_the_warm_up():
    """Epochs 0-1 warm up; from epoch 2 on, a flat loss with patience 0 lowers the lr at once."""
    optimizer, schedule = _driven(ScheduleConfig(name="plateau", warmup_epochs=2, patience=0, factor=0.5), 6)
    seen = []
    for _ in range(5):
        seen.append(optimizer.param_groups[0]["lr"])
        schedule.step_epoch(val_loss=1.0)
    assert seen == pytest.approx([BASE * 0.1, BASE * 0.55, BASE, BASE, BASE * 0.5])


def test_plateau_without_a_validation_loss_keeps_the_lr():
    optimizer, schedule = _driven(ScheduleConfig(name="plateau", patience=0), 4)
    for _ in range(3):
        schedule.step_epoch(val_loss=None)
    assert optimizer.param_groups[0]["lr"] == BASE and schedule.state_dict()["epochs_done"] == 3


def test_warmup_epochs_count_batches_on_a_per_batch_schedule():
    """warmup_epochs=1 with 4 batches per epoch: the lr climbs over 4 batches, then anneals."""
    config = ScheduleConfig(name="cosine", interval="step", warmup_epochs=1, warmup_start=0.5)
    seen = lrs(config, epochs=3, steps_per_epoch=4)
    assert seen[:5] == pytest.approx([BASE * (0.5 + 0.5 * t / 4) for t in range(5)])
    assert seen[5] < BASE
