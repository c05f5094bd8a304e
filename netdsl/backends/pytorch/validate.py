"""``validate_generated``: generated source has exactly the shape netdsl writes.

``compile --check`` imports generated text inside netdsl, so before that
the text's syntax tree must be: a module docstring, ``import torch``,
``from torch import nn``, imports of ``netdsl.runtime``'s public classes and
functions, classes deriving from ``nn.Module``/``nn.Sequential`` whose bodies
hold a docstring, ``output_names`` and ``__init__``/``forward``, ``def build``
and the ``if __name__ == "__main__":`` block.  Inside functions only what
the generator emits may appear: assignments, calls of the module's own
classes, ``nn.*``, ``torch.cat``, the class's own children and a few
builtins with literal arguments.  Everything else — another import, a
top-level call, a call in a class body, ``__import__``, a lambda, a
comprehension, an f-string — is refused with a ``BackendError``.
No torch here.
"""
from __future__ import annotations

import ast
import importlib.util
import re
from functools import lru_cache
from typing import Optional

from ...errors import BackendError
from .safe import GENERATED_NAMES, is_attribute_name, is_plain_name

_ANNOTATIONS = {"int", "float", "bool", "str", "tuple"}
_TORCH_ATTRIBUTES = {"cat", "zeros", "no_grad", "Tensor", "float32", "float16", "bfloat16",
                     "float64", "int64", "int32", "bool"}
_BIN_OPS = (ast.Add, ast.Sub, ast.Mult, ast.FloorDiv)
_CODING = re.compile(r"^[ \t\f]*#.*?coding[:=]")


def validate_generated(text: str) -> None:
    """Raise ``BackendError`` unless ``text`` is source netdsl could have generated."""
    _check_characters(text)
    try:
        tree = ast.parse(text)
    except SyntaxError as err:
        raise _refuse(f"it does not parse ({err.msg})", err.lineno) from None
    _Module(tree).check()


def _refuse(why: str, line: Optional[int] = None) -> BackendError:
    where = f" (line {line})" if line else ""
    return BackendError(f"generated source refused{where}: {why}")


def _check_characters(text: str) -> None:
    """Printable ASCII and newlines only (no hidden or bidirectional text, no
    null bytes), and no encoding declaration that would change how it reads."""
    for number, line in enumerate(text.split("\n"), 1):
        if not line.isascii() or any(c < " " or c == "\x7f" for c in line):
            raise _refuse("it holds a control or non-ASCII character", number)
        if number <= 2 and _CODING.match(line):
            raise _refuse("it declares an encoding", number)


@lru_cache(maxsize=1)
def runtime_names() -> frozenset[str]:
    """The public classes and functions ``netdsl.runtime`` re-exports from its
    family modules, read from its source (without importing torch): what
    generated code may import from it."""
    spec = importlib.util.find_spec("netdsl.runtime")
    with open(spec.origin, encoding="utf-8") as file:
        tree = ast.parse(file.read())
    return frozenset(alias.name for node in tree.body if isinstance(node, ast.ImportFrom) and node.level == 1
                     for alias in node.names if not alias.name.startswith("_"))


