"""The ``netdsl`` command.  The only place that prints errors or exits.

Subcommands live one per module in ``netdsl/commands/`` and register
themselves in ``COMMANDS`` with ``@command``; each has an ``add_arguments`` and
a ``run`` taking the parsed namespace and returning an exit status.
Heavy libraries (torch, graphviz) are imported inside the commands that need
them, so ``check`` and ``summarize`` start fast.
"""
from __future__ import annotations

import argparse
import os
import sys
import traceback
from typing import Callable, Optional, Sequence

from .errors import InternalError, NetdslError, UsageError

COMMANDS: dict[str, tuple[str, Callable, Callable]] = {}


def command(name: str, help_text: str):
    """Register ``add_arguments`` / ``run`` functions of a subcommand."""
    def wrap(cls):
        COMMANDS[name] = (help_text, cls.add_arguments, cls.run)
        return cls
    return wrap


def add_network_arguments(p: argparse.ArgumentParser) -> None:
    """Options every command that loads a .net file shares."""
    p.add_argument("file", help="the .net file")
    p.add_argument("--network", "-n", help="which network of the file (default: the only one)")
    p.add_argument("--set", "-s", action="append", default=[], metavar="NAME=VALUE",
                   help="override a network parameter, e.g. --set num_classes=10")
    p.add_argument("--input", "-i", metavar="SHAPE", help="override the input shape, e.g. 3x299x299")
    p.add_argument("--limit", action="append", default=[], metavar="NAME=VALUE",
                   help="raise a limit for trusted input, e.g. --limit graph=5000000 (docs/errors.md)")
    p.add_argument("--allow-import", action="append", default=[], metavar="DIR",
                   help="a folder imports may read besides the file's own folder tree")


def parse_shape(text: str) -> tuple[int, ...]:
    parts = text.lower().replace(",", "x").split("x")
    try:
        shape = tuple(int(p) for p in parts if p.strip())
    except ValueError:
        raise UsageError(f"--input must look like 3x224x224, got {text!r}") from None
    if not shape or any(d <= 0 for d in shape):
        raise UsageError(f"--input needs positive sizes, got {text!r}")
    return shape


def load_network(args: argparse.Namespace):
    from .network import load
    params = {}
    for item in args.set:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise UsageError(f"--set needs NAME=VALUE, got {item!r}")
        params[key.strip()] = value.strip()
    shape = parse_shape(args.input) if args.input else None
    return load(args.file, network=args.network, params=params, input_shape=shape, limits=limits_of(args))


def limits_of(args: argparse.Namespace):
    """The ``Limits`` the command line asks for (``--limit``, ``--allow-import``)."""
    from dataclasses import replace
    from .limits import DEFAULT
    chosen = DEFAULT.with_options(getattr(args, "limit", []))
    roots = tuple(getattr(args, "allow_import", []))
    return replace(chosen, import_roots=roots) if roots else chosen


def verify_expectations(net) -> int:
    """Check the file's ``expect`` lines (a failure raises).  With --set/--input
    the network is not the one they describe: those that fail are skipped, and
    their count returned for ``check`` to mention (no warning: the change was asked for)."""
    from .analysis.expect import check_expectations
    return len(check_expectations(net))


def build_parser() -> argparse.ArgumentParser:
    from . import __version__
    _load_command_modules()
    parser = argparse.ArgumentParser(prog="netdsl", description="Neural-network architectures as text.")
    parser.add_argument("--version", action="version", version=f"netdsl {__version__}")
    parser.add_argument("--debug", action="store_true",
                        help="show the full traceback of an internal error (also: NETDSL_DEBUG=1)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (help_text, add_arguments, _) in COMMANDS.items():
        add_arguments(sub.add_parser(name, help=help_text, description=help_text))
    return parser


def _load_command_modules() -> None:
    """Each module of ``netdsl.commands`` registers its subcommand on import."""
    import importlib
    import pkgutil

    from . import commands
    for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        importlib.import_module(f"{commands.__name__}.{info.name}")


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not args.command:
        parser.print_help()
        return 2
    try:
        return COMMANDS[args.command][2](args) or 0
    except NetdslError as err:
        print(err.format(), file=sys.stderr)
        return err.exit_code
    except BrokenPipeError:
        return 0
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # noqa: BLE001 — anything else is a netdsl bug
        return _internal_error(exc, args.debug or os.environ.get("NETDSL_DEBUG", "") not in ("", "0"))


def _internal_error(exc: Exception, debug: bool) -> int:
    """One line and the internal-error code; the traceback only when asked for."""
    if debug:
        traceback.print_exc()
    error = InternalError(f"{type(exc).__name__}: {str(exc)[:300]}",
                          hint="this is a bug in netdsl; please report it with the input that caused it "
                               "(run with --debug or NETDSL_DEBUG=1 for the traceback)")
    print(error.format(), file=sys.stderr)
    return error.exit_code


if __name__ == "__main__":  # python -m netdsl.cli: commands register on netdsl.cli, not __main__
    from netdsl.cli import main as package_main
    sys.exit(package_main())
