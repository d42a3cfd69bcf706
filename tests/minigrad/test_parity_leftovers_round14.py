"""Round 14 PyTorch-parity leftovers a fuzzer found against torch 2.13: lerp's dtype checks and complex weights,
index_add's complex alpha, logical_*_ with a Python scalar, put_'s error messages, setitem on an expanded view."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import minigrad as mg

START = np.array([1 + 2j, 3 - 1j, -0.5 + 0.25j], dtype=np.complex64)
END = np.array([2 - 1j, 0.5 + 4j, 1.5 - 2j], dtype=np.complex64)
WEIGHT = np.array([0.3 + 0.2j, 0.9 - 1j, -0.2 + 0.7j], dtype=np.complex64)


def _raises_like(torch_call: Any, ours_call: Any) -> Exception:
    """Both calls raise; ours is an instance of torch's exception class. Returns ours."""
    with pytest.raises(Exception) as theirs:
        torch_call()
    with pytest.raises(type(theirs.value)) as got:
        ours_call()
    return got.value


# --- 1. lerp --------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("call", ["function", "method", "inplace"])
def test_lerp_refuses_an_end_of_another_dtype_as_torch(torch: Any, call: str) -> None:
    def run(lib: Any) -> Any:
        start, end = lib.tensor([1.0, 2.0]), lib.tensor([3.0, 5.0], dtype=lib.float64)
        return {"function": lambda: lib.lerp(start, end, 0.5), "method": lambda: start.lerp(end, 0.5),
                "inplace": lambda: start.lerp_(end, 0.5)}[call]()

    error = _raises_like(lambda: run(torch), lambda: run(mg))
    assert "lerp" in str(error) and "end" in str(error) and "float64" in str(error)


def test_lerp_refuses_a_weight_tensor_of_another_dtype_but_not_a_0d_one(torch: Any) -> None:
    _raises_like(lambda: torch.lerp(torch.ones(2), torch.ones(2), torch.ones(2, dtype=torch.float64)),
                 lambda: mg.lerp(mg.ones(2), mg.ones(2), mg.ones(2, dtype=mg.float64)))
    got = mg.lerp(mg.tensor([1.0, 2.0]), mg.tensor([3.0, 4.0]), mg.tensor(0.25, dtype=mg.float64))
    np.testing.assert_allclose(got.numpy(), [1.5, 2.5])   # 0-d: NumPy 2's promotion, as the README documents


@pytest.mark.parametrize("weight", [0.5 + 1j, 0.2 - 0.3j, 2j, "tensor"])
def test_lerp_of_complex_tensors_takes_a_complex_weight(torch: Any, weight: Any) -> None:
    results = []
    for lib in (torch, mg):
        start, end = lib.tensor(START, requires_grad=True), lib.tensor(END, requires_grad=True)
        w = lib.tensor(WEIGHT, requires_grad=True) if weight == "tensor" else weight
        y = lib.lerp(start, end, w)
        (y * lib.tensor(WEIGHT)).abs().sum().backward()
        grads = [start.grad, end.grad] + ([w.grad] if weight == "tensor" else [])
        results.append([y.detach().numpy()] + [g.numpy() for g in grads])
    for want, got in zip(*results):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


def test_lerp_inplace_and_method_take_a_complex_weight(torch: Any) -> None:
    for weight in (0.2 + 0.7j, 0.7 + 0.7j):
        want = torch.tensor(START)
        want.lerp_(torch.tensor(END), weight)
        got = mg.tensor(START)
        got.lerp_(mg.tensor(END), weight)
        np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-6)
        np.testing.assert_allclose(mg.tensor(START).lerp(mg.tensor(END), weight).numpy(), want.numpy(), rtol=1e-6)


