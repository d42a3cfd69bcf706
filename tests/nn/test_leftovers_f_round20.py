"""Round 20 leftovers, batch F: class weights of another dtype than the input (PyTorch's class-index kernels refuse
them; the soft-label cross-entropy promotes). Each compared with live torch."""

from __future__ import annotations

import inspect
from typing import Any

import numpy as np
import pytest

import minigrad as mg
import nn

torch = pytest.importorskip("torch", reason="no torch")


def _outcome(call: Any) -> tuple:
    """("ok", dtype name, values as complex128) or ("raises", the exception)."""
    try:
        out = call()
    except Exception as error:  # noqa: BLE001 - the class is what is compared
        return ("raises", error)
    return ("ok", str(out.dtype).replace("torch.", ""), np.asarray(out.detach().numpy(), dtype=np.complex128))


WEIGHTED_LOSSES = {
    "nll_loss": lambda lib, F, x, t, p, w: F.nll_loss(x, t, weight=w),
    "nll_loss_1d": lambda lib, F, x, t, p, w: F.nll_loss(x[0], t[0], weight=w, reduction="none"),
    "cross_entropy": lambda lib, F, x, t, p, w: F.cross_entropy(x, t, weight=w),
    "cross_entropy_smoothing": lambda lib, F, x, t, p, w: F.cross_entropy(x, t, weight=w, label_smoothing=0.1),
    "cross_entropy_probabilities": lambda lib, F, x, t, p, w: F.cross_entropy(x, p, weight=w),
    "multi_margin_loss": lambda lib, F, x, t, p, w: F.multi_margin_loss(x, t, weight=w),
    "multilabel_soft_margin_loss": lambda lib, F, x, t, p, w: F.multilabel_soft_margin_loss(x, p, weight=w),
    "CrossEntropyLoss": lambda lib, F, x, t, p, w: lib.nn.CrossEntropyLoss(weight=w)(x, t),
    "NLLLoss": lambda lib, F, x, t, p, w: lib.nn.NLLLoss(weight=w)(x, t),
    "MultiMarginLoss": lambda lib, F, x, t, p, w: lib.nn.MultiMarginLoss(weight=w)(x, t),
}


@pytest.mark.parametrize("loss", list(WEIGHTED_LOSSES))
@pytest.mark.parametrize(("input_dtype", "weight_dtype"), [
    ("float32", "float64"), ("float64", "float32"), ("float32", "int64"), ("float64", "bool"),
    ("float32", "complex64"), ("float64", "float64")])
def test_class_weights_of_another_dtype_as_torch(loss: str, input_dtype: str, weight_dtype: str) -> None:
    """An int, bool or complex weight with a float input: the class-index losses raise RuntimeError as PyTorch's
    (they cast and computed); a float weight of another float dtype is cast (a documented choice: PyTorch
    refuses it, but NumPy's promotion makes PyTorch's own class-weight idiom float64), giving PyTorch's values for
    the weight cast to the input's dtype; the soft-label cross-entropy and multilabel_soft_margin_loss promote, a
    complex weight to a complex loss (it was dropped to real)."""
    rng = np.random.default_rng(0)
    x, t = rng.standard_normal((4, 3)).astype(input_dtype), np.array([0, 1, 2, 1])
    p, w = rng.dirichlet(np.ones(3), 4).astype(input_dtype), np.array([1, 2, 3]).astype(weight_dtype)
    fn = WEIGHTED_LOSSES[loss]
    want = _outcome(lambda: fn(torch, torch.nn.functional, *map(torch.tensor, (x, t, p, w))))
    got = _outcome(lambda: fn(mg, nn.functional, *map(mg.tensor, (x, t, p, w))))
    if want[0] == "raises" and input_dtype.startswith("float") and weight_dtype.startswith("float"):
        want = _outcome(lambda: fn(torch, torch.nn.functional, *map(torch.tensor, (x, t, p, w.astype(input_dtype)))))
    if want[0] == "raises":
        assert got[0] == "raises", f"{loss}: torch raises {want[1]!r}, ours gave {got[1:2]}"
        assert isinstance(got[1], type(want[1])), f"{loss}: torch raises {want[1]!r}, ours {got[1]!r}"
        assert "weight" in str(got[1]) and input_dtype in str(got[1]) and weight_dtype in str(got[1])
        return
    assert got[0] == "ok", f"{loss}: torch gives {want[1]}, ours raises {got[1]!r}"
    assert got[1] == want[1]
    np.testing.assert_allclose(got[2], want[2], rtol=1e-5, atol=1e-6)


