"""Differential fuzzing of nn.utils and optim.swa_utils against torch 2.13 (round 15): the cases where the two differed.

Gradient clipping: get_total_norm/clip_grad_norm_ of integer or bool tensors (torch's vector_norm RuntimeError), a
negative-order norm of an empty gradient (no identity: torch's RuntimeError, as for ±inf), float16 gradients (torch
sums in float32; NumPy's float16 sum overflowed to inf), clip_grads_with_norm_ given a total norm that is not 0-d
(torch's RuntimeError; ours scaled each entry by its own coefficient), clip_grad_norm_ of an empty generator (torch's
UserWarning), clip_grad_value_ of a complex gradient (torch's NotImplementedError; NumPy clipped by lexicographic
order), float16 gradients scaled by a float32 total's coefficient (torch multiplies in float32; ours rounded the
coefficient to float16 first, 3e-9 to 0). vector_to_parameters: torch's ``param.data = vec[...].view_as(param)``
makes views of the vector in its dtype (ours copied into the parameters' dtype); an integer vector into parameters
that require grad is torch's RuntimeError. weight_norm (legacy and parametrization) of a 0-d weight
(torch._weight_norm's IndexError; ours gave g·sign(v)) and with a ``dim`` that is not an int (torch's TypeError; ours
took 1.0 as 1). parametrizations.spectral_norm's power iteration on a complex weight (Wᴴ u, where ours took Wᵀ u);
parametrizations.orthogonal of a complex weight (unitary Q by matrix_exp/cayley, as torch's; ours refused it).
convert_conv2d/3d_weight_memory_format were missing. skip_init of a module instance (torch's TypeError). swa_utils'
error classes: integer tensors in get_swa_multi_avg_fn, both avg_fn and multi_avg_fn, update_parameters of a model of
other shapes, update_bn of an empty batch, an EMA decay that is not a number.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pytest

import minigrad as mg
import nn
from tests.helpers import same_on_gpu_as_on_cpu


def _torch_error(fn: Any) -> type:
    with pytest.raises(Exception) as info:
        fn()
    return info.type


def _param_with_grad(lib: Any, grad: np.ndarray) -> Any:
    """A parameter of ``grad``'s shape whose .grad is ``grad`` (torch's or ours, by ``lib``)."""
    if lib is mg:
        p = nn.Parameter(mg.zeros(grad.shape, dtype=grad.dtype))
        p.grad = mg.tensor(grad)
    else:
        p = lib.nn.Parameter(lib.zeros(grad.shape, dtype=getattr(lib, str(grad.dtype))))
        p.grad = lib.tensor(grad)
    return p


@pytest.mark.parametrize("dtype", ["int64", "int32", "bool"])
def test_total_norm_of_integer_tensors_raises_like_torch(torch: Any, dtype: str) -> None:
    values = np.array([1, 0, 3]).astype(dtype)
    expected = _torch_error(lambda: torch.nn.utils.get_total_norm([torch.tensor(values)]))
    assert expected is RuntimeError
    with pytest.raises(RuntimeError, match="floating point or complex"):
        nn.utils.get_total_norm([mg.tensor(values)])


@pytest.mark.parametrize("norm_type", [-1.0, -2.5, float("-inf"), float("inf")])
@pytest.mark.parametrize("shape", [(0,), (1, 0)])
def test_negative_order_norm_of_an_empty_gradient_raises_like_torch(torch: Any, norm_type: float,
                                                                    shape: tuple) -> None:
    grads = [np.array([0.5, -2.0]), np.zeros(shape)]
    theirs = [_param_with_grad(torch, g) for g in grads]
    assert _torch_error(lambda: torch.nn.utils.clip_grad_norm_(theirs, 1.0, norm_type)) is RuntimeError
    ours = [_param_with_grad(mg, g) for g in grads]
    with pytest.raises(RuntimeError, match="identity"):
        nn.utils.clip_grad_norm_(ours, 1.0, norm_type)
    with pytest.raises(RuntimeError, match="identity"):
        nn.utils.get_total_norm([p.grad for p in ours], norm_type)


@pytest.mark.parametrize("norm_type", [2.0, 3.0, 1.0, 0.5, -2.5])
@pytest.mark.parametrize("grad", [[300.0, 300.0], [200.0, -150.0, 90.0], [2e-3, 1e-3]])
def test_float16_gradient_norms_sum_in_float32_as_torch(torch: Any, norm_type: float, grad: list) -> None:
    g = np.array(grad, dtype=np.float16)
    theirs, ours = _param_with_grad(torch, g), _param_with_grad(mg, g)
    expected = torch.nn.utils.clip_grad_norm_([theirs], 1.0, norm_type)
    got = nn.utils.clip_grad_norm_([ours], 1.0, norm_type)
    assert got.dtype == mg.float16
    np.testing.assert_allclose(got.numpy(), expected.numpy(), rtol=1e-3)
    np.testing.assert_allclose(ours.grad.numpy(), theirs.grad.numpy(), rtol=2e-3)
    total = nn.utils.get_total_norm([mg.tensor(g)], norm_type)
    np.testing.assert_allclose(total.numpy(), torch.nn.utils.get_total_norm([torch.tensor(g)], norm_type).numpy(),
                               rtol=1e-3)


@pytest.mark.parametrize("foreach", [None, True, False])
@pytest.mark.parametrize("total", [[10.0, 3.0], [[3.0]], [3.0]])
def test_clip_grads_with_a_total_norm_that_is_not_0d_as_torch(torch: Any, foreach: Any, total: list) -> None:
    grad = np.array([1.0, -2.0])
    theirs, ours = _param_with_grad(torch, grad), _param_with_grad(mg, grad)
    try:
        torch.nn.utils.clip_grads_with_norm_([theirs], 1.0, torch.tensor(total), foreach=foreach)
    except RuntimeError:
        with pytest.raises(RuntimeError, match="0-d"):
            nn.utils.clip_grads_with_norm_([ours], 1.0, mg.tensor(total), foreach=foreach)
        np.testing.assert_array_equal(ours.grad.numpy(), grad)
    else:   # foreach=False with a (1,) total: torch's loop broadcasts it into the gradient
        nn.utils.clip_grads_with_norm_([ours], 1.0, mg.tensor(total), foreach=foreach)
        np.testing.assert_allclose(ours.grad.numpy(), theirs.grad.numpy(), rtol=1e-12)


def test_clip_grad_norm_of_an_empty_generator_warns_as_torch() -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        total = nn.utils.clip_grad_norm_((p for p in []), 1.0)
        nn.utils.clip_grad_norm_([], 1.0)    # an empty list says nothing, as torch's
    assert [str(w.message) for w in caught] == ["`parameters` is an empty generator, no gradient clipping will occur."]
    assert float(total) == 0.0


def _two_params(lib: Any, dtype: str) -> list:
    values = [np.array([1.0, 2.0]), np.array([[3.0, 4.0, 5.0]])]
    if lib is mg:
        return [nn.Parameter(mg.tensor(v.astype(dtype))) for v in values]
    return [lib.nn.Parameter(lib.tensor(v.astype(dtype))) for v in values]


@pytest.mark.parametrize("vec_dtype, param_dtype", [("float32", "float64"), ("float64", "float32"),
                                                    ("float64", "float64")])
def test_vector_to_parameters_gives_views_of_the_vector_as_torch(torch: Any, vec_dtype: str,
                                                                 param_dtype: str) -> None:
    """torch's ``param.data = vec[...].view_as(param)``: the parameters take the vector's dtype and share its memory."""
    vec = np.arange(5.0).astype(vec_dtype) * 10
    ours, theirs = _two_params(mg, param_dtype), _two_params(torch, param_dtype)
    our_vec, their_vec = mg.tensor(vec), torch.tensor(vec)
    nn.utils.vector_to_parameters(our_vec, ours)
    torch.nn.utils.vector_to_parameters(their_vec, theirs)
    with mg.no_grad():
        our_vec += 1
    with torch.no_grad():
        their_vec += 1
    for a, b in zip(ours, theirs):
        assert isinstance(a, nn.Parameter) and a.requires_grad
        assert str(a.dtype) == str(b.dtype).removeprefix("torch.")
        np.testing.assert_array_equal(a.numpy(), b.detach().numpy())


def test_vector_to_parameters_of_integers_into_parameters_raises_like_torch(torch: Any) -> None:
    vec = np.arange(5)
    theirs = _two_params(torch, "float64")
    assert _torch_error(lambda: torch.nn.utils.vector_to_parameters(torch.tensor(vec), theirs)) is RuntimeError
    ours = _two_params(mg, "float64")
    with pytest.raises(RuntimeError, match="floating point"):
        nn.utils.vector_to_parameters(mg.tensor(vec), ours)
    np.testing.assert_array_equal(ours[0].numpy(), [1.0, 2.0])


def _module_with_weight(lib: Any, value: np.ndarray) -> Any:
    if lib is mg:
        m = nn.Module()
        m.weight = nn.Parameter(mg.tensor(value))
    else:
        m = lib.nn.Module()
        m.weight = lib.nn.Parameter(lib.tensor(value))
    return m


def _names(module: Any) -> list:
    return [name for name, _ in module.named_parameters()]


@pytest.mark.parametrize("dim", [None, -1])
def test_weight_norm_of_a_0d_weight_raises_like_torch(torch: Any, dim: Any) -> None:
    """torch._weight_norm refuses a 0-d v: the legacy form raises when applied (g and v registered), the
    parametrization when the weight is read."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        theirs, ours = _module_with_weight(torch, np.array(0.5)), _module_with_weight(mg, np.array(0.5))
        assert _torch_error(lambda: torch.nn.utils.weight_norm(theirs, "weight", dim)) is IndexError
        with pytest.raises(IndexError, match="no dimensions"):
            nn.utils.weight_norm(ours, "weight", dim)
        assert _names(ours) == _names(theirs) == ["weight_g", "weight_v"]
    theirs, ours = _module_with_weight(torch, np.array(0.5)), _module_with_weight(mg, np.array(0.5))
    torch.nn.utils.parametrizations.weight_norm(theirs, "weight", dim)
    nn.utils.parametrizations.weight_norm(ours, "weight", dim)
    assert _names(ours) == _names(theirs)
    assert _torch_error(lambda: theirs.weight) is IndexError
    with pytest.raises(IndexError, match="no dimensions"):
        _ = ours.weight


