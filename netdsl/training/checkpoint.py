"""Checkpoints: written atomically, read with ``torch.load(weights_only=True)``.

A checkpoint is a dict of tensors and plain values only (so ``weights_only``
loading accepts it and runs no pickled code): the model's ``state_dict``,
the optimizer, schedule and grad-scaler states, the random-number states
(Python, NumPy, torch CPU and CUDA — as tensors), epoch and step, class
names, normalisation, the config and the .net source.  ``write_atomically``
writes a temporary file in the same folder, fsyncs it and ``os.replace``s it
over the target, so a kill at any moment leaves either the old or the new
checkpoint, never a torn one.
"""
from __future__ import annotations

import io
import os
import random
from pathlib import Path
from typing import Optional

import torch

from ..errors import SourceRegistry, UsageError

FORMAT = "netdsl-checkpoint/1"
TMP_SUFFIX = ".tmp"


# ------------------------------------------------------------ random-number states
def rng_state() -> dict:
    """Every random-number generator training draws from, as tensors and plain values."""
    version, internal, gauss = random.getstate()
    state = {"python": {"version": version, "state": torch.tensor(internal, dtype=torch.int64),
                        "gauss": gauss},
             "torch": torch.get_rng_state()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    try:
        import numpy
    except ImportError:
        return state
    kind, keys, pos, has_gauss, cached = numpy.random.get_state()
    state["numpy"] = {"kind": kind, "keys": torch.from_numpy(keys.astype("int64")), "pos": int(pos),
                      "has_gauss": int(has_gauss), "cached": float(cached)}
    return state


def set_rng_state(state: dict) -> None:
    """Restore what ``rng_state`` captured (generators it does not name are left alone)."""
    python = state["python"]
    random.setstate((python["version"], tuple(python["state"].tolist()), python["gauss"]))
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
    if "numpy" in state:
        import numpy
        npy = state["numpy"]
        numpy.random.set_state((npy["kind"], npy["keys"].numpy().astype("uint32"), npy["pos"],
                                npy["has_gauss"], npy["cached"]))


# ------------------------------------------------------------ writing
def to_bytes(payload: dict) -> bytes:
    buffer = io.BytesIO()
    torch.save(payload, buffer)
    return buffer.getvalue()


def write_atomically(path: Path, data: bytes) -> None:
    """``path`` holds ``data`` or its previous contents, whenever the process dies."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}{TMP_SUFFIX}")
    try:
        with open(tmp, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _sync_folder(path.parent)


def _sync_folder(folder: Path) -> None:
    """Make the rename itself durable (POSIX; a no-op where folders cannot be opened)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def remove_stale_temporaries(folder: Path) -> None:
    """Temporary files a killed run left behind (never read: the targets are intact)."""
    for stale in Path(folder).glob(f".*.pt.*{TMP_SUFFIX}"):
        stale.unlink(missing_ok=True)


# ------------------------------------------------------------ reading
def load_checkpoint(path: str | Path) -> dict:
    """A netdsl checkpoint (``weights_only=True``), or a UsageError saying what is wrong."""
    path = Path(path)
    if path.is_dir():
        path = path / "last.pt"
    if not path.is_file():
        raise UsageError(f"no checkpoint {path}", hint="netdsl train writes OUT/last.pt and OUT/best.pt")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # noqa: BLE001 — torch raises many kinds for a bad file
        raise UsageError(f"cannot read checkpoint {path}: {type(err).__name__}: {str(err)[:200]}",
                         hint="is it complete? best.pt in the same folder is an older good one") \
            from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise UsageError(f"{path} is not a netdsl training checkpoint",
                         hint="netdsl train writes them; a plain state_dict can start a run "
                              "with --init-from")
    return payload


# ------------------------------------------------------------ output folder
def prepare_out(out: str | Path) -> Path:
    """Create ``out`` (a folder, writable), or say why it cannot be used — before training."""
    path = Path(out)
    for parent in [path, *path.parents]:
        if parent.exists() and not parent.is_dir():
            what = "is a file" if parent == path else f"is under the file {parent}"
            raise UsageError(f"output folder {path} {what}", hint="choose another --out")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise UsageError(f"cannot create output folder {path}: {err.strerror}",
                         hint="choose another --out") from None
    probe = path / f".write-test.{os.getpid()}"
    try:
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as err:
        raise UsageError(f"cannot write in output folder {path}: {err.strerror}",
                         hint="choose another --out") from None
    return path


def network_source(network) -> Optional[str]:
    """The text of the network's main .net file, when it can be found."""
    name = network.ir.graph.get("file") or ""
    text = SourceRegistry._texts.get(name)  # noqa: SLF001 — the parser registered it
    if text is None and name and Path(name).is_file():
        text = Path(name).read_text(encoding="utf-8", errors="replace")
    return text


# ------------------------------------------------------------ using a checkpoint
def settings_of(payload: dict) -> dict:
    """The checkpoint's training config as raw settings (``load_config``'s input form)."""
    import copy
    raw = copy.deepcopy(payload.get("config") or {})
    optimizer = raw.get("optimizer")
    if isinstance(optimizer, dict):
        optimizer.update(optimizer.pop("options", None) or {})
    raw.pop("resume", None)
    return raw


def load_model(network, payload: dict, device, source: str = "the checkpoint"):
    """``network``'s module on ``device`` with the checkpoint's weights, in eval mode."""
    shape = payload.get("input_shape")
    if shape and list(network.input_shape) != list(shape):
        raise UsageError(f"{source} was trained on inputs {shape}, the network takes "
                         f"{list(network.input_shape)}", hint="give the same --input as in training")
    model = network.to_torch(device=device)
    try:
        model.load_state_dict(payload["state_dict"])
    except RuntimeError as err:
        raise UsageError(f"{source} does not fit the network: {str(err).splitlines()[0]}",
                         hint="give the same .net file and --set as in training (it was trained "
                              f"with {payload.get('net_params')})") from None
    return model.eval()
