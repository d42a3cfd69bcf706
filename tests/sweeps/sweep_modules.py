"""Silent-wrong-result sweep of nn modules / nn.functional against torch's module_db and op_db.

Run from the repository root (not part of the test suite; needs torch):
    PYTHONPATH=. .venv/bin/python tests/sweeps/sweep_modules.py [filter]   # writes sweep_modules_report.txt
"""
import collections
import os
import signal
import sys
import traceback
import warnings

import _torch_testing  # noqa: F401 - the expecttest stand-in, before torch.testing._internal
import numpy as np
import torch

warnings.filterwarnings("ignore")
sys.setrecursionlimit(5000)

from torch.testing._internal.common_methods_invocations import op_db  # noqa: E402
from torch.testing._internal.common_modules import module_db  # noqa: E402

import minigrad as mg  # noqa: E402
import nn  # noqa: E402
import nn.functional as F  # noqa: E402

MAXS = int(os.environ.get('MAXS', 6))
REF = bool(os.environ.get('REF'))
DT = os.environ.get('DTYPE', 'float64')
TIMEOUT = 20
RTOL, ATOL = (1e-7, 1e-9) if os.environ.get('DTYPE', 'float64') == 'float64' else (2e-4, 2e-5)
FILTER = sys.argv[1] if len(sys.argv) > 1 else None
ONLY = sys.argv[2] if len(sys.argv) > 2 else "both"


class Timeout(Exception):
    pass


def _alarm(*a):
    raise Timeout("timeout")


signal.signal(signal.SIGALRM, _alarm)


class Skip(Exception):
    pass


def conv(x):
    """torch object -> minigrad object."""
    if isinstance(x, torch.Tensor):
        if x.is_complex() or x.dtype == torch.bfloat16:
            raise Skip("complex/bf16")
        if x.layout != torch.strided:
            raise Skip("sparse")
        a = x.detach().cpu().numpy().copy()
        t = mg.tensor(a, requires_grad=bool(x.requires_grad and x.is_leaf))
        return t
    if isinstance(x, torch.Size):
        return tuple(x)
    if isinstance(x, torch.dtype):
        n = str(x).split(".")[-1]
        if not hasattr(mg, n):
            raise Skip(f"dtype {n}")
        return getattr(mg, n)
    if isinstance(x, torch.device):
        return "cpu"
    if isinstance(x, (list, tuple)):
        vals = [conv(v) for v in x]
        if hasattr(x, "_fields"):
            return tuple(vals)
        return type(x)(vals) if isinstance(x, (list, tuple)) else vals
    if isinstance(x, dict):
        return {k: conv(v) for k, v in x.items()}
    if isinstance(x, torch.nn.TransformerEncoderLayer):
        act = x.activation
        act = act if isinstance(act, str) else getattr(act, "__name__", type(act).__name__.lower())
        return nn.TransformerEncoderLayer(
            x.self_attn.embed_dim, x.self_attn.num_heads, dim_feedforward=x.linear1.out_features,
            dropout=x.dropout.p, activation=act, layer_norm_eps=x.norm1.eps, batch_first=x.self_attn.batch_first,
            norm_first=x.norm_first, bias=x.linear1.bias is not None)
    if isinstance(x, torch.nn.Module):
        n = type(x).__name__
        if hasattr(nn, n) and not list(x.parameters()):
            try:
                return getattr(nn, n)()
            except Exception:
                pass
        raise Skip(f"module arg {n}")
    if callable(x) and getattr(x, "__module__", "") in ("torch.nn.functional", "torch._C._nn", "torch"):
        name = x.__name__
        if hasattr(F, name):
            return getattr(F, name)
        if hasattr(mg, name):
            return getattr(mg, name)
        raise Skip(f"callable {name}")
    if isinstance(x, torch.Generator):
        raise Skip("generator")
    return x


def flat(x, out):
    if isinstance(x, (torch.Tensor, mg.Tensor)):
        out.append(x)
    elif isinstance(x, (list, tuple)):
        for v in x:
            flat(v, out)
    elif isinstance(x, dict):
        for k in sorted(x):
            flat(x[k], out)
    elif x is None:
        out.append(None)
    else:
        out.append(x)
    return out


def npa(t):
    if isinstance(t, torch.Tensor):
        return t.detach().cpu().numpy()
    return t.numpy()


def tdt(t):
    if isinstance(t, torch.Tensor):
        return str(t.dtype).split(".")[-1]
    return str(t.dtype)