@pytest.mark.parametrize("dim", [1.0, 0.0, -1.0, True])
@pytest.mark.parametrize("form", ["legacy", "parametrization"])
def test_weight_norm_dim_that_is_not_an_int_raises_like_torch(torch: Any, dim: Any, form: str) -> None:
    def apply(lib: Any, module: Any) -> Any:
        utils = lib.nn.utils if lib is torch else nn.utils
        fn = utils.weight_norm if form == "legacy" else utils.parametrizations.weight_norm
        return fn(module, "weight", dim)

    value = np.arange(6.0).reshape(2, 3)
    theirs, ours = _module_with_weight(torch, value), _module_with_weight(mg, value)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        assert _torch_error(lambda: apply(torch, theirs)) is TypeError
        with pytest.raises(TypeError, match="must be int"):
            apply(mg, ours)
    assert _names(ours) == _names(theirs)


@pytest.mark.parametrize("shape, dim", [((2, 3), 0), ((3, 2, 2), 1), ((1, 1), 0)])
def test_spectral_norm_power_iteration_of_a_complex_weight_as_torch(torch: Any, shape: tuple, dim: int) -> None:
    """v ← Wᴴ u / ‖Wᴴ u‖ (the conjugate transpose, as torch's): ours used Wᵀ. The same u, v (torch's) in both."""
    rng = np.random.default_rng(0)
    value = rng.standard_normal(shape) + 1j * rng.standard_normal(shape)
    theirs, ours = _module_with_weight(torch, value), _module_with_weight(mg, value)
    torch.nn.utils.parametrizations.spectral_norm(theirs, "weight", n_power_iterations=2, dim=dim)
    nn.utils.parametrizations.spectral_norm(ours, "weight", n_power_iterations=2, dim=dim)
    for name in ("_u", "_v"):
        getattr(ours.parametrizations.weight[0], name).data[...] = getattr(theirs.parametrizations.weight[0],
                                                                           name).numpy()
    for _ in range(2):
        np.testing.assert_allclose(ours.weight.numpy(), theirs.weight.detach().numpy(), rtol=1e-12, atol=1e-12)
    for name in ("_u", "_v"):
        np.testing.assert_allclose(getattr(ours.parametrizations.weight[0], name).numpy(),
                                   getattr(theirs.parametrizations.weight[0], name).numpy(), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("dims", [2, 3])
def test_convert_conv_weight_memory_format_as_torch(torch: Any, dims: int) -> None:
    """torch.nn.utils.convert_conv{2,3}d_weight_memory_format (missing here): the weights of the matching
    convolutions, nested ones included, take the format's strides; the same Parameters, the same values."""
    from nn.utils.memory_format import convert_conv2d_weight_memory_format as from_submodule

    def model(lib: Any) -> Any:
        layers = lib.nn if lib is torch else nn
        conv, transposed = (layers.Conv2d, layers.ConvTranspose2d) if dims == 2 else (layers.Conv3d,
                                                                                      layers.ConvTranspose3d)
        other = layers.Conv3d if dims == 2 else layers.Conv2d
        return layers.Sequential(conv(2, 3, 2), layers.Sequential(transposed(3, 2, 2)), other(1, 2, 2),
                                 layers.Linear(2, 2))

    ours, theirs = model(mg), model(torch)
    name = f"convert_conv{dims}d_weight_memory_format"
    fmt = "channels_last" if dims == 2 else "channels_last_3d"
    weights = [p for p in ours.parameters()]
    assert getattr(nn.utils, name)(ours, getattr(mg, fmt)) is ours
    getattr(torch.nn.utils, name)(theirs, getattr(torch, fmt))
    assert [p for p in ours.parameters()] == weights
    for a, b in zip(ours.parameters(), theirs.parameters()):
        assert a.stride() == b.stride()
    assert from_submodule is nn.utils.convert_conv2d_weight_memory_format
    expected = _torch_error(lambda: getattr(torch.nn.utils, name)(model(torch), torch.preserve_format))
    with pytest.raises(expected):
        getattr(nn.utils, name)(model(mg), mg.preserve_format)


@pytest.mark.parametrize("what", ["instance", "function"])
def test_skip_init_of_something_that_is_not_a_class_raises_like_torch(torch: Any, what: str) -> None:
    def pick(lib: Any) -> Any:
        return lib.Linear(3, 2) if what == "instance" else (lambda device=None: None)

    assert _torch_error(lambda: torch.nn.utils.skip_init(pick(torch.nn), 3, 2)) is TypeError
    with pytest.raises(TypeError, match="Module class"):
        nn.utils.skip_init(pick(nn), 3, 2)


def _swa_error_cases(lib: Any) -> dict:
    """The swa_utils calls whose error class differed from torch's, each as a thunk for ``lib`` (torch or mg)."""
    if lib is mg:
        layers, swa, tensor = nn, __import__("nn.optim.swa_utils", fromlist=["x"]), mg.tensor
    else:
        layers, swa, tensor = lib.nn, __import__("torch.optim.swa_utils", fromlist=["x"]), lib.tensor

    def averaged_model_of_another_shape() -> None:
        averaged = swa.AveragedModel(layers.Linear(2, 2))
        averaged.update_parameters(layers.Linear(2, 2))
        averaged.update_parameters(layers.Linear(3, 2))

    return {
        "swa_multi_avg_fn of integers": lambda: swa.get_swa_multi_avg_fn()([tensor([1, 2])], [tensor([5, 7])],
                                                                           tensor(1)),
        "both avg_fn and multi_avg_fn": lambda: swa.AveragedModel(layers.Linear(2, 2), avg_fn=swa.get_swa_avg_fn(),
                                                                  multi_avg_fn=swa.get_swa_multi_avg_fn()),
        "update_parameters of another shape": averaged_model_of_another_shape,
        "update_bn of an empty batch": lambda: swa.update_bn([()], layers.Sequential(layers.BatchNorm1d(2))),
        "ema decay that is not a number": lambda: swa.get_ema_avg_fn("0.9"),
        "ema multi decay None": lambda: swa.get_ema_multi_avg_fn(None),
    }


@pytest.mark.parametrize("case", list(_swa_error_cases(mg)))
def test_swa_utils_errors_have_torchs_class(torch: Any, case: str) -> None:
    expected = _torch_error(_swa_error_cases(torch)[case])
    with pytest.raises(expected):
        _swa_error_cases(mg)[case]()


def test_clip_grad_value_of_a_complex_gradient_raises_like_torch(torch: Any) -> None:
    """NumPy clips complex numbers by their lexicographic order (3+4j became 1+0j); torch's clamp refuses them."""
    grad = np.array([3 + 4j, 1j])
    theirs, ours = _param_with_grad(torch, grad), _param_with_grad(mg, grad)
    assert _torch_error(lambda: torch.nn.utils.clip_grad_value_([theirs], 1.0)) is NotImplementedError
    with pytest.raises(NotImplementedError, match="complex"):
        nn.utils.clip_grad_value_([ours], 1.0)
    np.testing.assert_array_equal(ours.grad.numpy(), grad)


@pytest.mark.parametrize("orthogonal_map", [None, "matrix_exp", "cayley"])
@pytest.mark.parametrize("shape, use_trivialization", [((3, 3), True), ((3, 3), False), ((4, 2), False),
                                                       ((2, 4), False), ((2, 3, 3), True)])
def test_orthogonal_of_a_complex_weight_as_torch(torch: Any, orthogonal_map: Any, shape: tuple,
                                                 use_trivialization: bool) -> None:
    """A unitary Q from exp/Cayley of the skew-Hermitian part, as torch's (ours refused complex weights)."""
    rng = np.random.default_rng(1)
    value = rng.standard_normal(shape) + 1j * rng.standard_normal(shape)
    target = rng.standard_normal(shape) + 1j * rng.standard_normal(shape)
    theirs, ours = _module_with_weight(torch, value), _module_with_weight(mg, value)
    torch.nn.utils.parametrizations.orthogonal(theirs, "weight", orthogonal_map,
                                               use_trivialization=use_trivialization)
    nn.utils.parametrizations.orthogonal(ours, "weight", orthogonal_map, use_trivialization=use_trivialization)
    assert _names(ours) == _names(theirs)
    (theirs.weight * torch.tensor(target)).real.sum().backward()
    (ours.weight * mg.tensor(target)).real.sum().backward()
    np.testing.assert_allclose(ours.weight.numpy(), theirs.weight.detach().numpy(), rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(ours.parametrizations.weight.original.grad.numpy(),
                               theirs.parametrizations.weight.original.grad.numpy(), rtol=1e-10, atol=1e-10)


def test_orthogonal_householder_of_a_complex_weight_raises_like_torch(torch: Any) -> None:
    value = np.ones((3, 2)) * (1 + 1j)
    theirs, ours = _module_with_weight(torch, value), _module_with_weight(mg, value)
    expected = _torch_error(lambda: torch.nn.utils.parametrizations.orthogonal(theirs, "weight", "householder"))
    assert expected is ValueError
    with pytest.raises(ValueError, match="householder"):
        nn.utils.parametrizations.orthogonal(ours, "weight", "householder")


def _clip_float16(lib: Any, grad: Any) -> list:
    p = nn.Parameter(mg.zeros(grad.shape, dtype=mg.float16, device=grad.device))
    p.grad = grad.detach().to(mg.float16) * 200
    total = nn.utils.clip_grad_norm_([p], 1.0, 3.0)
    return [total, p.grad]


def _clip_with_norm(lib: Any, grad: Any) -> list:
    p = nn.Parameter(mg.zeros_like(grad))
    p.grad = grad.detach().clone()
    nn.utils.clip_grads_with_norm_([p], 0.5, mg.linalg.vector_norm(grad.detach()).reshape(1), foreach=False)
    return [p.grad]


def _vector_into_parameters(lib: Any, vec: Any) -> list:
    params = [nn.Parameter(mg.zeros(2, 3, device=vec.device)), nn.Parameter(mg.zeros(4, device=vec.device))]
    nn.utils.vector_to_parameters(vec.detach(), params)
    return [p.detach() for p in params]


def _orthogonal_complex(lib: Any, weight: Any) -> list:
    module = nn.Module()
    module.weight = nn.Parameter(weight.detach().to(mg.complex128))
    nn.utils.parametrizations.orthogonal(module, "weight", "cayley", use_trivialization=False)
    return [module.weight.real]


@pytest.mark.gpu
@pytest.mark.parametrize("fn, shape", [(_clip_float16, (3, 4)), (_clip_with_norm, (4,)),
                                       (_vector_into_parameters, (10,)), (_orthogonal_complex, (4, 3))],
                         ids=["clip_float16", "clip_with_norm", "vector_to_parameters", "orthogonal_complex"])
def test_round15_fixes_on_gpu_same_as_on_cpu(fn: Any, shape: tuple) -> None:
    same_on_gpu_as_on_cpu(fn, [np.sin(np.arange(np.prod(shape)) * 1.3).reshape(shape)], rtol=1e-3)


@pytest.mark.parametrize("max_norm", [1e-8, 0.3337])
def test_clip_of_float16_gradients_by_a_float32_total_multiplies_in_float32_as_torch(torch: Any,
                                                                                    max_norm: float) -> None:
    """A float32 gradient makes the total norm float32; torch scales the float16 gradients by that coefficient in
    float32 (its opmath). Ours rounded the coefficient to float16 first: 3e-9 became 0 (0 for 1000, NaN for inf)."""
    grads = [np.array([1000.0, np.inf, 3.3, 7.77], dtype=np.float16), np.array([2.0], dtype=np.float32)]
    theirs = [_param_with_grad(torch, g) for g in grads]
    ours = [_param_with_grad(mg, g) for g in grads]
    torch.nn.utils.clip_grads_with_norm_(theirs, max_norm, torch.tensor(3.0))
    nn.utils.clip_grads_with_norm_(ours, max_norm, mg.tensor(3.0, dtype=mg.float32))
    for a, b in zip(ours, theirs):
        assert a.grad.dtype == np.dtype(str(b.grad.dtype).removeprefix("torch."))
        np.testing.assert_array_equal(a.grad.numpy(), b.grad.numpy())
