"""Re-run the static commands of docs/course/*.md and paste their output.

When netdsl's report changes, tests/test_course.py fails on every page that
quotes the old output; this rewrites each "$ netdsl ..." block (the
convention of docs/course/index.md) with what the command prints now. Review
the diff: prose and tables that quote the numbers are not rewritten.

    python examples/course/refresh_pages.py            # from the repository root
"""
import contextlib
import io
import os
import re
import shlex
from pathlib import Path

from netdsl.cli import main

ROOT = Path(__file__).resolve().parent.parent.parent
BLOCK = re.compile(r"^(```[a-z]*)\n\$ (netdsl [^\n]*)\n(?:(?!```)[^\n]*\n)*```", re.M)


def output_of(command: str) -> str:
    """stdout then stderr of ``command``, run in-process (as the test does) from the root."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        main(shlex.split(command)[1:])
    return (out.getvalue() + err.getvalue()).rstrip("\n")


def refresh(page: Path) -> bool:
    text = page.read_text(encoding="utf-8")
    new = BLOCK.sub(lambda m: f"{m.group(1)}\n$ {m.group(2)}\n{output_of(m.group(2))}\n```", text)
    if new != text:
        page.write_text(new, encoding="utf-8")
    return new != text


if __name__ == "__main__":
    os.chdir(ROOT)   # the pages' paths are relative to the repository root
    for page in sorted((ROOT / "docs" / "course").glob("*.md")):
        if refresh(page):
            print(f"updated {page.relative_to(ROOT)}")
