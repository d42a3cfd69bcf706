"""CuPy's ``ElementwiseKernel`` run on the host: the CUDA kernel bodies compiled with a C++ compiler.

Used by the fused-op tests and by the strict CuPy stand-in (:mod:`tests.support.strict_cupy`),
so the kernel sources in ``minigrad/ops/fused.py`` are checked on machines without a GPU.
"""

from __future__ import annotations

import ctypes
import hashlib
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

CXX = shutil.which("g++") or shutil.which("c++") or shutil.which("clang++")
_CTYPES = {"float32": "float", "float64": "double"}


class _Param:
    def __init__(self, text: str, is_input: bool) -> None:
        words = text.split()
        self.raw = words[0] == "raw"
        self.type, self.name = words[-2], words[-1]
        self.is_input = is_input

    def c_declaration(self) -> str:
        if self.type == "int64":
            return f"long long {self.name}"
        const = "const " if self.is_input else ""
        return f"{const}T* {self.name if self.raw else '_raw_' + self.name}"


class HostElementwiseKernel:
    """``cupy.ElementwiseKernel`` semantics for the host, compiled with a C++ compiler.

    As in CuPy: the loop index is ``i`` over the broadcast shape of the non-raw
    arguments; a non-raw input is ``const T &x = _raw_x[index]``, a non-raw
    output ``T &y = …``; raw arrays are indexed by hand; ``T`` is the one
    dtype of every T argument; all outputs must be passed when one is raw.
    Arguments are NumPy arrays or the strict stand-in's device arrays (``array_type``).
    """

    cache_dir: Path | None = None
    array_type: Any = None   # the strict CuPy stand-in's ndarray, when it is installed

    def __init__(self, in_params: str, out_params: str, operation: str, name: str, preamble: str = "") -> None:
        self.params = [_Param(p, True) for p in in_params.split(",")] + \
                      [_Param(p, False) for p in out_params.split(",")]
        assert "i" not in [p.name for p in self.params] and "n" not in [p.name for p in self.params]
        self.operation, self.name, self.preamble = operation, name, preamble
        self.calls = 0

    def _source(self, ctype: str) -> str:
        decls = "".join(
            f"      {'const ' if p.is_input else ''}T &{p.name} = _raw_{p.name}[i];\n"
            for p in self.params if not p.raw and p.type == "T"
        )
        params = ", ".join(p.c_declaration() for p in self.params)
        return (
            "#include <cmath>\n#include <cstddef>\nusing std::exp; using std::tanh;\n"
            "#define __device__\n#define __forceinline__ inline\n"
            f"typedef {ctype} T;\n{self.preamble}\n"
            f'extern "C" void {self.name}(std::ptrdiff_t _size, {params}) {{\n'
            "  for (std::ptrdiff_t i = 0; i < _size; ++i) {\n"
            f"{decls}{self.operation}\n  }}\n}}\n"
        )

    def _library(self, ctype: str) -> ctypes.CDLL:
        if CXX is None:
            raise RuntimeError("no C++ compiler (g++/clang++) to build the CUDA kernel bodies on the host")
        if HostElementwiseKernel.cache_dir is None:
            HostElementwiseKernel.cache_dir = Path(tempfile.mkdtemp(prefix="minigrad_kernels_"))
        source = self._source(ctype)
        digest = hashlib.sha1(source.encode()).hexdigest()[:16]
        lib_path = self.cache_dir / f"{self.name}_{digest}.so"
        if not lib_path.exists():
            src_path = lib_path.with_suffix(".cpp")
            src_path.write_text(source)
            build = subprocess.run([CXX, "-std=c++14", "-O1", "-Wall", "-Werror", "-Wno-unused-variable",
                                    "-shared", "-fPIC", str(src_path), "-o", str(lib_path)],
                                   capture_output=True, text=True)
            assert build.returncode == 0, f"{self.name} does not compile:\n{build.stderr}"
        return ctypes.CDLL(str(lib_path))

    def _host(self, a: Any) -> Any:
        if self.array_type is not None and isinstance(a, self.array_type):
            return a._a
        return a

    def __call__(self, *args: object) -> None:
        assert len(args) == len(self.params), f"{self.name}: pass all {len(self.params)} arguments"
        args = tuple(self._host(a) for a in args)
        dtypes = {a.dtype for p, a in zip(self.params, args) if p.type == "T"}
        assert len(dtypes) == 1, f"{self.name}: T arguments of several dtypes {dtypes}"
        dtype = dtypes.pop()
        shape = np.broadcast_shapes(*[a.shape for p, a in zip(self.params, args) if not p.raw and p.type == "T"])
        c_args, write_back = [], []
        for p, a in zip(self.params, args):
            if p.type == "int64":
                assert isinstance(a, int), f"{self.name}: {p.name} should be a Python int"
                c_args.append(ctypes.c_longlong(a))
                continue
            assert isinstance(a, np.ndarray), f"{self.name}: {p.name} is {type(a).__name__}"
            if p.raw:
                assert a.flags.c_contiguous, f"{self.name}: raw argument {p.name} must be C-contiguous"
                array = a
            elif p.is_input:
                array = np.ascontiguousarray(np.broadcast_to(a, shape))
            else:
                assert a.shape == shape, f"{self.name}: output {p.name} has shape {a.shape}, loop shape {shape}"
                array = a if a.flags.c_contiguous else np.empty(shape, dtype)
                if array is not a:
                    write_back.append((a, array))
            c_args.append(array.ctypes.data_as(ctypes.c_void_p))
            write_back.append((array, array))  # keep alive through the call
        getattr(self._library(_CTYPES[str(dtype)]), self.name)(ctypes.c_ssize_t(int(np.prod(shape))), *c_args)
        for target, source in write_back:
            if target is not source:
                target[...] = source
        self.calls += 1
