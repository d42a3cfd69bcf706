"""Round 21: the default device is per thread, as PyTorch's (``set_default_device`` and ``with torch.device(...)``).

Before, one thread's ``with mg.device("cuda"):`` moved every other thread's factory calls to the GPU, and overlapping
blocks in two threads restored each other's defaults. The CUDA cases run on the strict CuPy stand-in in CI.
"""

from __future__ import annotations

import threading

import pytest

import minigrad as mg


def _in_thread(fn):
    out: list = []
    thread = threading.Thread(target=lambda: out.append(fn()))
    thread.start()
    thread.join(10)
    return out[0]


def test_torch_keeps_the_default_device_per_thread() -> None:
    torch = pytest.importorskip("torch", reason="no torch")
    torch.set_default_device("meta")
    try:
        assert _in_thread(lambda: torch.zeros(1).device.type) == "cpu"
    finally:
        torch.set_default_device(None)


@pytest.mark.gpu
def test_set_default_device_leaves_other_threads_alone() -> None:
    mg.set_default_device("cuda")
    try:
        assert mg.zeros(1).device.type == "cuda"
        assert _in_thread(lambda: mg.zeros(1).device) == "cpu"
    finally:
        mg.set_default_device("cpu")


@pytest.mark.gpu
def test_overlapping_device_blocks_in_two_threads() -> None:
    a_inside, b_inside, a_left = threading.Event(), threading.Event(), threading.Event()
    seen: dict = {}

    def a() -> None:
        with mg.device("cuda"):
            a_inside.set()
            b_inside.wait(10)
            seen["a inside"] = mg.zeros(1).device.type
        a_left.set()

    def b() -> None:
        a_inside.wait(10)
        seen["b while a is inside"] = mg.zeros(1).device.type
        with mg.device("cpu"):
            b_inside.set()
            a_left.wait(10)
            seen["b inside after a left"] = mg.zeros(1).device.type
        seen["b after"] = mg.zeros(1).device.type

    threads = [threading.Thread(target=a), threading.Thread(target=b)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert seen == {"a inside": "cuda", "b while a is inside": "cpu", "b inside after a left": "cpu", "b after": "cpu"}
    assert mg.zeros(1).device == "cpu"
