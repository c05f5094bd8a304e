"""A training run: data, epochs, records, checkpoints, resume, the final test.

Every epoch ends by appending to ``OUT/metrics.csv`` and writing
``OUT/best.pt`` (when validation accuracy improved) and then ``OUT/last.pt``,
each atomically.  ``last.pt`` is the commit point: a run killed at any moment
and resumed from it (``config.resume``) repeats what followed, and on a CPU
ends bit-identical to the uninterrupted run — the random-number states are in
the checkpoint and shuffling is seeded per epoch.  After the last epoch the
best weights are scored on the test split.

Under torchrun every rank runs this with its share of the data; rank 0
alone logs, draws the progress bar and writes files (checkpoints hold every
rank's random-number state, so a resumed run continues each rank's own).
"""
from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Optional

from . import distributed
from .checkpoint import FORMAT, load_checkpoint, network_source, prepare_out, \
    remove_stale_temporaries, rng_state, set_rng_state, to_bytes, write_atomically
from .config import TrainConfig
from .data import Data, class_count, make_data
from .distributed import World
from .early_stop import EarlyStopping
from .images import Normalization
from .loop import Log, Trainer
from .optional import needs
from .progress import BarFactory
from .records import EpochMetrics, MetricsLog, NoRecords, check_tensorboard, plot_curves, \
    write_summary

#: settings a resumed run may change without changing its results
HARMLESS = ("epochs", "out", "resume", "progress", "tensorboard", "device", "threads",
            "data.workers", "data.root", "data.download")
#: redraw curves.png after epochs at least this long (always at the end)
PLOT_EVERY_SECONDS = 5.0


@dataclass
class RunState:
    """What the epochs loop carries from one epoch to the next (checkpointed)."""

    epoch: int = 0
    best_val_accuracy: float = -1.0
    best_epoch: int = 0
    stopped_early: bool = False
    early_stop: Optional[dict] = None  # EarlyStopping's state
    history: list = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)


def train(network, config: TrainConfig, log: Optional[Log] = None,
          progress: Optional[BarFactory] = None) -> dict:
    """Train ``network`` as ``config`` says, into ``config.out``; the run's summary.

    Under torchrun (``RANK``/``WORLD_SIZE`` set) this is one rank of a DDP run."""
    world = World.from_environment()
    try:
        return _train(network, config, world, log if world.is_main else None,
                      progress if world.is_main else None)
    finally:
        distributed.stop(world)


def _train(network, config: TrainConfig, world: World, log: Optional[Log],
           progress: Optional[BarFactory]) -> dict:
    log = log or (lambda _: None)
    out = prepare_out(config.out) if world.is_main else Path(config.out)
    with needs("drawing OUT/curves.png"):
        import matplotlib  # noqa: F401 — fail before training, not after it
    if config.tensorboard:
        check_tensorboard()
    resumed = load_checkpoint(config.resume) if config.resume else None
    classes = class_count(network, config.data)
    stored = Normalization.from_dict(resumed["normalization"]) if resumed else None
    data = make_data(config.data, network.input_shape, classes, config.seed, config.transfer,
                     stored, world=world)
    trainer = Trainer(network, config, log, steps_per_epoch=max(len(data.train), 1),
                      initial_weights=resumed is None, world=world)
    state = RunState()
    if resumed is not None:
        state = resume(trainer, resumed, config, network, log)
    elif (out / "last.pt").exists():
        log(f"note: {out} holds an earlier run; starting over (--resume continues one)")
    log(introduction(network, config, data, trainer))
    if world.is_main:
        remove_stale_temporaries(out)
    run_epochs(trainer, data, state, out, progress, log)
    return finish(trainer, data, state, out, log)


