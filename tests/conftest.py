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


@pytest.fixture
def one_torch_thread():
    """Tiny models on a shared machine: thread contention costs more than it
    gives.  One torch thread for the test, restored after (as --threads sets it)."""
    import torch
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