def close(a, b):
    if a.shape != b.shape:
        return False
    if a.dtype.kind not in "fc" or b.dtype.kind not in "fc":
        return np.array_equal(a, b)
    return np.allclose(a, b, rtol=RTOL, atol=ATOL, equal_nan=True)


def maxdiff(a, b):
    try:
        d = np.abs(a.astype(float) - b.astype(float))
        return float(np.nanmax(d)) if d.size else 0.0
    except Exception:
        return float("nan")


def cmp_outs(to, mo, probs, tag):
    tl, ml = flat(to, []), flat(mo, [])
    if len(tl) != len(ml):
        probs.append(f"shape:{tag} structure {len(tl)} outputs vs {len(ml)}")
        return tl, ml, False
    ok = True
    for i, (a, b) in enumerate(zip(tl, ml)):
        if a is None or b is None:
            if (a is None) != (b is None):
                probs.append(f"shape:{tag}[{i}] None mismatch torch={type(a).__name__} mg={type(b).__name__}")
                ok = False
            continue
        if not isinstance(a, torch.Tensor):
            if isinstance(b, mg.Tensor):
                b = b.item() if b.numel() == 1 else b.numpy()
            if not np.allclose(np.asarray(a, dtype=float), np.asarray(b, dtype=float), equal_nan=True):
                probs.append(f"values:{tag}[{i}] {a!r} vs {b!r}")
                ok = False
            continue
        if not isinstance(b, mg.Tensor):
            probs.append(f"shape:{tag}[{i}] mg returned {type(b).__name__}")
            ok = False
            continue
        A, B = npa(a), npa(b)
        if tuple(A.shape) != tuple(B.shape):
            probs.append(f"shape:{tag}[{i}] {tuple(A.shape)} vs {tuple(B.shape)}")
            ok = False
            continue
        if tdt(a) != tdt(b):
            probs.append(f"dtype:{tag}[{i}] {tdt(a)} vs {tdt(b)}")
            ok = False
        if not close(A, B.astype(A.dtype) if A.dtype != B.dtype and B.dtype.kind in 'fciub' else B):
            probs.append(f"values:{tag}[{i}] maxdiff {maxdiff(A, B):.3g}")
            ok = False
    return tl, ml, ok


def is_random(fn):
    torch.manual_seed(0)
    a = fn()
    torch.manual_seed(1)
    b = fn()
    fa, fb = flat(a, []), flat(b, [])
    for x, y in zip(fa, fb):
        if isinstance(x, torch.Tensor) and x.is_floating_point():
            if x.shape != y.shape or not torch.allclose(x.detach(), y.detach(), rtol=0, atol=0, equal_nan=True):
                return True
    return False


def upstream(tl, rng):
    gs = []
    for a in tl:
        if isinstance(a, torch.Tensor) and a.is_floating_point() and a.requires_grad:
            gs.append(rng.standard_normal(tuple(a.shape)).astype(npa(a).dtype))
        else:
            gs.append(None)
    return gs


def backward_both(tl, ml, gs):
    tloss, mloss = None, None
    for a, b, g in zip(tl, ml, gs):
        if g is None or not isinstance(b, mg.Tensor) or not b.requires_grad:
            continue
        tt = (a * torch.from_numpy(g)).sum()
        mt = (b * mg.tensor(g, dtype=b.dtype)).sum()
        tloss = tt if tloss is None else tloss + tt
        mloss = mt if mloss is None else mloss + mt
    if tloss is None:
        return False
    tloss.backward()
    mloss.backward()
    return True


def cmp_grads(pairs, probs, tag):
    ok = True
    for name, a, b in pairs:
        ga, gb = a.grad, b.grad
        if ga is None and gb is None:
            continue
        if ga is None or gb is None:
            if ga is None and gb is not None and not np.any(npa(gb)):
                continue
            if gb is None and ga is not None and not torch.any(ga):
                continue
            probs.append(f"grads:{tag} {name} torch={'None' if ga is None else 'set'} "
                         f"mg={'None' if gb is None else 'set'}")
            ok = False
            continue
        A, B = npa(ga), npa(gb)
        if A.shape != B.shape:
            probs.append(f"grads:{tag} {name} shape {A.shape} vs {B.shape}")
            ok = False
        elif not close(A, B):
            probs.append(f"grads:{tag} {name} maxdiff {maxdiff(A, B):.3g}")
            ok = False
    return ok


def leaves(torch_obj, mg_obj):
    tl, ml = flat(torch_obj, []), flat(mg_obj, [])
    out = []
    for i, (a, b) in enumerate(zip(tl, ml)):
        if isinstance(a, torch.Tensor) and a.requires_grad and a.is_leaf and isinstance(b, mg.Tensor):
            out.append((f"input{i}", a, b))
    return out


