"""Round 22's late rewrites under the transforms, against PyTorch 2.13: the hard activations as one op
(``HardPiecewise``) under jvp/vmap/grad-of-vmap/compile and in place, cdist's matrix-product form's gradients, and
embedding's backward through ``scatter_add``'s flat path (the sweep /tmp/fuzz22_late_ops*.py found no difference
beyond the README's documented ones)."""

from __future__ import annotations

import numpy as np
import pytest

import minigrad as mg
import nn

torch = pytest.importorskip("torch", reason="no torch")

KINKS = [-6.0, -3.0, -1.0, -0.0, 0.0, 1.0, 2.5, 3.0, 6.0, np.inf, -np.inf, 0.5, -2.9, 5.9]
HARD = ["relu6", "hardtanh", "hardsigmoid", "hardswish"]


def _x(dtype: str) -> np.ndarray:
    return np.asarray(KINKS, dtype=dtype).reshape(2, 7)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("name", HARD)
def test_hard_activations_forward_mode_and_vmap_match_torch(name: str, dtype: str) -> None:
    x, v = _x(dtype), np.linspace(-1, 1, 14).reshape(2, 7).astype(dtype)
    ours, theirs = getattr(nn.functional, name), getattr(torch.nn.functional, name)
    tol = 1e-7 if name == "hardsigmoid" else 1e-6 if dtype == "float32" else 1e-12   # PyTorch's 1/6 is a float32
    _, tangent = mg.func.jvp(ours, (mg.tensor(x),), (mg.tensor(v),))
    _, expected = torch.func.jvp(theirs, (torch.tensor(x),), (torch.tensor(v),))
    np.testing.assert_allclose(tangent.numpy(), expected.numpy(), rtol=tol, atol=tol)
    grads = mg.func.vmap(mg.func.grad(lambda a: ours(a).sum()))(mg.tensor(x))
    expected = torch.func.vmap(torch.func.grad(lambda a: theirs(a).sum()))(torch.tensor(x))
    np.testing.assert_allclose(grads.numpy(), expected.numpy(), rtol=tol, atol=tol)
    compiled = mg.compile(ours)
    for _ in range(3):
        np.testing.assert_array_equal(compiled(mg.tensor(x)).numpy(), ours(mg.tensor(x)).numpy())


@pytest.mark.parametrize("name", HARD)
def test_hard_activations_in_place_match_torch(name: str) -> None:
    x = _x("float64")
    results = []
    for lib, functional in ((torch, torch.nn.functional), (mg, nn.functional)):
        leaf = lib.tensor(x, requires_grad=True)
        with pytest.raises(RuntimeError, match="leaf"):
            getattr(functional, name)(leaf, inplace=True)
        h = leaf * 1.0
        version = h._version
        out = getattr(functional, name)(h, inplace=True)
        assert out is h and h._version == version + 1
        out.backward(lib.ones_like(out))
        results.append((h.detach().numpy(), leaf.grad.numpy()))
    for ours, theirs in zip(results[1], results[0]):
        np.testing.assert_allclose(ours, theirs, rtol=1e-7, atol=1e-12)


@pytest.mark.parametrize("mode", ["use_mm_for_euclid_dist", "use_mm_for_euclid_dist_if_necessary"])
def test_cdist_matrix_product_form_gradients_match_torch(mode: str) -> None:
    rng = np.random.RandomState(0)
    a, b, g = rng.randn(2, 30, 3), rng.randn(2, 27, 3), rng.randn(2, 30, 27)
    b[:, 0] = a[:, 0]   # a rounding-sized distance (4e-8) in both: gradients there agree to rounding
    grads = []
    for lib in (torch, mg):
        x1, x2 = lib.tensor(a, requires_grad=True), lib.tensor(b, requires_grad=True)
        grads.append(lib.autograd.grad(lib.cdist(x1, x2, compute_mode=mode), (x1, x2), lib.tensor(g)))
    for ours, theirs in zip(grads[1], grads[0]):
        np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-7, atol=1e-7)


@pytest.mark.parametrize("padding_idx", [None, 0, -1])
def test_embedding_backward_on_the_flat_scatter_path_matches_torch(padding_idx: int | None) -> None:
    rng = np.random.RandomState(1)
    ids, weight, g = rng.randint(0, 40, size=(3, 700)), rng.randn(40, 8), rng.randn(3, 700, 8)
    g[0, 0, 0], g[1, 5, 2] = np.nan, np.inf
    grads = []
    for lib, functional in ((torch, torch.nn.functional), (mg, nn.functional)):
        w = lib.tensor(weight, requires_grad=True)
        functional.embedding(lib.tensor(ids), w, padding_idx=padding_idx).backward(lib.tensor(g))
        grads.append(w.grad.numpy())
    np.testing.assert_allclose(grads[1], grads[0], rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("write", ["relu_", "exp_", "exp_twice", "mul_"])
def test_checkpoint_refuses_an_in_place_op_whose_saved_result_torch_packs_after_the_write(write: str) -> None:
    """relu_/exp_ save their result: torch packs it after the write, so its recomputation runs through the write
    and sin's saved h is read changed (a gradient of other values than the forward's). Ours packed before the
    write and computed the forward's gradient silently: now refused, as 1ed96fa's other refusals; mul_ by a
    number saves nothing, and both compute as saved."""
    from torch.utils import checkpoint as torch_checkpoint  # noqa: PLC0415

    from minigrad.utils import checkpoint as mg_checkpoint  # noqa: PLC0415

    def program(a: object) -> object:
        h = a * 1.0
        v = h if write == "exp_twice" else h.sin()
        if write == "exp_twice":
            h.exp_()
            h.exp_()
        else:
            getattr(h, write)(*([1.5] if write == "mul_" else []))
        return v.sum() + h.sum()

    x = np.array([-1.5, -0.5, 0.3, 1.2])
    t = torch.tensor(x, requires_grad=True)
    theirs = torch.autograd.grad(torch_checkpoint.checkpoint(program, t, use_reentrant=False), t)[0].numpy()
    m = mg.tensor(x, requires_grad=True)
    if write == "mul_":
        np.testing.assert_allclose(mg.autograd.grad(mg_checkpoint.checkpoint(program, m, use_reentrant=False), m)[0]
                                   .numpy(), theirs, rtol=1e-12)
        return
    with pytest.raises(RuntimeError, match="checkpoint: the function changed in place"):
        mg.autograd.grad(mg_checkpoint.checkpoint(program, m, use_reentrant=False), m)