def introduction(network, config: TrainConfig, data: Data, trainer: Trainer) -> str:
    trainable = sum(p.numel() for g in trainer.groups for p in g["params"])
    sizes = ", ".join(f"{len(loader.dataset)} {name}" for name, loader in
                      (("train", data.train), ("val", data.val), ("test", data.test)))
    lr = config.optimizer.lr if config.optimizer.lr is not None else trainer.groups[0]["lr"]
    note = f"; {data.note}" if data.note else ""
    world = trainer.world
    where = f"{world.size} processes (DDP), rank 0 on {trainer.device}" if world.distributed \
        else str(trainer.device)
    extras = [f"amp {config.amp}"] * bool(config.amp) + ["channels_last"] * config.channels_last \
        + ["compiled"] * config.compile
    return (f"training {network.name} on {config.data.kind} data ({sizes}, {len(data.classes)} "
            f"classes{note}) on {where}: {config.optimizer.name} lr {lr:g}, "
            f"{trainable:,} trainable parameters" + "".join(f", {e}" for e in extras))


# ------------------------------------------------------------ resuming
def resume(trainer: Trainer, payload: dict, config: TrainConfig, network, log: Log) -> RunState:
    """Load a checkpoint into ``trainer``; the state of the run it came from."""
    trainer.load_state_dict(payload, f"checkpoint {config.resume}")
    source = network_source(network)
    if payload.get("net_source") and source and payload["net_source"] != source:
        log("warning: the .net file differs from the one the checkpoint was trained with")
    changed = changed_settings(payload.get("config") or {}, config.to_dict())
    if changed:
        log("warning: settings differ from the checkpoint's, so the result will differ from an "
            "uninterrupted run: " + ", ".join(changed))
    state = RunState(**{k: v for k, v in payload["run"].items() if k in RunState.__dataclass_fields__})
    # last: nothing may draw random numbers after this
    set_rng_state(distributed.rank_rng(payload.get("rank_rng"), trainer.world, payload["rng"]))
    log(f"resuming {config.resume} after epoch {state.epoch} (step {trainer.steps})")
    return state


def changed_settings(before: dict, after: dict, prefix: str = "") -> list[str]:
    """``key old → new`` for every setting that differs, except harmless ones."""
    changes = []
    for key in sorted(set(before) | set(after)):
        old, new, name = before.get(key), after.get(key), f"{prefix}{key}"
        if name in HARMLESS or old == new:
            continue
        if isinstance(old, dict) and isinstance(new, dict):
            changes += changed_settings(old, new, f"{name}.")
        else:
            changes.append(f"{name} {old!r} → {new!r}")
    return changes


# ------------------------------------------------------------ the epochs
def run_epochs(trainer: Trainer, data: Data, state: RunState, out: Path,
               progress: Optional[BarFactory], log: Log) -> None:
    config, main = trainer.config, trainer.world.is_main
    records = MetricsLog(out, state.epoch, config.tensorboard) if main else NoRecords()
    progress = progress if config.progress else None
    stopper = EarlyStopping(config.early_stop)
    if state.early_stop:
        stopper.load_state_dict(state.early_stop)
    try:
        while state.epoch < config.epochs and not state.stopped_early:
            epoch = state.epoch + 1
            data.start_epoch(epoch)
            metrics = one_epoch(trainer, data, epoch, progress)
            records.append(metrics)
            improved = record(state, metrics, stopper)
            save_checkpoints(trainer, data, state, out, improved)
            log(metrics.line(config.epochs))
            if state.stopped_early:
                log(stopper.reason())
            if main and metrics.seconds >= PLOT_EVERY_SECONDS:
                plot_curves(records.path, out / "curves.png")
    finally:
        records.close()


def one_epoch(trainer: Trainer, data: Data, epoch: int,
              progress: Optional[BarFactory]) -> EpochMetrics:
    start = time.perf_counter()
    lr = trainer.optimizer.param_groups[0]["lr"]
    bar = progress(_images_per_epoch(data.train, trainer.world),
                   f"epoch {epoch}/{trainer.config.epochs}") if progress else None
    done = trainer.train_epoch(data.train, bar)
    val = trainer.evaluation(data.val)
    trainer.schedule.step_epoch(val.loss)
    return EpochMetrics(epoch, done["loss"], done["top1"], val.loss, val.top1, lr,
                        time.perf_counter() - start, done["top5"], val.top5,
                        done["images_per_second"])


