"""Round 8 of the torch API that minigrad lacked, engine side, against torch 2.13: ``minigrad.return_types`` (one
named tuple per op, printed as ``torch.return_types`` prints, under minigrad's name) and ``Tensor.is_inference``.
"""

from __future__ import annotations

import pickle
from typing import Any, Callable

import numpy as np
import pytest
from helpers import same_as_torch

import minigrad as mg

RNG = np.random.default_rng(8)
X = RNG.standard_normal((3, 4))
SPD = X @ X.T + 3 * np.eye(3)

# op → (call in PyTorch's spelling, the torch.return_types name, input)
RESULTS: dict[str, tuple[Callable, str, np.ndarray]] = {
    "topk": (lambda lib, x: lib.topk(x, 2, dim=1), "topk", X),
    "max_dim": (lambda lib, x: x.max(dim=0), "max", X),
    "min_dim": (lambda lib, x: lib.min(x, 1, keepdim=True), "min", X),
    "sort": (lambda lib, x: x.sort(dim=1, descending=True), "sort", X),
    "sort_0d": (lambda lib, x: x[0, 0].sort(), "sort", X),
    "kthvalue": (lambda lib, x: lib.kthvalue(x, 2, 1), "kthvalue", X),
    "mode": (lambda lib, x: x.round().mode(0), "mode", X),
    "median_dim": (lambda lib, x: x.median(dim=1), "median", X),
    "nanmedian_dim": (lambda lib, x: lib.nanmedian(x, 0), "nanmedian", X),
    "cummax": (lambda lib, x: lib.cummax(x, 1), "cummax", X),
    "cummin": (lambda lib, x: x.cummin(0), "cummin", X),
    "aminmax": (lambda lib, x: lib.aminmax(x, dim=1), "aminmax", X),
    "frexp": (lambda lib, x: lib.frexp(x), "frexp", X),
    "slogdet": (lambda lib, a: lib.slogdet(a), "slogdet", SPD),
    "linalg_slogdet": (lambda lib, a: lib.linalg.slogdet(a), "linalg_slogdet", SPD),
    "linalg_eigh": (lambda lib, a: lib.linalg.eigh(a), "linalg_eigh", SPD),
    "linalg_qr": (lambda lib, a: lib.linalg.qr(a), "linalg_qr", X),
    "linalg_svd": (lambda lib, a: lib.linalg.svd(a, full_matrices=False), "linalg_svd", X),
    "linalg_inv_ex": (lambda lib, a: lib.linalg.inv_ex(a), "linalg_inv_ex", SPD),
    "linalg_cholesky_ex": (lambda lib, a: lib.linalg.cholesky_ex(a), "linalg_cholesky_ex", SPD),
    "linalg_solve_ex": (lambda lib, a: lib.linalg.solve_ex(a, a[:, :1]), "linalg_solve_ex", SPD),
    "linalg_lstsq": (lambda lib, a: lib.linalg.lstsq(a, a[:, :2]), "linalg_lstsq", SPD),
}


@pytest.mark.parametrize("case", sorted(RESULTS))
def test_each_op_returns_the_named_tuple_torch_returns(case: str, torch: Any) -> None:
    call, name, array = RESULTS[case]
    ours, theirs = call(mg, mg.tensor(array)), call(torch, torch.from_numpy(array))
    assert type(theirs).__name__ == name and type(ours).__name__ == name
    assert type(ours) is getattr(mg.return_types, name)
    assert type(ours).__module__ == "minigrad.return_types"
    assert ours._fields == type(theirs).__match_args__   # the same field names, in order
    assert len(ours) == len(theirs)
    for field in ours._fields:
        np.testing.assert_allclose(getattr(ours, field).numpy(), getattr(theirs, field).numpy(), rtol=1e-10,
                                   atol=1e-12, err_msg=field)


@pytest.mark.parametrize("case", ["topk", "max_dim", "sort", "kthvalue", "cummax", "median_dim", "linalg_qr",
                                  "slogdet", "aminmax"])
def test_the_repr_is_torchs_with_minigrads_name(case: str, torch: Any) -> None:
    call, _, _ = RESULTS[case]
    array = np.array([[3.0, 1.0, 2.0], [0.5, 4.0, -1.0], [2.0, 0.0, 5.0]], dtype=np.float32)
    ours, theirs = call(mg, mg.tensor(array)), call(torch, torch.from_numpy(array))
    assert repr(ours) == repr(theirs).replace("torch.return_types.", "minigrad.return_types.")
    assert repr(ours).startswith(f"minigrad.return_types.{type(theirs).__name__}(\n")


