"""Run one case through everything a user can do with a file, and classify it.

Stages: parse (or load, for bytes), the analyses, ``expect`` lines, the
summary in every format ``netdsl summarize`` prints, the DOT diagram, the
generated PyTorch source, and — for valid programs small enough — a torch
build run in eval and train mode, compared with the static numbers.

Outcomes: ``ok``; ``netdsl`` (a NetdslError: user input rejected, located or
not); ``other`` (any other exception, or InternalError: a bug); ``hang`` (the
alarm fired); ``mismatch`` (static and torch disagree, or torch raised on a
program netdsl accepted).
"""
from __future__ import annotations

import json
import math
import os
import re
import signal
import tempfile
import traceback
from contextlib import contextmanager
from typing import Optional, Union

import netdsl
from netdsl.errors import InternalError, NetdslError

BATCH = 2
FILENAME = "fuzz.net"
MAX_TORCH_PARAMS = 2_000_000
MAX_TORCH_ELEMENTS = 1_000_000  # one node's output, per sample
MAX_TORCH_TOTAL = 4_000_000     # all nodes' outputs, per sample
MAX_TORCH_MACS = 5_000_000      # per sample: each torch run stays well under a second
#: per sample: work that is not multiply-accumulates (an lrn window of 1,000,000
#: channels is 6e8 FLOPs and no MACs, legal and 10 s of torch)
MAX_TORCH_FLOPS = 4 * MAX_TORCH_MACS
MAX_TORCH_NODES = 400
#: Linear work gets time in proportion: after loading, the deadline moves out by
#: this much per expanded node (a 25,000-node case needs ~5 s on one idle core).
#: A super-linear stage still overruns it by far, which is what a hang means here.
SECONDS_PER_NODE = 1e-3


class FuzzTimeout(BaseException):
    """Raised by the alarm; a BaseException so netdsl's own handlers do not swallow it."""