RESULTS = []  # (kind, name, sample, klass, detail)


def record(kind, name, idx, klass, detail=""):
    RESULTS.append((kind, name, idx, klass, detail))


def run_sample(kind, name, sid, desc, run, *args):
    """One sample of a module or function, classified and recorded; its exceptions are classes, not failures."""
    signal.alarm(TIMEOUT)
    try:
        klass, detail = run(*args)
        record(kind, name, sid, klass, f"[{desc}] {detail}")
    except Skip as skipped:
        record(kind, name, sid, "skip", str(skipped))
    except Timeout:
        record(kind, name, sid, "timeout")
    except Exception as e:
        tb = traceback.extract_tb(e.__traceback__)[-1]
        record(kind, name, sid, "mg_raises", f"[{desc}] {type(e).__name__}: {str(e)[:160]} "
               f"@{tb.filename.split('/')[-1]}:{tb.lineno}")
    finally:
        signal.alarm(0)


def clone_t(x):
    if isinstance(x, torch.Tensor):
        y = x.detach().clone()
        return y.requires_grad_(x.requires_grad and x.is_leaf)
    if isinstance(x, (list, tuple)):
        vals = [clone_t(v) for v in x]
        return type(x)(vals) if not hasattr(x, "_fields") else type(x)(*vals)
    if isinstance(x, dict):
        return {k: clone_t(v) for k, v in x.items()}
    return x


# ----------------------------------------------------------------------------------------------- modules
def run_module(mi, training, idx, sample):
    name = mi.module_cls.__name__
    cls_m = getattr(nn, name)
    cargs, ckw = sample.constructor_input.args, sample.constructor_input.kwargs
    fargs, fkw = sample.forward_input.args, sample.forward_input.kwargs
    probs = []
    torch.manual_seed(0)
    mt = mi.module_cls(*cargs, **ckw)
    mcargs, mckw = conv(cargs), conv(ckw)
    mm = cls_m(*mcargs, **mckw)
    mt.to(getattr(torch, DT))
    mm.to(dtype=getattr(mg, DT))
    lazy = "Lazy" in name
    if lazy:
        with torch.no_grad():
            mt.eval()
            mt(*clone_t(fargs), **clone_t(fkw))
        mm.eval()
        with mg.no_grad():
            mm(*conv(clone_t(fargs)), **conv(clone_t(fkw)))
        mt.to(getattr(torch, DT))
        mm.to(dtype=getattr(mg, DT))
    sd = mt.state_dict()
    tk, mk = list(sd.keys()), list(mm.state_dict().keys())
    if tk != mk:
        if set(tk) != set(mk):
            probs.append(f"state_dict: torch-only {sorted(set(tk) - set(mk))} mg-only {sorted(set(mk) - set(tk))}")
        else:
            probs.append("state_dict: key order differs")
    try:
        msd = {k: v.detach().numpy().copy() for k, v in sd.items() if k in set(mk)}
        mm.load_state_dict(msd, strict=False)
    except Exception as e:
        probs.append(f"state_dict: load raised {type(e).__name__}: {e}")
    mt.train(training)
    mm.train(training)
    if repr(mt) != repr(mm):
        probs.append(f"repr: {repr(mt)[:150]!r} vs {repr(mm)[:150]!r}")
    ti_args, ti_kw = clone_t(fargs), clone_t(fkw)
    mi_args, mi_kw = conv(ti_args), conv(ti_kw)
    tparams = dict(mt.named_parameters())
    mparams = dict(mm.named_parameters())
    tbuf0_state = {k: v.detach().clone() for k, v in mt.state_dict().items()}

    # randomness check (re-runs on clones, restores buffers)
    def tf():
        out = mt(*clone_t(fargs), **clone_t(fkw))
        mt.load_state_dict(tbuf0_state)
        return out
    rnd = is_random(tf)
    mt.load_state_dict(tbuf0_state)
    torch.manual_seed(0)
    try:
        to = mt(*ti_args, **ti_kw)
    except Exception as e:
        # torch raises: does minigrad?
        try:
            mm(*mi_args, **mi_kw)
        except Exception:
            return "both_raise", ""
        return "garbage", f"torch raised {type(e).__name__}: {str(e)[:100]}"
    try:
        mo = mm(*mi_args, **mi_kw)
    except Exception as e:
        return "mg_raises", f"{type(e).__name__}: {str(e)[:160]}"
    if rnd:
        tl, ml = flat(to, []), flat(mo, [])
        for a, b in zip(tl, ml):
            if isinstance(a, torch.Tensor) and isinstance(b, mg.Tensor) and tuple(a.shape) != tuple(b.shape):
                probs.append(f"shape:random out {tuple(a.shape)} vs {tuple(b.shape)}")
        return ("mismatch" if probs else "match_random"), "; ".join(probs)
    tl, ml, ok = cmp_outs(to, mo, probs, "out")
    if ok:
        gs = upstream(tl, np.random.default_rng(idx))
        if backward_both(tl, ml, gs):
            pairs = leaves((ti_args, ti_kw), (mi_args, mi_kw))
            pairs += [(f"param {k}", v, mparams[k]) for k, v in tparams.items() if k in mparams]
            cmp_grads(pairs, probs, "grad")
    mb = dict(mm.named_buffers())
    for k, v in mt.named_buffers():
        if k not in mb:
            probs.append(f"buffers: {k} missing")
        elif not close(npa(v), npa(mb[k])):
            probs.append(f"buffers: {k} maxdiff {maxdiff(npa(v), npa(mb[k])):.3g}")
    return ("mismatch" if probs else "match"), "; ".join(probs)


