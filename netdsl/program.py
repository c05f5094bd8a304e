"""Loading files: parse, follow imports, collect block and network definitions."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from . import ast
from .errors import ImportFailure, UnknownName, UsageError, suggest
from .parser import parse


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
            raise UsageError(f"{self.main.file} defines no network (only blocks)")
        raise UsageError(f"{self.main.file} defines several networks; choose one",
                         hint=_listing(self.networks))


def _listing(names) -> str:
    return "networks: " + ", ".join(sorted(names)) if names else "no networks defined"


def load_program(path: str | Path) -> Program:
    path = Path(path)
    if not path.exists():
        raise UsageError(f"no such file: {path}")
    return _Loader().load_main(path.read_text(), str(path))


def parse_program(text: str, filename: str = "<string>") -> Program:
    return _Loader().load_main(text, filename)


class _Loader:
    def __init__(self):
        self.cache: dict[Path, ast.Module] = {}
        self.stack: list[Path] = []

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
            target = (directory / imp.path).resolve()
            if target in self.stack:
                cycle = " -> ".join(p.name for p in self.stack[self.stack.index(target):] + [target])
                raise ImportFailure(f"cyclic import: {cycle}", imp.span)
            if not target.exists():
                raise ImportFailure(f"cannot import \"{imp.path}\": no file {target}", imp.span)
            found += self._load(target)
        return found

    def _load(self, target: Path) -> list[ast.Module]:
        if target not in self.cache:
            self.stack.append(target)
            module = parse(target.read_text(), str(target))
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
