"""nn.functional and nn modules against torch.nn: the cases a round-16 breadth sweep (every public function of
torch.nn.functional and every torch.nn module class, 3-6 random configurations each: float32/float64, unbatched,
non-contiguous and 0-size inputs, optional arguments, invalid arguments, in-place variants, train/eval) found
differing from PyTorch 2.13, each with the value, shape or error class torch gives."""

from __future__ import annotations

import numpy as np
import pytest

import minigrad as mg
import nn

torch = pytest.importorskip("torch", reason="no torch")
F, TF = nn.functional, torch.nn.functional


@pytest.mark.parametrize("align_corners", [False, True])
@pytest.mark.parametrize(("mode", "input_shape", "grid_shape"), [
    ("bilinear", (0, 2, 4, 5), (0, 3, 2, 2)),       # an empty batch
    ("nearest", (0, 2, 3, 4, 5), (0, 3, 2, 2, 3)),
    ("bicubic", (0, 2, 4, 5), (0, 3, 2, 2)),
    ("bilinear", (2, 2, 4, 5), (2, 0, 3, 2)),       # no sampling points
])
def test_grid_sample_with_nothing_to_sample(mode: str, input_shape: tuple, grid_shape: tuple,
                                            align_corners: bool) -> None:
    # the (N, C, H·W) view of the input was a reshape with -1, which has no size to infer from 0 elements
    rng = np.random.default_rng(0)
    x, grid = rng.standard_normal(input_shape), rng.uniform(-1, 1, grid_shape)
    xt, gt = torch.tensor(x, requires_grad=True), torch.tensor(grid, requires_grad=True)
    xm, gm = mg.tensor(x, requires_grad=True), mg.tensor(grid, requires_grad=True)
    expected = TF.grid_sample(xt, gt, mode=mode, align_corners=align_corners)
    got = F.grid_sample(xm, gm, mode=mode, align_corners=align_corners)
    assert got.shape == tuple(expected.shape)
    expected.sum().backward()
    got.sum().backward()
    np.testing.assert_array_equal(xm.grad.numpy(), xt.grad.numpy())
    np.testing.assert_array_equal(gm.grad.numpy(), gt.grad.numpy())


@pytest.mark.parametrize(("call", "args"), [
    ("pdist", lambda lib: (lib.ones(3, 2), -1.0)),                                  # a negative p
    ("conv_tbc", lambda lib: (lib.ones(5, 2, 3), lib.ones(3, 4, 4), lib.ones(4))),   # C_in 3 vs the weight's 4
    ("conv_tbc", lambda lib: (lib.ones(5, 2, 2), lib.ones(3, 2, 4), lib.ones(3))),   # bias 3 vs C_out 4
    ("conv_tbc", lambda lib: (lib.ones(5, 2), lib.ones(3, 2, 4), lib.ones(4))),      # a 2-D input
    ("bilinear", lambda lib: (lib.ones(2, 3), lib.ones(2, 2), lib.ones(4, 3, 2), lib.ones(5))),   # bias 5 vs out 4
    ("pad", lambda lib: (lib.ones(1, 2, 5), (1, 1), "reflect", 1.0)),                # a value with mode="reflect"
])
def test_invalid_arguments_raise_runtime_error(call: str, args) -> None:
    # torch raises RuntimeError; ours raised ValueError (now an error of both classes)
    fn = {"pdist": TF.pdist, "conv_tbc": torch.conv_tbc, "bilinear": TF.bilinear, "pad": TF.pad}[call]
    with pytest.raises(RuntimeError):
        fn(*args(torch))
    with pytest.raises(RuntimeError, match=call):
        {"pdist": F.pdist, "conv_tbc": mg.conv_tbc, "bilinear": F.bilinear, "pad": F.pad}[call](*args(mg))


@pytest.mark.parametrize(("start_dim", "end_dim"), [(1, -1), (0, 1), (-2, 0), (0, 0), (-1, 0), (0, -1)])
def test_flatten_of_a_0d_tensor_checks_its_dims(start_dim: int, end_dim: int) -> None:
    # nn.Flatten() (start_dim=1) on a 0-d tensor: torch raises IndexError (its dims are 0 and -1); ours gave (1,)
    try:
        expected = tuple(torch.flatten(torch.tensor(2.0), start_dim, end_dim).shape)
    except IndexError:
        with pytest.raises(IndexError, match="flatten"):
            mg.flatten(mg.tensor(2.0), start_dim, end_dim)
        with pytest.raises(IndexError):
            nn.Flatten(start_dim, end_dim)(mg.tensor(2.0))
        return
    assert mg.flatten(mg.tensor(2.0), start_dim, end_dim).shape == expected == (1,)


