"""Silent-wrong-result sweep: minigrad against PyTorch's OpInfo database.

Run from the repository root (not part of the test suite; needs torch):
    PYTHONPATH=. .venv/bin/python tests/sweeps/sweep_ops.py [op names...]   # writes sweep_ops_report.txt
"""
from __future__ import annotations

import collections
import json
import signal
import sys
import time
import traceback
import warnings

import _torch_testing  # noqa: F401 - the expecttest stand-in, before torch.testing._internal
import numpy as np
import torch
from torch.testing._internal.common_methods_invocations import op_db

import minigrad as mg

warnings.filterwarnings("ignore")
MAX_SAMPLES = 8
PER_OP_S = 40
DTYPES = [torch.float64, torch.float32, torch.int64, torch.bool]
RANDOM = {"bernoulli", "normal", "rand_like", "randn_like", "randint_like", "randint", "multinomial", "uniform",
          "empty", "empty_like", "empty_strided", "new_empty", "nn.functional.dropout", "cauchy", "exponential",
          "geometric", "log_normal", "randn", "rand", "randperm", "empty_permuted", "new_empty_strided"}
# ops whose gradient/values are only defined up to sign or basis; skip value+grad comparison of raw outputs
TIES = {"kthvalue", "topk", "mode", "sort", "median", "nanmedian"}
UNIQUE_UP_TO = {"linalg.eigh", "linalg.svd", "svd", "linalg.eig", "linalg.qr", "qr", "linalg.eigvalsh"}
# torch's gradient of these leaves is wrong (op_db marks TestBwdGradients.test_fn_grad expectedFailure); minigrad's is
# checked by gradcheck in the suite (as_strided_scatter: torch passes the input's gradient at the written places)
TORCH_WRONG_GRAD = {"as_strided_scatter": "grad of leaf 0"}


class Timeout(Exception):
    pass


def _alarm(signum, frame):
    raise Timeout()


signal.signal(signal.SIGALRM, _alarm)


def np_dtype(td):
    return torch.empty(0, dtype=td).numpy().dtype


class Unconvertible(Exception):
    pass


def to_mg(x, leaves):
    if isinstance(x, torch.Tensor):
        if x.is_complex() or x.dtype in (torch.bfloat16, torch.float16) or x.is_sparse or x.layout != torch.strided:
            raise Unconvertible(f"tensor {x.dtype} {x.layout}")
        if x.device.type != "cpu":  # e.g. gradient's error input with a 'meta' coordinate tensor
            raise Unconvertible(f"tensor on {x.device}")
        if x.ndim > 32:
            raise Unconvertible("ndim > 32")
        if x._base is not None and x.storage_offset() + x.numel() != x._base.numel():
            pass
        arr = x.detach().resolve_conj().resolve_neg().numpy().copy()
        t = mg.tensor(arr, requires_grad=bool(x.requires_grad))
        if x.requires_grad:
            leaves.append((t, x))
        return t
    if isinstance(x, torch.dtype):
        return np_dtype(x)
    if isinstance(x, torch.device):
        return "cpu"
    if isinstance(x, torch.Size):
        return tuple(x)
    if isinstance(x, torch.memory_format):
        name = str(x).split(".")[-1]
        if hasattr(mg, name):
            return getattr(mg, name)
        raise Unconvertible(str(x))
    if isinstance(x, torch.Generator):
        raise Unconvertible("generator")
    if isinstance(x, tuple) and type(x) is not tuple:  # namedtuple
        return type(x)(*[to_mg(v, leaves) for v in x])
    if isinstance(x, (list, tuple)):
        return type(x)(to_mg(v, leaves) for v in x)
    if isinstance(x, dict):
        return {k: to_mg(v, leaves) for k, v in x.items()}
    if callable(x) and not isinstance(x, (int, float, bool, str)):
        raise Unconvertible(f"callable {x}")
    return x