class _Module:
    """The top level: docstring, imports, classes, ``build``, the main block."""

    def __init__(self, tree: ast.Module):
        self.tree = tree
        self.classes = {n.name for n in tree.body if isinstance(n, ast.ClassDef)}
        self.imported: set[str] = set()
        self.seen: set[str] = set()

    def check(self) -> None:
        body = self.tree.body
        if not body or not _is_docstring(body[0]):
            raise _refuse("it does not start with a docstring", 1)
        handlers = {ast.Import: self._import, ast.ImportFrom: self._import_from,
                    ast.ClassDef: self._class, ast.FunctionDef: self._function, ast.If: self._main}
        for node in body[1:]:
            handler = handlers.get(type(node))
            if handler is None:
                raise _refuse(f"a top-level {type(node).__name__} statement", node.lineno)
            handler(node)

    def _once(self, what: str, node: ast.AST) -> None:
        if what in self.seen:
            raise _refuse(f"a second {what}", node.lineno)
        self.seen.add(what)

    def _import(self, node: ast.Import) -> None:
        if [(a.name, a.asname) for a in node.names] != [("torch", None)]:
            raise _refuse("an import other than torch", node.lineno)
        self._once("import torch", node)

    def _import_from(self, node: ast.ImportFrom) -> None:
        allowed = {"torch": {"nn"}, "netdsl.runtime": runtime_names()}.get(node.module, set())
        for alias in node.names:
            if node.level or alias.asname or alias.name not in allowed or alias.name in self.imported:
                raise _refuse(f"an import of {node.module}.{alias.name}", node.lineno)
            self.imported.add(alias.name)

    def _class(self, node: ast.ClassDef) -> None:
        if not is_plain_name(node.name) or node.name in GENERATED_NAMES | self.imported:
            raise _refuse(f"a class named {node.name!r}", node.lineno)
        bases = [_dotted(b) for b in node.bases]
        if bases not in (["nn.Module"], ["nn.Sequential"]) or node.keywords or node.decorator_list \
                or getattr(node, "type_params", None):
            raise _refuse(f"class {node.name} has an unexpected base or decorator", node.lineno)
        _Class(self, node).check()

    def _function(self, node: ast.FunctionDef) -> None:
        if node.name != "build":
            raise _refuse(f"a top-level function {node.name!r}", node.lineno)
        self._once("def build", node)
        _Function(self, node, children=set(), is_method=False).check()

    def _main(self, node: ast.If) -> None:
        self._once("main block", node)
        if _source(node.test) != "__name__ == '__main__'" or node.orelse:
            raise _refuse("an if statement other than the main block", node.lineno)
        _check_main(self, node.body)

    def callables(self) -> set[str]:
        return self.classes | self.imported


class _Class:
    """A class body: docstring, ``output_names``, ``__init__``, ``forward``."""

    def __init__(self, module: _Module, node: ast.ClassDef):
        self.module, self.node = module, node
        self.children: set[str] = set()

    def check(self) -> None:
        body = self.node.body[1:] if self.node.body and _is_docstring(self.node.body[0]) else self.node.body
        methods = {}
        for stmt in body:
            if isinstance(stmt, ast.Assign) and _source(stmt.targets[0]) == "output_names" \
                    and len(stmt.targets) == 1 and _is_string_tuple(stmt.value):
                continue
            if isinstance(stmt, ast.FunctionDef) and stmt.name in ("__init__", "forward") \
                    and stmt.name not in methods:
                methods[stmt.name] = stmt
                continue
            raise _refuse(f"class {self.node.name} holds a {type(stmt).__name__} it should not",
                          stmt.lineno)
        if "__init__" not in methods:
            raise _refuse(f"class {self.node.name} has no __init__", self.node.lineno)
        _Function(self.module, methods["__init__"], self.children, is_method=True).check()
        if "forward" in methods:
            _Function(self.module, methods["forward"], self.children, is_method=True).check()