def run_module_errors(mi):
    if mi.module_error_inputs_func is None:
        return
    try:
        errs = list(mi.module_error_inputs_func(mi, device="cpu", dtype=torch.float64, requires_grad=False,
                                                training=False))
    except Exception:
        return
    name = mi.module_cls.__name__
    for j, e in enumerate(errs[:MAXS]):
        sample = e.module_error_input
        try:
            signal.alarm(TIMEOUT)
            try:
                cargs, ckw = conv(sample.constructor_input.args), conv(sample.constructor_input.kwargs)
                m = getattr(nn, name)(*cargs, **ckw)
                fa, fk = conv(sample.forward_input.args), conv(sample.forward_input.kwargs)
                m(*fa, **fk)
                record("module", name, f"err{j}", "garbage", f"error input accepted: {e.error_regex!r}")
            except Skip as s:
                record("module", name, f"err{j}", "skip", str(s))
            except Timeout:
                record("module", name, f"err{j}", "timeout")
            except Exception:
                record("module", name, f"err{j}", "match_error")
        finally:
            signal.alarm(0)


def sweep_modules():
    for mi in module_db:
        name = mi.module_cls.__name__
        if FILTER and FILTER not in name:
            continue
        if not hasattr(nn, name):
            record("module", name, "-", "absent")
            continue
        for training in (True, False):
            try:
                samples = list(mi.module_inputs_func(mi, device="cpu", dtype=getattr(torch, DT), requires_grad=True,
                                                     training=training))
            except Exception as e:
                record("module", name, f"{'T' if training else 'E'}", "skip", f"samples: {e}")
                continue
            for idx, sample in enumerate(samples[:MAXS]):
                sid = f"{'T' if training else 'E'}{idx}"
                run_sample("module", name, sid, sample.desc, run_module, mi, training, idx, sample)
        run_module_errors(mi)


# ----------------------------------------------------------------------------------------------- functionals
def run_op(op, idx, s, dtype):
    fname = op.name.split(".")[-1]
    fm = getattr(F, fname)
    probs = []
    t_in, t_args, t_kw = clone_t(s.input), clone_t(s.args), clone_t(s.kwargs)
    m_in, m_args, m_kw = conv(t_in), conv(t_args), conv(t_kw)
    fn = op.op
    if fname in ("embedding", "embedding_bag"):
        t_in, t_args = t_args[0], (t_in,) + tuple(t_args[1:])
        m_in, m_args = m_args[0], (m_in,) + tuple(m_args[1:])
        fn = getattr(torch.nn.functional, fname)
    plain = getattr(torch.nn.functional, fname)

    def tf():
        a, b = clone_t(t_in), clone_t(t_args)
        return plain(a, *b, **clone_t(t_kw))
    rnd = is_random(tf)
    torch.manual_seed(0)
    try:
        to = fn(t_in, *t_args, **t_kw)
    except Exception as e:
        try:
            fm(m_in, *m_args, **m_kw)
        except Exception:
            return "both_raise", ""
        return "garbage", f"torch raised {type(e).__name__}: {str(e)[:100]}"
    try:
        mo = fm(m_in, *m_args, **m_kw)
    except Exception as e:
        tb = traceback.extract_tb(e.__traceback__)[-1]
        return "mg_raises", f"{type(e).__name__}: {str(e)[:160]} @{tb.filename.split('/')[-1]}:{tb.lineno}"
    if rnd:
        tl, ml = flat(to, []), flat(mo, [])
        for a, b in zip(tl, ml):
            if isinstance(a, torch.Tensor) and isinstance(b, mg.Tensor) and tuple(a.shape) != tuple(b.shape):
                probs.append(f"shape:random out {tuple(a.shape)} vs {tuple(b.shape)}")
        return ("mismatch" if probs else "match_random"), "; ".join(probs)
    tl, ml, ok = cmp_outs(to, mo, probs, "out")
    if ok and op.supports_autograd:
        gs = upstream(tl, np.random.default_rng(idx))
        if backward_both(tl, ml, gs):
            cmp_grads(leaves((t_in, t_args, t_kw), (m_in, m_args, m_kw)), probs, "grad")
    return ("mismatch" if probs else "match"), "; ".join(probs)


