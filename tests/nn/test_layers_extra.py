"""The in-place activations (F.relu_ …), F.gumbel_softmax, F.pdist, Dropout1d, AlphaDropout, LazyLinear,
Bilinear, GroupNorm and InstanceNorm1d, against PyTorch where the result is deterministic and statistically
where it is random."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import assert_close, check_against_torch, check_op, to_torch

import minigrad as mg
import nn
from nn import functional as F

RNG = np.random.default_rng(23)


def leaf(*shape: int, dtype: type = np.float64) -> mg.Tensor:
    return mg.tensor(RNG.standard_normal(shape).astype(dtype), requires_grad=True)


# --- in-place activations --------------------------------------------------------------------------------

# celu's alpha is 2: PyTorch's celu backward uses float32(1/alpha), so another alpha's gradient differs from the
# float64 derivative by ~1e-8 (F.celu's as well)
IN_PLACE = [("relu_", ()), ("elu_", (0.7,)), ("leaky_relu_", (0.2,)), ("hardtanh_", (-0.5, 0.8)), ("selu_", ()),
            ("celu_", (2.0,)), ("threshold_", (0.1, -2.0))]


@pytest.mark.parametrize(("name", "args"), IN_PLACE)
def test_in_place_activations_as_pytorch(torch, name: str, args: tuple) -> None:
    ours, theirs = getattr(F, name), getattr(torch.nn.functional, name)
    x = RNG.standard_normal((3, 5)) * 2
    plain = mg.tensor(x)
    assert ours(plain, *args) is plain
    assert_close(plain, theirs(torch.from_numpy(x.copy()), *args), what="values")
    # inside a graph: the tensor written in place carries on, with PyTorch's gradient
    check_op(lambda v: ours(v * 1.5, *args) * 2.0, [leaf(3, 5)], torch, lambda v: theirs(v * 1.5, *args) * 2.0)
    hidden = leaf(4) * 1.0
    before = hidden
    assert ours(hidden, *args) is before and hidden.requires_grad


@pytest.mark.parametrize(("name", "args"), IN_PLACE)
def test_in_place_activations_refuse_a_leaf_that_requires_grad(name: str, args: tuple) -> None:
    x = leaf(3)
    with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
        getattr(F, name)(x, *args)
    with mg.no_grad():
        assert getattr(F, name)(x, *args) is x


# --- gumbel_softmax ---------------------------------------------------------------------------------------

def test_gumbel_softmax_samples_follow_the_softmax() -> None:
    """The argmax of logits + Gumbel noise is distributed as softmax(logits) (the Gumbel-max trick)."""
    mg.manual_seed(0)
    probabilities = np.array([0.1, 0.2, 0.3, 0.4])
    logits = mg.tensor(np.tile(np.log(probabilities), (20000, 1)))
    samples = F.gumbel_softmax(logits, tau=0.5)
    np.testing.assert_allclose(samples.numpy().sum(axis=1), 1.0, rtol=1e-12)
    counts = np.bincount(samples.numpy().argmax(axis=1), minlength=4) / 20000
    np.testing.assert_allclose(counts, probabilities, atol=0.015)
    # a low temperature gives nearly one-hot samples, a high one nearly uniform
    assert F.gumbel_softmax(logits[:500], tau=0.01).numpy().max(axis=1).mean() > 0.99
    assert F.gumbel_softmax(logits[:500], tau=100.0).numpy().max(axis=1).mean() < 0.27


def test_gumbel_softmax_hard_is_one_hot_with_the_soft_gradient() -> None:
    """hard=True: the one-hot of the soft sample's argmax forward, the soft sample's gradient backward."""
    weights = mg.tensor(RNG.standard_normal((6, 5)))
    values = RNG.standard_normal((6, 5))
    soft_logits, hard_logits = mg.tensor(values, requires_grad=True), mg.tensor(values, requires_grad=True)
    mg.manual_seed(3)
    soft = F.gumbel_softmax(soft_logits, tau=0.7)
    mg.manual_seed(3)
    hard = F.gumbel_softmax(hard_logits, tau=0.7, hard=True)
    np.testing.assert_array_equal(hard.numpy(), np.eye(5)[soft.numpy().argmax(axis=1)])
    (soft * weights).sum().backward()
    (hard * weights).sum().backward()
    np.testing.assert_allclose(hard_logits.grad.numpy(), soft_logits.grad.numpy(), rtol=1e-12, atol=1e-15)
    mg.manual_seed(4)
    along_0 = F.gumbel_softmax(mg.tensor(values), hard=True, dim=0)
    np.testing.assert_array_equal(along_0.numpy().sum(axis=0), np.ones(5))


def test_gumbel_softmax_gradcheck_for_fixed_noise() -> None:
    def sample(logits: mg.Tensor) -> mg.Tensor:
        mg.manual_seed(11)   # the same noise on every call, so finite differences see a smooth function
        return F.gumbel_softmax(logits, tau=0.8, dim=0)

    assert mg.gradcheck(sample, [leaf(4, 3)])
    with pytest.warns(UserWarning, match="deprecated"):
        F.gumbel_softmax(leaf(3), eps=1e-5)


# --- pdist --------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("p", [2.0, 1.0, 3.0, 0.5, float("inf")])
def test_pdist_as_pytorch(torch, p: float) -> None:
    check_op(lambda x: F.pdist(x, p), [leaf(5, 3)], torch, lambda x: torch.nn.functional.pdist(x, p))


def test_pdist_of_equal_rows_and_p_0(torch) -> None:
    x = RNG.standard_normal((4, 3))
    x[2] = x[0]
    check_against_torch(torch, lambda v: F.pdist(v), lambda v: torch.nn.functional.pdist(v), [mg.tensor(
        x, requires_grad=True)])
    counts = F.pdist(mg.tensor(np.round(x)), 0)
    assert_close(counts, torch.nn.functional.pdist(torch.from_numpy(np.round(x)), 0))
    with pytest.raises(ValueError, match="2-D"):
        F.pdist(leaf(2, 3, 4))
    with pytest.raises(ValueError, match="non-negative p"):
        F.pdist(leaf(2, 3), -1)


# --- Dropout1d and AlphaDropout ---------------------------------------------------------------------------------

def test_dropout1d_drops_whole_channels(torch) -> None:
    mg.manual_seed(0)
    layer = nn.Dropout1d(0.3)
    assert repr(layer) == repr(torch.nn.Dropout1d(0.3))
    x = mg.tensor(RNG.uniform(1, 2, (200, 16, 7)), requires_grad=True)
    y = layer(x)
    rows = y.numpy().reshape(-1, 7)
    dropped = (rows == 0).all(axis=1)
    kept = np.isclose(rows, x.numpy().reshape(-1, 7) / 0.7, rtol=1e-12).all(axis=1)
    assert (dropped | kept).all()
    assert abs(dropped.mean() - 0.3) < 0.03
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy().reshape(-1, 7), np.where(dropped[:, None], 0.0, 1 / 0.7) * np.ones(7))
    unbatched = F.dropout1d(mg.tensor(np.ones((50, 4))), 0.5)
    assert set(np.unique(unbatched.numpy().sum(axis=1))) <= {0.0, 8.0}
    layer.eval()
    assert layer(x) is x
    with pytest.raises(ValueError, match="2-D \\(C, L\\) or 3-D"):
        F.dropout1d(leaf(2, 3, 4, 5))


def test_alpha_dropout_keeps_mean_and_variance_and_pytorchs_formula(torch) -> None:
    mg.manual_seed(1)
    p = 0.2
    layer = nn.AlphaDropout(p)
    assert repr(layer) == repr(torch.nn.AlphaDropout(p))
    x = mg.tensor(RNG.standard_normal(200_000), requires_grad=True)
    y = layer(x)
    assert abs(y.numpy().mean()) < 0.01 and abs(y.numpy().std() - 1) < 0.01
    # PyTorch's formula: a·x + b where kept, a·(-λα) + b where dropped, a = ((λα)²p + 1)(1 - p))^-½, b = a·λα·p
    saturation = 1.7580993408473766
    a = ((saturation ** 2 * p + 1) * (1 - p)) ** -0.5
    dropped = np.isclose(y.numpy(), -saturation * a + saturation * a * p, rtol=0, atol=1e-12)
    assert abs(dropped.mean() - p) < 0.005
    np.testing.assert_allclose(y.numpy()[~dropped], a * x.numpy()[~dropped] + saturation * a * p, rtol=1e-12)
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), np.where(dropped, 0.0, a))
    assert F.alpha_dropout(x, p) is x   # training=False by default, as PyTorch's
    layer.eval()
    assert layer(x) is x


# --- LazyLinear --------------------------------------------------------------------------------------------

def test_lazy_linear_infers_in_features_on_the_first_call(torch) -> None:
    mg.manual_seed(0)
    lazy = nn.LazyLinear(4)
    assert repr(lazy) == repr(torch.nn.LazyLinear(4))
    assert lazy.has_uninitialized_params() and lazy.in_features == 0
    weight, bias = lazy.weight, lazy.bias
    optimizer = nn.optim.SGD(lazy.parameters(), lr=0.1)   # built before the shapes are known, as in PyTorch
    x = mg.tensor(RNG.standard_normal((2, 5, 3)).astype(np.float32))
    y = lazy(x)
    assert y.shape == (2, 5, 4) and type(lazy) is nn.Linear and lazy.in_features == 3
    assert lazy.weight is weight and weight.shape == (4, 3) and bias.shape == (4,)
    assert list(lazy.state_dict()) == ["weight", "bias"]
    bound = 1 / np.sqrt(3)
    assert np.abs(weight.numpy()).max() <= bound and np.abs(bias.numpy()).max() <= bound
    assert_close(y, x.numpy() @ weight.numpy().T + bias.numpy(), rtol=1e-6, atol=1e-6)
    before = weight.numpy().copy()
    y.sum().backward()
    optimizer.step()
    assert not np.allclose(weight.numpy(), before)
    assert repr(lazy) == "Linear(in_features=3, out_features=4, bias=True)"


def test_lazy_linear_loads_a_state_dict_before_its_first_call(torch) -> None:
    theirs = torch.nn.Linear(6, 2, dtype=torch.float64)
    lazy = nn.LazyLinear(2, bias=True, dtype=mg.float64)
    lazy.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    assert lazy.in_features == 6
    x = RNG.standard_normal((3, 6))
    assert_close(lazy(mg.tensor(x)), theirs(torch.from_numpy(x)))
    no_bias = nn.LazyLinear(3, bias=False)
    no_bias(mg.ones(2, 5))
    assert no_bias.bias is None and no_bias.weight.shape == (3, 5)


# --- Bilinear ------------------------------------------------------------------------------------------------

def test_bilinear_as_pytorch(torch) -> None:
    check_op(F.bilinear, [leaf(2, 3, 4), leaf(2, 3, 5), leaf(6, 4, 5), leaf(6)], torch, torch.nn.functional.bilinear)
    check_op(lambda a, b, w: F.bilinear(a, b, w), [leaf(4), leaf(2), leaf(3, 4, 2)], torch,
             lambda a, b, w: torch.nn.functional.bilinear(a, b, w))
    theirs = torch.nn.Bilinear(4, 5, 3, dtype=torch.float64)
    ours = nn.Bilinear(4, 5, 3, dtype=mg.float64)
    assert repr(ours) == repr(theirs) and list(ours.state_dict()) == list(theirs.state_dict())
    bound = 1 / np.sqrt(4)
    assert np.abs(ours.weight.numpy()).max() <= bound and np.abs(ours.bias.numpy()).max() <= bound
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    x1, x2 = RNG.standard_normal((7, 4)), RNG.standard_normal((7, 5))
    a1, a2 = mg.tensor(x1, requires_grad=True), mg.tensor(x2, requires_grad=True)
    t1, t2 = to_torch(torch, x1, True), to_torch(torch, x2, True)
    ours(a1, a2).sum().backward()
    theirs(t1, t2).sum().backward()
    for mine, reference in ((a1.grad, t1.grad), (a2.grad, t2.grad), (ours.weight.grad, theirs.weight.grad),
                            (ours.bias.grad, theirs.bias.grad)):
        assert_close(mine, reference)
    with pytest.raises(ValueError, match="same leading dims"):
        F.bilinear(leaf(2, 4), leaf(3, 5), leaf(3, 4, 5))


# --- GroupNorm and InstanceNorm1d ---------------------------------------------------------------------------

@pytest.mark.parametrize("shape", [(3, 6), (3, 6, 5), (2, 6, 3, 4)])
@pytest.mark.parametrize("groups", [1, 2, 3, 6])
def test_group_norm_as_pytorch(torch, shape: tuple, groups: int) -> None:
    check_op(lambda x, w, b: F.group_norm(x, groups, w, b, 1e-3), [leaf(*shape), leaf(6), leaf(6)], torch,
             lambda x, w, b: torch.nn.functional.group_norm(x, groups, w, b, 1e-3))


@pytest.mark.parametrize("options", [dict(), dict(affine=False), dict(bias=False)])
def test_group_norm_module_as_pytorch(torch, options: dict) -> None:
    ours, theirs = nn.GroupNorm(2, 4, **options), torch.nn.GroupNorm(2, 4, **options)
    assert repr(ours) == repr(theirs) and list(ours.state_dict()) == list(theirs.state_dict())
    x = RNG.standard_normal((3, 4, 5)).astype(np.float32)
    assert_close(ours(mg.tensor(x)), theirs(torch.from_numpy(x)), rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError, match="divisible by num_groups"):
        nn.GroupNorm(3, 4)


@pytest.mark.parametrize("options", [dict(), dict(affine=True), dict(track_running_stats=True),
                                     dict(affine=True, track_running_stats=True, momentum=None)])
def test_instance_norm_1d_trains_and_evaluates_as_pytorch(torch, options: dict) -> None:
    ours = nn.InstanceNorm1d(3, dtype=mg.float64, **options)
    theirs = torch.nn.InstanceNorm1d(3, dtype=torch.float64, **options)
    assert repr(ours) == repr(theirs) and list(ours.state_dict()) == list(theirs.state_dict())
    if ours.weight is not None:
        with mg.no_grad(), torch.no_grad():
            values = RNG.uniform(0.5, 1.5, 3)
            ours.weight.copy_(mg.tensor(values))
            theirs.weight.copy_(torch.from_numpy(values))
    for step, shape in enumerate([(4, 3, 6), (2, 3, 5), (3, 6)]):
        if step == 2:
            ours.eval()
            theirs.eval()
        x = RNG.standard_normal(shape) * 2 + 1
        check_against_torch(torch, ours, theirs, [mg.tensor(x, requires_grad=True)])
        for name, buffer in theirs.named_buffers():
            if name != "num_batches_tracked":
                assert_close(ours.get_buffer(name), buffer, what=name)


def test_instance_norm_function_as_pytorch(torch) -> None:
    check_op(lambda x, w, b: F.instance_norm(x, weight=w, bias=b), [leaf(2, 3, 4), leaf(3), leaf(3)], torch,
             lambda x, w, b: torch.nn.functional.instance_norm(x, weight=w, bias=b))
    check_op(lambda x: F.instance_norm(x), [leaf(2, 3, 2, 3)], torch, lambda x: torch.nn.functional.instance_norm(x))
    with pytest.raises(ValueError, match="more than 1 spatial element"):
        F.instance_norm(leaf(2, 3, 1))


# --- the same numbers on the GPU (the strict CuPy stand-in without one) --------------------------------

@pytest.mark.gpu
def test_extras_on_the_gpu_match_the_cpu() -> None:
    x = RNG.standard_normal((3, 4, 5)).astype(np.float32)
    w = RNG.standard_normal((2, 5, 5)).astype(np.float32)

    def run(device: str) -> list:
        xo = mg.tensor(x, requires_grad=True, device=device)
        wo = mg.tensor(w, requires_grad=True, device=device)
        hidden = F.elu_(xo * 1.0)
        total = (F.bilinear(hidden, hidden, wo).sum() + F.pdist(hidden[0]).sum() + F.group_norm(hidden, 2).sum()
                 + (F.instance_norm(hidden) * hidden).sum())
        total.backward()
        return [total.numpy(), xo.grad.numpy(), wo.grad.numpy()]

    for gpu, cpu in zip(run("cuda"), run("cpu")):
        np.testing.assert_allclose(gpu, cpu, rtol=1e-4, atol=1e-4)
    # random draws differ between devices' generators: only the sample's form is compared
    sample = F.gumbel_softmax(mg.tensor(x, device="cuda"), hard=True)
    assert sample.device.type == "cuda"
    np.testing.assert_array_equal(sample.numpy().sum(axis=-1), np.ones((3, 4)))
    assert F.dropout1d(mg.tensor(x, device="cuda"), 0.5).device.type == "cuda"


def test_the_new_modules_take_pytorchs_factory_keywords() -> None:
    """DESIGN §5: every module constructor takes device=None, dtype=None (keyword-only where PyTorch has none)."""
    keywords = dict(device="cpu", dtype=mg.float64)
    modules = [nn.Conv1d(2, 3, 3, **keywords), nn.Conv2d(2, 3, 3, **keywords), nn.MaxPool1d(2, **keywords),
               nn.MaxPool2d(2, **keywords), nn.AvgPool1d(2, **keywords), nn.AvgPool2d(2, **keywords),
               nn.AdaptiveAvgPool1d(2, **keywords), nn.AdaptiveMaxPool1d(2, **keywords),
               nn.ConstantPad1d(1, 0.5, **keywords), nn.ZeroPad1d(1, **keywords), nn.ReflectionPad1d(1, **keywords),
               nn.ReplicationPad1d(1, **keywords), nn.CircularPad1d(1, **keywords), nn.Dropout1d(**keywords),
               nn.AlphaDropout(**keywords), nn.LazyLinear(2, **keywords), nn.Bilinear(2, 3, 4, **keywords),
               nn.GroupNorm(1, 2, **keywords), nn.InstanceNorm1d(2, affine=True, track_running_stats=True, **keywords),
               nn.GaussianNLLLoss(**keywords), nn.PoissonNLLLoss(**keywords), nn.MarginRankingLoss(**keywords),
               nn.HingeEmbeddingLoss(**keywords), nn.SoftMarginLoss(**keywords), nn.CosineEmbeddingLoss(**keywords),
               nn.MultiLabelSoftMarginLoss([1, 2], **keywords), nn.TripletMarginLoss(**keywords),
               nn.MultiMarginLoss(weight=[1, 2], **keywords), nn.MultiLabelMarginLoss(**keywords)]
    for module in modules:
        for name, tensor in module.state_dict().items():
            assert tensor.device == "cpu", name
            if tensor.dtype.kind == "f":
                assert tensor.dtype == mg.float64, f"{type(module).__name__}.{name}"


@pytest.mark.parametrize("name", ["Dropout2d", "Dropout3d", "FeatureAlphaDropout", "RReLU", "Softmax2d",
                                  "TripletMarginWithDistanceLoss"])
def test_more_torch_modules_exist_with_torchs_repr_and_are_exported(torch, name: str) -> None:
    assert name in nn.__all__
    assert repr(getattr(nn, name)()) == repr(getattr(torch.nn, name)())


@pytest.mark.parametrize(("name", "shape"), [("Dropout2d", (4, 6, 3, 3)), ("Dropout3d", (2, 6, 2, 3, 3)),
                                             ("FeatureAlphaDropout", (4, 6, 3, 3))])
def test_channel_dropout_modules_drop_whole_channels_in_training_only(name: str, shape: tuple) -> None:
    module = getattr(nn, name)(0.5)
    mg.manual_seed(0)
    y = module(mg.ones(*shape, dtype=mg.float64)).numpy().reshape(shape[0] * shape[1], -1)
    assert (y == y[:, :1]).all() and len(np.unique(y[:, 0])) == 2   # one draw per (sample, channel)
    module.eval()
    x = mg.randn(*shape)
    assert np.array_equal(module(x).numpy(), x.numpy())


def test_softmax2d_is_softmax_over_channels_as_pytorch(torch) -> None:
    for shape in ((2, 3, 4, 5), (3, 4, 5)):
        x = mg.tensor(np.random.default_rng(0).standard_normal(shape), requires_grad=True)
        check_op(nn.Softmax2d(), [x], torch, torch.nn.Softmax2d())
    with pytest.raises(ValueError, match=r"Softmax2d: .*\(3, 4\)"):
        nn.Softmax2d()(mg.randn(3, 4))


def test_a_lazy_linear_inside_a_container_takes_its_shapes_from_the_state_dict(torch) -> None:
    torch.manual_seed(0)   # float32 outputs near 0: an unseeded draw failed rtol alone now and then
    theirs = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.Tanh(), torch.nn.Linear(3, 2))
    ours = nn.Sequential(nn.LazyLinear(3), nn.Tanh(), nn.LazyLinear(2))
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    assert [type(m).__name__ for m in ours] == ["Linear", "Tanh", "Linear"]
    x = np.random.default_rng(0).standard_normal((5, 4)).astype(np.float32)
    np.testing.assert_allclose(ours(mg.tensor(x)).numpy(), theirs(torch.from_numpy(x)).detach().numpy(), rtol=1e-6,
                               atol=1e-6)