class _Function:
    """A method or ``build``: its signature and every statement and expression."""

    def __init__(self, module: _Module, node: ast.FunctionDef, children: set[str], is_method: bool):
        self.module, self.node, self.children = module, node, children
        self.is_init = node.name == "__init__"
        self.locals = {"self"} if is_method else set()
        self.is_method = is_method

    def check(self) -> None:
        self._check_signature()
        body = self.node.body
        for stmt in body[1:] if body and _is_docstring(body[0]) else body:
            self._statement(stmt)

    def _check_signature(self) -> None:
        node, args = self.node, self.node.args
        names = [a.arg for a in args.args]
        if node.decorator_list or args.posonlyargs or args.vararg or args.kwonlyargs \
                or args.kwarg or args.defaults or getattr(node, "type_params", None):
            raise _refuse(f"function {node.name} has an unexpected signature", node.lineno)
        if names[:1] != (["self"] if self.is_method else []):
            raise _refuse(f"function {node.name} has unexpected parameters", node.lineno)
        for arg in args.args[1:] if self.is_method else args.args:
            self._bind(arg.arg, arg.lineno)
        for annotation in [a.annotation for a in args.args] + [node.returns]:
            if annotation is not None and not self._is_annotation(annotation):
                raise _refuse(f"function {node.name} has an unexpected annotation", node.lineno)

    def _is_annotation(self, node: ast.expr) -> bool:
        text = _source(node)
        return text in _ANNOTATIONS | {"None", "torch.Tensor", "tuple[torch.Tensor, ...]",
                                            "torch.Tensor | tuple[torch.Tensor, ...]"} \
            or (not self.is_method and text in self.module.classes)

    def _bind(self, name: str, line: int) -> None:
        """A parameter or variable: a plain name shadowing nothing generated code uses."""
        if not is_plain_name(name) or name in GENERATED_NAMES or name in self.module.callables():
            raise _refuse(f"the name {name!r} shadows what generated code uses", line)
        self.locals.add(name)

    def _statement(self, stmt: ast.stmt) -> None:
        if isinstance(stmt, ast.Return) and stmt.value is not None:
            _Expression(self).check(stmt.value)
        elif isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call):
            self._call_statement(stmt.value)
        elif isinstance(stmt, ast.Assign) and len(stmt.targets) == 1:
            _Expression(self).check(stmt.value)
            self._target(stmt.targets[0], stmt.lineno)
        elif self._is_mode_branch(stmt):
            for inner in stmt.body:
                self._statement(inner)
        else:
            raise _refuse(f"function {self.node.name} holds a {type(stmt).__name__}", stmt.lineno)

    def _is_mode_branch(self, stmt: ast.stmt) -> bool:
        """``if self.training:`` / ``if not self.training:`` in forward (auxiliary heads)."""
        return isinstance(stmt, ast.If) and self.node.name == "forward" and self.is_method \
            and not stmt.orelse and _source(stmt.test) in ("self.training", "not self.training")

    def _call_statement(self, call: ast.Call) -> None:
        """``super().__init__()``, ``self.add_module("2", ...)`` or ``nn.init.*_(...)``."""
        text = _source(call.func)
        if self.is_init and text == "super().__init__" and not call.args and not call.keywords:
            return
        if self.is_init and text in ("self.add_module", "self.register_parameter") and len(call.args) == 2 \
                and not call.keywords \
                and _is_str(call.args[0]):
            _Expression(self).check(call.args[1])
            self.children.add(call.args[0].value)
            return
        if text.startswith("nn.init."):
            _Expression(self).check(call)
            return
        if self.is_init and text == "tie_weight" and text in self.module.imported and not call.keywords \
                and len(call.args) == 3 and _source(call.args[0]) == "self" and all(map(_is_str, call.args[1:])):
            return
        raise _refuse(f"a call statement {text}(...)", call.lineno)

    def _target(self, target: ast.expr, line: int) -> None:
        if isinstance(target, ast.Attribute) and self.is_init and _source(target.value) == "self" \
                and is_attribute_name(target.attr):
            self.children.add(target.attr)
        elif isinstance(target, ast.Name):
            self._bind(target.id, line)
        elif isinstance(target, ast.Tuple) and all(isinstance(e, ast.Name) for e in target.elts):
            for element in target.elts:
                self._bind(element.id, line)
        else:
            raise _refuse(f"an assignment to {_source(target)}", line)


class _Expression:
    """The expressions generated functions may hold, and nothing else."""

    def __init__(self, function: _Function):
        self.function = function

    def check(self, node: ast.expr) -> None:
        handler = getattr(self, "_" + type(node).__name__, None)
        if handler is None or not handler(node):
            raise _refuse(f"the expression {_source(node)[:80]!r}", getattr(node, "lineno", None))

    def _Constant(self, node: ast.Constant) -> bool:
        return type(node.value) in (int, float, str, bool, type(None))

    def _Name(self, node: ast.Name) -> bool:
        return isinstance(node.ctx, ast.Load) and node.id in self.function.locals

    def _Tuple(self, node) -> bool:
        return self._all(node.elts)

    _List = _Tuple

    def _Dict(self, node: ast.Dict) -> bool:
        return None not in node.keys and self._all(node.keys + node.values)

    def _BinOp(self, node: ast.BinOp) -> bool:
        return isinstance(node.op, _BIN_OPS) and self._all([node.left, node.right])

    def _UnaryOp(self, node: ast.UnaryOp) -> bool:
        return isinstance(node.op, (ast.USub, ast.UAdd)) and self._all([node.operand])

    def _Attribute(self, node: ast.Attribute) -> bool:
        """A child's parameter (``self.conv1.weight``), or a torch dtype."""
        if _source(node) in {f"torch.{a}" for a in _TORCH_ATTRIBUTES}:
            return True
        return is_attribute_name(node.attr) and self._is_child(node.value) or self._is_child(node)

    def _Subscript(self, node: ast.Subscript) -> bool:
        return self._is_child(node)

    def _Call(self, node: ast.Call) -> bool:
        if any(k.arg is None or not is_plain_name(k.arg) for k in node.keywords):
            return False
        if any(isinstance(a, ast.Starred) for a in node.args):
            return False
        if self._is_child(node):  # getattr(self, "0"): a learned tensor read by name
            return True
        if not self._is_callee(node.func, node):
            return False
        return self._all(node.args + [k.value for k in node.keywords])

    def _is_callee(self, func: ast.expr, call: ast.Call) -> bool:
        text = _source(func)
        module = self.function.module
        if isinstance(func, ast.Name):
            if func.id == "float":
                return [_source(a) for a in call.args] in (["'nan'"], ["'inf'"], ["'-inf'"])
            return func.id in module.callables()
        if text in ("torch.cat", "torch.empty", "torch.zeros", "nn.Sequential") or _is_nn_class(text) or _is_nn_init(text):
            return True
        if isinstance(func, ast.Attribute) and func.attr == "requires_grad_":
            return [_source(a) for a in call.args] == ["False"] and isinstance(func.value, ast.Call) \
                and self._all([func.value])
        return not self.function.is_init and self._is_child(func)

    def _is_child(self, node: ast.expr) -> bool:
        """``self.conv1``, ``getattr(self, "2")``, ``self[2]``: a child of this class."""
        children = self.function.children
        if isinstance(node, ast.Attribute) and _source(node.value) == "self":
            return node.attr in children
        if isinstance(node, ast.Subscript) and _source(node.value) == "self":
            return isinstance(node.slice, ast.Constant) and str(node.slice.value) in children \
                and type(node.slice.value) is int
        if isinstance(node, ast.Call) and _source(node.func) == "getattr" and not node.keywords:
            return len(node.args) == 2 and _source(node.args[0]) == "self" and _is_str(node.args[1]) \
                and node.args[1].value in children
        return False

    def _all(self, nodes) -> bool:
        for node in nodes:
            self.check(node)
        return True