def sweep_ops():
    for op in op_db:
        if not op.name.startswith("nn.functional."):
            continue
        fname = op.name.split(".")[-1]
        full = op.name + (f".{op.variant_test_name}" if op.variant_test_name else "")
        if FILTER and FILTER not in full:
            continue
        if not hasattr(F, fname):
            record("func", full, "-", "absent")
            continue
        dts = op.supported_dtypes("cpu")
        dtype = getattr(torch, DT) if getattr(torch, DT) in dts else (torch.float32 if torch.float32 in dts else None)
        if dtype is None:
            record("func", full, "-", "skip", "no float dtype")
            continue
        try:
            gen = op.reference_inputs if REF else op.sample_inputs
            samples = list(gen("cpu", dtype, requires_grad=op.supports_autograd))
        except Exception as e:
            record("func", full, "-", "skip", f"samples: {e}")
            continue
        for idx, s in enumerate(samples[:MAXS]):
            run_sample("func", full, idx, summ(s), run_op, op, idx, s, dtype)
        try:
            errs = list(op.error_inputs("cpu"))[:MAXS]
        except Exception:
            errs = []
        for j, e in enumerate(errs):
            s = e.sample_input
            signal.alarm(TIMEOUT)
            try:
                getattr(F, fname)(conv(s.input), *conv(s.args), **conv(s.kwargs))
                record("func", full, f"err{j}", "garbage", f"error input accepted: {e.error_regex!r} [{summ(s)}]")
            except Skip as x:
                record("func", full, f"err{j}", "skip", str(x))
            except Timeout:
                record("func", full, f"err{j}", "timeout")
            except Exception:
                record("func", full, f"err{j}", "match_error")
            finally:
                signal.alarm(0)


def summ(s):
    def d(x):
        if isinstance(x, torch.Tensor):
            return f"T{tuple(x.shape)}{str(x.dtype)[6:]}"
        if isinstance(x, (list, tuple)):
            return "(" + ",".join(d(v) for v in x) + ")"
        return repr(x)[:40]
    return f"{d(s.input)} args={d(s.args)} kw={ {k: d(v) for k, v in s.kwargs.items()} }"


if __name__ == "__main__":
    torch.set_default_dtype(torch.float32)
    if ONLY in ("both", "mod"):
        sweep_modules()
    if ONLY in ("both", "func"):
        sweep_ops()
    counts = collections.Counter(r[3] for r in RESULTS)
    lines = [f"counts: {dict(counts)}"]
    per = collections.defaultdict(collections.Counter)
    for r in RESULTS:
        per[r[3]][r[0]] += 1
    lines.append("per kind: " + str({k: dict(v) for k, v in per.items()}))
    sub = collections.Counter()
    for r in RESULTS:
        if r[3] == "mismatch":
            for p in r[4].split("] ", 1)[-1].split("; "):
                sub[p.split(":")[0]] += 1
    lines.append(f"mismatch subclasses (problem count): {dict(sub)}")
    for klass in ("mismatch", "garbage", "mg_raises", "timeout", "skip", "absent"):
        lines.append(f"\n===== {klass} =====")
        for r in RESULTS:
            if r[3] == klass:
                lines.append(f"{r[0]} {r[1]} {r[2]}: {r[4]}")
    lines.append("\n===== match / match_random / both_raise / match_error (names) =====")
    by = collections.defaultdict(collections.Counter)
    for r in RESULTS:
        by[r[1]][r[3]] += 1
    for n, c in by.items():
        lines.append(f"{n}: {dict(c)}")
    text = "\n".join(lines)
    out = sys.argv[3] if len(sys.argv) > 3 else "sweep_modules_report.txt"
    open(out, "w").write(text)
    print("\n".join(lines[:3]))