def test_results_stay_their_shared_layouts_unpack_index_and_pickle() -> None:
    x = mg.tensor(X)
    result = x.topk(2)
    assert isinstance(result, mg.ValuesIndices) and isinstance(result, tuple)
    values, indices = result
    assert values is result.values is result[0] and indices is result.indices is result[1]
    assert isinstance(mg.aminmax(x), mg.MinMax) and isinstance(mg.linalg.eigh(mg.tensor(SPD)), mg.linalg.EighResult)
    assert isinstance(mg.linalg.lstsq(mg.tensor(SPD), mg.tensor(SPD)), mg.linalg.LstsqResult)
    again = pickle.loads(pickle.dumps(result))
    assert type(again) is mg.return_types.topk
    np.testing.assert_array_equal(again.values.numpy(), values.numpy())
    assert type(result._replace(values=indices)) is mg.return_types.topk
    assert set(mg.return_types.__all__) <= set(dir(mg.return_types))


def test_gradients_flow_through_the_named_results(torch: Any) -> None:
    same_as_torch(torch, lambda lib, x: lib.topk(x, 2, dim=1).values * 2, X)
    same_as_torch(torch, lambda lib, x: x.max(dim=0).values.exp(), X)
    same_as_torch(torch, lambda lib, a: lib.slogdet(a).logabsdet, SPD)


def test_a_compiled_function_returns_the_same_named_tuple() -> None:
    compiled = mg.compile(lambda x: x.sort(dim=1))
    x = mg.tensor(X)
    for _ in range(3):
        out = compiled(x)
        assert type(out) is mg.return_types.sort
        np.testing.assert_array_equal(out.values.numpy(), np.sort(X, axis=1))


def test_is_inference_is_false_as_minigrad_makes_no_inference_tensors(torch: Any) -> None:
    with mg.inference_mode():
        made_inside = mg.ones(2) * 2
    assert made_inside.is_inference() is False and mg.is_inference(made_inside) is False
    assert mg.ones(2).is_inference() is False
    assert torch.ones(2).is_inference() is False   # the same answer for an ordinary tensor
    (made_inside * mg.ones(2, requires_grad=True)).sum().backward()   # usable by autograd afterwards
    with pytest.raises(TypeError, match="must be Tensor"):
        mg.is_inference([1.0])
    with pytest.raises(TypeError):
        torch.is_inference([1.0])


# --- PyTorch's older linear algebra: svd (U, S, V), qr(some=), cholesky, cholesky_solve/inverse, triangular_solve

A23 = RNG.standard_normal((2, 5, 3))
SPD23 = A23.transpose(0, 2, 1) @ A23 + np.eye(3)
B23 = RNG.standard_normal((2, 3, 2))

def _sym(s: Any) -> Any:
    """The symmetric part: finite differences then move both triangles, as the factorizations read one."""
    return (s + s.mT) / 2


LEGACY_CASES: dict[str, tuple[Callable, tuple]] = {   # sign-free results, so U, V and Q compare with torch's
    "svd_values": (lambda lib, a: lib.svd(a).S, (A23,)),
    "svd_reconstruct": (lambda lib, a: (lambda r: r.U @ lib.diag_embed(r.S) @ r.V.mT)(lib.svd(a)), (A23,)),
    "svd_some_false": (lambda lib, a: (lambda r: (r.U[..., :3].abs(), r.U.shape[-1] * r.S, r.V.abs()))(
        lib.svd(a, some=False)), (A23,)),   # U (5, 5): its last columns are any completion
    "svd_no_uv": (lambda lib, a: tuple(lib.svd(a, compute_uv=False)), (A23,)),
    "svd_method": (lambda lib, a: a.svd().S, (A23,)),
    "qr_reconstruct": (lambda lib, a: (lambda r: r.Q @ r.R)(lib.qr(a)), (A23,)),
    "qr_complete": (lambda lib, a: (lambda r: r.Q @ r.R)(lib.qr(a.mT, some=False)), (A23,)),
    "cholesky": (lambda lib, s: (lambda s: (lib.cholesky(s), lib.cholesky(s, upper=True), s.cholesky()))(_sym(s)),
                 (SPD23,)),
    "cholesky_solve": (lambda lib, s, b: lib.cholesky_solve(b, lib.linalg.cholesky(_sym(s))), (SPD23, B23)),
    "cholesky_solve_upper": (lambda lib, s, b: b.cholesky_solve(lib.linalg.cholesky(_sym(s), upper=True), upper=True),
                             (SPD23, B23)),
    "cholesky_inverse": (lambda lib, s: lib.cholesky_inverse(lib.linalg.cholesky(_sym(s))), (SPD23,)),
    "cholesky_inverse_upper": (lambda lib, s: lib.linalg.cholesky(_sym(s), upper=True).cholesky_inverse(upper=True),
                               (SPD23,)),
}
for _upper in (True, False):
    for _transpose in (True, False):
        for _unit in (True, False):
            LEGACY_CASES[f"triangular_solve_{_upper}_{_transpose}_{_unit}"] = (
                lambda lib, s, b, u=_upper, t=_transpose, n=_unit: tuple(
                    lib.triangular_solve(b, s, upper=u, transpose=t, unitriangular=n)), (SPD23, B23))


