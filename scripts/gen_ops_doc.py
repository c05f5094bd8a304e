#!/usr/bin/env python3
"""Regenerate docs/ops.md from the op registry (run after adding or changing an op)."""
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from netdsl.ops.reference import render  # noqa: E402

TARGET = ROOT / "docs" / "ops.md"


def main() -> None:
    TARGET.write_text(render(), encoding="utf-8")
    print(f"wrote {TARGET.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
