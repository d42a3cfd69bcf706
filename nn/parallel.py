"""``nn.DataParallel`` and ``nn.parallel``, as ``torch.nn.parallel`` behaves on one device.

minigrad runs a module on one device, so DataParallel is the wrapper PyTorch's becomes there: older scripts wrap
every model in it (``model = nn.DataParallel(model)``), then call it, save ``model.state_dict()`` (keys
``module.*``) or unwrap ``model.module``; all of that works unchanged.

* Without a GPU (PyTorch's case of no CUDA device) it holds ``module`` and ``device_ids = []`` and a call is
  ``module(*inputs, **kwargs)``.
* With CUDA: ``device_ids`` (default: every GPU), ``output_device`` (default ``device_ids[0]``; -1 is the CPU),
  ``dim``; with one device the module moves there, as PyTorch's. A call checks that the module's parameters
  and buffers are on ``cuda:{device_ids[0]}``, moves the tensors among the inputs there (in tuples, lists and
  dicts) and runs the module once. PyTorch would split the batch along ``dim`` over several GPUs; minigrad
  runs the whole batch on the first (a warning says so) and, as PyTorch's gather, puts the outputs on
  ``output_device``: the same results, on one GPU.

``DistributedDataParallel`` exists for ``isinstance`` checks only (unwrapping ``model.module``); building one
raises, as there is no process group (``torch.distributed``) here.
"""

from __future__ import annotations

import warnings
from typing import Any, Sequence

import minigrad as mg
from minigrad import Tensor

from .module import Module

__all__ = ["DataParallel", "DistributedDataParallel", "data_parallel"]


def _device_index(device: Any, what: str) -> int:
    """A CUDA device index from an int, ``"cuda:N"`` or a Device (-1: the CPU, for ``output_device``)."""
    if isinstance(device, int) and not isinstance(device, bool):
        return device
    if isinstance(device, str):
        resolved = mg.device(device)
        if resolved.type == "cuda":
            return resolved.index
        if what == "output_device":
            return -1
    raise ValueError(f"DataParallel: {what} must be a CUDA device index or 'cuda:N', got {device!r}")


def _device(index: int) -> mg.Device:
    return mg.device("cpu" if index == -1 else f"cuda:{index}")


def _moved(value: Any, device: mg.Device) -> Any:
    """``value`` with every Tensor in it (in tuples, named tuples, lists and dicts) moved to ``device``."""
    if isinstance(value, Tensor):
        return value.to(device)
    if isinstance(value, tuple):
        items = [_moved(item, device) for item in value]
        return type(value)(*items) if hasattr(value, "_fields") else tuple(items)
    if isinstance(value, list):
        return [_moved(item, device) for item in value]
    if isinstance(value, dict):
        return type(value)((key, _moved(item, device)) for key, item in value.items())
    return value


def _check_module_device(module: Any, device: mg.Device) -> None:
    for tensor in list(module.parameters()) + list(module.buffers()):
        if tensor.device != device:
            raise RuntimeError(f"module must have its parameters and buffers on device {device} (device_ids[0]) "
                               f"but found one of them on device: {tensor.device}")


def _run_on_one_device(module: Any, inputs: tuple, kwargs: dict, device_ids: list, output_device: int) -> Any:
    source = _device(device_ids[0])
    _check_module_device(module, source)
    if len(device_ids) > 1:   # shown once per place by Python's default warning filter
        warnings.warn(f"DataParallel: minigrad runs the whole batch on {source}, not split over devices "
                      f"{device_ids} (the results are the same)", stacklevel=3)
    out = module(*_moved(inputs, source), **_moved(kwargs, source))
    return out if len(device_ids) == 1 else _moved(out, _device(output_device))


class DataParallel(Module):
    """``module`` behind PyTorch's DataParallel interface, on one device (see the module docstring).

    ``module``: the model; ``device_ids``: CUDA device indices (default: all); ``output_device``: where outputs go
    (default ``device_ids[0]``); ``dim``: the batch dim PyTorch would split. Its state-dict keys are the module's
    with ``module.`` in front, as PyTorch's.
    """

    def __init__(self, module: Any, device_ids: Sequence[Any] | None = None, output_device: Any = None,
                 dim: int = 0) -> None:
        super().__init__()
        if not mg.cuda.is_available():   # PyTorch's branch for no CUDA device: a plain wrapper
            self.module = module
            self.device_ids = []
            return
        if device_ids is None:
            device_ids = list(range(mg.cuda.device_count()))
        ids = [_device_index(d, "device_ids") for d in device_ids]
        if not ids:
            raise RuntimeError("DataParallel: no available devices were found (device_ids is empty)")
        self.dim = dim
        self.module = module
        self.device_ids = ids
        self.output_device = ids[0] if output_device is None else _device_index(output_device, "output_device")
        self.src_device_obj = _device(ids[0])
        if len(ids) == 1:
            self.module.to(self.src_device_obj)

    def forward(self, *inputs: Any, **kwargs: Any) -> Any:
        """Call the wrapped module with ``inputs`` and ``kwargs``: its shapes in, its outputs out."""
        if not self.device_ids:
            return self.module(*inputs, **kwargs)
        return _run_on_one_device(self.module, inputs, kwargs, self.device_ids, self.output_device)


def data_parallel(module: Any, inputs: Any, device_ids: Sequence[Any] | None = None, output_device: Any = None,
                  dim: int = 0, module_kwargs: dict | None = None) -> Any:
    """``module(*inputs, **module_kwargs)`` on ``cuda:{device_ids[0]}``, as ``torch.nn.parallel.data_parallel``
    (which, like this, needs a GPU: without one it raises)."""
    if not isinstance(inputs, tuple):
        inputs = (inputs,) if inputs is not None else ()
    if not mg.cuda.is_available():
        raise RuntimeError("data_parallel: device type could not be determined (no CUDA device; call the module "
                           "itself)")
    if device_ids is None:
        device_ids = list(range(mg.cuda.device_count()))
    ids = [_device_index(d, "device_ids") for d in device_ids]
    if not ids:
        raise RuntimeError("data_parallel: no available devices were found (device_ids is empty)")
    out_index = ids[0] if output_device is None else _device_index(output_device, "output_device")
    return _run_on_one_device(module, inputs, module_kwargs or {}, ids, out_index)


class DistributedDataParallel(Module):
    """PyTorch's multi-process wrapper: here for ``isinstance`` checks only. Building one raises: minigrad has no
    ``torch.distributed`` process group (run the module itself, or wrap it in :class:`DataParallel`)."""

    def __init__(self, module: Any, *args: Any, **kwargs: Any) -> None:
        raise NotImplementedError("nn.parallel.DistributedDataParallel: minigrad has no torch.distributed process "
                                  "group; call the module itself (or wrap it in nn.DataParallel, which runs it on "
                                  "one device)")
