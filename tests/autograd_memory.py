"""The memory oracle shared by tests/test_memory.py and bench/gpu_memory.py."""
import torch


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