@contextmanager
def alarm(seconds: float):
    def fire(signum, frame):
        raise FuzzTimeout(f"no result after {seconds} s")
    previous = signal.signal(signal.SIGALRM, fire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def extend_alarm(seconds: float) -> None:
    """Move the running alarm's deadline out by ``seconds``."""
    remaining, _ = signal.getitimer(signal.ITIMER_REAL)
    if remaining > 0:
        signal.setitimer(signal.ITIMER_REAL, remaining + seconds)


def frames(tb) -> list[str]:
    """``file:line function`` of each frame, innermost last, paths relative to the repository."""
    out = []
    for f in traceback.extract_tb(tb):
        path = f.filename
        cut = path.rfind("/netdsl/")
        short = path[cut + 1:] if cut >= 0 else os.path.basename(path)
        out.append(f"{short}:{f.lineno} {f.name}")
    return out


def innermost_netdsl(frame_list: list[str]) -> str:
    mine = [f for f in frame_list if f.startswith("netdsl/")]
    return mine[-1] if mine else (frame_list[-1] if frame_list else "?")


def failure(status: str, stage: str, err: BaseException, **extra) -> dict:
    cause = (err.__cause__ or err.__context__) if isinstance(err, InternalError) else None
    shown = cause or err
    frame_list = frames(shown.__traceback__) if shown.__traceback__ else []
    etype = type(err).__name__ + (f"({type(cause).__name__})" if cause else "")
    return {"status": status, "stage": stage, "etype": etype, "message": str(shown)[:600],
            "frames": frame_list[-8:], "where": innermost_netdsl(frame_list), **extra}


def span_problem(err: NetdslError, source: str, filename: str) -> Optional[str]:
    """None if the error points into the file sensibly and quotes that line, else what is wrong."""
    span = err.span
    if span is None:
        return "unlocated"
    if span.file != filename and not str(span.file).endswith(filename):
        return None  # an imported or command-line location
    lines = _as_editor_lines(source)
    if not 1 <= span.line <= len(lines) or span.column < 1:
        return "bad span"
    text = lines[span.line - 1]
    if span.column > len(text) + 2:
        return "bad span"
    quoted = [q for q in err.format().split("\n") if q.startswith(f"{span.line:>4} | ")]
    if quoted and not _same_line(quoted[0].split(" | ", 1)[1], text, isinstance(source, bytes)):
        return "bad span"  # the snippet quotes another line than the span's
    return None


def _as_editor_lines(source: Union[str, bytes]) -> list[str]:
    """Lines as an editor shows them: UTF-8 (bad bytes replaced), no byte-order
    mark, and "\r\n", a lone "\r" and "\n" each end a line (as in Python)."""
    if isinstance(source, bytes):
        source = source.decode("utf-8", "replace")
    source = source.removeprefix("\ufeff").replace("\r\n", "\n").replace("\r", "\n")
    return source.split("\n")


def _same_line(quoted: str, text: str, from_bytes: bool) -> bool:
    """A line quoted from a file that is not valid UTF-8 stops at the first bad byte."""
    quoted, text = quoted.rstrip(), text.rstrip()
    return quoted == text or (from_bytes and "\ufffd" in text and text.startswith(quoted))


# ------------------------------------------------------------------ stages
def load(source: Union[str, bytes], workdir: str):
    if isinstance(source, bytes):
        path = os.path.join(workdir, FILENAME)
        with open(path, "wb") as handle:
            handle.write(source)
        return netdsl.load(path)
    return netdsl.parse(source, FILENAME)


def analyses(net, variant: int = 0) -> None:
    net.analyze()
    _ = (net.params, net.trainable_params, net.buffers, net.macs, net.flops, net.output_shapes)
    _ = net.receptive_field
    _ = net.nodes()


def expectations(net) -> None:
    from netdsl.analysis.expect import check_expectations
    for problem in check_expectations(net):
        problem.format()


#: Option sets of ``netdsl summarize`` and ``netdsl render``; each case uses the
#: defaults and one variant, chosen by the case's size so runs stay deterministic.
SUMMARY_VARIANTS = [dict(depth=1), dict(batch=3, dtype="float16", optimizer="sgd"),
                    dict(depth=2, dtype="bfloat16", optimizer="adamw"), dict(batch=64, dtype="float64")]
RENDER_VARIANTS = [dict(compact=True), dict(depth=1), dict(depth=0, fold=False),
                   dict(heat="macs", macs=True), dict(highlight="params>100", rankdir="LR"),
                   dict(max_nodes=4, legend=False), dict(depth=9, compact=True, heat="params")]


def summary(net, variant: int = 0) -> None:
    """What ``netdsl summarize`` prints, in every format."""
    from netdsl.report.render import RENDERERS
    from netdsl.report.summary import build_summary
    for options in ({}, SUMMARY_VARIANTS[variant % len(SUMMARY_VARIANTS)]):
        data = build_summary(net, **options)
        json.dumps(data)
        for render in RENDERERS.values():
            render(data)


def diagrams(net, variant: int = 0) -> None:
    net.render()
    net.render(**RENDER_VARIANTS[variant % len(RENDER_VARIANTS)])


def torch_sized(net) -> bool:
    sizes = [math.prod(d["shape"]) for d in net.nodes()]
    return (net.params < MAX_TORCH_PARAMS and net.macs < MAX_TORCH_MACS and net.flops < MAX_TORCH_FLOPS
            and len(sizes) < MAX_TORCH_NODES
            and max(sizes, default=0) < MAX_TORCH_ELEMENTS and sum(sizes) < MAX_TORCH_TOTAL)


# ``expect`` comes last: a failed expectation must not hide what the other commands do.
STAGES = [("analyze", analyses), ("summary", summary), ("render", diagrams),
          ("source", lambda net, variant: net.to_source())]


class _Progress:
    """The stage under way, for the record when something raises."""

    stage = "parse"


def check(source: Union[str, bytes], timeout: float, workdir: str, torch_runs: bool = True,
          predicted: Optional[dict] = None) -> dict:
    """Classify one case (see the module docstring); ``predicted``: the generator's output shapes."""
    progress = _Progress()
    text = source.decode("utf-8", "replace") if isinstance(source, bytes) else source
    try:
        with alarm(timeout):
            return _all_stages(source, text, workdir, torch_runs, predicted, progress)
    except FuzzTimeout as err:
        return failure("hang", progress.stage, err)
    except InternalError as err:
        return failure("other", progress.stage, err)
    except NetdslError as err:
        return netdsl_outcome(err, progress.stage, text)
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException as err:  # noqa: BLE001 - every other exception is a finding
        return failure("other", progress.stage, err)


def _all_stages(source, text: str, workdir: str, torch_runs: bool, predicted: Optional[dict],
                progress: _Progress) -> dict:
    net = load(source, workdir)
    extend_alarm(SECONDS_PER_NODE * len(net.ir.nodes))
    for progress.stage, run in STAGES:
        run(net, len(text))
    shapes = dict(net.output_shapes)
    disagrees = f"netdsl {shapes}, generator {predicted}" if predicted not in (None, shapes) else None
    result = {"status": "ok", "torch": False}
    if torch_runs and torch_sized(net):
        from .sourcecheck import compare_source
        from .torchcheck import compare
        progress.stage = "torch"
        result = compare(net, BATCH)
        if result["status"] == "ok":
            progress.stage = "source check"
            result = compare_source(net, BATCH) or result
    if result["status"] == "ok":
        progress.stage = "expect"
        expectations(net)
        result["disagrees"] = disagrees
    return result


def netdsl_outcome(err: NetdslError, stage: str, text: str) -> dict:
    try:
        err.format()
    except Exception as bad:  # noqa: BLE001 - formatting an error must not fail
        return failure("other", stage + " (formatting the error)", bad)
    result = failure("netdsl", stage, err)
    result["span"] = span_problem(err, text, FILENAME)
    return result


def pattern(message: str) -> str:
    """A message with its particulars blanked, for grouping similar failures."""
    text = re.sub(r"\S*" + re.escape(FILENAME), FILENAME, message.splitlines()[0] if message else "")
    text = re.sub(r"'[^']*'|\"[^\"]*\"", "'…'", text)
    text = re.sub(r"\d+(\.\d+)?(e[-+]?\d+)?", "N", text)
    text = re.sub(r"\[[^\]]*\]|\([^)]*\)", "[…]", text)
    return text[:160]


def workdir() -> str:
    return tempfile.mkdtemp(prefix="netdsl-fuzz-")
