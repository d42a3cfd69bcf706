"""Round 22: number arguments given as tensors (0-d, one-element, bool) against PyTorch 2.13, and hardsigmoid's
create_graph gradient."""
import pytest

import minigrad as mg

torch = pytest.importorskip("torch", reason="no torch")


def _outcome(call, lib):
    """('ok', values) or ('raises', the exception)."""
    try:
        out = call(lib)
    except Exception as error:  # noqa: BLE001
        return "raises", error
    return "ok", [t.tolist() for t in out] if isinstance(out, (list, tuple)) else out.tolist()


def _spell(lib, kind, base):
    return {"i0": lambda: lib.tensor(base), "b0": lambda: lib.tensor(bool(base)), "i1d": lambda: lib.tensor([base]),
            "f0": lambda: lib.tensor(float(base) + 0.7), "pyb": lambda: bool(base)}[kind]()


_CALLS = {   # name: (base value, the call given a library and the argument)
    "unsqueeze": (1, lambda L, v: L.arange(4.0).unsqueeze(v)),
    "flatten": (1, lambda L, v: L.ones(2, 3, 4).flatten(v)),
    "movedim": (1, lambda L, v: L.arange(6.0).reshape(2, 3).movedim(v, 0)),
    "renorm_dim": (1, lambda L, v: L.arange(4.0).reshape(2, 2).renorm(2, v, 1.0)),
    "diag_embed": (1, lambda L, v: L.diag_embed(L.arange(3.0), v)),
    "diag_embed_dim": (1, lambda L, v: L.diag_embed(L.ones(2, 2), 0, v, 2)),
    "chunk": (2, lambda L, v: L.arange(4.0).chunk(v)),
    "diff": (1, lambda L, v: L.diff(L.tensor([1.0, 4.0, 2.0]), v)),
    "matrix_power": (2, lambda L, v: L.linalg.matrix_power(L.ones(2, 2), v)),
    "round": (1, lambda L, v: L.round(L.tensor([1.26, 2.5]), decimals=v)),
    "diag": (1, lambda L, v: L.diag(L.ones(3, 3), v)),
    "diagonal": (1, lambda L, v: L.ones(3, 3).diagonal(v)),
    "cumsum": (1, lambda L, v: L.ones(2, 3).cumsum(v)),
    "softmax": (1, lambda L, v: L.ones(2, 3).softmax(v)),
    "narrow_start": (1, lambda L, v: L.arange(4.0).narrow(0, v, 1)),
    "narrow_length": (1, lambda L, v: L.arange(4.0).narrow(0, 0, v)),
    "tril": (1, lambda L, v: L.ones(3, 3).tril(v)),
    "topk": (1, lambda L, v: L.arange(4.0).topk(v)[0]),
    "eye": (2, lambda L, v: L.eye(v)),
    "split": (2, lambda L, v: L.arange(4.0).split(v)),
}


@pytest.mark.parametrize("kind", ["i0", "b0", "i1d", "pyb"])
@pytest.mark.parametrize("name", sorted(_CALLS))
def test_int_argument_spellings_as_torch(name, kind):
    """A 0-d int tensor works as PyTorch's int; a bool tensor, a Python bool and (mostly) a one-element 1-D tensor
    raise where PyTorch's parser refuses them (they gave dim/offset/count 1 before); tril/topk/eye/narrow's length
    take the one-element tensor as PyTorch does."""
    base, call = _CALLS[name]
    want = _outcome(lambda L: call(L, _spell(L, kind, base)), torch)
    got = _outcome(lambda L: call(L, _spell(L, kind, base)), mg)
    assert got[0] == want[0], (got, want)
    if want[0] == "ok":
        assert got[1] == pytest.approx(want[1]) if not isinstance(want[1][0], list) else got[1] == want[1]
    else:
        assert isinstance(got[1], (TypeError, RuntimeError)), got


@pytest.mark.parametrize("kind", ["f0", "b0", "i1d"])
def test_split_takes_int_of_a_one_element_tensor(kind):
    """PyTorch's Tensor.split reads ``int(t)`` of a tensor split size: tensor(2.7) is 2, tensor(True) is 1."""
    for split in (lambda L, v: L.arange(5.0).split(v), lambda L, v: L.split(L.arange(5.0), v)):
        def call(L, split=split):
            return split(L, _spell(L, kind, 2))
        assert _outcome(call, mg) == _outcome(call, torch)


_SIZES = {
    "reshape": lambda L, v: L.arange(4.0).reshape(v, -1),
    "view": lambda L, v: L.arange(4.0).view(v, -1),
    "expand": lambda L, v: L.ones(1).expand(v),
    "repeat": lambda L, v: L.arange(2.0).repeat(v),
    "new_zeros": lambda L, v: L.arange(2.0).new_zeros(v),
    "new_ones": lambda L, v: L.arange(2.0).new_ones((v, 1)),
    "count_nonzero": lambda L, v: L.count_nonzero(L.ones(2, 3), v),
    "zeros": lambda L, v: L.zeros(2, v),
    "full": lambda L, v: L.full((v,), 1.0),
    "flip": lambda L, v: L.ones(2, 3).flip(v),   # a dim list takes the bool tensor as 1, as PyTorch's
}


@pytest.mark.parametrize("kind", ["i0", "b0"])
@pytest.mark.parametrize("name", sorted(_SIZES))
def test_bool_tensor_in_a_size_list_as_torch(name, kind):
    """PyTorch's size lists and count_nonzero's dim refuse tensor(True) (it was the size/dim 1 here)."""
    def call(L):
        return _SIZES[name](L, _spell(L, kind, 1))
    want, got = _outcome(call, torch), _outcome(call, mg)
    assert got[0] == want[0] and (want[0] != "ok" or got[1] == want[1]), (got, want)
    if want[0] == "raises":
        assert isinstance(got[1], type(want[1])), (got, want)


def test_hardsigmoid_create_graph_gradient_requires_grad():
    """Its create_graph gradient reads x (as PyTorch's hardsigmoid_backward(g, x) does), so it requires grad;
    a gradient penalty through it is zeros (PyTorch 2.13 builds the same graph but raises "derivative for
    aten::hardsigmoid_backward is not implemented" there)."""
    values = [-4.0, -1.0, 0.5, 2.0, 5.0]
    xt = torch.tensor(values, requires_grad=True)
    (gt,) = torch.autograd.grad(torch.nn.functional.hardsigmoid(xt).sum(), xt, create_graph=True)
    x = mg.tensor(values, requires_grad=True)
    (g,) = mg.autograd.grad(mg.nn.functional.hardsigmoid(x).sum(), x, create_graph=True)
    assert g.requires_grad == gt.requires_grad is True
    assert g.tolist() == pytest.approx(gt.tolist())
    (penalty,) = mg.autograd.grad((g ** 2).sum(), x)
    assert penalty.tolist() == [0.0] * 5
