"""The legacy spectral normalisation, as ``torch.nn.utils.spectral_norm`` (PyTorch's newer one is
:func:`nn.utils.parametrizations.spectral_norm`).

``spectral_norm(module, "weight")`` renames the parameter to ``weight_orig``, adds the buffers ``weight_u``
(h,) and ``weight_v`` (w,) (estimates of W's first singular vectors, W the weight as a matrix (h, w)), and
a forward pre-hook sets the plain attribute ``module.weight = weight_orig / σ`` before every call, σ = uᵀ W v
after ``n_power_iterations`` steps of power iteration in training mode (none in eval mode). A state-dict
hook records the format's version in ``_metadata``, as PyTorch's; under ``mg.compile`` the module's calls
run eagerly, as for any module with hooks.
"""

from __future__ import annotations

from typing import Any, TypeVar

import minigrad as mg
from minigrad import Tensor

from .. import functional as F
from .._compile_state import reregistered
from .._state_dict import _as_array
from ..module import Module, Parameter
from .parametrizations import _default_dim

__all__ = ["SpectralNorm", "SpectralNormLoadStateDictPreHook", "SpectralNormStateDictHook", "remove_spectral_norm",
           "spectral_norm"]

T_module = TypeVar("T_module", bound=Module)


class SpectralNorm:
    """The forward pre-hook of :func:`spectral_norm`."""

    _version: int = 1   # 1: the state dict holds <name>_orig, <name>_u and <name>_v (not <name>)
    name: str
    dim: int
    n_power_iterations: int
    eps: float

    def __init__(self, name: str = "weight", n_power_iterations: int = 1, dim: int = 0, eps: float = 1e-12) -> None:
        self.name = name
        self.dim = dim
        if n_power_iterations <= 0:
            raise ValueError("Expected n_power_iterations to be positive, but got "
                             f"n_power_iterations={n_power_iterations}")
        self.n_power_iterations = n_power_iterations
        self.eps = eps

    def reshape_weight_to_matrix(self, weight: Tensor) -> Tensor:
        """``weight`` as a matrix (weight.shape[dim], rest)."""
        if self.dim != 0:
            weight = weight.permute(self.dim, *(d for d in range(weight.ndim) if d != self.dim))
        return weight.reshape(weight.shape[0], -1)

    def compute_weight(self, module: Module, do_power_iteration: bool) -> Tensor:
        """weight_orig / σ, σ = uᵀ W v; with ``do_power_iteration`` the buffers are refined in place first
        (v ← Wᵀu / ‖Wᵀu‖, u ← W v / ‖W v‖) and copies of them used (the graph keeps these values)."""
        weight = getattr(module, self.name + "_orig")
        u = getattr(module, self.name + "_u")
        v = getattr(module, self.name + "_v")
        weight_mat = self.reshape_weight_to_matrix(weight)
        if do_power_iteration:
            with mg.no_grad():
                for _ in range(self.n_power_iterations):
                    v.copy_(F.normalize(mg.mv(weight_mat.T, u), dim=0, eps=self.eps))
                    u.copy_(F.normalize(mg.mv(weight_mat, v), dim=0, eps=self.eps))
            u, v = u.clone(), v.clone()
        sigma = mg.dot(u, mg.mv(weight_mat, v))
        return weight / sigma

    def remove(self, module: Module) -> None:
        with mg.no_grad():
            weight = self.compute_weight(module, do_power_iteration=False)
        for suffix in ("", "_u", "_v", "_orig"):
            delattr(module, self.name + suffix)
        module.register_parameter(self.name, Parameter(weight.detach()))

    def __call__(self, module: Module, inputs: Any) -> None:
        setattr(module, self.name, self.compute_weight(module, do_power_iteration=module.training))

    def _solve_v_and_rescale(self, weight_mat: Tensor, u: Tensor, target_sigma: Tensor) -> Tensor:
        """A v with u = W v / ‖W v‖ (least squares, W's pseudo-inverse) scaled so that uᵀ W v = ``target_sigma``."""
        v = mg.linalg.multi_dot([mg.linalg.pinv(weight_mat.T @ weight_mat), weight_mat.T, u.unsqueeze(1)]).squeeze(1)
        return v * (target_sigma / mg.dot(u, mg.mv(weight_mat, v)))

    @staticmethod
    def apply(module: Module, name: str, n_power_iterations: int, dim: int, eps: float) -> SpectralNorm:
        for hook, _ in _hook_table(module, "_hooks", "forward_pre").values():
            if isinstance(hook, SpectralNorm) and hook.name == name:
                raise RuntimeError(f"Cannot register two spectral_norm hooks on the same parameter {name}")
        fn = SpectralNorm(name, n_power_iterations, dim, eps)
        if name not in module._parameters:   # a buffer, a plain or a parametrized tensor: PyTorch's KeyError
            raise KeyError(f"spectral_norm: '{name}' is not a parameter of {type(module).__name__}")
        weight = module._parameters[name]
        if weight is None:
            raise ValueError(f"`SpectralNorm` cannot be applied as parameter `{name}` is None")
        with mg.no_grad():
            h, w = fn.reshape_weight_to_matrix(weight).shape
            u = F.normalize(mg.randn(h, dtype=weight.dtype, device=weight.device), dim=0, eps=fn.eps)
            v = F.normalize(mg.randn(w, dtype=weight.dtype, device=weight.device), dim=0, eps=fn.eps)
        delattr(module, fn.name)
        module.register_parameter(fn.name + "_orig", weight)
        setattr(module, fn.name, weight.detach())
        module.register_buffer(fn.name + "_u", u)
        module.register_buffer(fn.name + "_v", v)
        module.register_forward_pre_hook(fn)
        module._register_state_dict_hook(SpectralNormStateDictHook(fn))
        module.register_load_state_dict_pre_hook(SpectralNormLoadStateDictPreHook(fn))
        return fn


