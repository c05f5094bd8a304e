"""netdsl's own source never evaluates text: no eval/exec, no pickle, no unsafe YAML,
and generated code is imported in exactly one place, after validation."""
import ast
import re
from pathlib import Path

PACKAGE = Path(__file__).parents[1] / "netdsl"
SOURCES = sorted(PACKAGE.rglob("*.py"))


def _calls(tree: ast.AST):
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
            owner = func.value.id if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) else ""
            yield node, owner, name


def test_no_eval_exec_or_compile_of_text():
    found = []
    for path in SOURCES:
        for node, owner, name in _calls(ast.parse(path.read_text())):
            bare = isinstance(node.func, ast.Name)
            if (bare and name in ("eval", "exec", "compile", "__import__")) or owner == "builtins":
                found.append(f"{path.name}:{node.lineno} {name}")
    assert found == []


def test_no_pickle_or_unsafe_yaml():
    for path in SOURCES:
        text = path.read_text()
        assert not re.search(r"^\s*(import|from)\s+(c?pickle|marshal|shelve|dill)\b", text, re.M), path
        for node, owner, name in _calls(ast.parse(text)):
            assert not (owner == "yaml" and name in ("load", "unsafe_load", "full_load", "load_all")), \
                f"{path.name}:{node.lineno} uses yaml.{name}; use yaml.safe_load"
            if owner == "torch" and name == "load":
                kw = {k.arg: k.value for k in node.keywords}
                assert isinstance(kw.get("weights_only"), ast.Constant) and kw["weights_only"].value is True, \
                    f"{path.name}:{node.lineno}: torch.load without weights_only=True unpickles arbitrary code"


def test_generated_code_is_imported_in_one_validated_place():
    places = [(path, node) for path in SOURCES for node, _, name in _calls(ast.parse(path.read_text()))
              if name == "exec_module"]
    assert len(places) == 1, places
    path, node = places[0]
    function = next(f for f in ast.walk(ast.parse(path.read_text()))
                    if isinstance(f, ast.FunctionDef) and f.lineno <= node.lineno <= f.end_lineno)
    body = ast.unparse(function)
    assert "validate_generated" in body, f"{path.name}:{function.name} imports text it did not validate"


def test_dynamic_imports_only_name_netdsl_or_torch():
    for path in SOURCES:
        for node, owner, name in _calls(ast.parse(path.read_text())):
            if name == "import_module":
                assert path.name in ("cli.py", "module.py"), f"{path.name}:{node.lineno}"
