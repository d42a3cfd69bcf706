"""Round 25: whole training loops against PyTorch, where habits combine and small differences compound.

Each pipeline is written once over a small namespace (torch or minigrad), built with the same initial weights and fed
the same batches; after every step the losses, the model's state dict (parameters and buffers), the optimizer's state
and hyper-parameters and the learning rates must agree to 1e-10 in float64. Habits mixed in: weight tying, a learned
initial state, two parameter groups, gradient accumulation, clipping, a skipped NaN batch, freezing midway with
``zero_grad(set_to_none=False)``, ``add_param_group`` midway, a state-dict resume and an ``mg.save``/``mg.load``
round trip midway, ``backward(retain_graph=True)`` twice, train()/eval() toggles.
"""

from __future__ import annotations

import io
import types
from typing import Any, Callable

import numpy as np
import pytest

import minigrad as mg
from minigrad import nn as mnn

torch = pytest.importorskip("torch", reason="no torch")

pytestmark = pytest.mark.usefixtures("torch_optim_loaded")


def _lib(name: str, tmp_path: Any) -> types.SimpleNamespace:
    if name == "torch":
        def save_load(obj: Any) -> Any:
            buffer = io.BytesIO()
            torch.save(obj, buffer)
            buffer.seek(0)
            return torch.load(buffer)

        return types.SimpleNamespace(T=torch, nn=torch.nn, optim=torch.optim, sched=torch.optim.lr_scheduler,
                                     F=torch.nn.functional, utils=torch.nn.utils, save_load=save_load,
                                     tensor=lambda a: torch.from_numpy(np.array(a)))

    def mg_save_load(obj: Any) -> Any:
        path = tmp_path / "checkpoint.pt"
        mg.save(obj, path)
        return mg.load(path)

    return types.SimpleNamespace(T=mg, nn=mnn, optim=mnn.optim, sched=mnn.optim.lr_scheduler, F=mnn.functional,
                                 utils=mnn.utils, save_load=mg_save_load, tensor=lambda a: mg.tensor(np.array(a)))


def _numpy(x: Any) -> np.ndarray:
    return np.asarray(x.detach().numpy() if hasattr(x, "detach") else x, dtype=np.float64)


class _Loop:
    """One training loop: ``build(L)`` gives (model, make_optimizer, make_scheduler); ``habits`` names the steps at
    which each habit happens."""

    def __init__(self, L: Any, build: Callable, state: dict, habits: dict) -> None:
        self.L, self.build, self.habits = L, build, habits
        self.model, self.make_opt, self.make_sched = build(L)
        self.model.load_state_dict({k: L.tensor(v) for k, v in state.items()})
        self.added = False
        self.opt = self.make_opt(self.model, self.added)
        self.sched = self.make_sched(self.opt)

    def _resume(self, via_file: bool) -> None:
        L = self.L
        checkpoint = {"model": self.model.state_dict(), "opt": self.opt.state_dict(),
                      "sched": self.sched.state_dict() if self.sched is not None else None}
        if via_file:
            checkpoint = L.save_load(checkpoint)
        self.model, self.make_opt, self.make_sched = self.build(L)
        self.model.load_state_dict(checkpoint["model"])
        self.opt = self.make_opt(self.model, self.added)
        self.sched = self.make_sched(self.opt)
        self.opt.load_state_dict(checkpoint["opt"])
        if self.sched is not None:
            self.sched.load_state_dict(checkpoint["sched"])
        if self.habits.get("freeze", 99) < 99 and self.frozen:
            self._freeze()

    frozen = False

    def _freeze(self) -> None:
        self.frozen = True
        for p in list(self.model.parameters())[:2]:
            p.requires_grad_(False)

    def step(self, i: int, batches: list, loss_of: Callable) -> dict:
        L, h = self.L, self.habits
        if h.get("freeze") == i:
            self._freeze()
        if h.get("add_group") == i:
            self.opt.add_param_group(self.make_opt(self.model, True).param_groups[-1])
            self.added = True
        if h.get("resume") == i:
            self._resume(via_file=False)
        if h.get("save_load") == i:
            self._resume(via_file=True)
        self.model.train(not (h.get("eval_train") and i % 2))
        record: dict = {}
        if h.get("lbfgs"):
            x, y = batches[i]

            def closure() -> Any:
                self.opt.zero_grad()
                loss = loss_of(L, self.model, x, y)
                loss.backward()
                return loss

            record["loss"] = float(self.opt.step(closure).detach())
        else:
            self.opt.zero_grad(set_to_none=h.get("set_to_none", True))
            micro = batches[2 * i: 2 * i + 2] if h.get("accumulate") else batches[2 * i: 2 * i + 1]
            record["loss"] = 0.0
            for x, y in micro:
                loss = loss_of(L, self.model, x, y) / len(micro)
                if not bool(L.T.isfinite(loss)):
                    record["skipped"] = True
                    break
                loss.backward(retain_graph=bool(h.get("retain_twice")))
                if h.get("retain_twice"):
                    loss.backward()
                record["loss"] += float(loss.detach())
            if record.get("skipped"):
                self.opt.zero_grad()
            else:
                if "clip_norm" in h:
                    record["norm"] = float(L.utils.clip_grad_norm_(self.model.parameters(), **h["clip_norm"]))
                if "clip_value" in h:
                    L.utils.clip_grad_value_(self.model.parameters(), **h["clip_value"])
                self.opt.step()
        if self.sched is not None and not record.get("skipped"):
            if isinstance(self.sched, L.sched.ReduceLROnPlateau):
                self.sched.step(record["loss"])
            else:
                self.sched.step()
        if h.get("eval_loss"):
            self.model.eval()
            with L.T.no_grad():
                record["eval"] = float(loss_of(L, self.model, *batches[-1]))
        record["lrs"] = [float(group["lr"]) for group in self.opt.param_groups]
        return record


