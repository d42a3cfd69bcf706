"""Round 21: ``set_default_dtype`` against PyTorch where it reaches past the constructors: ldexp of a complex input
with integer exponents, the optimizers' 0-d state scalars (torch.optim's ``_get_scalar_dtype()``) and an integer
Tensor lr.

Every test sets minigrad's and PyTorch's default together through the ``default_dtype`` fixture, which restores
both (other tests rely on float32). Found by /tmp/fuzz21_default_dtype.py and the optimizer sweeps beside it.
"""

from __future__ import annotations

from typing import Any, Callable, Iterator

import numpy as np
import pytest

import minigrad as mg
import nn

pytestmark = pytest.mark.usefixtures("torch_optim_loaded")


@pytest.fixture
def default_dtype(torch: Any) -> Iterator[Callable[[str], None]]:
    """``set(name)`` makes ``name`` the default dtype of minigrad and PyTorch for this test only."""
    before, torch_before = mg.get_default_dtype(), torch.get_default_dtype()

    def set_both(name: str) -> None:
        mg.set_default_dtype(getattr(mg, name))
        torch.set_default_dtype(getattr(torch, name))

    try:
        yield set_both
    finally:
        mg.set_default_dtype(before)
        torch.set_default_dtype(torch_before)


def _name(dtype: Any) -> str:
    return str(dtype).replace("torch.", "")


@pytest.mark.parametrize("default, x_dtype, exponent_dtype, dimensioned", [
    ("float64", "complex64", "int64", True),     # was complex128: the power in the default float64
    ("float64", "complex64", "int8", False),
    ("float32", "complex128", "int64", False),   # was complex64 (a 0-d complex128 beside a float32 power)
    ("float32", "complex128", "int32", True),    # was inf at 2**200: the power in float32
])
def test_ldexp_of_a_complex_input_with_integer_exponents_as_torch(torch: Any, default_dtype: Callable, default: str,
                                                                   x_dtype: str, exponent_dtype: str,
                                                                   dimensioned: bool) -> None:
    default_dtype(default)
    x = [1, 1, 3, 0] if dimensioned else 1
    exponents = [1, 100, -3, 0] if exponent_dtype == "int8" else [1, 200, -3, 0]
    ours = mg.ldexp(mg.tensor(x, dtype=x_dtype), mg.tensor(exponents, dtype=exponent_dtype))
    theirs = torch.ldexp(torch.tensor(x, dtype=getattr(torch, x_dtype)),
                         torch.tensor(exponents, dtype=getattr(torch, exponent_dtype)))
    assert str(ours.dtype) == _name(theirs.dtype)
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-5)   # PyTorch's float32 2**100 is 2e-6 off


def _train(lib: Any, module: Any, name: str, lr: Any, **options: Any) -> tuple:
    """Three steps of optimizer ``name`` on a float parameter of the default dtype: (parameter, state_dict state)."""
    p = module.Parameter(lib.tensor([1.0, -2.0, 3.0]))
    opt = getattr(lib.optim, name)([p], lr=lr(lib), **options)
    for _ in range(3):
        opt.zero_grad()
        (p * p * 0.37).sum().backward()
        opt.step()
    return p.detach().numpy(), opt.state_dict()["state"][0]


@pytest.mark.parametrize("name, key, options", [("NAdam", "mu_product", {}), ("ASGD", "eta", {}),
                                                ("ASGD", "mu", {}), ("ASGD", "eta", {"foreach": True})])
@pytest.mark.parametrize("default", ["float32", "float64"])
def test_optimizer_scalar_state_follows_the_default_dtype_as_torch(torch: Any, default_dtype: Callable, name: str,
                                                                    key: str, options: dict, default: str) -> None:
    # torch.optim's _get_scalar_dtype(): float64 under the default float64 (it was float32 here whatever the
    # default, so a float64 model's NAdam/ASGD steps were off by float32 roundings, 1e-8 relative)
    default_dtype(default)
    ours, our_state = _train(mg, nn, name, lambda lib: 0.37, **options)
    theirs, their_state = _train(torch, torch.nn, name, lambda lib: 0.37, **options)
    assert str(our_state[key].dtype) == _name(their_state[key].dtype)
    rtol = 1e-13 if default == "float64" else 1e-6
    np.testing.assert_allclose(ours, theirs, rtol=rtol)
    np.testing.assert_allclose(our_state[key].numpy(), their_state[key].numpy(), rtol=rtol)


@pytest.mark.parametrize("name", ["Adam", "AdamW", "Adamax", "NAdam", "ASGD"])
def test_an_integer_tensor_lr_computes_in_the_default_dtype_as_torch(torch: Any, default_dtype: Callable,
                                                                      name: str) -> None:
    # lr=torch.tensor(1) times or over a float is the default dtype in PyTorch; it was rounded to float32 here
    default_dtype("float64")
    ours, _ = _train(mg, nn, name, lambda lib: lib.tensor(1))
    theirs, _ = _train(torch, torch.nn, name, lambda lib: lib.tensor(1))
    np.testing.assert_allclose(ours, theirs, rtol=1e-13)


@pytest.mark.parametrize("df", [3.5, 1.5, 0.5])   # a variance, inf, NaN
@pytest.mark.parametrize("what", ["variance", "stddev"])
def test_student_t_variance_keeps_its_parameters_dtype_under_the_default_float64(torch: Any, default_dtype: Callable,
                                                                                 df: float, what: str) -> None:
    # inf/NaN for df <= 2 came from where(cond, inf, nan), a default-dtype tensor, which made the float32 result float64
    default_dtype("float64")
    ours = getattr(mg.distributions.StudentT(mg.tensor([df, 4.0], dtype=mg.float32), 0.0, 2.0), what)
    theirs = getattr(torch.distributions.StudentT(torch.tensor([df, 4.0], dtype=torch.float32), 0.0, 2.0), what)
    assert str(ours.dtype) == _name(theirs.dtype) == "float32"
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-6)


@pytest.mark.parametrize("foreach", [False, True])
def test_asgd_state_under_the_default_float16_as_torch(torch: Any, default_dtype: Callable, foreach: bool) -> None:
    # float32 state scalars (scalar_dtype) holding values PyTorch makes with torch.as_tensor, in the default float16
    default_dtype("float16")
    states = []
    for lib, module in ((mg, nn), (torch, torch.nn)):
        p = module.Parameter(lib.tensor([1.0, -2.0, 3.0], dtype=lib.float32))
        opt = lib.optim.ASGD([p], lr=0.37, t0=1, foreach=foreach)
        for _ in range(4):
            opt.zero_grad()
            (p * p * 0.37).sum().backward()
            opt.step()
        state = opt.state_dict()["state"][0]
        states.append([(_name(state[key].dtype), float(state[key])) for key in ("eta", "mu")])
    assert states[0] == states[1]
