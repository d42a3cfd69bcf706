"""Round 18: views made under no_grad / inference_mode, and hooks under autograd.grad(is_grads_batched=True),
compared with live PyTorch."""
import numpy as np
import pytest

import minigrad as mg

torch = pytest.importorskip("torch", reason="no torch")

VIEWS = {
    "getitem": lambda t: t[0], "t": lambda t: t.t(), "view": lambda t: t.view(4), "diagonal": lambda t: t.diagonal(),
    "none": lambda t: t[..., None], "unbind": lambda t: t.unbind(0)[1], "split": lambda t: t.split(1)[0],
    "tensor_split": lambda t: t.tensor_split(2)[0], "unfold": lambda t: t.unfold(0, 1, 1),
}
WRITES = {"mul_": lambda a: a.mul_(2), "setitem": lambda a: a.__setitem__(..., 5.0),
          "out": lambda a: (torch if isinstance(a, torch.Tensor) else mg).add(a, 1, out=a)}
SECOND = {"getitem": lambda t: t[..., :1], "split": lambda t: t.split(1)[0], "unbind": lambda t: t.unbind(0)[0],
          "view": lambda t: t.view(-1)}


def _write_through_grad_mode_view(lib, view, second, write, base, mode):
    """Make ``view`` of x (or of x * 2) under ``mode``, take ``second`` of it with grad mode on, then ``write``."""
    x = lib.tensor(np.arange(1.0, 5.0).reshape(2, 2), requires_grad=True)
    src = x if base == "leaf" else x * 2
    with getattr(lib, mode)():
        a = VIEWS[view](src)
    try:
        b = SECOND[second](a)
    except RuntimeError:   # view(-1) of a transpose: PyTorch's error too
        return "no view", x.detach().numpy().tolist()
    try:
        WRITES[write](b)
    except RuntimeError:
        return "refused", x.detach().numpy().tolist()
    return "ok", x.detach().numpy().tolist()


@pytest.mark.parametrize("view", VIEWS)
@pytest.mark.parametrize("second", SECOND)
@pytest.mark.parametrize("write", WRITES)
@pytest.mark.parametrize("base", ["leaf", "nonleaf"])
def test_view_of_a_no_grad_view_refuses_in_place_with_grad_on(view, second, write, base):
    """A view made with grad mode on of a view made under no_grad: an in-place op on it is refused, as PyTorch's
    (it wrote into x behind autograd's back)."""
    mode = "inference_mode" if base == "leaf" and view == "t" else "no_grad"
    ours = _write_through_grad_mode_view(mg, view, second, write, base, mode)
    assert ours == _write_through_grad_mode_view(torch, view, second, write, base, mode)
    assert ours[0] in ("refused", "no view")


@pytest.mark.parametrize("view", ["getitem", "t", "diagonal", "split"])
def test_out_into_a_no_grad_view_is_refused_with_grad_on(view):
    """out= into a view made under no_grad of a tensor that requires grad: refused with grad mode on, as
    PyTorch's (its view requires grad); allowed under no_grad."""
    for lib in (torch, mg):
        x = lib.tensor(np.arange(1.0, 5.0).reshape(2, 2), requires_grad=True)
        with lib.no_grad():
            a = VIEWS[view](x)
        with pytest.raises(RuntimeError, match="out="):
            lib.add(a, 1, out=a)
        assert x.detach().numpy().tolist() == [[1.0, 2.0], [3.0, 4.0]]
        with lib.no_grad():
            lib.add(a, 1, out=a)
    assert x.detach().numpy().tolist() == torch_after(view)


def torch_after(view):
    x = torch.tensor(np.arange(1.0, 5.0).reshape(2, 2), requires_grad=True)
    with torch.no_grad():
        a = VIEWS[view](x)
        torch.add(a, 1, out=a)
    return x.detach().numpy().tolist()


@pytest.mark.parametrize("create_graph", [False, True])
def test_batched_grad_through_a_retain_grad_tensor_leaves_its_grad(create_graph):
    """is_grads_batched=True through a retain_grad() tensor answers PyTorch's gradient, and does not sum the rows
    into its .grad (PyTorch's .grad then holds a batched tensor any use refuses): ours stays None."""
    results = {}
    for lib in (mg, torch):
        x = lib.tensor(np.arange(3.0), requires_grad=True)
        y = x * 2
        y.retain_grad()
        y.register_hook(lambda g: g * 10)
        (got,) = lib.autograd.grad((y * y).sin(), x, lib.eye(3, dtype=lib.float64), is_grads_batched=True,
                                   create_graph=create_graph)
        results[lib] = got.detach().numpy()
        if lib is mg:
            assert y.grad is None
    np.testing.assert_allclose(results[mg], results[torch], rtol=1e-12)
