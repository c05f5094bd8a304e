"""docs/errors.md: every example triggers the error its heading names, and the
exit-code table matches the exception classes."""
import re
from pathlib import Path

import pytest

from netdsl import errors
from netdsl.cli import main

DOC = (Path(__file__).parents[1] / "docs" / "errors.md").read_text()
EXAMPLES = re.findall(r"### ([^\n]+) \(exit (\d+)\)\n\n```net\n(.*?)```", DOC, re.S)


def test_every_family_has_an_example():
    codes = {int(code) for _, code, _ in EXAMPLES}
    families = {cls.exit_code for cls in vars(errors).values()
                if isinstance(cls, type) and issubclass(cls, errors.NetdslError)}
    assert families - codes == {1, 2, 9, 70}  # base class, usage, backend, internal: not from a file alone


@pytest.mark.parametrize("title,code,text", EXAMPLES, ids=[t for t, _, _ in EXAMPLES])
def test_example_exits_with_its_code(title, code, text, tmp_path, capsys):
    path = tmp_path / "example.net"
    path.write_text(text)
    assert main(["check", str(path)]) == int(code)
    err = capsys.readouterr().err
    assert f"{path}:" in err and "Traceback" not in err


def test_exit_code_table_matches_the_classes():
    rows = dict(re.findall(r"^\| (\d+) \| .*?\|\s*`?(\w*)`?\s*\|$", DOC, re.M))
    for code, name in rows.items():
        if name:
            assert getattr(errors, name).exit_code == int(code)
    assert set(map(int, rows)) == set(errors.EXIT_CODES)
