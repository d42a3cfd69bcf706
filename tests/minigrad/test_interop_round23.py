"""Interop and state-dict leftovers against PyTorch 2.13 (round 23): ``load_state_dict`` refuses values that are
no tensor or array (a list, a number, a NumPy scalar, None) naming the key, as PyTorch's RuntimeError does (NumPy
arrays stay accepted, DESIGN.md §5); ``assign=True`` keeps a given Parameter of any class and wraps anything else
in a plain ``nn.Parameter`` (it made the module's own Parameter subclass); ordering comparisons with a PyTorch
tensor compare values instead of failing with AttributeError."""

from __future__ import annotations

import operator
from typing import Any

import numpy
import pytest

import minigrad as mg
import nn

torch = pytest.importorskip("torch", reason="no torch")


def _nn(lib: str) -> Any:
    return torch.nn if lib == "torch" else nn


def _tensor(lib: str, data: Any) -> Any:
    return torch.tensor(data) if lib == "torch" else mg.tensor(data)


# --- load_state_dict: values that are no tensor ---

NOT_TENSORS = {
    "list": ("weight", lambda: [1.0, 2.0]),
    "tuple": ("weight", lambda: (1.0, 2.0)),
    "int": ("num_batches_tracked", lambda: 5),
    "float": ("running_mean", lambda: 0.5),
    "numpy scalar": ("num_batches_tracked", lambda: numpy.int64(3)),
    "None": ("bias", lambda: None),
    "str": ("weight", lambda: "ab"),
}


@pytest.mark.parametrize("case", sorted(NOT_TENSORS))
def test_load_state_dict_refuses_a_value_that_is_no_tensor_naming_the_key(case: str) -> None:
    key, make = NOT_TENSORS[case]
    for lib in ("torch", "ours"):
        module = _nn(lib).BatchNorm1d(2)
        state = dict(module.state_dict())
        before = {k: numpy.array(v) for k, v in state.items()}
        state[key] = make()
        with pytest.raises(RuntimeError, match=key):
            module.load_state_dict(state)
        if lib == "ours":   # nothing was loaded
            for k, v in module.state_dict().items():
                numpy.testing.assert_array_equal(v.numpy(), before[k])


def test_load_state_dict_takes_numpy_arrays_and_torch_tensors() -> None:
    """Deliberate (DESIGN.md §5, README): ``{k: v.numpy() for k, v in torch_model.state_dict().items()}`` loads."""
    theirs = torch.nn.BatchNorm1d(2)
    with torch.no_grad():
        theirs.weight.uniform_()
    ours = nn.BatchNorm1d(2)
    ours.load_state_dict({k: v.numpy() for k, v in theirs.state_dict().items()})
    numpy.testing.assert_array_equal(ours.weight.detach().numpy(), theirs.weight.detach().numpy())
    ours.load_state_dict(theirs.state_dict())
    numpy.testing.assert_array_equal(ours.weight.detach().numpy(), theirs.weight.detach().numpy())
    message = "expected a Tensor or an array, got numpy.float64"
    with pytest.raises(RuntimeError, match=message):
        ours.load_state_dict({**ours.state_dict(), "running_var": numpy.float64(1.0)}, strict=False)


# --- load_state_dict(assign=True): which Parameter class the module ends with ---

def _assign_case(lib: str, value_kind: str) -> tuple:
    """(class name of the module's weight after the load, whether it is the given object, shares its memory)."""
    L = _nn(lib)

    class MyParam(L.Parameter):
        pass

    class Other(L.Parameter):
        pass

    module = L.Linear(2, 2)
    module.weight = MyParam(module.weight.detach().clone())
    data = _tensor(lib, numpy.arange(4.0, dtype=numpy.float32).reshape(2, 2))
    value = {"tensor": data, "Parameter": L.Parameter(data), "Other": Other(data)}[value_kind]
    module.load_state_dict({"weight": value, "bias": module.bias.detach().clone()}, assign=True)
    got = module.weight
    shares = numpy.shares_memory(got.detach().numpy(), data.numpy())
    return type(got).__name__, got is value, shares, got.requires_grad, "weight" in module._parameters


@pytest.mark.parametrize("value_kind", ["tensor", "Parameter", "Other"])
def test_assign_keeps_a_given_parameter_and_wraps_a_tensor_in_a_plain_parameter(value_kind: str) -> None:
    expected = _assign_case("torch", value_kind)
    got = _assign_case("ours", value_kind)
    assert got == expected
    assert got[0] == {"tensor": "Parameter", "Parameter": "Parameter", "Other": "Other"}[value_kind]


# --- comparisons with a PyTorch tensor ---

@pytest.mark.parametrize("shape", [(3,), ()])
@pytest.mark.parametrize("name", ["lt", "le", "gt", "ge", "eq", "ne"])
def test_comparisons_with_a_torch_tensor_compare_values(name: str, shape: tuple) -> None:
    """``mg_t != torch_t`` was ``tensor(True)`` (NumPy's ``!=`` deferred to the torch tensor, then Python compared
    identities); ``<`` raised AttributeError."""
    op = getattr(operator, name)
    a, b = numpy.array([1.0, 2.0, 3.0], numpy.float32), numpy.array([2.0, 2.0, 2.0], numpy.float32)
    if shape == ():
        a, b = a[1, ...], b[1, ...]
    expected = op(a, b)
    for got in (op(mg.tensor(a), torch.tensor(b)), op(torch.tensor(a), mg.tensor(b))):
        assert isinstance(got, mg.Tensor) and got.dtype == mg.bool_
        numpy.testing.assert_array_equal(got.numpy(), expected)


def test_ordering_a_complex_torch_tensor_raises_as_torch() -> None:
    with pytest.raises(RuntimeError):
        _ = torch.tensor([1.0]) < torch.tensor([1j])
    with pytest.raises(RuntimeError, match="complex"):
        _ = mg.tensor([1.0]) < torch.tensor([1j])


@pytest.mark.parametrize("name", ["floor_divide", "remainder", "fmod", "atan2", "maximum", "hypot"])
def test_ops_taking_a_torch_tensor_operand_read_its_values(name: str) -> None:
    """``mg.atan2(x, torch_t)``, ``x // torch_t``, ``x % torch_t``: a PyTorch CPU tensor is an operand read as its
    values, as ``x + torch_t`` reads it (these raised AttributeError: their complex check read ``dtype.kind``, which
    a torch dtype lacks); a complex one is refused as PyTorch refuses complex operands there."""
    a, b = numpy.array([5.0, -7.0, 2.5]), numpy.array([2.0, 3.0, -1.5])
    expected = getattr(torch, name)(torch.tensor(a), torch.tensor(b)).numpy()
    numpy.testing.assert_array_equal(getattr(mg, name)(mg.tensor(a), torch.tensor(b)).numpy(), expected)
    if name in ("floor_divide", "remainder"):
        operator_ = operator.floordiv if name == "floor_divide" else operator.mod
        numpy.testing.assert_array_equal(operator_(mg.tensor(a), torch.tensor(b)).numpy(), expected)
    if name in ("floor_divide", "remainder", "fmod", "atan2"):
        with pytest.raises(NotImplementedError):
            getattr(torch, name)(torch.tensor(a), torch.tensor(b + 1j))
        with pytest.raises(NotImplementedError, match="complex"):
            getattr(mg, name)(mg.tensor(a), torch.tensor(b + 1j))


def test_an_object_that_is_no_operand_is_named_with_its_module() -> None:
    with pytest.raises(TypeError, match="builtins.object"):
        mg.atan2(mg.tensor([1.0]), object())
