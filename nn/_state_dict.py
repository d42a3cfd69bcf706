"""Loading a state dict into a module's parameters and buffers, all or nothing: every key, value and shape
is checked before any array is copied (``Module.load_state_dict``)."""

from __future__ import annotations

from typing import Any, Mapping

import numpy

import minigrad as mg
from minigrad import Tensor


def check_state(own: dict, state: Mapping[str, Any], strict: bool,
                assign: bool) -> tuple[dict, list, list, list]:
    """(the arrays to load by key, missing keys, unexpected keys, problems): ``own`` maps each key to the
    module's tensor; a problem is a line naming a key whose value is not a numeric array, has another
    shape, or would be copied into a read-only array (and, with ``strict``, each missing or unexpected key)."""
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    problems = []
    arrays = {}
    for key, target in own.items():
        if key not in state:
            continue
        value = state[key]
        array = value.data if isinstance(value, Tensor) else value
        if not mg.is_array(array):
            try:
                array = numpy.asarray(array)
            except Exception:  # noqa: BLE001 - reported below with the key
                array = None
        if array is None or array.dtype.kind not in "biuf":
            kind = type(value).__name__ if array is None else f"dtype {array.dtype}"
            problems.append(f"  {key}: not a numeric array ({kind})")
            continue
        if tuple(array.shape) != target.shape:
            problems.append(f"  {key}: shape {tuple(array.shape)} in the state dict, "
                            f"{target.shape} in the model")
            continue
        flags = getattr(target.data, "flags", None)
        if not assign and flags is not None and not getattr(flags, "writeable", True):
            problems.append(f"  {key}: the model's array is read-only (load with assign=True)")
            continue
        arrays[key] = array
    if strict:
        problems += [f"  missing key: {k}" for k in missing]
        problems += [f"  unexpected key: {k}" for k in unexpected]
    return arrays, missing, unexpected, problems


def load_arrays(own: dict, arrays: dict, assign: bool) -> None:
    """Each checked array into its tensor: cast to its dtype and copied to its device, into its array (as
    PyTorch's copy), or with ``assign`` taken as it is."""
    for key, array in arrays.items():
        target = own[key]
        if assign:
            target.data = array
        else:
            new = mg.to_device(mg.to_numpy(array), target.device) if target.device.type != "cpu" \
                else mg.to_numpy(array)
            mg.array_module(target.data).copyto(target.data, new, casting="unsafe")
        bump = getattr(target, "_bump_version", None)
        if bump is not None:
            bump()
