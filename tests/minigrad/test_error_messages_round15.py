"""Round 15 error-message audit (found by fuzzing bad calls against torch): a refused call raises torch's
exception class, its message names the op (or layer) and the offending shapes/dtypes/values, and nothing it
would have changed (parameters, buffers, the in-place target, its version counter) has changed."""

import numpy as np
import pytest

import minigrad as mg
import nn

torch = pytest.importorskip("torch", reason="no torch")


def _raises_like_torch(mg_call, torch_call):
    """Run both calls; both must raise, ours an instance of torch's class. Returns our exception."""
    with pytest.raises(Exception) as theirs:
        torch_call()
    with pytest.raises(Exception) as ours:
        mg_call()
    assert isinstance(ours.value, type(theirs.value)), (type(ours.value), type(theirs.value), str(ours.value))
    return ours.value


@pytest.mark.parametrize("module", ["BatchNorm1d", "BatchNorm2d", "BatchNorm3d", "SyncBatchNorm"])
@pytest.mark.parametrize("momentum", [0.1, None])
def test_batch_norm_refusing_one_value_per_channel_counts_no_batch(module, momentum):
    """A training batch norm refusing a batch of one value per channel leaves num_batches_tracked as it was
    (torch counts the refused batch, which would shift a momentum=None average)."""
    dims = {"BatchNorm1d": 0, "BatchNorm2d": 2, "BatchNorm3d": 3, "SyncBatchNorm": 0}[module]
    layer = getattr(nn, module)(3, momentum=momentum)
    x = mg.tensor(np.random.default_rng(0).standard_normal((1, 3) + (1,) * dims).astype(np.float32))
    version = layer.num_batches_tracked._version
    with pytest.raises(ValueError, match="more than 1 value per channel") as err:
        layer(x)
    assert str((1, 3) + (1,) * dims) in str(err.value)
    assert layer.num_batches_tracked.item() == 0 and layer.num_batches_tracked._version == version
    assert np.array_equal(layer.running_mean.numpy(), np.zeros(3, np.float32))
    # a good batch still counts, and momentum=None averages over the batches that ran
    good = np.random.default_rng(1).standard_normal((4, 3) + (2,) * dims).astype(np.float32)
    layer(mg.tensor(good))
    reference = getattr(torch.nn, module if module != "SyncBatchNorm" else "BatchNorm1d")(3, momentum=momentum)
    reference(torch.tensor(good))
    assert layer.num_batches_tracked.item() == 1
    np.testing.assert_allclose(layer.running_mean.numpy(), reference.running_mean.numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(layer.running_var.numpy(), reference.running_var.numpy(), rtol=1e-5, atol=1e-6)


def _z(*shape):
    return np.zeros(shape, np.float32)


@pytest.mark.parametrize("name, call, shapes", [
    ("addcdiv", lambda m, t: m.addcdiv(t(_z(3)), t(_z(3)), t(_z(4))), ["(3,)", "(4,)"]),
    ("addcmul", lambda m, t: m.addcmul(t(_z(2)), t(_z(2)), t(_z(3)), value=2), ["(2,)", "(3,)"]),
    ("ldexp", lambda m, t: m.ldexp(t(_z(2)), t(_z(3))), ["(2,)", "(3,)"]),
    ("true_divide", lambda m, t: m.true_divide(t(_z(4, 2)), t(_z(5, 2))), ["(4, 2)", "(5, 2)"]),
    ("rsub", lambda m, t: m.rsub(t(_z(2)), t(_z(3))), ["(2,)", "(3,)"]),
    ("float_power", lambda m, t: m.float_power(t(_z(2, 2)), t(_z(2, 3))), ["(2, 2)", "(2, 3)"]),
    ("addmm", lambda m, t: m.addmm(t(_z(2, 2)), t(_z(2, 3)), t(_z(4, 2))), ["(2, 3)", "(4, 2)"]),
    ("baddbmm", lambda m, t: m.baddbmm(t(_z(2, 2, 2)), t(_z(2, 2, 3)), t(_z(2, 4, 2))), ["(2, 2, 3)", "(2, 4, 2)"]),
])
def test_composite_ops_name_themselves_in_shape_errors(name, call, shapes):
    """A composite op's shape error names the op the user called (addcdiv, not the div inside it) and its
    inputs' shapes, with torch's class."""
    err = _raises_like_torch(lambda: call(mg, mg.tensor), lambda: call(torch, torch.tensor))
    message = str(err)
    assert message.startswith(f"{name}:"), message
    assert all(shape in message for shape in shapes), message


def test_unsqueeze_and_expand_errors_name_the_call_and_shapes():
    x = np.zeros((2, 3), np.float32)
    err = _raises_like_torch(lambda: mg.tensor(x).unsqueeze(4), lambda: torch.tensor(x).unsqueeze(4))
    assert str(err).startswith("unsqueeze: dim 4") and "(2, 3)" in str(err) and "[-3, 2]" in str(err)
    err = _raises_like_torch(lambda: mg.tensor(x).expand(4, 3), lambda: torch.tensor(x).expand(4, 3))
    assert str(err).startswith("expand:") and "(2, 3)" in str(err) and "(4, 3)" in str(err)
    err = _raises_like_torch(lambda: mg.tensor(x).sum(dim=2), lambda: torch.tensor(x).sum(dim=2))
    assert str(err).startswith("sum:") and "[-2, 1]" in str(err)


def test_cat_of_python_numbers_is_torchs_type_error():
    err = _raises_like_torch(lambda: mg.cat([1, 2]), lambda: torch.cat([1, 2]))
    assert str(err).startswith("concat:") and "element 0" in str(err) and "int" in str(err)
    err = _raises_like_torch(lambda: mg.cat([mg.zeros(2), 2.0]), lambda: torch.cat([torch.zeros(2), 2.0]))
    assert "element 1" in str(err) and "float" in str(err)


def test_reshape_with_two_inferred_sizes_names_the_op_and_shape():
    x = np.zeros((2, 3), np.float32)
    for name in ("reshape", "view"):
        err = _raises_like_torch(lambda name=name: getattr(mg.tensor(x), name)(-1, 1, -1),
                                 lambda name=name: getattr(torch.tensor(x), name)(-1, 1, -1))
        assert str(err).startswith(f"{name}:") and "[-1, 1, -1]" in str(err)
    assert mg.tensor(x).expand(-1, -1).shape == (2, 3)   # expand keeps each -1 dim


def test_gather_rank_and_masked_scatter_shape_errors():
    x = np.zeros((2, 4), np.float32)
    index = np.zeros(3, np.int64)
    err = _raises_like_torch(lambda: mg.gather(mg.tensor(x), 1, mg.tensor(index)),
                             lambda: torch.gather(torch.tensor(x), 1, torch.tensor(index)))
    assert str(err).startswith("gather:") and "(2, 4)" in str(err) and "(3,)" in str(err)
    mask = np.ones((2, 3), bool)
    target = mg.tensor(x)
    version = target._version
    err = _raises_like_torch(lambda: target.masked_scatter_(mg.tensor(mask), mg.ones(8)),
                             lambda: torch.tensor(x).masked_scatter_(torch.tensor(mask), torch.ones(8)))
    assert str(err).startswith("masked_scatter") and "(2, 3)" in str(err) and "(2, 4)" in str(err)
    assert target._version == version and not target.numpy().any()


def test_fold_unfold_interpolate_rank_errors_name_the_function():
    F, tF = nn.functional, torch.nn.functional
    cases = [("unfold", lambda f, t: f.unfold(t(_z(4, 4)), 2), "(4, 4)"),
             ("unfold", lambda f, t: f.unfold(t(_z(1, 1, 1, 4, 4)), 2), "(1, 1, 1, 4, 4)"),
             ("fold", lambda f, t: f.fold(t(_z(4)), (2, 2), 1), "(4,)"),
             ("interpolate", lambda f, t: f.interpolate(t(_z(4)), scale_factor=2), "(4,)"),
             ("interpolate", lambda f, t: f.interpolate(t(_z(1, 1, 4)), scale_factor=2, mode="bilinear"), "(1, 1, 4)")]
    for name, call, shape in cases:
        err = _raises_like_torch(lambda call=call: call(F, mg.tensor), lambda call=call: call(tF, torch.tensor))
        assert str(err).startswith(f"{name}:") and shape in str(err), str(err)
        assert isinstance(err, NotImplementedError)   # minigrad's earlier class stays


@pytest.mark.parametrize("name", ["SGD", "Adam", "RMSprop", "Adagrad", "Rprop", "LBFGS"])
def test_optimizer_state_of_the_wrong_shape_is_refused_at_load_with_a_runtime_error_too(name):
    """torch loads a state array of the wrong shape and raises RuntimeError at step(); we refuse it at the load
    (nothing loaded), with a class that is both ValueError (minigrad's) and RuntimeError (torch's)."""
    kwargs = {"lr": 0.1} if name != "SGD" else {"lr": 0.1, "momentum": 0.9}
    p = nn.Parameter(mg.ones(3))
    opt = getattr(nn.optim, name)([p], **kwargs)
    p.grad = mg.ones(3)
    opt.step((lambda: (p * p).sum()) if name == "LBFGS" else None)
    saved = opt.state_dict()
    q = nn.Parameter(mg.ones(4))
    other = getattr(nn.optim, name)([q], **kwargs)
    before = other.state_dict()
    with pytest.raises(RuntimeError, match="nothing was loaded") as err:
        other.load_state_dict(saved)
    assert isinstance(err.value, ValueError) and "(3,)" in str(err.value) and "(4,)" in str(err.value)
    assert repr(other.state_dict()) == repr(before)


def test_permute_without_dims_is_torchs_type_error():
    for shape in ((3,), ()):
        x = np.zeros(shape, np.float32)
        err = _raises_like_torch(lambda x=x: mg.tensor(x).permute(), lambda x=x: torch.tensor(x).permute())
        assert "permute()" in str(err) and "dims" in str(err) and str(shape) in str(err)
    assert mg.zeros(()).permute(()).shape == () and mg.zeros(2, 3).transpose().shape == (3, 2)


def test_class_target_of_a_float_dtype_names_both_shapes():
    logits, target = np.zeros((3, 4), np.float32), np.zeros((3, 5), np.float32)
    err = _raises_like_torch(lambda: nn.functional.cross_entropy(mg.tensor(logits), mg.tensor(target)),
                             lambda: torch.nn.functional.cross_entropy(torch.tensor(logits), torch.tensor(target)))
    assert str(err).startswith("cross_entropy:") and "(3, 5)" in str(err) and "(3, 4)" in str(err)
    assert "float32" in str(err)
    err = _raises_like_torch(lambda: nn.functional.nll_loss(mg.tensor(logits), mg.tensor(target[:, 0])),
                             lambda: torch.nn.functional.nll_loss(torch.tensor(logits), torch.tensor(target[:, 0])))
    assert str(err).startswith("nll_loss:") and "(3,)" in str(err) and "probabilities" not in str(err)


def test_functional_shape_errors_name_the_function():
    F, tF = nn.functional, torch.nn.functional
    cases = [("affine_grid", lambda f, t: f.affine_grid(t(_z(1, 3, 3)), [1, 1, 4, 4], align_corners=False),
              "(1, 3, 3)"),
             ("channel_shuffle", lambda f, t: f.channel_shuffle(t(_z(1, 3, 2, 2)), 2), "(1, 3, 2, 2)"),
             ("lp_pool2d", lambda f, t: f.lp_pool2d(t(_z(1, 1, 2, 2)), 2, 3), "(1, 1, 2, 2)")]
    for name, call, shape in cases:
        err = _raises_like_torch(lambda call=call: call(F, mg.tensor), lambda call=call: call(tF, torch.tensor))
        assert str(err).startswith(f"{name}:") and shape in str(err), str(err)


def test_float_tensor_index_names_its_dtype():
    x, index = np.zeros((2, 3), np.float32), np.array([1.5], np.float32)
    err = _raises_like_torch(lambda: mg.tensor(x)[mg.tensor(index)], lambda: torch.tensor(x)[torch.tensor(index)])
    assert "float32" in str(err) and "(1,)" in str(err) and "(2, 3)" in str(err)


def test_optimizer_argument_errors_have_torchs_class_too():
    p = nn.Parameter(mg.ones(3))
    q = torch.nn.Parameter(torch.ones(3))
    err = _raises_like_torch(lambda: nn.optim.SGD([p], lr="a"), lambda: torch.optim.SGD([q], lr="a"))
    assert isinstance(err, ValueError) and "lr='a'" in str(err)
    err = _raises_like_torch(lambda: nn.optim.SGD([p], lr=0.1).load_state_dict({}),
                             lambda: torch.optim.SGD([q], lr=0.1).load_state_dict({}))
    assert isinstance(err, ValueError) and str(err).startswith("SGD.load_state_dict: expected a dict with 'state'")


@pytest.mark.parametrize("name", ["sum", "mean", "amax", "std", "logsumexp"])
def test_repeated_reduction_dim_is_named(name):
    x = np.zeros((2, 3), np.float32)
    err = _raises_like_torch(lambda: getattr(mg.tensor(x), name)(dim=(1, -1)),
                             lambda: getattr(torch.tensor(x), name)(dim=(1, -1)))
    assert str(err).startswith(f"{name}: dim 1 appears multiple times") and "(1, -1)" in str(err)


def test_broadcast_to_names_both_shapes():
    x = np.zeros((4, 2), np.float32)
    err = _raises_like_torch(lambda: mg.broadcast_to(mg.tensor(x), (5, 2)),
                             lambda: torch.broadcast_to(torch.tensor(x), (5, 2)))
    assert str(err).startswith("broadcast_to:") and "(4, 2)" in str(err) and "(5, 2)" in str(err)
    assert "remapped" not in str(err)


def test_unknown_mode_strings_are_torchs_runtime_error_too():
    x = np.ones((2, 3), np.float32)
    err = _raises_like_torch(lambda: mg.div(mg.tensor(x), 2, rounding_mode="bogus"),
                             lambda: torch.div(torch.tensor(x), 2, rounding_mode="bogus"))
    assert isinstance(err, ValueError) and str(err).startswith("div:") and "'bogus'" in str(err)
    target = mg.tensor(x)
    err = _raises_like_torch(
        lambda: target.index_reduce_(0, mg.tensor([0]), mg.ones(1, 3), "bogus"),
        lambda: torch.tensor(x).index_reduce_(0, torch.tensor([0]), torch.ones(1, 3), "bogus"))
    assert str(err).startswith("index_reduce:") and "'bogus'" in str(err)
    assert target._version == 0 and np.array_equal(target.numpy(), x)


def test_init_constant_of_a_string_is_a_type_error_naming_the_tensor():
    p, q = nn.Parameter(mg.ones(3)), torch.nn.Parameter(torch.ones(3))
    err = _raises_like_torch(lambda: nn.init.constant_(p, "x"), lambda: torch.nn.init.constant_(q, "x"))
    assert "constant_" in str(err) and "str" in str(err) and "(3,)" in str(err)
    assert p._version == 0 and np.array_equal(p.detach().numpy(), np.ones(3, np.float32))


@pytest.mark.filterwarnings("ignore:torch.chain_matmul is deprecated")
@pytest.mark.parametrize("name, call, words", [
    ("trapezoid", lambda m, t: m.trapezoid(t(_z(3)), t(_z(4))), ["x has 4", "y 3"]),
    ("cumulative_trapezoid", lambda m, t: m.cumulative_trapezoid(t(_z(3)), t(_z(4))), ["x has 4", "y 3"]),
    ("polar", lambda m, t: m.polar(t(_z(3)), t(_z(4))), ["(3,)", "(4,)"]),
    ("chain_matmul", lambda m, t: m.chain_matmul(t(_z(3))), ["(3,)"]),
    ("vander", lambda m, t: m.vander(t(_z(2, 2))), ["(2, 2)"]),
    ("histogram", lambda m, t: m.histogram(t(_z(3)), t(_z(2, 2))), ["2 dimensions"]),
    ("conv_transpose1d", lambda m, t: m.conv_transpose1d(t(_z(1, 2, 3)), t(_z(3, 2))), ["(3, 2)"]),
])
def test_shape_errors_of_more_ops_name_the_op_with_torchs_class(name, call, words):
    err = _raises_like_torch(lambda: call(mg, mg.tensor), lambda: call(torch, torch.tensor))
    assert str(err).startswith(f"{name}:"), str(err)
    assert all(word in str(err) for word in words), str(err)


def test_layers_given_a_non_tensor_say_so():
    """BatchNorm1d given a str or None raised an AttributeError from inside minigrad (no .ndim)."""
    layer = nn.BatchNorm1d(3)
    for bad in ("abc", None):
        with pytest.raises(TypeError, match=f"BatchNorm1d: input must be a Tensor, got {type(bad).__name__}"):
            layer(bad)
    assert layer.num_batches_tracked.item() == 0
    err = _raises_like_torch(lambda: nn.Embedding(5, 2)("abc"), lambda: torch.nn.Embedding(5, 2)("abc"))
    assert str(err).startswith("embedding:") and "str" in str(err)


@pytest.mark.filterwarnings("ignore:.*implicit dim is deprecated")
@pytest.mark.parametrize("name", ["Tanh", "Sigmoid", "Softmax", "LogSoftmax", "Softmin", "Softmax2d", "Flatten"])
def test_modules_given_a_string_name_themselves_not_a_missing_attribute(name):
    """These raised "'str' object has no attribute 'tanh'" (or 'ndim', 'flatten') from inside nn."""
    for bad in ("abc", None):
        with pytest.raises(TypeError, match=f"{name}: input must be a Tensor, got {type(bad).__name__}"):
            getattr(nn, name)()(bad)
    x = mg.ones(1, 2, 2, 2)
    assert getattr(nn, name)()(x).shape in ((1, 2, 2, 2), (1, 8))


@pytest.mark.parametrize("name", ["eq_", "ne_", "lt_", "lt", "ge"])
def test_comparison_with_a_string_is_a_type_error_and_changes_nothing(name):
    """eq_/ne_ with a str or None got Python's == bool back and failed with "'bool' object has no attribute
    'shape'"; lt/ge gave NumPy's ufunc-loop message."""
    for bad in ("abc", None):
        x = mg.ones(2)
        err = _raises_like_torch(lambda bad=bad, x=x: getattr(x, name)(bad),
                                 lambda bad=bad: getattr(torch.ones(2), name)(bad))
        assert str(err).startswith(tuple(f"{n}{c} other" for n in (name, name.rstrip("_")) for c in ("():", ":")))
        assert f"got {type(bad).__name__}" in str(err)
        assert x._version == 0 and np.array_equal(x.numpy(), np.ones(2, np.float32))


@pytest.mark.parametrize("name, shape", [("LazyConv1d", (3,)), ("LazyConv2d", (2, 3)),
                                         ("LazyConvTranspose3d", (1, 2, 3))])
def test_lazy_conv_of_the_wrong_rank_is_torchs_runtime_error_too(name, shape):
    x = np.ones(shape, np.float32)
    err = _raises_like_torch(lambda: getattr(nn, name)(4, 2)(mg.tensor(x)),
                             lambda: getattr(torch.nn, name)(4, 2)(torch.tensor(x)))
    assert isinstance(err, ValueError) and str(err).startswith(f"{name}:") and str(shape) in str(err)
    with pytest.raises(TypeError, match=f"{name}: input must be a Tensor, got str"):
        getattr(nn, name)(4, 2)("abc")