def flatten(out):
    if isinstance(out, (list, tuple)):
        res = []
        for o in out:
            res.extend(flatten(o))
        return res
    return [out]


def input_dtypes(sample):
    dts, scalars = [], []
    for v in flatten([sample.input, list(sample.args), list(sample.kwargs.values())]):
        if isinstance(v, torch.Tensor):
            dts.append(np_dtype(v.dtype))
        elif isinstance(v, (bool, int, float)) and not isinstance(v, torch.dtype):
            scalars.append(v)
    return dts, scalars


def promotion_ok(mg_dt, t_dt, sample):
    """mg's dtype equals NumPy 2's promotion of the inputs (the intended difference)."""
    dts, scalars = input_dtypes(sample)
    if not dts:
        return False
    mixed = len(set(dts)) > 1 or scalars
    if not mixed:
        return False
    try:
        return np.result_type(*dts, *scalars) == mg_dt
    except Exception:
        return False


def describe(sample):
    def d(v):
        if isinstance(v, torch.Tensor):
            return f"T{tuple(v.shape)}:{str(v.dtype)[6:]}"
        if isinstance(v, (list, tuple)):
            return "[" + ",".join(d(u) for u in v) + "]"
        return repr(v)[:40]
    s = d(sample.input)
    if sample.args:
        s += ", " + ", ".join(d(a) for a in sample.args)
    if sample.kwargs:
        s += ", " + ", ".join(f"{k}={d(v)}" for k, v in sample.kwargs.items())
    return s


def tol(dt):
    return (1e-7, 1e-10) if dt == np.float64 else (1e-5, 1e-6)


def compare_val(a, e, what):
    """a: mg thing, e: torch thing; returns list of (cls, msg)."""
    probs = []
    if isinstance(e, torch.Tensor):
        if not isinstance(a, mg.Tensor):
            if isinstance(a, (np.ndarray, np.generic, int, float, bool)):
                a_arr = np.asarray(a)
            else:
                return [("shape", f"{what}: minigrad returned {type(a).__name__}, torch a Tensor")]
        else:
            a_arr = a.numpy()
        e_arr = e.detach().resolve_conj().numpy() if not e.is_complex() else None
        if e_arr is None:
            return [("dtype", f"{what}: torch complex output")]
        if a_arr.shape != e_arr.shape:
            return [("shape", f"{what}: shape {a_arr.shape} != torch {e_arr.shape}")]
        if a_arr.dtype != e_arr.dtype:
            probs.append(("dtype", f"{what}: dtype {a_arr.dtype} != torch {e_arr.dtype}"))
        return probs + compare_arrays(a_arr, e_arr, what)
    if isinstance(e, (bool, int, float)):
        a_v = a.item() if isinstance(a, mg.Tensor) else a
        try:
            if not np.allclose(a_v, e, equal_nan=True):
                return [("values", f"{what}: {a_v!r} != torch {e!r}")]
        except Exception:
            return [("values", f"{what}: {a_v!r} vs torch {e!r}")]
        return []
    if e is None:
        return [] if a is None else [("values", f"{what}: minigrad returned {type(a).__name__}, torch None")]
    return []


def compare_arrays(a_arr, e_arr, what):
    if a_arr.size == 0:
        return []
    if a_arr.dtype.kind in "fc" or e_arr.dtype.kind in "fc":
        dt = e_arr.dtype if e_arr.dtype.kind == "f" else a_arr.dtype
        rtol, atol = tol(dt)
        fin = np.abs(e_arr[np.isfinite(e_arr)]) if e_arr.dtype.kind == "f" else np.abs(e_arr)
        atol *= max(1.0, float(fin.max()) if fin.size else 1.0)
        try:
            np.testing.assert_allclose(a_arr.astype(np.float64), e_arr.astype(np.float64), rtol=rtol, atol=atol,
                                       equal_nan=True)
        except AssertionError as err:
            msg = [m.strip() for m in str(err).strip().splitlines() if m.strip().startswith(("Mismatched", "Max"))]
            return [("values", f"{what}: " + " | ".join(msg))]
        return []
    if not np.array_equal(a_arr, e_arr):
        bad = np.argwhere(a_arr != e_arr)[:3].tolist()
        return [("values", f"{what}: differs at {bad}: mg {a_arr.ravel()[:6]} torch {e_arr.ravel()[:6]}")]
    return []