@pytest.mark.gpu
@pytest.mark.parametrize("weight_dtype", ["float32", "float64", "int64"])
def test_float16_multi_margin_loss_casts_a_float_weight_and_refuses_an_integer_one(weight_dtype: str) -> None:
    """multi_margin_loss computes a float16 input on a GPU in float32 (PyTorch's CPU kernel refuses float16 since
    round 21, as PyTorch's): a float weight of another dtype is cast as for the other class-index losses, and an
    integer one is refused naming float16."""
    x, t = mg.tensor(np.ones((2, 3), np.float16), device="cuda"), mg.tensor([0, 2], device="cuda")
    same = nn.functional.multi_margin_loss(x, t, weight=mg.tensor(np.ones(3, np.float16), device="cuda"))
    assert same.dtype == mg.float16
    weight = mg.tensor(np.ones(3, weight_dtype), device="cuda")
    if weight_dtype == "int64":
        with pytest.raises(RuntimeError, match="float16"):
            nn.functional.multi_margin_loss(x, t, weight=weight)
    else:
        cast = nn.functional.multi_margin_loss(x, t, weight=weight)
        assert cast.dtype == mg.float16 and cast.item() == same.item()


def _second_derivatives(lib: Any, fn: Any, xs: list, device: str = "cpu") -> list:
    """fn's value, first derivatives (of Σ y·c, kept as a graph) and second derivatives (of Σ_i Σ gᵢ·(i + 1.3))
    at ``xs``, as NumPy."""
    make, grad = (torch.tensor, torch.autograd.grad) if lib is torch else (mg.tensor, mg.autograd.grad)
    ts = [make(x, requires_grad=True) if lib is torch else make(x, device=device, requires_grad=True) for x in xs]
    y = fn(lib, *ts)
    firsts = grad((y * make(np.linspace(0.5, 1.5, y.numel()).reshape(y.shape)).to(y.device)).sum(), ts,
                  create_graph=True)
    seconds = grad(sum((g * (i + 1.3)).sum() for i, g in enumerate(firsts)), ts)
    return [t.detach().cpu().numpy() for t in (y, *firsts, *seconds)]


def _functional(lib: Any) -> Any:
    return torch.nn.functional if lib is torch else nn.functional


ZERO = np.array([[0.0, 0.0, 0.0], [1.0, -2.0, 0.5]])   # row 0: a zero vector
TINY = np.array([[1e-13, 0.0, -3e-14], [1.0, -2.0, 0.5]])   # row 0: below normalize's eps, not zero
OTHER = np.array([[0.3, -1.0, 2.0], [0.0, 0.0, 0.0]])
AT_ZERO = {
    "norm": (lambda lib, x: x.norm(2, 1), [ZERO]),
    "vector_norm": (lambda lib, x: lib.linalg.vector_norm(x, 2, dim=-1), [ZERO]),
    "normalize": (lambda lib, x: _functional(lib).normalize(x, dim=1), [ZERO]),
    "normalize_tiny": (lambda lib, x: _functional(lib).normalize(x, dim=1), [TINY]),
    "cosine_similarity": (lambda lib, a, b: _functional(lib).cosine_similarity(a, b, dim=1), [ZERO, OTHER]),
    "cosine_similarity_tiny": (lambda lib, a, b: _functional(lib).cosine_similarity(a, b, dim=1), [TINY, OTHER]),
    "pairwise_distance_eps0": (lambda lib, a, b: _functional(lib).pairwise_distance(a, b, eps=0.0), [ZERO, ZERO]),
    "pairwise_distance": (lambda lib, a, b: _functional(lib).pairwise_distance(a, b), [ZERO, ZERO]),
}


@pytest.mark.parametrize("case", list(AT_ZERO))
def test_second_derivatives_at_a_zero_vector_as_torch(case: str) -> None:
    """The 2-norm's second derivative at a zero vector is NaN in PyTorch (its backward x / ‖x‖, masked, differentiated
    again: 0/0), and so in normalize, cosine_similarity and pairwise_distance(eps=0) through it; ours gave 0 (and
    ~1e16 for cosine_similarity). An eps-sized, non-zero vector stays finite in both."""
    fn, xs = AT_ZERO[case]
    want, got = _second_derivatives(torch, fn, xs), _second_derivatives(mg, fn, xs)
    for i, (a, b) in enumerate(zip(want, got)):
        np.testing.assert_array_equal(np.isnan(b), np.isnan(a), err_msg=f"{case}: result {i}")
        np.testing.assert_allclose(b, a, rtol=1e-7, atol=1e-6, err_msg=f"{case}: result {i}")


@pytest.mark.gpu
def test_second_derivative_at_a_zero_norm_on_gpu_equals_cpu() -> None:
    fn, xs = AT_ZERO["cosine_similarity"]
    cpu, gpu = _second_derivatives(mg, fn, xs), _second_derivatives(mg, fn, xs, "cuda")
    for a, b in zip(cpu, gpu):
        np.testing.assert_allclose(b, a, rtol=1e-10, atol=1e-12)


# --- small missing functions from PyTorch's docstring examples -------------------------------------------------------

class _NotATensor:
    pass


class _TensorLike:
    @classmethod
    def __torch_function__(cls, func: Any, types: Any, args: Any = (), kwargs: Any = None) -> int:
        return -1


