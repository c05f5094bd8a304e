import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
ARCH = ROOT / "architectures"
sys.path.insert(0, str(ROOT))


@pytest.fixture
def net_from():
    """Elaborate netdsl source text into a Network."""
    import netdsl

    def make(text: str, **kwargs):
        return netdsl.parse(text, filename="test.net", **kwargs)
    return make