def resolve(op_name):
    """(kind, callable-name) for minigrad or None."""
    if op_name.startswith("nn.functional."):
        return None
    if op_name.startswith("linalg."):
        ns, n = mg.linalg, op_name[7:]
    elif op_name.startswith("special."):
        ns, n = mg.special, op_name[8:]
    elif "." in op_name:
        return None
    else:
        ns, n = mg, op_name
    try:
        f = getattr(ns, n)
        if callable(f):
            return ("func", f)
    except Exception:
        pass
    if ns is mg and (hasattr(mg.Tensor, n) or n in ("T", "H", "mT", "mH")):
        return ("method", n)
    return None


class _Shim:
    """Stands in for `torch` inside an OpInfo lambda so that the lambda calls minigrad."""
    Tensor = mg.Tensor

    def __getattr__(self, name):
        return getattr(mg, name)


def _set_seed_wrapper(f, *args, **kwargs):
    return f(*args, **kwargs)


def shim_lambda(fn):
    import types
    g = dict(fn.__globals__)
    g["torch"] = _Shim()
    g["wrapper_set_seed"] = _set_seed_wrapper
    return types.FunctionType(fn.__code__, g, fn.__name__, fn.__defaults__, fn.__closure__)


def call_mg(kind, f, inp, args, kwargs):
    if kind == "lambda":
        return f(inp, *args, **kwargs)
    if kind == "func":
        return f(inp, *args, **kwargs)
    return getattr(inp, f)(*args, **kwargs)


def grad_check(op, sample, t_out, m_out, leaves, what):
    t_outs, m_outs = flatten(t_out), flatten(m_out)
    if op.name in UNIQUE_UP_TO:
        return []
    pairs = [(m, t) for m, t in zip(m_outs, t_outs)
             if isinstance(t, torch.Tensor) and t.requires_grad and t.dtype.is_floating_point and t.numel()]
    if not pairs or not leaves:
        return []
    rng = np.random.default_rng(0)
    t_loss = 0
    m_loss = None
    for m, t in pairs:
        if not isinstance(m, mg.Tensor):
            return [("grad", f"{what}: minigrad output not a Tensor")]
        if not m.requires_grad:
            return [("grad", f"{what}: minigrad output does not require grad (torch's does)")]
        up = rng.standard_normal(tuple(t.shape))
        t_loss = t_loss + (t * torch.from_numpy(up).to(t.dtype)).sum()
        term = (m * mg.tensor(up.astype(m.dtype))).sum()
        m_loss = term if m_loss is None else m_loss + term
    t_inputs = [t for _, t in leaves]
    t_grads = torch.autograd.grad(t_loss, t_inputs, allow_unused=True)
    m_loss.backward()
    probs = []
    for i, ((m_leaf, _), tg) in enumerate(zip(leaves, t_grads)):
        mgrad = m_leaf.grad
        if tg is None:
            if mgrad is not None and np.any(mgrad.numpy() != 0):
                probs.append(("grad", f"{what}: grad of leaf {i}: torch None, minigrad nonzero"))
            continue
        if mgrad is None:
            if np.any(tg.numpy() != 0):
                probs.append(("grad", f"{what}: grad of leaf {i}: minigrad None, torch nonzero"))
            continue
        g = mgrad.numpy()
        e = np.zeros(tuple(tg.shape), np_dtype(tg.dtype)) if tg._is_zerotensor() else tg.detach().numpy()  # sgn's
        if g.shape != e.shape:
            probs.append(("grad", f"{what}: grad of leaf {i} shape {g.shape} != {e.shape}"))
            continue
        probs.extend(("grad", m) for _, m in compare_arrays(g, e, f"{what}: grad of leaf {i}"))
    wrong = TORCH_WRONG_GRAD.get(op.name)
    return [("torch-bug", m) if wrong and f": {wrong}:" in m else (c, m) for c, m in probs]