def test_is_tensor_like_as_torch() -> None:
    """torch.overrides.is_tensor_like (also torch.autograd's), with its docstring's cases: a Tensor, a subclass and
    a Parameter are tensor-like, numbers, None, arrays and plain objects are not, a __torch_function__ makes one."""
    assert mg.autograd.is_tensor_like is mg.overrides.is_tensor_like
    assert [*inspect.signature(mg.overrides.is_tensor_like).parameters] == [
        *inspect.signature(torch.overrides.is_tensor_like).parameters]

    class SubTensor(mg.Tensor):
        pass

    class TorchSubTensor(torch.Tensor):
        pass

    ours = [mg.ones(2), SubTensor(mg.ones(1).data), nn.Parameter(mg.ones(1)), 6, None, np.ones(2), _NotATensor(),
            _TensorLike()]
    theirs = [torch.ones(2), TorchSubTensor([0]), torch.nn.Parameter(torch.ones(1)), 6, None, np.ones(2),
              _NotATensor(), _TensorLike()]
    assert [mg.autograd.is_tensor_like(x) for x in ours] == [torch.autograd.is_tensor_like(x) for x in theirs]


def _mutate_intermediate(lib: Any, a: Any) -> Any:
    b = a + 1
    b.view(-1).add_(1)
    return b


def _mutate_input(lib: Any, a: Any) -> Any:
    a.add_(1)
    return a * 2


def _mutate_part_of_input(lib: Any, a: Any) -> Any:
    a[1:].mul_(3)
    return a


def _mutate_then_view(lib: Any, a: Any) -> Any:
    a.add_(1)
    return a[1:]


FUNCTIONALIZED = {
    "intermediate": _mutate_intermediate, "input": _mutate_input, "part_of_input": _mutate_part_of_input,
    "view_of_mutated": _mutate_then_view, "identity": lambda lib, a: a, "view": lambda lib, a: a.view(2, 2),
    "slice": lambda lib, a: a[1:], "pytree": lambda lib, a: (a, [a[:2], a + 1], 3),
}


@pytest.mark.parametrize("remove", ["mutations", "mutations_and_views"])
@pytest.mark.parametrize("case", list(FUNCTIONALIZED))
def test_functionalize_as_torch(case: str, remove: str) -> None:
    """mg.func.functionalize: the function's values and input mutations (PyTorch's fix-up copies them back), with
    PyTorch's aliasing: an output never shares memory with an input the call mutated, nor (remove=
    'mutations_and_views') with any input but the input itself returned; a later write into it shows that."""
    results = []
    for lib in (torch, mg):
        fn = FUNCTIONALIZED[case]
        x = lib.arange(4.0)
        out = lib.func.functionalize(lambda a, fn=fn, lib=lib: fn(lib, a), remove=remove)(x)
        leaves = [leaf for leaf in (out if isinstance(out, tuple) else (out,))]
        leaves = [*leaves[:1], *leaves[1], leaves[2]] if case == "pytree" else leaves
        values = [leaf if isinstance(leaf, int) else leaf.tolist() for leaf in leaves]
        identity = [leaf is x for leaf in leaves]
        for leaf in leaves:
            if not isinstance(leaf, int):
                leaf.add_(100)   # written into x only where the output aliases it
        results.append((values, identity, x.tolist()))
    assert results[1] == results[0]


def test_functionalize_signature_errors_and_gradients() -> None:
    assert [*inspect.signature(mg.func.functionalize).parameters] == [
        *inspect.signature(torch.func.functionalize).parameters]
    for lib in (torch, mg):
        with pytest.raises(RuntimeError, match="remove"):
            lib.func.functionalize(lambda a: a, remove="views")
    x = np.array([1.0, -2.0, 0.5])
    grads = [lib.func.grad(lib.func.functionalize(lambda a: (a.clone().mul_(a)).sum()))(lib.tensor(x)).tolist()
             for lib in (torch, mg)]
    assert grads[1] == grads[0]


def test_from_dlpack_of_a_capsule_as_torch() -> None:
    """torch.from_dlpack's docstring example: the old-style capsule (torch.utils.dlpack.to_dlpack) gives a tensor
    sharing the memory, consumed once (a second use raises RuntimeError); minigrad refused any capsule."""
    for lib in (torch, mg):
        t = lib.arange(4)
        capsule = lib.utils.dlpack.to_dlpack(t)
        t3 = lib.from_dlpack(capsule)
        t3[0] = -9
        assert t.tolist() == t3.tolist() == [-9, 1, 2, 3]
        with pytest.raises(RuntimeError, match="consumed only once"):
            lib.from_dlpack(capsule)
    source = torch.arange(6.0).reshape(2, 3).t()
    shared = mg.from_dlpack(torch.utils.dlpack.to_dlpack(source))
    source[0, 1] = 42.0
    assert shared.tolist() == source.tolist() and shared.stride() == source.stride()
    array = np.arange(3.0)
    versioned = mg.from_dlpack(array.__dlpack__(max_version=(1, 0)))   # a "dltensor_versioned" capsule
    versioned[1] = 7.0
    assert array.tolist() == [0.0, 7.0, 2.0]
