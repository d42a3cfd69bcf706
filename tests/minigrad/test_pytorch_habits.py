"""PyTorch habits met in ported training loops: each either works as in PyTorch or fails with a clear error."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pytest

import minigrad as mg


def test_to_takes_pytorchs_non_blocking_copy_and_memory_format() -> None:
    x = mg.zeros(2, requires_grad=True)
    assert x.to("cpu", non_blocking=True) is x                 # nothing to do: the same tensor, as torch
    assert x.to("cpu", memory_format=None) is x
    copied = x.to("cpu", copy=True)
    assert copied is not x and copied.data is not x.data and copied.requires_grad
    assert x.to("cpu", mg.float64, True).dtype == mg.float64    # to(device, dtype, non_blocking)
    assert x.to(mg.float32, False, True) is not x               # to(dtype, non_blocking, copy)
    assert x.to(x, False, True) is not x and x.to(x) is x       # to(other, non_blocking, copy)
    with pytest.raises(TypeError, match="non_blocking and copy must be bools"):
        x.to("cpu", non_blocking="yes")


def test_copy_true_keeps_the_gradient_path() -> None:
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    (x.to("cpu", copy=True) * 3).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [3.0, 3.0])


def test_a_pytorch_checkpoint_is_refused_with_how_to_convert_it(tmp_path) -> None:
    torch = pytest.importorskip("torch", reason="needs torch to write a PyTorch checkpoint")
    path = tmp_path / "model.pt"
    torch.save(torch.nn.Linear(3, 2).state_dict(), path)
    with pytest.raises(mg.CheckpointError, match=r"PyTorch checkpoint.*never unpickles.*numpy.savez"):
        mg.load(path)


@pytest.mark.parametrize("loss", ["mse_loss", "l1_loss"])
def test_a_target_that_broadcasts_against_the_input_warns_as_in_pytorch(loss: str) -> None:
    """(N, 1) predictions against (N,) targets broadcast to (N, N): PyTorch warns, and so do we."""
    from minigrad import nn

    fn = getattr(nn.functional, loss)
    with pytest.warns(UserWarning, match=rf"{loss}: target of shape \(3,\) differs from input of shape \(3, 1\)"):
        fn(mg.zeros(3, 1), mg.ones(3))
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fn(mg.zeros(3, 1), mg.ones(3, 1))
        fn(mg.zeros(3, 1), 1.0)   # a Python number is meant to broadcast


def test_grad_mode_decorators_cover_generators_and_bare_classes(torch: Any) -> None:
    # @no_grad() on a generator function: the body runs without recording at every resume, and the
    # caller's code between two next() calls keeps its own mode (it used to record everything)
    for lib in (mg, torch):
        x = lib.ones(2, requires_grad=True)

        @lib.no_grad()
        def batches(t: Any) -> Any:
            got = yield (t * 2).requires_grad
            yield (t * got).requires_grad

        steps = batches(x)
        assert next(steps) is False and (x * 2).requires_grad and steps.send(3) is False

        @lib.no_grad                                # the class itself as the decorator
        def frozen(t: Any) -> bool:
            return (t * 2).requires_grad

        @lib.inference_mode
        def inferred(t: Any) -> bool:
            return (t * 2).requires_grad

        @lib.enable_grad
        def recorded(t: Any) -> bool:
            return (t * 2).requires_grad

        with lib.no_grad():
            assert recorded(x) is True
        assert frozen(x) is False and inferred(x) is False and frozen.__name__ == "frozen"


def test_set_grad_enabled_works_as_a_call_a_block_and_a_decorator() -> None:
    x = mg.ones(2, requires_grad=True)
    assert mg.is_grad_enabled()
    with mg.set_grad_enabled(False):              # the training loop's `with torch.set_grad_enabled(train):`
        assert not (x * 2).requires_grad
        with mg.set_grad_enabled(True):
            assert (x * 2).requires_grad
        assert not mg.is_grad_enabled()
    assert mg.is_grad_enabled() and (x * 2).requires_grad

    @mg.set_grad_enabled(False)
    def frozen(t: mg.Tensor) -> mg.Tensor:
        return t * 2
    assert mg.is_grad_enabled()                   # decorating changes nothing until the call
    assert not frozen(x).requires_grad and mg.is_grad_enabled()

    try:
        mg.set_grad_enabled(False)                # a plain call lasts until changed again
        assert not mg.is_grad_enabled()
    finally:
        mg.set_grad_enabled(True)
    assert mg.is_grad_enabled()
    with pytest.raises(TypeError, match="set_grad_enabled"):
        mg.set_grad_enabled("no")


def test_a_generator_gives_a_repeatable_stream_of_its_own_to_the_data_utilities() -> None:
    from minigrad.utils.data import DataLoader, RandomSampler, TensorDataset, random_split

    g = mg.Generator().manual_seed(3)
    assert isinstance(g, mg.Generator) and g.initial_seed() == 3 and g.device == mg.device("cpu")
    data = TensorDataset(mg.arange(20))

    def orders(gen: mg.Generator) -> list:
        loader = DataLoader(data, batch_size=5, shuffle=True, generator=gen)
        return [batch[0].tolist() for batch in loader]
    first = orders(mg.Generator().manual_seed(7))
    assert first == orders(mg.Generator().manual_seed(7)) != orders(mg.Generator().manual_seed(8))
    assert sorted(sum(first, [])) == list(range(20))
    mg.manual_seed(0)
    state = g.get_state()
    a = [s.indices for s in random_split(data, [0.5, 0.5], generator=g)]
    g.set_state(state)
    assert a == [s.indices for s in random_split(data, [0.5, 0.5], generator=g)]
    assert len(list(RandomSampler(data, generator=g))) == 20
    fresh = g.seed()
    assert g.initial_seed() == fresh
    with pytest.raises(TypeError, match="RandomSampler: generator must be an mg.Generator"):
        RandomSampler(data, generator=42)
    assert g.manual_seed(-1).initial_seed() == 2 ** 64 - 1   # a negative seed wraps, as PyTorch's


def test_random_ops_draw_from_the_generator_given() -> None:
    def draws(seed: int) -> list:
        g = mg.Generator().manual_seed(seed)
        probs = mg.tensor([[0.2, 0.3, 0.5], [0.6, 0.2, 0.2]])
        return [mg.randperm(6, generator=g).tolist(), mg.multinomial(probs, 2, generator=g).tolist(),
                mg.multinomial(probs, 4, True, generator=g).tolist(),
                mg.bernoulli(mg.full((5,), 0.5), generator=g).tolist(),
                mg.normal(0.0, 1.0, (3,), generator=g).tolist(),
                mg.normal(mg.zeros(2), mg.ones(2), generator=g).tolist(),
                mg.zeros(4).bernoulli_(0.5, generator=g).tolist()]
    mg.manual_seed(0)
    first = draws(5)
    mg.manual_seed(1)                       # the engine's own generator plays no part
    assert draws(5) == first != draws(6)
    with pytest.raises(TypeError, match="randperm: generator must be an mg.Generator"):
        mg.randperm(3, generator=1)


@pytest.mark.parametrize("init", ["uniform_", "normal_", "xavier_uniform_", "xavier_normal_", "kaiming_uniform_",
                                  "kaiming_normal_", "orthogonal_", "trunc_normal_", "sparse_"])
def test_every_nn_init_takes_pytorchs_generator(init: str) -> None:
    from minigrad import nn

    fn = getattr(nn.init, init)
    extra = (0.5,) if init == "sparse_" else ()

    def drawn(seed: int) -> np.ndarray:
        return fn(mg.empty(4, 5), *extra, generator=mg.Generator().manual_seed(seed)).numpy()
    mg.manual_seed(0)
    first = drawn(1)
    mg.manual_seed(9)
    np.testing.assert_array_equal(drawn(1), first)
    assert not np.array_equal(drawn(2), first)


def test_assigning_grad_is_checked_as_in_pytorch() -> None:
    x = mg.zeros(2, requires_grad=True)
    before = x.grad
    with pytest.raises(RuntimeError, match=r"gradient of shape \(3,\) to a tensor of shape \(2,\)"):
        x.grad = mg.zeros(3)
    with pytest.raises(TypeError, match="assigned grad expected to be a Tensor or None but got grad of type numpy"):
        x.grad = np.zeros(2)
    with pytest.raises(RuntimeError, match="gradient with dtype float64 to a tensor with dtype float32"):
        x.grad = mg.zeros(2, dtype=mg.float64)
    assert x.grad is before   # nothing changed
    x.grad = mg.ones(2)       # the right kind is taken, and backward adds into it
    (x * 2).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [3.0, 3.0])
    x.grad = None
    assert x.grad is None


def test_assigning_requires_grad_is_checked_as_in_pytorch() -> None:
    x = mg.ones(2, requires_grad=True)
    y = x * 2
    for value in (False, True):   # a non-leaf's flag follows from its inputs: PyTorch refuses both
        with pytest.raises(RuntimeError, match="leaf"):
            y.requires_grad = value
    assert y.requires_grad and y.grad_fn is not None
    with pytest.raises(RuntimeError, match="leaf"):
        y.requires_grad_(False)
    assert y.requires_grad_(True) is y   # allowed, as PyTorch's
    for value in (1, 0, None, "yes"):
        with pytest.raises(TypeError, match="bool"):
            x.requires_grad = value
    assert x.requires_grad
    ints = mg.tensor([1, 2])
    with pytest.raises(RuntimeError, match="floating-point"):
        ints.requires_grad = True
    ints.requires_grad = False   # allowed: nothing changes
    assert not ints.requires_grad
    x.requires_grad = False   # a leaf may stop recording, and start again
    assert not (x * 2).requires_grad
    x.requires_grad = True
    (x * 3).sum().backward()
    assert x.grad.numpy().tolist() == [3.0, 3.0]


def test_masked_fill_keeps_an_integer_or_bool_dtype_as_pytorch() -> None:
    torch = pytest.importorskip("torch", reason="the reference is PyTorch")
    mask = [True, False, True]
    for dtype in ("int64", "int32", "bool"):
        for value in (2.7, -2.7, 1, 0.5):
            ours = mg.zeros(3, dtype=dtype).masked_fill(mg.tensor(mask), value)
            theirs = torch.zeros(3, dtype=getattr(torch, dtype)).masked_fill(torch.tensor(mask), value)
            assert ours.dtype == np.dtype(dtype)
            np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
    x = mg.zeros(3, dtype=mg.int64)
    x.masked_fill_(mg.tensor(mask), 3.9)
    assert x.tolist() == [3, 0, 3]
    with pytest.raises(RuntimeError, match="cannot be converted to type int32 without overflow"):
        mg.zeros(3, dtype=mg.int32).masked_fill(mg.tensor(mask), 1e20)


def test_set_default_dtype_reaches_every_layer_as_in_pytorch() -> None:
    """``torch.set_default_dtype(torch.float64)`` at the top of a script makes every layer float64."""
    from minigrad import nn

    layers = [nn.Linear(3, 4), nn.LSTM(3, 4), nn.GRUCell(3, 4), nn.Embedding(5, 3), nn.LayerNorm(4), nn.RMSNorm(4),
              nn.BatchNorm1d(4), nn.PReLU(), nn.Conv1d(3, 4, 2), nn.MultiheadAttention(4, 2), nn.Bilinear(2, 3, 4),
              nn.GroupNorm(2, 4)]
    assert all(p.dtype == mg.float32 for layer in layers for p in layer.parameters())
    try:
        mg.set_default_dtype(mg.float64)
        layers = [type(layer) for layer in layers]
        made = [nn.Linear(3, 4), nn.LSTM(3, 4), nn.GRUCell(3, 4), nn.Embedding(5, 3), nn.LayerNorm(4),
                nn.RMSNorm(4), nn.BatchNorm1d(4), nn.PReLU(), nn.Conv1d(3, 4, 2), nn.MultiheadAttention(4, 2),
                nn.Bilinear(2, 3, 4), nn.GroupNorm(2, 4)]
        assert [type(m) for m in made] == layers
        assert all(p.dtype == mg.float64 for layer in made for p in layer.parameters())
        out, _ = made[1](mg.randn(2, 1, 3))
        assert out.dtype == mg.float64 and mg.tensor([1.5]).dtype == mg.float64 and mg.randn(2).dtype == mg.float64
    finally:
        mg.set_default_dtype(mg.float32)


def test_pytorchs_other_dtype_names_exist() -> None:
    torch = pytest.importorskip("torch", reason="the reference is PyTorch")
    for name in ("int8", "uint8", "int16", "short", "uint16", "uint32", "uint64", "complex64", "complex128",
                 "cfloat", "cdouble", "half", "double", "long", "int", "float", "bool"):
        ours, theirs = getattr(mg, name), getattr(torch, name)
        assert mg.zeros(1, dtype=ours).numpy().dtype == torch.zeros(1, dtype=theirs).numpy().dtype, name


def test_float_valued_ops_of_integer_tensors_are_float32_in_eager_and_compiled_calls() -> None:
    def f(x: mg.Tensor) -> mg.Tensor:
        return x.exp() + x.tanh() + x.sigmoid() + x.sqrt() + x.sin() + x.cos() + x.log() + x / 2
    compiled = mg.compile(f)
    for _ in range(3):
        x = mg.tensor([1, 2, 3])
        for out in (f(x), compiled(x)):
            assert out.dtype == mg.float32
            np.testing.assert_allclose(out.numpy(), f(x.float()).numpy(), rtol=1e-6)


@pytest.mark.parametrize("args", [(), (2, 3), ([1, 2],), ([[1.5, 2], [3, 4]],), ((2, 3),), ("size",),
                                  ("int_tensor",), ("float64_tensor",), ("int_array",)])
def test_the_legacy_tensor_constructors_read_arguments_as_pytorchs(args: tuple) -> None:
    torch = pytest.importorskip("torch", reason="the reference is PyTorch")

    def build(lib: Any, cls: str) -> Any:
        made = {"size": lib.Size([2, 2]) if lib is torch else mg.Size([2, 2]),
                "int_tensor": lib.tensor([1, 2]), "float64_tensor": lib.tensor([1.5], dtype=lib.float64),
                "int_array": np.array([3, 4])}
        return getattr(lib, cls)(*[made.get(a, a) if isinstance(a, str) else a for a in args])
    for cls in ("Tensor", "FloatTensor", "DoubleTensor", "LongTensor", "BoolTensor"):
        if cls != "Tensor" and args and args[0] in ("int_tensor", "float64_tensor"):
            continue   # torch refuses a tensor of another dtype here; minigrad casts it
        ours, theirs = build(mg, cls), build(torch, cls)
        assert ours.shape == tuple(theirs.shape), cls
        assert ours.numpy().dtype == theirs.numpy().dtype, cls
        if theirs.numel() and args not in ((2, 3), ("size",)):   # torch leaves shape-made tensors uninitialised
            np.testing.assert_array_equal(ours.numpy(), theirs.numpy())


def test_legacy_types_test_dtypes_and_name_casts() -> None:
    assert isinstance(mg.zeros(2), mg.FloatTensor) and not isinstance(mg.zeros(2), mg.LongTensor)
    assert isinstance(mg.tensor([1]), mg.LongTensor) and isinstance(mg.tensor([1]), mg.Tensor)
    assert mg.zeros(2).type(mg.DoubleTensor).dtype == mg.float64
    assert mg.zeros(2).type("torch.LongTensor").dtype == mg.int64
    with pytest.raises(TypeError, match="use mg.tensor"):
        mg.Tensor(3.5)


def test_a_compiled_call_captures_again_under_another_default_dtype() -> None:
    @mg.compile
    def f(x: mg.Tensor) -> mg.Tensor:
        return x * mg.tensor(0.1)   # a constant made from a Python float: the default dtype's
    x = mg.ones(2, dtype=mg.float64)
    for _ in range(3):
        assert f(x).numpy()[0] == np.float64(np.float32(0.1))
    try:
        mg.set_default_dtype(mg.float64)
        for _ in range(3):
            assert f(x).numpy()[0] == 0.1
    finally:
        mg.set_default_dtype(mg.float32)


def test_count_nonzero_of_a_0d_tensor_and_repeated_dims() -> None:
    assert mg.count_nonzero(mg.tensor(3.0), dim=0).item() == 1
    assert mg.count_nonzero(mg.tensor(0.0), dim=-1).item() == 0
    with pytest.raises(ValueError, match="names a dim more than once"):
        mg.count_nonzero(mg.ones(2, 3), dim=(1, 1))


@pytest.mark.parametrize("dim", [0, -1])
def test_reductions_over_dim_0_or_minus_1_of_a_0d_tensor_as_pytorch(dim: int) -> None:
    torch = pytest.importorskip("torch", reason="the reference is PyTorch")
    calls = {
        "sum": lambda t: t.sum(dim=dim), "mean": lambda t: t.mean(dim=dim), "amax": lambda t: t.amax(dim=dim),
        "logsumexp": lambda t: t.logsumexp(dim=dim), "softmax": lambda t: t.softmax(dim=dim),
        "log_softmax": lambda t: t.log_softmax(dim=dim), "std": lambda t: t.std(dim=dim, correction=0),
        "var": lambda t: t.var(dim=dim, correction=0), "norm": lambda t: t.norm(dim=dim),
        "max": lambda t: t.max(dim=dim).values, "cumsum": lambda t: t.cumsum(dim=dim),
        "any": lambda t: t.any(dim=dim), "all": lambda t: t.all(dim=dim),
        "count_nonzero": lambda t: t.count_nonzero(dim=dim),
    }
    for name, call in calls.items():
        ours_in, theirs_in = mg.tensor(3.0, dtype=mg.float64, requires_grad=True), torch.tensor(3.0,
                                                                                               dtype=torch.float64,
                                                                                               requires_grad=True)
        ours, theirs = call(ours_in), call(theirs_in)
        assert ours.shape == () and ours.numpy().dtype == theirs.detach().numpy().dtype, name
        np.testing.assert_allclose(ours.numpy(), theirs.detach().numpy(), err_msg=name)
        if theirs.requires_grad:
            ours.backward()
            theirs.backward()
            np.testing.assert_allclose(ours_in.grad.numpy(), theirs_in.grad.numpy(), err_msg=name)


def test_the_reproducibility_preamble_of_a_pytorch_script_runs() -> None:
    """seeds, cudnn flags, thread counts and the rest of the usual first lines of a training script."""
    assert mg.manual_seed(0) is mg.default_generator
    mg.cuda.manual_seed(0)
    mg.cuda.manual_seed_all(0)
    mg.backends.cudnn.deterministic = True
    mg.backends.cudnn.benchmark = False
    mg.use_deterministic_algorithms(True)
    assert mg.are_deterministic_algorithms_enabled()
    mg.use_deterministic_algorithms(False)
    assert not mg.backends.mps.is_available() and not mg.backends.cudnn.is_available()
    device = mg.device("cuda" if mg.cuda.is_available() else "cpu")
    mg.cuda.empty_cache()
    assert mg.get_num_threads() >= 1
    assert (mg.pi, mg.e, mg.inf) == (np.pi, np.e, np.inf) and np.isnan(mg.nan)
    assert mg.zeros(1, device=device).device == device


def test_seeds_and_rng_states_repeat_draws() -> None:
    mg.manual_seed(5)
    first = [mg.randn(3).tolist(), mg.rand(2).tolist(), mg.randint(10, (4,)).tolist(),
             mg.randint(3, 9, (2,)).tolist(), mg.empty(3).uniform_(-1, 1).tolist(), mg.empty(2).normal_(0, 2).tolist()]
    assert mg.initial_seed() == 5
    mg.manual_seed(5)
    state = mg.get_rng_state()
    again = [mg.randn(3).tolist(), mg.rand(2).tolist(), mg.randint(10, (4,)).tolist(),
             mg.randint(3, 9, (2,)).tolist(), mg.empty(3).uniform_(-1, 1).tolist(), mg.empty(2).normal_(0, 2).tolist()]
    assert again == first
    mg.set_rng_state(state)
    assert mg.randn(3).tolist() == first[0]
    g = mg.Generator().manual_seed(2)
    drawn = [mg.randn(2, generator=g).tolist(), mg.rand(2, generator=g).tolist(),
             mg.randint(0, 5, (3,), generator=g).tolist(), mg.zeros(2).uniform_(generator=g).tolist(),
             mg.zeros(2).normal_(generator=g).tolist()]
    g.manual_seed(2)
    assert drawn == [mg.randn(2, generator=g).tolist(), mg.rand(2, generator=g).tolist(),
                     mg.randint(0, 5, (3,), generator=g).tolist(), mg.zeros(2).uniform_(generator=g).tolist(),
                     mg.zeros(2).normal_(generator=g).tolist()]
    assert all(0 <= v < 10 for v in mg.randint(10, (50,)).tolist())
    with pytest.raises(TypeError, match="randint"):
        mg.randint(5)
    fresh = mg.seed()
    assert mg.initial_seed() == fresh


def test_assert_close_has_pytorchs_default_tolerances() -> None:
    mg.testing.assert_close(mg.ones(2), mg.ones(2) + 1e-6)
    mg.testing.assert_close({"a": [mg.ones(1)]}, {"a": [mg.ones(1)]})
    with pytest.raises(AssertionError, match="not close"):
        mg.testing.assert_close(mg.ones(2), mg.ones(2) + 1e-4)
    with pytest.raises(AssertionError, match="attribute .dtype. do not match"):
        mg.testing.assert_close(mg.ones(2), mg.ones(2, dtype=mg.float64))
    mg.testing.assert_close(mg.ones(2, dtype=mg.float64), mg.ones(2, dtype=mg.float64) + 1e-8)


def test_the_gamma_family_has_pytorchs_top_level_names_and_methods() -> None:
    torch = pytest.importorskip("torch", reason="the reference is PyTorch")
    values = [0.5, 1.5, 3.0, 7.25]
    ours, theirs = mg.tensor(values, dtype=mg.float64), torch.tensor(values, dtype=torch.float64)
    for name in ("lgamma", "digamma", "i0"):
        np.testing.assert_allclose(getattr(ours, name)().numpy(), getattr(theirs, name)().numpy(), rtol=1e-12)
        np.testing.assert_allclose(getattr(mg, name)(ours).numpy(), getattr(torch, name)(theirs).numpy(), rtol=1e-12)
    np.testing.assert_allclose(mg.polygamma(1, ours).numpy(), torch.polygamma(1, theirs).numpy(), rtol=1e-8)
    np.testing.assert_allclose(mg.erfinv(ours / 8).numpy(), torch.erfinv(theirs / 8).numpy(), rtol=1e-12)
    x = mg.tensor(values, dtype=mg.float64)
    x.lgamma_()
    np.testing.assert_allclose(x.numpy(), torch.lgamma(theirs).numpy(), rtol=1e-12)


def test_reading_grad_of_a_non_leaf_without_retain_grad_warns_as_pytorch(torch: Any) -> None:
    for lib in (mg, torch):
        x = lib.ones(3, requires_grad=True)
        y = x * 2
        with pytest.warns(UserWarning, match="not a leaf Tensor"):
            assert y.grad is None
        y.retain_grad()
        y.sum().backward()
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            assert y.grad is not None and x.grad is not None   # retained and leaf: no warning


def test_a_one_element_bool_or_int_tensor_indexes_a_python_sequence_as_pytorch(torch: Any) -> None:
    for lib in (mg, torch):
        assert [10, 20][lib.tensor(True)] == 20 and [10, 20][lib.tensor([1])] == 20 and range(5)[lib.tensor(2)] == 2
    with pytest.raises(TypeError, match="one element"):
        [10, 20][mg.tensor([0, 1])]
    with pytest.raises(TypeError, match="integer or bool"):
        [10, 20][mg.tensor(1.0)]


def test_preamble_and_small_tensor_spellings_as_pytorchs(torch: Any) -> None:
    """set_float32_matmul_precision, empty_strided, Tensor.apply_, the in-place random fills as methods,
    mg.random, and generator= on the *_like draws, as PyTorch spells them."""
    assert mg.get_float32_matmul_precision() == torch.get_float32_matmul_precision() == "highest"
    mg.set_float32_matmul_precision("high")
    assert mg.get_float32_matmul_precision() == "high"
    with pytest.warns(UserWarning, match="no effect"):
        mg.set_float32_matmul_precision("fastest")
    assert mg.get_float32_matmul_precision() == "high"
    mg.set_float32_matmul_precision("highest")

    layouts = [((2, 3), (1, 2)), ((2, 3), (3, 1)), ((4,), (2,)), ((2, 0), (1, 2)), ((), ()), ((3, 2), (0, 1))]
    for size, stride in layouts:
        ours, theirs = mg.empty_strided(size, stride, dtype=mg.float64), torch.empty_strided(size, stride)
        assert ours.shape == tuple(theirs.shape) and ours.stride() == theirs.stride(), (size, stride)
        assert ours.is_contiguous() == theirs.is_contiguous()
    with pytest.raises(ValueError, match="same number of dims"):
        mg.empty_strided((2, 3), (1,))

    for dtype in ("int64", "float32"):
        ours = mg.arange(5, dtype=dtype).apply_(lambda v: v * v / 2)
        theirs = torch.arange(5, dtype=getattr(torch, dtype)).apply_(lambda v: v * v / 2)
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
        assert str(ours.dtype) == dtype
    with pytest.raises(RuntimeError, match="requires grad"):
        mg.ones(2, requires_grad=True).apply_(abs)

    mg.manual_seed(5)
    first = [mg.zeros(4).exponential_(), mg.zeros(4).cauchy_(), mg.zeros(4).log_normal_(),
             mg.zeros(4).geometric_(0.5), mg.zeros(4, dtype=mg.int64).random_(0, 10)]
    mg.random.manual_seed(5)   # torch.random's spelling
    again = [mg.zeros(4).exponential_(), mg.zeros(4).cauchy_(), mg.zeros(4).log_normal_(),
             mg.zeros(4).geometric_(0.5), mg.zeros(4, dtype=mg.int64).random_(0, 10)]
    for a, b in zip(first, again):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    assert (first[0].numpy() > 0).all() and set(first[4].numpy().tolist()) <= set(range(10))

    for draw in (mg.rand_like, mg.randn_like, lambda x, generator: mg.randint_like(x, 7, generator=generator)):
        a = draw(mg.zeros(6), generator=mg.Generator().manual_seed(1))
        b = draw(mg.zeros(6), generator=mg.Generator().manual_seed(1))
        c = draw(mg.zeros(6), generator=mg.Generator().manual_seed(2))
        np.testing.assert_array_equal(a.numpy(), b.numpy())
        assert not np.array_equal(a.numpy(), c.numpy())


def test_interop_threads_warn_always_and_flush_denormal_as_pytorch_spells_them(torch: Any) -> None:
    """A training script's preamble: stored and read back (minigrad runs no inter-op pool, and NumPy cannot
    flush subnormals, so set_flush_denormal answers False, PyTorch's answer where it is not supported)."""
    before = mg.get_num_interop_threads()   # the CPU count (torch's default counts cores its own way)
    assert isinstance(before, int) and before >= 1 and isinstance(torch.get_num_interop_threads(), int)
    mg.set_num_interop_threads(1)
    assert mg.get_num_interop_threads() == 1
    mg.set_num_interop_threads(before)
    with pytest.raises(ValueError, match="positive int"):
        mg.set_num_interop_threads(0)
    assert mg.is_warn_always_enabled() is torch.is_warn_always_enabled() is False
    mg.set_warn_always(True)
    assert mg.is_warn_always_enabled() is True
    mg.set_warn_always(False)
    assert mg.set_flush_denormal(True) is False and mg.set_flush_denormal(False) is False


def test_is_autocast_enabled_follows_the_innermost_block_as_torch(torch: Any) -> None:
    def states(lib: Any) -> list:
        seen = [lib.is_autocast_enabled("cpu")]
        with lib.autocast("cpu"):
            seen += [lib.is_autocast_enabled("cpu"), lib.is_autocast_enabled("cuda"), lib.is_autocast_enabled()]
            with lib.autocast("cpu", enabled=False):
                seen.append(lib.is_autocast_enabled("cpu"))
                with lib.autocast("cpu"):
                    seen.append(lib.is_autocast_enabled("cpu"))
                seen.append(lib.is_autocast_enabled("cpu"))
            seen.append(lib.is_autocast_enabled("cpu"))
        return seen + [lib.is_autocast_enabled("cpu")]

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")   # minigrad's autocast says once that it keeps the dtypes
        assert states(mg) == states(torch) == [False, True, False, False, False, True, False, True, False]
    with pytest.raises(ValueError, match="device_type"):
        mg.is_autocast_enabled("tpu")