def run_sample(op, mgname, kind, f, sample, dtype):
    what = f"[{str(dtype)[6:]}] {describe(sample)}"
    leaves = []
    try:
        inp = to_mg(sample.input, leaves)
        args = to_mg(list(sample.args), leaves)
        kwargs = to_mg(dict(sample.kwargs), leaves)
    except Unconvertible as err:
        return [("skip", f"{what}: unconvertible {err}")]
    try:
        t_out = op(sample.input, *sample.args, **sample.kwargs)
    except Exception as err:
        return [("skip", f"{what}: torch raised {type(err).__name__}")]
    try:
        m_out = call_mg(kind, f, inp, args, kwargs)
    except Timeout:
        raise
    except Exception as err:
        return [("raises", f"{what}: {type(err).__name__}: {str(err)[:200]}")]
    t_flat, m_flat = flatten(t_out), flatten(m_out)
    if len(t_flat) != len(m_flat):
        return [("shape", f"{what}: {len(m_flat)} outputs != torch {len(t_flat)}")]
    probs = []
    base = op.name
    for i, (m, t) in enumerate(zip(m_flat, t_flat)):
        w = f"{what} out{i}" if len(t_flat) > 1 else what
        ps = compare_val(m, t, w)
        if base in RANDOM or base in UNIQUE_UP_TO:
            ps = [p for p in ps if p[0] != "values"]
        if base in TIES and i == 1 and sample.input.dtype in (torch.int64, torch.bool):
            ps = [("ties", m) for c, m in ps]
        if base in ("sort", "argsort") and sample.input.dtype in (torch.int64, torch.bool) and not sample.kwargs.get(
                "stable", False):
            ps = [("ties", m) for c, m in ps]
        for cls, msg in ps:
            if cls == "dtype" and isinstance(m, mg.Tensor) and promotion_ok(m.dtype, t.dtype, sample):
                cls = "dtype-intended"
            probs.append((cls, msg))
    if any(p[0] in ("values", "shape") for p in probs) or base in RANDOM:
        return probs
    try:
        probs += grad_check(op, sample, t_out, m_out, leaves, what)
    except Timeout:
        raise
    except Exception as err:
        probs.append(("grad-raises", f"{what}: backward {type(err).__name__}: {str(err)[:160]}"))
    return probs


def run_errors(op, kind, f):
    probs = []
    try:
        errs = list(op.error_inputs("cpu"))
    except Exception:
        return []
    for ei in errs[:MAX_SAMPLES]:
        sample = ei.sample_input
        leaves = []
        try:
            inp = to_mg(sample.input, leaves)
            args = to_mg(list(sample.args), leaves)
            kwargs = to_mg(dict(sample.kwargs), leaves)
        except Unconvertible:
            continue
        try:
            op(sample.input, *sample.args, **sample.kwargs)
            continue  # torch did not raise (e.g. error only on other devices)
        except Exception:
            pass
        try:
            call_mg(kind, f, inp, args, kwargs)
        except Timeout:
            raise
        except Exception:
            continue
        scalar = any(isinstance(v, (int, float)) for v in [sample.input, *sample.args])
        cls = "accepts-scalar(benign)" if scalar and not ei.error_regex else "accepts"
        probs.append((cls, f"{describe(sample)}: torch raises {ei.error_type.__name__}"
                      f" /{ei.error_regex[:60]}/, minigrad returns"))
    return probs


