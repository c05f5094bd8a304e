"""Loading files: parse, follow imports, collect block and network definitions."""
from __future__ import annotations

import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional

from . import ast, limits, zoo
from .errors import ImportFailure, NetdslError, SourceRegistry, Span, UnknownName, UsageError, suggest
from .parser import normalize_newlines, parse


@dataclass
class Program:
    """Every definition visible from one main file."""

    main: ast.Module
    blocks: dict[str, ast.BlockDef] = field(default_factory=dict)
    networks: dict[str, ast.BlockDef] = field(default_factory=dict)

    def network(self, name: Optional[str] = None) -> ast.BlockDef:
        """The network to build: the named one, the only one, or the one named like the file."""
        if name is not None:
            if name not in self.networks:
                guess = suggest(name, self.networks)
                raise UnknownName(f"no network '{name}' in {self.main.file}",
                                  hint=f"did you mean '{guess}'?" if guess else _listing(self.networks))
            return self.networks[name]
        own = [b for b in self.main.blocks if b.is_network]
        if len(own) == 1:
            return own[0]
        stem = Path(self.main.file).stem
        if stem in self.networks:
            return self.networks[stem]
        if not own:
            raise UsageError(f"{self.main.file} defines no network (only blocks)",
                             Span(self.main.file, 1, 1))
        raise UsageError(f"{self.main.file} defines several networks; choose one",
                         own[1].span, hint="--network NAME (API: network=NAME); " + _listing(self.networks))


def _listing(names) -> str:
    return "networks: " + ", ".join(sorted(names)) if names else "no networks defined"


def load_program(path: str | Path) -> Program:
    path = _local_or_zoo(Path(path))
    text = read_source(path, lambda message: UsageError(message))
    return _Loader(path.resolve().parent).load_main(text, str(path))


def _local_or_zoo(path: Path) -> Path:
    """``path`` itself if it exists; else the zoo's file for a bare name (``resnet50``)."""
    if path.exists():
        return path
    found = zoo.find(str(path))
    if found is not None:
        return found
    if zoo.is_name(str(path)):
        guess = suggest(str(path), zoo.names())
        raise UsageError(f"no such file or zoo network: {path}",
                         hint=f"did you mean '{guess}'? (netdsl list shows the zoo)" if guess
                         else "netdsl list shows the zoo's networks")
    return path


def parse_program(text: str, filename: str = "<string>") -> Program:
    return _Loader(Path.cwd()).load_main(text, filename)


def read_source(path: Path, error: Callable[[str], NetdslError]) -> str:
    """The text of a regular .net file within the size limit, as UTF-8.

    Anything else (a directory, a device, a FIFO, /proc, a huge file, bytes
    that are not UTF-8) is ``error(message)`` before a byte of it is read —
    except the size check, which reads at most one byte past the limit."""
    cap = limits.current().file_bytes
    try:
        if not path.exists():
            raise error(f"no such file: {path}")
        if not stat.S_ISREG(path.stat().st_mode):
            raise error(f"{path} is not a regular file")
        with path.open("rb") as handle:
            data = handle.read(cap + 1)
    except OSError as exc:
        raise error(f"cannot read {path}: {exc.strerror or exc}") from None
    if len(data) > cap:
        raise limits.exceeded("file_bytes", f"{path} is larger than {cap:,} bytes")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _not_utf8(path, data, exc.start, error) from None


def _not_utf8(path: Path, data: bytes, start: int, error: Callable[[str], NetdslError]) -> NetdslError:
    """The error for a byte that is not UTF-8, located at its line and column
    (an import keeps its own location: the import statement)."""
    before = normalize_newlines(data[:start].decode("utf-8", errors="replace"))
    line = before.count("\n") + 1
    column = len(before) - (before.rfind("\n") + 1) + 1
    err = error(f"{path} is not UTF-8 text (byte {start}, line {line})")
    if err.span is None:  # quote this file (bad bytes shown as U+FFFD), never an older one of that name
        SourceRegistry.add(str(path), normalize_newlines(data.decode("utf-8", errors="replace")))
        err.span = Span(str(path), line, column)
    return err


def import_roots(main_folder: Path) -> list[Path]:
    """Folders imports may read: the main file's folder tree, netdsl's own
    architectures, and any the limits add (``--allow-import``)."""
    package = Path(__file__).resolve().parent
    zoo = [package / "architectures"]
    extra = [Path(p).resolve() for p in limits.current().import_roots]
    return [main_folder.resolve(), *(z for z in zoo if z.is_dir()), *extra]


class _Loader:
    def __init__(self, main_folder: Path):
        self.cache: dict[Path, ast.Module] = {}
        self.stack: list[Path] = []
        self.roots = import_roots(main_folder)

    def load_main(self, text: str, filename: str) -> Program:
        module = parse(text, filename)
        program = Program(module)
        base = Path(filename).resolve() if filename != "<string>" else Path.cwd() / "<string>"
        self.stack.append(base)
        for imported in self._imports(module, base.parent):
            _merge(program, imported, own=False)
        _merge(program, module, own=True)
        return program

    def _imports(self, module: ast.Module, directory: Path) -> list[ast.Module]:
        found = []
        for imp in module.imports:
            target = self._resolve(imp, directory)
            if target in self.stack:
                cycle = " -> ".join(p.name for p in self.stack[self.stack.index(target):] + [target])
                raise ImportFailure(f"cyclic import: {cycle}", imp.span)
            found += self._load(target, imp)
        return found

    def _resolve(self, imp: ast.Import, directory: Path) -> Path:
        """The file an import names, if it is a .net file inside an allowed folder."""
        if "\x00" in imp.path:  # the OS cannot open such a path; say so before pathlib raises
            raise ImportFailure("cannot import a path that holds a NUL character", imp.span)
        if not imp.path.endswith(".net"):
            raise ImportFailure(f"cannot import \"{imp.path}\": imports name .net files", imp.span)
        target = (directory / imp.path).resolve()
        if not target.exists() and not Path(imp.path).is_absolute():
            target = zoo.library(imp.path) or target  # the zoo's block libraries, from anywhere
        if not any(target.is_relative_to(root) for root in self.roots):
            raise ImportFailure(f"cannot import \"{imp.path}\": it lies outside the folders imports "
                                "may read", imp.span,
                                hint="imports read the main file's folder tree and netdsl's architectures; "
                                     "add a folder with --allow-import DIR or Limits(import_roots=...)")
        return target

    def _load(self, target: Path, imp: ast.Import) -> list[ast.Module]:
        if target not in self.cache:
            self.stack.append(target)
            text = read_source(target, lambda message: ImportFailure(f"cannot import \"{imp.path}\": {message}",
                                                                     imp.span))
            module = parse(text, str(target))
            self.cache[target] = module
            nested = self._imports(module, target.parent)
            self.stack.pop()
            return nested + [module]
        return [self.cache[target]]


def _merge(program: Program, module: ast.Module, own: bool) -> None:
    for block in module.blocks:
        table = program.networks if block.is_network else program.blocks
        previous = table.get(block.name)
        if previous is not None and previous is not block and not own:
            if previous.span.file != block.span.file:
                raise ImportFailure(f"'{block.name}' is defined both in {previous.span.file} and in "
                                    f"{block.span.file}", block.span)
        if previous is not None and own and previous.span.file == block.span.file:
            raise UnknownName(f"'{block.name}' is defined twice (first at {previous.span})", block.span)
        table[block.name] = block