def _compare(step: int, theirs: _Loop, ours: _Loop, t_rec: dict, m_rec: dict, rtol: float) -> None:
    where = f"step {step}"
    assert set(m_rec) == set(t_rec), where
    for key in t_rec:
        np.testing.assert_allclose(np.float64(m_rec[key]), np.float64(t_rec[key]), rtol=rtol, atol=rtol,
                                   err_msg=f"{where}: {key}")
    t_sd, m_sd = theirs.model.state_dict(), ours.model.state_dict()
    assert list(m_sd) == list(t_sd), where
    for key in t_sd:
        np.testing.assert_allclose(_numpy(m_sd[key]), _numpy(t_sd[key]), rtol=rtol, atol=rtol,
                                   err_msg=f"{where}: {key}")
    t_opt, m_opt = theirs.opt.state_dict(), ours.opt.state_dict()
    assert sorted(m_opt["state"]) == sorted(t_opt["state"]), where
    for index, t_state in t_opt["state"].items():
        assert set(m_opt["state"][index]) == set(t_state), f"{where}: state keys of parameter {index}"
        for key, value in t_state.items():
            np.testing.assert_allclose(_numpy(m_opt["state"][index][key]), _numpy(value), rtol=rtol, atol=rtol,
                                       err_msg=f"{where}: optimizer state {index}.{key}")
    assert len(m_opt["param_groups"]) == len(t_opt["param_groups"]), where
    for t_group, m_group in zip(t_opt["param_groups"], m_opt["param_groups"]):
        assert m_group["params"] == t_group["params"], where
        for key in ("lr", "momentum", "betas", "weight_decay", "initial_lr"):
            if key in t_group:
                np.testing.assert_allclose(np.float64(m_group[key]), np.float64(t_group[key]), rtol=1e-12,
                                           err_msg=f"{where}: group {key}")


def _run(build: Callable, loss_of: Callable, batches: list, steps: int, habits: dict, tmp_path: Any,
         rtol: float = 1e-10) -> list:
    """minigrad's records of each step, after checking them and the states against PyTorch's."""
    torch.manual_seed(0)
    reference, _, _ = build(_lib("torch", tmp_path))
    state = {k: v.detach().numpy().copy() for k, v in reference.state_dict().items()}
    theirs = _Loop(_lib("torch", tmp_path), build, state, habits)
    ours = _Loop(_lib("mg", tmp_path), build, state, habits)
    records = []
    for i in range(steps):
        records.append(ours.step(i, batches, loss_of))
        _compare(i, theirs, ours, theirs.step(i, batches, loss_of), records[-1], rtol)
    return records


def _two_groups(params: list, added: bool, first: dict, second: dict, add_later: bool) -> list:
    half = len(params) // 2
    groups = [dict(first, params=params[:half])]
    if added or not add_later:
        groups.append(dict(second, params=params[half:]))
    return groups


# ------------------------------------------------------------------------------------------------------ pipelines
def _tied_lstm(L: Any) -> tuple:
    """Embedding -> 2-layer bidirectional LSTM with projections and a learned initial state -> decoder tied to the
    embedding; SGD (nesterov) in two groups under a SequentialLR."""
    nn = L.nn

    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.emb = nn.Embedding(5, 3, padding_idx=0)
            self.rnn = nn.LSTM(3, 4, num_layers=2, batch_first=True, bidirectional=True, proj_size=2)
            self.h0 = nn.Parameter(L.T.full((4, 1, 2), 0.1, dtype=L.T.float64))
            self.c0 = nn.Parameter(L.T.full((4, 1, 4), -0.2, dtype=L.T.float64))
            self.mid = nn.Linear(4, 3)
            self.dec = nn.Linear(3, 5, bias=False)
            self.dec.weight = self.emb.weight

        def forward(self, x: Any) -> Any:
            batch = x.shape[0]
            state = (self.h0.expand(4, batch, 2).contiguous(), self.c0.expand(4, batch, 4).contiguous())
            out, _ = self.rnn(self.emb(x), state)
            return self.dec(self.mid(out))

    def make_opt(model: Any, added: bool) -> Any:
        groups = _two_groups(list(model.parameters()), added, {}, {"lr": 0.2, "momentum": 0.5}, add_later=False)
        return L.optim.SGD(groups, lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.01)

    def make_sched(opt: Any) -> Any:
        warm = L.sched.LinearLR(opt, start_factor=0.25, total_iters=2)
        decay = L.sched.CosineAnnealingWarmRestarts(opt, T_0=2, T_mult=2, eta_min=0.001)
        return L.sched.SequentialLR(opt, [warm, decay], milestones=[2])

    return Net().double(), make_opt, make_sched