def test_lerp_of_real_tensors_with_a_complex_weight_as_torch(torch: Any) -> None:
    a, b = [1.0, 2.0], [3.0, 4.0]
    np.testing.assert_allclose(mg.lerp(mg.tensor(a), mg.tensor(b), 0.5 + 0j).numpy(),
                               torch.lerp(torch.tensor(a), torch.tensor(b), 0.5 + 0j).numpy())
    _raises_like(lambda: torch.lerp(torch.tensor(a), torch.tensor(b), 0.5 + 1j),
                 lambda: mg.lerp(mg.tensor(a), mg.tensor(b), 0.5 + 1j))



@pytest.mark.parametrize("weight", [True, False])
def test_lerp_takes_a_python_bool_weight_as_torch(torch: Any, weight: bool) -> None:
    a, b = [1.0, 2.0], [3.0, 4.0]
    want = torch.lerp(torch.tensor(a), torch.tensor(b), weight)
    got = mg.lerp(mg.tensor(a), mg.tensor(b), weight)
    assert got.dtype == mg.float32 and got.tolist() == want.tolist()

# --- 2. index_add with a complex alpha ----------------------------------------------------------------------------

@pytest.mark.parametrize("alpha", [1 + 1j, 2j, 0.5 - 2j])
def test_index_add_of_complex_tensors_takes_a_complex_alpha(torch: Any, alpha: complex) -> None:
    source = np.array([[1 + 2j, 3 - 1j], [0.5j, 2]], dtype=np.complex64)
    index = [2, 0]
    want = torch.zeros(3, 2, dtype=torch.complex64).index_add(0, torch.tensor(index), torch.tensor(source),
                                                              alpha=alpha)
    np.testing.assert_allclose(mg.index_add(mg.zeros(3, 2, dtype=mg.complex64), 0, mg.tensor(index),
                                            mg.tensor(source), alpha=alpha).numpy(), want.numpy(), rtol=1e-6)
    x = mg.zeros(3, 2, dtype=mg.complex64)
    assert x.index_add_(0, mg.tensor(index), mg.tensor(source), alpha=alpha) is x
    np.testing.assert_allclose(x.numpy(), want.numpy(), rtol=1e-6)


def test_index_add_complex_alpha_gradient_is_the_conjugate_one(torch: Any) -> None:
    """The gradient to ``source`` is that of ``source * alpha`` (g·conj(alpha)), as torch's index_add of
    ``source * alpha``; torch 2.13's own index_add backward leaves out the conjugate (g·alpha)."""
    source, alpha, weight = np.array([1 + 2j, 3 - 1j], dtype=np.complex64), 0.5 - 2j, [1, 1j, 2 - 1j]
    grads = []
    for lib, scale in ((torch, True), (mg, False)):
        s = lib.tensor(source, requires_grad=True)
        y = lib.zeros(3, dtype=lib.complex64).index_add(0, lib.tensor([2, 0]), s * alpha if scale else s,
                                                        alpha=1 if scale else alpha)
        (y * lib.tensor(weight)).abs().sum().backward()
        grads.append(s.grad.numpy())
    np.testing.assert_allclose(grads[1], grads[0], rtol=1e-5)


@pytest.mark.parametrize("dtype", ["float32", "int64"])
def test_index_add_of_real_tensors_takes_only_a_real_valued_alpha(torch: Any, dtype: str) -> None:
    x, src = np.zeros(3, dtype=dtype), np.ones(1, dtype=dtype)
    want = torch.index_add(torch.tensor(x), 0, torch.tensor([0]), torch.tensor(src), alpha=2 + 0j)
    got = mg.index_add(mg.tensor(x), 0, mg.tensor([0]), mg.tensor(src), alpha=2 + 0j)
    assert got.dtype == x.dtype and np.array_equal(got.numpy(), want.numpy())
    _raises_like(lambda: torch.index_add(torch.tensor(x), 0, torch.tensor([0]), torch.tensor(src), alpha=1j),
                 lambda: mg.index_add(mg.tensor(x), 0, mg.tensor([0]), mg.tensor(src), alpha=1j))


