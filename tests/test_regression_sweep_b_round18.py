"""Round-18 regression sweep (b): this round's own fuzzers re-run on the final tree, compared with live PyTorch.

Root causes:
- pickle of tensors that share memory (x with its view x[1:], x with x.detach(), two from_numpy of one array):
  PyTorch pickles each tensor's storage on its own, so the loaded tensors never share memory; ours loaded them
  over one array (NumPy's pickle memoized it; views since 5baf32f): an in-place change of one changed the other.
"""
import pickle

import numpy as np
import pytest

import minigrad as mg

torch = pytest.importorskip("torch", reason="no torch")


@pytest.mark.parametrize("pair", ["view", "detach", "from_numpy", "two_views"])
def test_pickled_tensors_do_not_share_memory(pair):
    def run(lib):
        x = lib.tensor([1.0, 2.0, 3.0])
        a = np.zeros(3)
        tensors = {"view": lambda: [x, x[1:]], "detach": lambda: [x, x.detach()],
                   "from_numpy": lambda: [lib.from_numpy(a), lib.from_numpy(a)],
                   "two_views": lambda: [x[:2], x[1:]]}[pair]()
        first, second = pickle.loads(pickle.dumps(tensors))
        first.add_(10)
        return second.tolist(), tuple(second.stride()), second.storage_offset()

    assert run(mg) == run(torch)