def _token_loss(L: Any, model: Any, x: Any, y: Any) -> Any:
    return L.F.cross_entropy(model(L.tensor(x)).reshape(-1, 5), L.tensor(y).reshape(-1), label_smoothing=0.1)


def _tokens(steps: int) -> list:
    r = np.random.default_rng(1)
    return [(r.integers(0, 5, (3, 4)), r.integers(0, 5, (3, 4))) for _ in range(2 * steps + 1)]


def test_tied_lstm_nesterov_resume_freeze_accumulate_matches_torch(tmp_path: Any) -> None:
    habits = dict(set_to_none=False, accumulate=True, freeze=1, resume=2, save_load=4, eval_loss=True,
                  clip_norm=dict(max_norm=0.5, foreach=True))
    _run(_tied_lstm, _token_loss, _tokens(5), 5, habits, tmp_path)


def _attention(L: Any) -> tuple:
    """Linear -> TransformerEncoderLayer (pre-norm, causal mask) -> MultiheadAttention with other kdim/vdim ->
    mean -> Linear; centered RMSprop with momentum whose second group joins midway, under ReduceLROnPlateau."""
    nn = L.nn

    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.inp = nn.Linear(3, 4)
            self.enc = nn.TransformerEncoderLayer(4, 2, 6, dropout=0.0, batch_first=True, norm_first=True)
            self.att = nn.MultiheadAttention(4, 2, kdim=3, vdim=2, batch_first=True, add_bias_kv=True)
            self.value = nn.Linear(3, 2)
            self.out = nn.Linear(4, 2)
            # the key biases' gradients are zero in exact arithmetic (softmax is shift invariant); centered RMSprop
            # would amplify their rounding noise, so they are held at zero as a user freezing them would
            key_bias_off = L.tensor(np.repeat([1.0, 0.0, 1.0], 4))
            for p in (self.enc.self_attn.in_proj_bias, self.att.in_proj_bias):
                p.register_hook(lambda g: g * key_bias_off)

        def forward(self, x: Any) -> Any:
            mask = L.T.triu(L.T.ones(3, 3, dtype=L.T.bool), 1)
            h = self.enc(self.inp(x), src_mask=mask)
            h, weights = self.att(h, x, self.value(x), attn_mask=mask)
            return self.out(h.mean(1)) + weights.sum() * 0.01

    def make_opt(model: Any, added: bool) -> Any:
        groups = _two_groups(list(model.parameters()), added, {}, {"lr": 0.03, "momentum": 0.0}, add_later=True)
        return L.optim.RMSprop(groups, lr=0.01, centered=True, momentum=0.5, weight_decay=0.01)

    def make_sched(opt: Any) -> Any:
        return L.sched.ReduceLROnPlateau(opt, patience=0, factor=0.5, threshold=0.1, cooldown=1, min_lr=1e-3)

    return Net().double(), make_opt, make_sched


def _attention_loss(L: Any, model: Any, x: Any, y: Any) -> Any:
    return L.F.mse_loss(model(L.tensor(x)), L.tensor(y))


def test_attention_rmsprop_plateau_retain_graph_twice_matches_torch(tmp_path: Any) -> None:
    r = np.random.default_rng(3)
    batches = [(r.standard_normal((2, 3, 3)), r.standard_normal((2, 2))) for _ in range(13)]
    habits = dict(retain_twice=True, add_group=2, resume=3, clip_norm=dict(max_norm=1.0, norm_type=float("inf")))
    records = _run(_attention, _attention_loss, batches, 5, habits, tmp_path)
    assert [len(record["lrs"]) for record in records] == [1, 1, 2, 2, 2]
    assert len(set(lr for record in records for lr in record["lrs"])) > 2    # the plateau scheduler did cut


def _mlp_lbfgs(L: Any) -> tuple:
    nn = L.nn
    model = nn.Sequential(nn.Linear(3, 4), nn.LayerNorm(4), nn.Tanh(), nn.Linear(4, 2)).double()

    def make_opt(model: Any, added: bool) -> Any:
        return L.optim.LBFGS(model.parameters(), lr=1.0, max_iter=4, history_size=3, line_search_fn="strong_wolfe")

    return model, make_opt, lambda opt: None


def test_lbfgs_strong_wolfe_resumed_through_mg_save_matches_torch(tmp_path: Any) -> None:
    r = np.random.default_rng(4)
    batches = [(r.standard_normal((5, 3)), r.standard_normal((5, 2)))] * 4
    habits = dict(lbfgs=True, save_load=2)
    _run(_mlp_lbfgs, lambda L, m, x, y: L.F.mse_loss(m(L.tensor(x)), L.tensor(y)), batches, 4, habits, tmp_path)