@pytest.mark.filterwarnings("ignore:torch.*is deprecated")
@pytest.mark.parametrize("case", sorted(LEGACY_CASES))
def test_legacy_linalg_same_as_torch_and_gradcheck(case: str, torch: Any) -> None:
    fn, arrays = LEGACY_CASES[case]
    same_as_torch(torch, fn, *arrays)


@pytest.mark.filterwarnings("ignore:torch.*is deprecated")
def test_legacy_linalg_result_types_and_warnings(torch: Any) -> None:
    a, s, b = torch.from_numpy(A23), torch.from_numpy(SPD23), torch.from_numpy(B23)
    ours = {"svd": mg.svd(mg.tensor(A23)), "qr": mg.qr(mg.tensor(A23)),
            "triangular_solve": mg.triangular_solve(mg.tensor(B23), mg.tensor(SPD23))}
    theirs = {"svd": torch.svd(a), "qr": torch.qr(a), "triangular_solve": torch.triangular_solve(b, s)}
    for name, result in ours.items():
        assert type(result) is getattr(mg.return_types, name) and type(theirs[name]).__name__ == name
        assert result._fields == type(theirs[name]).__match_args__
    for call in (lambda: mg.qr(mg.tensor(A23)), lambda: mg.cholesky(mg.tensor(SPD23)),
                 lambda: mg.triangular_solve(mg.tensor(B23), mg.tensor(SPD23))):
        with pytest.warns(UserWarning, match="is deprecated in favor of torch.linalg"):
            call()
    np.testing.assert_array_equal(ours["triangular_solve"].cloned_coefficient.numpy(), SPD23)


# --- torch.autograd's spellings of the switches, set_detect_anomaly ------------------------------------------

def test_autograd_namespace_has_torchs_switches(torch: Any) -> None:
    for name in ("no_grad", "enable_grad", "set_grad_enabled", "inference_mode", "detect_anomaly",
                 "set_detect_anomaly"):
        assert hasattr(torch.autograd, name) and getattr(mg.autograd, name) is getattr(mg, name)
    with mg.autograd.no_grad():
        assert not mg.is_grad_enabled()
        with mg.autograd.enable_grad():
            assert mg.is_grad_enabled()
    with mg.autograd.inference_mode():
        assert mg.is_inference_mode_enabled()


@pytest.mark.filterwarnings("ignore:invalid value encountered")
def test_set_detect_anomaly_acts_at_once_and_as_a_block(torch: Any) -> None:
    assert not mg.is_anomaly_enabled()
    try:
        mg.autograd.set_detect_anomaly(True)
        assert mg.is_anomaly_enabled()
        with mg.autograd.set_detect_anomaly(False):
            assert not mg.is_anomaly_enabled()
        assert mg.is_anomaly_enabled()
        x = mg.tensor([-1.0], requires_grad=True)
        with pytest.raises(mg.AnomalyError):
            x.sqrt().log()
    finally:
        mg.autograd.set_detect_anomaly(False)
    assert not mg.is_anomaly_enabled()
    with pytest.raises(NotImplementedError, match="check_nan=False"):
        mg.autograd.set_detect_anomaly(True, check_nan=False)
    assert not mg.is_anomaly_enabled()
    with pytest.raises(TypeError):
        mg.autograd.set_detect_anomaly("yes")