def _check_main(module: _Module, body: list[ast.stmt]) -> None:
    """``model = build().eval()`` then ``with torch.no_grad(): print(model(torch.zeros(...)))``."""
    shape = [_source(s) for s in body]
    if len(body) != 2 or shape[0] != "model = build().eval()" or not isinstance(body[1], ast.With) \
            or [_source(i.context_expr) for i in body[1].items] != ["torch.no_grad()"] \
            or len(body[1].body) != 1:
        raise _refuse("an unexpected main block", body[0].lineno if body else None)
    printed = body[1].body[0]
    call = printed.value if isinstance(printed, ast.Expr) else None
    if call is None or _source(call.func) != "print" or len(call.args) != 1 or call.keywords \
            or not isinstance(call.args[0], ast.Call) or _source(call.args[0].func) != "model":
        raise _refuse("an unexpected main block", printed.lineno)
    for example in call.args[0].args:
        if not _is_example_input(example):
            raise _refuse("an unexpected example input", printed.lineno)


def _is_example_input(node: ast.expr) -> bool:
    """``torch.zeros(1, 3, 224, 224)``, maybe with ``dtype=torch.int64``."""
    if not isinstance(node, ast.Call) or _source(node.func) != "torch.zeros":
        return False
    sizes = all(isinstance(a, ast.Constant) and type(a.value) is int for a in node.args)
    dtypes = all(k.arg == "dtype" and _source(k.value) in {f"torch.{a}" for a in _TORCH_ATTRIBUTES}
                 for k in node.keywords)
    return sizes and dtypes


def _is_nn_class(text: str) -> bool:
    """``nn.Conv2d``: one level under ``nn``, a class name."""
    parts = text.split(".")
    return len(parts) == 2 and parts[0] == "nn" and is_attribute_name(parts[1]) and parts[1][0].isupper()


def _is_nn_init(text: str) -> bool:
    """``nn.init.kaiming_normal_``: torch's in-place initializers."""
    parts = text.split(".")
    return len(parts) == 3 and parts[:2] == ["nn", "init"] and is_attribute_name(parts[2]) \
        and parts[2].endswith("_")


def _is_docstring(node: ast.stmt) -> bool:
    return isinstance(node, ast.Expr) and _is_str(node.value)


def _is_str(node: ast.expr) -> bool:
    return isinstance(node, ast.Constant) and type(node.value) is str


def _is_string_tuple(node: ast.expr) -> bool:
    return isinstance(node, ast.Tuple) and all(_is_str(e) for e in node.elts)


def _dotted(node: ast.expr) -> str:
    return _source(node) if isinstance(node, (ast.Name, ast.Attribute)) else ""


def _source(node: ast.AST) -> str:
    return ast.unparse(node)