def _hook_table(module: Module, attribute: str, kind: str) -> dict:
    """``module``'s hooks of ``kind`` by key (``(hook, options)`` values), as nn.hooks keeps them."""
    hooks = module.__dict__.get(attribute)
    return hooks[kind] if hooks else {}


def _tensor(value: Any) -> Tensor:
    return value if isinstance(value, Tensor) else mg.as_tensor(_as_array(value))


class SpectralNormLoadStateDictPreHook:
    """Loads a state dict of the format before version 1 (``<name>`` saved, ``<name>_v`` not): v solved
    from W and u, scaled to the saved σ. Called as a load pre-hook ``(module, state_dict, prefix, …)``."""

    def __init__(self, fn: SpectralNorm) -> None:
        self.fn = fn

    def __call__(self, module: Module, state_dict: dict, prefix: str, local_metadata: dict, strict: bool,
                 missing_keys: list, unexpected_keys: list, error_msgs: list) -> None:
        fn = self.fn
        version = local_metadata.get("spectral_norm", {}).get(fn.name + ".version", None)
        if version is not None and version >= 1:
            return
        weight_key = prefix + fn.name
        if version is None and all(weight_key + s in state_dict for s in ("_orig", "_u", "_v")) \
                and weight_key not in state_dict:
            return   # no metadata (e.g. a plain dict of arrays) but the current keys
        has_missing_keys = False
        for suffix in ("_orig", "", "_u"):
            key = weight_key + suffix
            if key not in state_dict:
                has_missing_keys = True
                if strict:
                    missing_keys.append(key)
        if has_missing_keys:
            return
        with mg.no_grad():
            weight_orig = _tensor(state_dict[weight_key + "_orig"])
            weight = _tensor(state_dict.pop(weight_key))
            sigma = (weight_orig / weight).mean()
            weight_mat = fn.reshape_weight_to_matrix(weight_orig)
            u = _tensor(state_dict[weight_key + "_u"])
            state_dict[weight_key + "_v"] = fn._solve_v_and_rescale(weight_mat, u, sigma)


class SpectralNormStateDictHook:
    """Records ``<name>.version`` under ``spectral_norm`` in the module's ``_metadata``."""

    def __init__(self, fn: SpectralNorm) -> None:
        self.fn = fn

    def __call__(self, module: Module, state_dict: dict, prefix: str, local_metadata: dict) -> None:
        versions = local_metadata.setdefault("spectral_norm", {})
        key = self.fn.name + ".version"
        if key in versions:
            raise RuntimeError(f"Unexpected key in metadata['spectral_norm']: {key}")
        versions[key] = self.fn._version


def spectral_norm(module: T_module, name: str = "weight", n_power_iterations: int = 1, eps: float = 1e-12,
                  dim: int | None = None) -> T_module:
    """Spectral normalisation of ``module.<name>`` by a forward pre-hook, as PyTorch's legacy
    ``nn.utils.spectral_norm``: ``<name>_orig`` (the parameter), buffers ``<name>_u`` (h,) and ``<name>_v``
    (w,) (random unit vectors at first: minigrad's generator, not PyTorch's), ``<name>`` = orig / σ set before
    each call, σ refined by ``n_power_iterations`` steps of power iteration per call in training mode.
    ``dim`` (None: 0, or 1 for a ConvTranspose) is the output dim. Returns ``module``."""
    if dim is None:
        dim = _default_dim(module)
    SpectralNorm.apply(module, name, n_power_iterations, dim, eps)
    return module


def remove_spectral_norm(module: T_module, name: str = "weight") -> T_module:
    """Undo :func:`spectral_norm`: ``<name>`` is a Parameter again holding orig / σ (σ from the buffers as
    they are). Returns ``module``."""
    for key, (hook, _) in list(_hook_table(module, "_hooks", "forward_pre").items()):
        if isinstance(hook, SpectralNorm) and hook.name == name:
            hook.remove(module)
            del module._hooks["forward_pre"][key]
            reregistered()
            break
    else:
        raise ValueError(f"spectral_norm of '{name}' not found in {module}")
    for kind, cls in (("state_dict", SpectralNormStateDictHook), ("load_pre", SpectralNormLoadStateDictPreHook)):
        table = _hook_table(module, "_state_hooks", kind)
        for key, (hook, _) in list(table.items()):
            if isinstance(hook, cls) and hook.fn.name == name:
                del table[key]
                break
    return module