@pytest.mark.parametrize(("name", "shape", "output_size"), [
    ("adaptive_avg_pool1d", (2, 3, 5), 0),
    ("adaptive_max_pool1d", (3, 5), 0),
    ("adaptive_avg_pool2d", (2, 3, 5, 4), (0, 2)),
    ("adaptive_max_pool2d", (2, 3, 5, 4), (2, 0)),
    ("adaptive_max_pool2d", (3, 5, 4), 0),
])
def test_adaptive_pools_to_an_empty_output(name: str, shape: tuple, output_size) -> None:
    # torch gives an empty result (as our 3-D pools did); the 1-D and 2-D ones raised "must be positive"
    x = np.random.default_rng(0).standard_normal(shape)
    kwargs = {"return_indices": True} if "max" in name else {}
    expected = getattr(TF, name)(torch.tensor(x), output_size, **kwargs)
    xm = mg.tensor(x, requires_grad=True)
    got = getattr(F, name)(xm, output_size, **kwargs)
    for ours, theirs in zip(got if kwargs else [got], expected if kwargs else [expected]):
        assert ours.shape == tuple(theirs.shape)
        assert ours.dtype == theirs.numpy().dtype
    (got[0] if kwargs else got).sum().backward()
    np.testing.assert_array_equal(xm.grad.numpy(), np.zeros(shape))


@pytest.mark.parametrize("dtype", ["int64", "int32", "bool"])
@pytest.mark.parametrize(("name", "args"), [
    ("elu", ()), ("silu", ()), ("softplus", ()), ("glu", ()), ("log_softmax", (1,)),
    ("max_pool1d", (2,)), ("adaptive_avg_pool1d", (2,)), ("group_norm", (1,)), ("rms_norm", ((4,),)),
    ("instance_norm", ()),
])
def test_integer_inputs_raise_not_implemented_error(name: str, args: tuple, dtype: str) -> None:
    # torch has no integer/bool kernel: NotImplementedError ("... not implemented for 'Long'"); ours was a
    # TypeError/RuntimeError only (still both)
    x = np.arange(24).reshape(2, 3, 4).astype(dtype)
    with pytest.raises(NotImplementedError):
        getattr(TF, name)(torch.tensor(x), *args)
    with pytest.raises(NotImplementedError, match=name):
        getattr(F, name)(mg.tensor(x), *args)
    with pytest.raises(TypeError):
        getattr(F, name)(mg.tensor(x), *args)


def test_normalize_takes_out() -> None:
    # torch's F.normalize(..., out=) writes torch.div's result into out; ours had no out parameter (TypeError)
    x = np.random.default_rng(0).standard_normal((3, 4))
    theirs, ours = torch.empty(0, dtype=torch.float32), mg.empty(0, dtype=mg.float32)   # resized and cast
    expected = TF.normalize(torch.tensor(x), dim=0, out=theirs)
    got = F.normalize(mg.tensor(x), dim=0, out=ours)
    assert got is ours and expected is theirs
    assert ours.dtype == mg.float32 and ours.shape == (3, 4)
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-6)
    with pytest.raises(RuntimeError):
        TF.normalize(torch.tensor(x, requires_grad=True), out=torch.empty(3, 4, dtype=torch.float64))
    with pytest.raises(RuntimeError, match="automatic differentiation"):
        F.normalize(mg.tensor(x, requires_grad=True), out=mg.empty(3, 4, dtype=mg.float64))


def test_module_methods_take_torchs_keyword_names() -> None:
    # keyword calls written for torch: register_buffer(tensor=), load_state_dict(state_dict=),
    # Sequential.extend(sequential=), Embedding.forward(input=) raised TypeError; modules() had no remove_duplicate
    results = {}
    for lib, library in (("torch", torch), ("ours", mg)):
        layers = torch.nn if lib == "torch" else nn
        shared = layers.Linear(2, 2)
        model = layers.Sequential(shared).extend(sequential=[shared, layers.Embedding(4, 2)])
        model.register_buffer("step", tensor=library.zeros(1), persistent=True)
        model.load_state_dict(state_dict=model.state_dict(), strict=True)
        looked_up = model[2](input=library.tensor([[1, 3]]))
        results[lib] = (len(model), sorted(model.state_dict()), len(list(model.modules())),
                        len(list(model.modules(remove_duplicate=False))), tuple(looked_up.shape))
    assert results["ours"] == results["torch"]
