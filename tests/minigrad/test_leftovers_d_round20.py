"""Round 20 leftovers, batch D: when leaves' hooks run in ``autograd.grad`` and when ``.grad`` is accumulated under
module backward hooks and custom Functions; storage offsets and strides of views (compared with live PyTorch)."""
from __future__ import annotations

import numpy as np
import pytest

import minigrad as mg
import nn as mnn
from minigrad.autograd import engine

torch = pytest.importorskip("torch", reason="no torch")


# --- 1. autograd.grad runs each wanted leaf's hooks as soon as its gradient is complete ---------------------------

def _grad_hook_log(api, case: str) -> list:
    log: list = []
    x = api.tensor([0.3, 0.7], dtype=api.float64, requires_grad=True)
    w = api.tensor([0.5, -0.2], dtype=api.float64, requires_grad=True)
    x.register_hook(lambda g: log.append(("x", np.round(g.numpy(), 6).tolist())))
    w.register_hook(lambda g: log.append(("w", np.round(g.numpy(), 6).tolist())) or g * 2)
    a = x.sin()
    if case == "chain":
        out = (a * w).exp().sum()
    elif case == "node_hook":
        a.register_hook(lambda g: log.append(("a",)))
        out = (a * w).exp().sum()
    elif case == "prehook":
        b = a * w
        b.grad_fn.register_prehook(lambda go: log.append(("pre",)))
        out = (b.tanh() + w).sum()
    else:   # two roots
        out = [a * w, (w * 3.0).exp()]
    got = api.autograd.grad(out, [x, w], grad_outputs=None if case != "roots" else
                            [api.ones(2, dtype=api.float64), api.ones(2, dtype=api.float64)])
    log.append(("result", [np.round(g.numpy(), 6).tolist() for g in got]))
    return log


@pytest.mark.parametrize("case", ["chain", "node_hook", "prehook", "roots"])
def test_grad_runs_leaf_hooks_once_complete(case):
    assert _grad_hook_log(mg, case) == _grad_hook_log(torch, case)


def _grads_seen(api, nn_module, kind: str) -> list:
    log: list = []
    l1, l2 = nn_module.Linear(2, 2), nn_module.Linear(2, 2)
    x = api.ones(1, 2, requires_grad=True)

    def seen(tag):
        log.append((tag, l2.weight.grad is not None, l1.weight.grad is not None, x.grad is not None))

    if kind == "module":
        l2.register_full_backward_hook(lambda m, gi, go: seen("l2"))
        l1.register_full_backward_hook(lambda m, gi, go: seen("l1"))
        out = l2(l1(x).sin()).sum()
    else:
        class Twice(api.autograd.Function):
            @staticmethod
            def forward(ctx, a):
                return a * 2

            @staticmethod
            def backward(ctx, g):
                seen("twice")
                return g * 2
        out = l2(Twice.apply(l1(x))).sum()
    out.backward()
    return log


@pytest.mark.parametrize("kind", ["module", "function"])
def test_backward_accumulates_leaves_before_module_hooks_and_custom_functions(kind, monkeypatch):
    monkeypatch.setattr(engine._NodeHooks, "registered", False)   # as in a fresh process
    assert _grads_seen(mg, mnn, kind) == _grads_seen(torch, torch.nn, kind)


# --- 2. zero-size views keep PyTorch's storage offset (slicing, narrow, split; through save/load) -----------------

def _layout(t) -> tuple:
    return tuple(t.shape), tuple(t.stride()), t.storage_offset(), t.is_contiguous()


EMPTY_VIEWS = {
    "x[5:5]": lambda x: x[5:5],
    "x[7:2]": lambda x: x[7:2],
    "x[12:]": lambda x: x[12:],
    "m[1:,3:3]": lambda x: x.reshape(3, 4)[1:, 3:3],
    "m[1:1,2:]": lambda x: x.reshape(3, 4)[1:1, 2:],
    "m[1:3][1:1]": lambda x: x.reshape(3, 4)[1:3][1:1],
    "m[..., 2:2]": lambda x: x.reshape(3, 4)[..., 2:2],
    "m[2, 1:1]": lambda x: x.reshape(3, 4)[2, 1:1],
    "x[::2][3:3]": lambda x: x[::2][3:3],
    "narrow": lambda x: x.reshape(3, 4).narrow(1, 3, 0),
    "expand": lambda x: x[5:5][None].expand(4, 0),
    "t": lambda x: x.reshape(3, 4)[:, 1:1].t(),
    "view": lambda x: x[5:5].view(0, 3),
    "unbind": lambda x: x.reshape(3, 4)[:, 2:2].unbind(0)[2],
    "split_with_sizes": lambda x: x.reshape(3, 4).split([2, 0, 2], 1)[1],
    "split": lambda x: x.reshape(3, 4).split([3, 0], 0)[1],
}