def sweep_one(op, mgname, kind, f):
    results = []
    if getattr(op.op, "__name__", "") == "<lambda>" and mgname == op.name:
        kind, f = "lambda", shim_lambda(op.op)
    supported = op.supported_dtypes("cpu")
    for dtype in DTYPES:
        if dtype not in supported:
            continue
        grad = dtype.is_floating_point and op.supports_autograd
        try:
            samples = op.sample_inputs("cpu", dtype, requires_grad=grad)
            n = 0
            for sample in samples:
                if n >= MAX_SAMPLES:
                    break
                n += 1
                res = run_sample(op, mgname, kind, f, sample, dtype)
                results.extend(res if res else [("ok", "")])
        except Timeout:
            raise
        except Exception as err:
            results.append(("sweep-error", f"[{dtype}] {type(err).__name__}: {str(err)[:150]}"))
    results.extend(run_errors(op, kind, f))
    return results


def main():
    only = set(sys.argv[1:])
    report = collections.OrderedDict()
    t0 = time.time()
    for op in op_db:
        names = [op.name] + [a.name for a in getattr(op, "aliases", ())]
        for name in names:
            if only and name not in only and op.name not in only:
                continue
            if op.variant_test_name == "partial_views":  # views into a larger storage: not reproducible by a copy
                continue
            r = resolve(name)
            if r is None:
                continue
            kind, f = r
            key = f"{name}" + (f".{op.variant_test_name}" if op.variant_test_name else "") + (
                " (method)" if kind == "method" else "")
            if name != op.name:
                key += f" [alias of {op.name}]"
            signal.alarm(PER_OP_S)
            start = time.time()
            try:
                res = sweep_one(op, name, kind, f)
            except Timeout:
                res = [("timeout", f"over {PER_OP_S}s")]
            except Exception as err:
                res = [("sweep-error", f"{type(err).__name__}: {err}\n{traceback.format_exc()[-400:]}")]
            finally:
                signal.alarm(0)
            report[key] = res
            print(f"{key}: {classify(res)} ({time.time() - start:.1f}s)", flush=True)
    print(f"total {time.time() - t0:.0f}s", flush=True)
    write(report)


ORDER = ["values", "grad", "shape", "dtype", "raises", "grad-raises", "accepts", "timeout", "sweep-error", "ties",
         "torch-bug", "accepts-scalar(benign)"]


def classify(res):
    classes = {c for c, _ in res}
    for c in ORDER:
        if c in classes:
            return c if c != "raises" or "ok" not in classes else "raises(partial)"
    if "ok" in classes:
        return "match" + ("(+dtype-intended)" if "dtype-intended" in classes else "")
    if classes <= {"skip", "dtype-intended"}:
        return "skipped(no convertible sample)"
    return "match"


def write(report):
    counts = collections.Counter(classify(r) for r in report.values())
    lines = [f"minigrad OpInfo sweep: {len(report)} op entries", ""]
    lines += [f"  {k:32s} {v}" for k, v in counts.most_common()]
    lines.append("")
    for cls in ORDER + ["raises(partial)"]:
        ops = [k for k, r in report.items() if classify(r) == cls]
        if not ops:
            continue
        lines.append(f"=== {cls} ({len(ops)}) ===")
        for k in ops:
            lines.append(f"- {k}")
            seen = set()
            for c, m in report[k]:
                if c in ("ok", "skip", "dtype-intended", "accepts-scalar(benign)") or m in seen:
                    continue
                seen.add(m)
                if len(seen) > 6:
                    break
                lines.append(f"    {c}: {m}")
        lines.append("")
    lines.append("=== match ===")
    lines.append(", ".join(k for k, r in report.items() if classify(r).startswith("match")))
    lines.append("=== skipped ===")
    lines.append(", ".join(k for k, r in report.items() if classify(r).startswith("skipped")))
    out = "sweep_ops_report.txt"
    with open(out, "w") as fh:
        fh.write("\n".join(lines) + "\n")
    with open(out.replace(".txt", ".json"), "w") as fh:
        json.dump(report, fh, indent=0)


if __name__ == "__main__":
    main()
