"""Round 19 (lead): the device sweep's finds on the strict CuPy stand-in after this round's changes."""
import numpy as np
import pytest

import minigrad as mg


@pytest.mark.gpu
@pytest.mark.parametrize("shape", [(2, 0, 1), (2, 1, 0), (0, 3)])
def test_logcumsumexp_of_an_empty_broadcast_input_on_every_device(shape: tuple) -> None:
    """The -0.0 rule wrote into the scan's result in place; on CuPy an empty broadcast input's scan is read-only."""
    for device in ("cpu", "cuda"):
        x = mg.zeros(*shape[1:], device=device).broadcast_to(*shape)
        y = mg.logcumsumexp(x, -1)
        assert y.shape == shape and y.device.type == device
        np.testing.assert_array_equal(y.cpu().numpy(), np.zeros(shape))


@pytest.mark.parametrize("equation, shapes", [("...i,i->...", [(0, 2), (2,)]), ("ij,j->i", [(0, 2), (2,)]),
                                              ("ij,jk->ik", [(0, 2), (2, 3)]), ("ij,jk->ik", [(2, 2), (2, 0)]),
                                              ("bij,bjk->bik", [(0, 2, 2), (0, 2, 2)]), ("ij,ij->i", [(0, 2), (0, 2)]),
                                              ("ij,jk->ik", [(2, 0), (0, 3)])])
def test_bool_einsum_with_an_empty_result_is_pytorchs(equation: str, shapes: list) -> None:
    """PyTorch runs no bmm for an empty result (so no 'not implemented for Bool'): an empty bool tensor."""
    torch = pytest.importorskip("torch", reason="no torch")
    theirs = torch.einsum(equation, *[torch.ones(s, dtype=torch.bool) for s in shapes])
    ours = mg.einsum(equation, *[mg.ones(*s, dtype=mg.bool) for s in shapes])
    assert ours.dtype == mg.bool and tuple(ours.shape) == tuple(theirs.shape)
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())


def test_bool_einsum_that_sums_still_raises_as_pytorch() -> None:
    with pytest.raises(NotImplementedError, match="Bool"):
        mg.einsum("ij,j->i", mg.ones(2, 2, dtype=mg.bool), mg.ones(2, dtype=mg.bool))


def test_gc_paused_from_two_threads_leaves_the_collector_running(monkeypatch: pytest.MonkeyPatch) -> None:
    """Thread D read the collector's state (paused: A was inside) and A's exit re-enabled it before D paused it
    again; D's exit then left it paused for good (a fresh clone's suite saw gc disabled in a later test)."""
    import gc
    import threading

    from minigrad import memory

    a_inside, d_reading, a_exited = threading.Event(), threading.Event(), threading.Event()

    class Racing:   # the gc module, with A's exit forced between D's isenabled() and its disable()
        def __getattr__(self, name: str):
            return getattr(gc, name)

        def isenabled(self) -> bool:
            state = gc.isenabled()
            if threading.current_thread().name == "D":
                d_reading.set()
                a_exited.wait(0.5)
            return state

    def a() -> None:
        with memory.gc_paused():
            a_inside.set()
            d_reading.wait(0.3)
        a_exited.set()

    def d() -> None:
        a_inside.wait(1)
        with memory.gc_paused():
            pass

    assert gc.isenabled()
    monkeypatch.setattr(memory, "gc", Racing())
    threads = [threading.Thread(target=a, name="A"), threading.Thread(target=d, name="D")]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert gc.isenabled()
    finally:
        gc.enable()