@pytest.mark.parametrize("name", list(EMPTY_VIEWS))
def test_zero_size_view_storage_offset(name):
    view = EMPTY_VIEWS[name]
    assert _layout(view(mg.arange(12.0))) == _layout(view(torch.arange(12.0)))


@pytest.mark.parametrize("name", ["x[5:5]", "m[1:,3:3]", "t", "x[12:]"])
@pytest.mark.parametrize("with_base", [True, False])
def test_zero_size_view_save_load_keeps_offset_and_strides(name, with_base, tmp_path):
    view = EMPTY_VIEWS[name]
    loaded = []
    for api, path in ((mg, tmp_path / "m.pt"), (torch, tmp_path / "t.pt")):
        x = api.arange(12.0)
        api.save([x, view(x)] if with_base else [view(x)], path)
        loaded.append([_layout(t) for t in api.load(path)])
    assert loaded[0] == loaded[1]


# --- 3. strides of size-1 dims: PyTorch's values, as_strided's and from_numpy's kept as given ---------------------

SIZE_ONE_VIEWS = {
    "as_strided (1,3) (0,1)": lambda api, x: x.as_strided((1, 3), (0, 1)),
    "as_strided (3,1) (1,0)": lambda api, x: x.as_strided((3, 1), (1, 0)),
    "as_strided (1,1) (0,0)": lambda api, x: x.as_strided((1, 1), (0, 0)),
    "as_strided (1,3) (7,1)": lambda api, x: x.as_strided((1, 3), (7, 1)),
    "0-d expand(1)": lambda api, x: x[3].expand(1),
    "0-d expand(1, 1)": lambda api, x: x[3].expand(1, 1),
    "row expand(1, 4)": lambda api, x: x[:4].expand(1, 4),
    "row expand(1, 1, 4)": lambda api, x: x[:4].expand(1, 1, 4),
    "x[:1] expand(1, 5)": lambda api, x: x[:1].expand(1, 5),
    "col expand(1, 4, 3)": lambda api, x: x[:4].reshape(4, 1).expand(1, 4, 3),
    "broadcast_to": lambda api, x: api.broadcast_to(x[:4].reshape(4, 1), (1, 4, 1)),
    "x[None]": lambda api, x: x[None],
    "unsqueeze": lambda api, x: x.reshape(3, 4).t().unsqueeze(1),
    "m[:, :1]": lambda api, x: x.reshape(3, 4)[:, :1],
    "from_numpy 0 stride": lambda api, x: api.from_numpy(
        np.lib.stride_tricks.as_strided(np.arange(3.0), (1, 3), (0, 8))),
}


@pytest.mark.parametrize("name", list(SIZE_ONE_VIEWS))
def test_size_one_dim_strides(name):
    view = SIZE_ONE_VIEWS[name]
    got, want = view(mg, mg.arange(12.0)), view(torch, torch.arange(12.0))
    assert _layout(got) == _layout(want)
    assert (got.contiguous().data_ptr() == got.data_ptr()) == (want.contiguous().data_ptr() == want.data_ptr())


def _transposed(api, *shape):
    """A (shape) tensor whose dims run in reverse order in memory (PyTorch's strides (1, shape[0], ...))."""
    return api.arange(float(np.prod(shape))).reshape(shape[::-1]).permute(*reversed(range(len(shape))))


STRIDED_VIEWS = {
    "squeeze(d) of a dim not 1": lambda api: _transposed(api, 1, 2).squeeze(1),
    "squeeze(d) keeps strides": lambda api: _transposed(api, 2, 1, 3).squeeze(0),
    "unsqueeze(0).squeeze(0)": lambda api: _transposed(api, 2, 3, 1).unsqueeze(0).squeeze(0),
    "squeeze()": lambda api: _transposed(api, 2, 1, 1).squeeze(),
    "reshape(1, *shape)": lambda api: _transposed(api, 2, 3, 1).reshape(1, 2, 3, 1),
    "unflatten": lambda api: _transposed(api, 2, 3, 1).unflatten(1, (3, 1)),
    "view same shape": lambda api: _transposed(api, 1, 2).view(1, 2),
    "flatten(1)": lambda api: _transposed(api, 2, 1, 1).flatten(1),
    "atleast_3d": lambda api: api.atleast_3d(_transposed(api, 2, 3)),
    "atleast_2d of a strided row": lambda api: api.atleast_2d(api.arange(4.0)[::2]),
}


@pytest.mark.parametrize("name", list(STRIDED_VIEWS))
def test_size_one_dim_strides_of_views_of_strided_tensors(name):
    view = STRIDED_VIEWS[name]
    assert _layout(view(mg)) == _layout(view(torch))