def _images_per_epoch(loader, world: World) -> int:
    """Images of an epoch over all ranks (the bar counts rank 0's times the ranks)."""
    per_rank = len(loader) * loader.batch_size if loader.drop_last else len(loader.sampler)
    return per_rank * world.size


def record(state: RunState, metrics: EpochMetrics, stopper: EarlyStopping) -> bool:
    """Add an epoch to the state; whether validation accuracy improved (best.pt)."""
    state.epoch = metrics.epoch
    state.history.append(asdict(metrics))
    improved = metrics.val_accuracy > state.best_val_accuracy
    if improved:
        state.best_val_accuracy, state.best_epoch = metrics.val_accuracy, metrics.epoch
    state.stopped_early = stopper.update(metrics)
    state.early_stop = stopper.state_dict()
    return improved


# ------------------------------------------------------------ checkpoints
def checkpoint_payload(trainer: Trainer, data: Data, state: RunState) -> dict:
    network = trainer.network
    params = {k: v for k, v in (network.ir.graph.get("params") or {}).items()
              if isinstance(v, (int, float, str, bool, type(None)))}
    return {"format": FORMAT, "network": network.name, "net_file": network.ir.graph.get("file"),
            "net_params": params, "input_shape": list(network.input_shape),
            "net_source": network_source(network), "epoch": state.epoch,
            "classes": list(data.classes), "config": trainer.config.to_dict(),
            "normalization": data.normalization.to_dict() if data.normalization else None,
            "run": state.to_dict(), **trainer.state_dict(), "rng": rng_state()}


def save_checkpoints(trainer: Trainer, data: Data, state: RunState, out: Path,
                     improved: bool) -> None:
    """best.pt (if improved), then last.pt: the run resumes from last.pt.  Every rank
    calls this (the random-number states are gathered); rank 0 writes."""
    world = trainer.world
    rank_rng = distributed.gather_objects(rng_state(), world) if world.distributed else None
    if not world.is_main:
        return
    payload = checkpoint_payload(trainer, data, state)
    if rank_rng is not None:
        payload["rank_rng"] = rank_rng
    payload = to_bytes(payload)
    if improved:
        write_atomically(out / "best.pt", payload)
    write_atomically(out / "last.pt", payload)


# ------------------------------------------------------------ the end
def finish(trainer: Trainer, data: Data, state: RunState, out: Path, log: Log) -> dict:
    """Score the best weights on the test split; write curves.png and metrics.json."""
    history = [EpochMetrics(**m) for m in state.history]
    test, world = None, trainer.world
    if history:
        if state.best_epoch != state.epoch:
            if world.is_main:  # the other ranks get rank 0's copy: no shared folder needed
                trainer.model.load_state_dict(load_checkpoint(out / "best.pt")["state_dict"])
            distributed.broadcast_buffers(trainer.model, world, parameters=True)
        result = trainer.evaluation(data.test)
        test = {"loss": result.loss, "accuracy": result.top1, "top5": result.top5,
                "images": result.count, "epoch": state.best_epoch}
        if world.is_main:
            plot_curves(out / "metrics.csv", out / "curves.png")
    classes = len(data.classes)
    summary = {"network": trainer.network.name, "device": str(trainer.device), "classes": classes,
               "class_names": list(data.classes), "chance_accuracy": 1 / classes,
               "epochs": [asdict(m) for m in history],
               "final": asdict(history[-1]) if history else None,
               "best_epoch": state.best_epoch, "best_val_accuracy": state.best_val_accuracy,
               "stopped_early": state.stopped_early, "test": test,
               "config": trainer.config.to_dict(), "processes": world.size, "rank": world.rank}
    if world.is_main:
        write_summary(out, summary)
    return summary
