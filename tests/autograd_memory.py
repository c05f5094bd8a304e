"""The memory oracles shared by tests/test_memory.py, tests/test_backend_liveness.py
and bench/gpu_memory.py."""
import weakref

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten


def kept_by_autograd(model, xs) -> int:
    """Bytes of the distinct storages autograd saves during one training forward
    (parameters and buffers excluded; a storage saved twice counts once)."""
    own = {t.untyped_storage().data_ptr() for t in [*model.parameters(), *model.buffers()]}
    kept = {}

    def pack(tensor):
        storage = tensor.untyped_storage()
        if storage.data_ptr() not in own:
            kept[storage.data_ptr()] = storage.nbytes()
        return tensor
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        model(*xs)
    return sum(kept.values())


class _LiveStorages(TorchDispatchMode):
    """Counts each op's output storage from its creation until the last Python
    tensor on it is gone (weakref finalizers), and keeps the peak of the sum."""

    def __init__(self):
        super().__init__()
        self.holders, self.sizes, self.live, self.peak = {}, {}, 0, 0

    def _gone(self, ptr: int) -> None:
        self.holders[ptr] -= 1
        if not self.holders[ptr]:
            del self.holders[ptr]
            self.live -= self.sizes.pop(ptr)

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        for tensor in tree_flatten(out)[0]:
            if isinstance(tensor, torch.Tensor):
                ptr = tensor.untyped_storage().data_ptr()
                if ptr not in self.sizes:
                    self.sizes[ptr], self.holders[ptr] = tensor.untyped_storage().nbytes(), 0
                    self.live += self.sizes[ptr]
                    self.peak = max(self.peak, self.live)
                self.holders[ptr] += 1
                weakref.finalize(tensor, self._gone, ptr)
        return out


def peak_inference_bytes(model, xs) -> int:
    """The most bytes of intermediate tensors alive at once during one forward in
    inference mode (inputs, parameters and buffers excluded): what a forward that
    drops each value after its last use needs, whoever wrote it."""
    with torch.inference_mode():
        counter = _LiveStorages()
        with counter:
            out = model(*xs)
        del out
    return counter.peak