# --- 3. logical_*_ with a Python scalar ------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["logical_and_", "logical_or_", "logical_xor_"])
@pytest.mark.parametrize("other", [True, 1, 0.5])
def test_logical_inplace_refuses_a_python_scalar_as_torch(torch: Any, name: str, other: Any) -> None:
    x = mg.tensor([True, False])
    error = _raises_like(lambda: getattr(torch.tensor([True, False]), name)(other),
                         lambda: getattr(x, name)(other))
    assert name in str(error) and type(other).__name__ in str(error)
    assert x.tolist() == [True, False]   # nothing written


@pytest.mark.parametrize("name", ["logical_and_", "logical_or_", "logical_xor_"])
def test_logical_inplace_takes_a_tensor_as_torch(torch: Any, name: str) -> None:
    want = getattr(torch.tensor([True, False, True]), name)(torch.tensor([False, False, True]))
    x = mg.tensor([True, False, True])
    assert getattr(x, name)(mg.tensor([False, False, True])) is x and x.tolist() == want.tolist()


# --- 4. put_'s errors name put_ -----------------------------------------------------------------------------------

@pytest.mark.parametrize("case", ["dtype", "numel", "range", "index_dtype"])
def test_put_errors_name_put_as_torch(torch: Any, case: str) -> None:
    def call(lib: Any) -> Any:
        index, source = {"dtype": ([1], lib.tensor([1.0], dtype=lib.float64)), "numel": ([1, 2], lib.tensor([1.0])),
                         "range": ([7], lib.tensor([1.0])), "index_dtype": ([1.0], lib.tensor([1.0]))}[case]
        return lib.zeros(4).put_(lib.tensor(index), source)

    error = _raises_like(lambda: call(torch), lambda: call(mg))
    assert str(error).startswith("put_: ") and "index_put" not in str(error)


def test_put_out_of_place_names_put(torch: Any) -> None:
    error = _raises_like(lambda: torch.put(torch.zeros(4), torch.tensor([1]), torch.tensor([1.0], dtype=torch.float64)),
                         lambda: mg.put(mg.zeros(4), mg.tensor([1]), mg.tensor([1.0], dtype=mg.float64)))
    assert str(error).startswith("put: ")


# --- 5. setitem on an expanded view ----------------------------------------------------------------------------

@pytest.mark.parametrize("index", [0, (0, slice(1, 3)), (1, 2), (0, Ellipsis)])
def test_setitem_into_an_expanded_view_writes_the_shared_memory_as_torch(torch: Any, index: Any) -> None:
    got = []
    for lib in (torch, mg):
        base = lib.zeros(1, 4)
        expanded = base.expand(3, 4)
        expanded[index] = 7.0
        got.append((base.tolist(), expanded.tolist()))
    assert got[0] == got[1]


def test_setitem_of_a_tensor_into_unfold_windows_as_torch(torch: Any) -> None:
    got = []
    for lib in (torch, mg):
        x = lib.arange(6.0)
        windows = x.unfold(0, 3, 1)
        windows[0] = lib.tensor([7.0, 8.0, 9.0])
        windows[:, 1] = lib.tensor([1.0, 2.0, 3.0, 4.0])
        got.append(x.tolist())
    assert got[0] == got[1]


def test_setitem_with_an_advanced_index_into_an_expanded_view_refuses() -> None:
    with pytest.raises(NotImplementedError, match=r"setitem: an advanced index .*expanded view of shape \(3, 4\)"):
        mg.zeros(4).expand(3, 4)[[0, 1]] = 5.0


@pytest.mark.parametrize("index", [slice(0, 2), (slice(None), 0)])
def test_setitem_into_a_part_of_an_expanded_view_sharing_memory_raises_as_torch(torch: Any, index: Any) -> None:
    def write(lib: Any) -> None:
        lib.zeros(4).expand(3, 4)[index] = 5.0

    error = _raises_like(lambda: write(torch), lambda: write(mg))
    assert "more than one element" in str(error) and "expanded view" in str(error) and "unfold" not in str(error)
