"""Continuous-control RL, self-supervised speech and decomposition forecasting programs, small, run unchanged on
minigrad: only the import lines differ.

Each program is our own rewrite of a well-known public PyTorch program: it keeps the original's PyTorch calls and
habits in the same roles, with our own names, structure and comments, tiny models, a few updates and generated data
(the helpers and the rule come from tests/test_pytorch_programs.py; CleanRL's SAC is in
tests/test_pytorch_programs_ppo.py, this one is Spinning Up's):

* ``SAC`` follows OpenAI Spinning Up's ``sac`` (``sac/core.py`` and ``sac/sac.py``) with the automatic entropy
  tuning of Haarnoja et al.'s second paper: an ``mlp(sizes, activation)`` builder, a ``SquashedGaussianActor``
  (``torch.clamp`` of the log std, ``Normal(mu, std).rsample()``, ``log_prob(...).sum(axis=-1)`` corrected for the
  tanh squashing in the softplus form ``2 * (log 2 - u - softplus(-2u))``), twin ``MLPQFunction``s over
  ``torch.cat([obs, act], dim=-1)`` squeezed with ``torch.squeeze(q, -1)``, an ``MLPActorCritic`` whose target is a
  ``deepcopy`` frozen by ``requires_grad = False``, ``itertools.chain`` of both Q networks' parameters, a NumPy
  replay buffer batched by ``torch.as_tensor(v, dtype=torch.float32)``, the Q networks frozen during the policy
  step, ``log_alpha`` with its own Adam and the target entropy ``-act_dim``, and the polyak update under
  ``torch.no_grad()``;
* ``SAC_SQUASHED_NORMAL`` follows denisyarats/pytorch_sac (``agent/actor.py``, ``agent/critic.py``,
  ``agent/sac.py``, ``utils.py``): a ``TanhTransform`` subclass of ``distributions.transforms.Transform``
  (``constraints.real`` to ``constraints.interval(-1, 1)``, ``cache_size=1``, ``atanh`` by ``log1p``, the
  softplus log-det), a ``SquashedNormal`` subclass of ``TransformedDistribution`` with a ``mean`` property, the
  log std squashed by ``tanh`` into its bounds, ``mlp`` with ``ReLU(inplace=True)``, orthogonal initialisation by
  ``self.apply(weight_init)``, a ``DoubleQCritic`` and its target loaded by ``load_state_dict``, ``log_alpha =
  torch.tensor(np.log(init_temperature))`` with ``requires_grad = True``, the target built without ``no_grad``
  and ``.detach()``-ed, ``act`` returning ``dist.mean`` or ``dist.sample()`` clamped, and ``soft_update_params``;
* ``TD3`` follows Fujimoto's TD3 (https://github.com/sfujimoto/TD3, ``TD3.py``/``OurDDPG.py``/``utils.py``): an
  ``Actor`` with ``max_action * torch.tanh``, one ``Critic`` module holding both Q heads with a ``Q1`` method,
  ``copy.deepcopy`` targets, target policy smoothing ``(torch.randn_like(action) * policy_noise).clamp(-c, c)``,
  ``torch.min`` of the twin targets, ``F.mse_loss(q1, t) + F.mse_loss(q2, t)``, delayed actor and target updates
  every ``policy_freq`` iterations, ``torch.FloatTensor(array).to(device)`` batches, ``save``/``load`` of both
  networks' and optimizers' state dicts through ``torch.save``/``torch.load`` (the targets re-made by
  ``deepcopy``); and ``DDPG`` (OurDDPG) with Ornstein-Uhlenbeck exploration noise drawn by ``torch.randn``, the
  target ``.detach()``-ed instead of ``no_grad``, critic weight decay;
* ``WAV2VEC2`` follows wav2vec 2.0 (Baevski et al. 2020) as fairseq's ``wav2vec2.py``/``gumbel_vector_quantizer.py``
  and Hugging Face's ``modeling_wav2vec2.py`` write it, cut down: a feature encoder of strided ``Conv1d`` +
  fairseq's ``Fp32GroupNorm`` (an ``nn.GroupNorm`` subclass calling ``F.group_norm`` on ``input.float()``, then
  ``type_as``; one group per channel) + ``GELU``, its gradient scaled by fairseq's ``GradMultiply`` (an
  ``autograd.Function`` whose forward returns ``x.new(x)``), the feature penalty ``features.float().pow(2).mean()``,
  ``LayerNorm`` + ``Linear`` feature projection, a product
  quantizer whose ``F.gumbel_softmax(logits, tau, hard=True)`` picks one codeword per group (``codevectors``
  an ``nn.Parameter`` read by ``unsqueeze(-1) * codevectors`` then ``sum(-2)``), the temperature annealed per step,
  the perplexity of the batch-averaged soft code distribution (``torch.exp(-torch.sum(p * torch.log(p + 1e-7),
  dim=-1)).sum()``) and the diversity loss ``(GV - perplexity) / GV``; time masks of fixed-length spans from
  ``torch.randint`` starts compared with ``torch.arange``, written with ``hidden[mask] = masked_spec_embed``; a
  grouped ``Conv1d`` positional embedding under ``nn.utils.parametrizations.weight_norm(dim=2)`` with the last
  frame cut (fairseq's ``SamePad``); one ``nn.TransformerEncoderLayer(batch_first=True, activation='gelu')``;
  distractors as fairseq's ``sample_negatives`` draws them (``buffered_arange`` growing a ``torch.LongTensor()``
  by ``resize_`` and ``torch.arange(max, out=buf)``, ``torch.randint(low=, high=, size=)`` over T - 1 steps,
  ``neg_idxs[neg_idxs >= tszs] += 1`` to skip the positive, row offsets added in place, ``y[neg_idxs.view(-1)]``),
  ``torch.cosine_similarity(..., dim=-1) / temperature``, a distractor
  equal to its positive masked with ``-inf``, and ``F.cross_entropy(logits, target, reduction='sum')`` with
  ``-100`` (ignored) targets on unmasked frames, as Hugging Face writes it;
* ``AUTOFORMER`` follows thuml/Autoformer (https://github.com/thuml/Autoformer, ``layers/AutoCorrelation.py``,
  ``layers/Autoformer_EncDec.py``, ``models/Autoformer.py``): ``moving_avg`` (``nn.AvgPool1d`` over the series
  padded by ``repeat``-ed end values and ``torch.cat``), ``series_decomp``, the circular ``Conv1d`` token
  embedding, ``AutoCorrelation`` (``torch.fft.rfft`` of the permuted queries and keys, ``q_fft * torch.conj(k_fft)``,
  ``torch.fft.irfft(n=L)``, the top ``int(factor * math.log(L))`` lags by ``torch.topk`` on the mean correlation,
  ``torch.softmax`` weights, time-delay aggregation by ``torch.roll`` in training and by ``torch.gather`` over
  ``values.repeat(1, 1, 1, 2)`` in evaluation), ``my_Layernorm`` (the sequence mean subtracted), encoder and
  decoder layers with ``Conv1d(kernel_size=1, bias=False)`` feed-forwards and trend accumulation, the decoder's
  seasonal/trend initialisation (mean over the input, ``torch.zeros``, ``torch.cat``), Adam whose rate
  ``adjust_learning_rate`` halves through ``optimizer.param_groups``, and ``MSELoss``.

Random draws: both libraries' ``randn``/``randn_like``/``rand``/``randint`` and torch's ``exponential_`` (the
Gumbel noise of ``gumbel_softmax``) read one NumPy stream each of the same seed (``_shared_draws`` of
tests/test_pytorch_programs_generative.py), and ``Normal.rsample`` reads ``loc + eps * scale`` with ``eps`` from
such a stream (``_shared_normal_draws`` of tests/test_pytorch_programs_ppo.py). Replay batches are indexed by a
NumPy generator the test passes in, as the originals' ``np.random.randint``.

Written around documented choices (README, "Deliberately different"): Spinning Up's ``np.log(2) - pi_action``
is ``math.log(2) - pi_action`` (a NumPy float64 scalar keeps its dtype under NumPy 2's promotion in minigrad, so
the log-probability would turn float64); the polyak update ``p_targ.data.mul_(polyak); p_targ.data.add_((1 -
polyak) * p.data)`` and TD3's ``target_param.data.copy_(tau * param.data + (1 - tau) * target_param.data)`` are
written under ``torch.no_grad()`` as ``p_targ.mul_(polyak).add_(p, alpha=1 - polyak)`` and
``target_param.lerp_(param, tau)`` (minigrad's ``.data`` is the NumPy array). pytorch_sac's float64 ``log_alpha``
(``torch.tensor(np.log(0.1))``, float64 in both libraries) is kept as written: a 0-d float64 tensor times a float32
one is float32 in PyTorch and float64 in minigrad (NumPy 2's promotion, DESIGN §3), so there the actor, alpha and
critic losses are float64; their values agree to float32's precision, which the test checks. For the same reason
Hugging Face's ``diversity_loss = (...) * mask_time_indices.sum()`` (times an int64 count) is float64 in minigrad,
and so is the wav2vec loss.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from tests.test_pytorch_programs import (
    MINIGRAD_IMPORTS,
    TORCH_IMPORTS,
    _assert_same_weights,
    _twin_models,
)
from tests.test_pytorch_programs_flow import _lean_torch  # noqa: F401 - an autouse fixture, used by being imported
from tests.test_pytorch_programs_generative import _shared_draws
from tests.test_pytorch_programs_ppo import _shared_normal_draws

TORCH_IMPORTS_CONTROL = TORCH_IMPORTS + """\
import copy
import itertools
import numpy as np
from torch.distributions.normal import Normal
from torch import distributions as pyd
"""

MINIGRAD_IMPORTS_CONTROL = MINIGRAD_IMPORTS + """\
import copy
import itertools
import numpy as np
from minigrad.distributions.normal import Normal
from minigrad import distributions as pyd
"""

# ----------------------------------------------------------------------------- 1. SAC (Spinning Up)

SAC = '''
LOG_STD_MAX = 2
LOG_STD_MIN = -20


def mlp(sizes, activation, output_activation=nn.Identity):
    layers = []
    for j in range(len(sizes) - 1):
        act = activation if j < len(sizes) - 2 else output_activation
        layers += [nn.Linear(sizes[j], sizes[j + 1]), act()]
    return nn.Sequential(*layers)


class SquashedGaussianActor(nn.Module):
    def __init__(self, obs_dim, act_dim, hidden_sizes, activation, act_limit):
        super().__init__()
        self.net = mlp([obs_dim] + list(hidden_sizes), activation, activation)
        self.mu_layer = nn.Linear(hidden_sizes[-1], act_dim)
        self.log_std_layer = nn.Linear(hidden_sizes[-1], act_dim)
        self.act_limit = act_limit

    def forward(self, obs, deterministic=False, with_logprob=True):
        features = self.net(obs)
        mu = self.mu_layer(features)
        log_std = torch.clamp(self.log_std_layer(features), LOG_STD_MIN, LOG_STD_MAX)
        std = torch.exp(log_std)
        pi_distribution = Normal(mu, std)
        pi_action = mu if deterministic else pi_distribution.rsample()
        if with_logprob:
            # the Gaussian's log density, corrected for tanh: log(1 - tanh(u)^2) = 2 (log 2 - u - softplus(-2u))
            logp_pi = pi_distribution.log_prob(pi_action).sum(axis=-1)
            logp_pi -= (2 * (math.log(2) - pi_action - F.softplus(-2 * pi_action))).sum(axis=1)
        else:
            logp_pi = None
        return self.act_limit * torch.tanh(pi_action), logp_pi


class MLPQFunction(nn.Module):
    def __init__(self, obs_dim, act_dim, hidden_sizes, activation):
        super().__init__()
        self.q = mlp([obs_dim + act_dim] + list(hidden_sizes) + [1], activation)

    def forward(self, obs, act):
        return torch.squeeze(self.q(torch.cat([obs, act], dim=-1)), -1)


class MLPActorCritic(nn.Module):
    def __init__(self, obs_dim, act_dim, act_limit, hidden_sizes=(16, 16), activation=nn.ReLU):
        super().__init__()
        self.pi = SquashedGaussianActor(obs_dim, act_dim, hidden_sizes, activation, act_limit)
        self.q1 = MLPQFunction(obs_dim, act_dim, hidden_sizes, activation)
        self.q2 = MLPQFunction(obs_dim, act_dim, hidden_sizes, activation)
        self.log_alpha = nn.Parameter(torch.zeros(1))

    def act(self, obs, deterministic=False):
        with torch.no_grad():
            a, _ = self.pi(obs, deterministic, False)
            return a.numpy()


class ReplayBuffer:
    def __init__(self, obs_dim, act_dim, size, rng):
        self.obs_buf = np.zeros((size, obs_dim), dtype=np.float32)
        self.obs2_buf = np.zeros((size, obs_dim), dtype=np.float32)
        self.act_buf = np.zeros((size, act_dim), dtype=np.float32)
        self.rew_buf = np.zeros(size, dtype=np.float32)
        self.done_buf = np.zeros(size, dtype=np.float32)
        self.ptr, self.size, self.max_size, self.rng = 0, 0, size, rng

    def store(self, obs, act, rew, next_obs, done):
        self.obs_buf[self.ptr] = obs
        self.obs2_buf[self.ptr] = next_obs
        self.act_buf[self.ptr] = act
        self.rew_buf[self.ptr] = rew
        self.done_buf[self.ptr] = done
        self.ptr = (self.ptr + 1) % self.max_size
        self.size = min(self.size + 1, self.max_size)

    def sample_batch(self, batch_size):
        idxs = self.rng.integers(0, self.size, size=batch_size)
        batch = dict(obs=self.obs_buf[idxs], obs2=self.obs2_buf[idxs], act=self.act_buf[idxs],
                     rew=self.rew_buf[idxs], done=self.done_buf[idxs])
        return {k: torch.as_tensor(v, dtype=torch.float32) for k, v in batch.items()}


def make_model(obs_dim=3, act_dim=2, act_limit=1.5):
    return MLPActorCritic(obs_dim, act_dim, act_limit)


def point_mass_step(obs, act):
    """A toy environment: the action pushes a point toward the origin; reward = -distance^2."""
    next_obs = (0.9 * obs + 0.1 * np.pad(act, (0, obs.shape[0] - act.shape[0]))).astype(np.float32)
    return next_obs, float(-(next_obs ** 2).sum()), False


def train(ac, transitions, rng, updates=6, batch_size=8, gamma=0.99, polyak=0.8, lr=3e-3, update_every=2,
          lerp=False):
    ac_targ = copy.deepcopy(ac)
    for p in ac_targ.parameters():
        p.requires_grad = False
    q_params = itertools.chain(ac.q1.parameters(), ac.q2.parameters())
    q_params = list(q_params)
    pi_optimizer = optim.Adam(ac.pi.parameters(), lr=lr)
    q_optimizer = optim.Adam(q_params, lr=lr)
    alpha_optimizer = optim.Adam([ac.log_alpha], lr=lr)
    target_entropy = -float(ac.pi.mu_layer.out_features)
    obs_dim, act_dim = ac.pi.net[0].in_features, ac.pi.mu_layer.out_features
    replay_buffer = ReplayBuffer(obs_dim, act_dim, 64, rng)
    for o, a, r, o2, d in transitions:
        replay_buffer.store(o, a, r, o2, d)
    o = transitions[-1][3]
    log = {"loss_q": [], "loss_pi": [], "loss_alpha": [], "alpha": [], "q1": [], "logp": [], "actions": []}

    def compute_loss_q(data, alpha):
        o, a, r, o2, d = data['obs'], data['act'], data['rew'], data['obs2'], data['done']
        q1 = ac.q1(o, a)
        q2 = ac.q2(o, a)
        with torch.no_grad():
            a2, logp_a2 = ac.pi(o2)
            q_pi_targ = torch.min(ac_targ.q1(o2, a2), ac_targ.q2(o2, a2))
            backup = r + gamma * (1 - d) * (q_pi_targ - alpha * logp_a2)
        loss_q = ((q1 - backup) ** 2).mean() + ((q2 - backup) ** 2).mean()
        return loss_q, q1.detach().numpy()

    def compute_loss_pi(data, alpha):
        o = data['obs']
        pi, logp_pi = ac.pi(o)
        q_pi = torch.min(ac.q1(o, pi), ac.q2(o, pi))
        return (alpha * logp_pi - q_pi).mean(), logp_pi

    for t in range(updates * update_every):
        a = ac.act(torch.as_tensor(o, dtype=torch.float32))
        log["actions"].append(a)
        o2, r, d = point_mass_step(o, a)
        replay_buffer.store(o, a, r, o2, d)
        o = o2
        if (t + 1) % update_every:
            continue
        data = replay_buffer.sample_batch(batch_size)
        alpha = ac.log_alpha.exp().detach()
        q_optimizer.zero_grad()
        loss_q, q1 = compute_loss_q(data, alpha)
        loss_q.backward()
        q_optimizer.step()
        for p in q_params:
            p.requires_grad = False
        pi_optimizer.zero_grad()
        loss_pi, logp_pi = compute_loss_pi(data, alpha)
        loss_pi.backward()
        pi_optimizer.step()
        for p in q_params:
            p.requires_grad = True
        alpha_optimizer.zero_grad()
        loss_alpha = -(ac.log_alpha * (logp_pi + target_entropy).detach()).mean()
        loss_alpha.backward()
        alpha_optimizer.step()
        with torch.no_grad():
            for p, p_targ in zip(ac.parameters(), ac_targ.parameters()):
                if lerp:
                    p_targ.lerp_(p, 1 - polyak)
                else:
                    p_targ.mul_(polyak).add_(p, alpha=1 - polyak)
        log["loss_q"].append(loss_q.item())
        log["loss_pi"].append(loss_pi.item())
        log["loss_alpha"].append(loss_alpha.item())
        log["alpha"].append(ac.log_alpha.exp().item())
        log["q1"].append(q1)
        log["logp"].append(logp_pi.detach().numpy())
    return log, ac_targ
'''

# ----------------------------------------------------------------------------- 1b. SAC (pytorch_sac, Yarats)

SAC_SQUASHED_NORMAL = '''
class TanhTransform(pyd.transforms.Transform):
    domain = pyd.constraints.real
    codomain = pyd.constraints.interval(-1.0, 1.0)
    bijective = True
    sign = +1

    def __init__(self, cache_size=1):
        super().__init__(cache_size=cache_size)

    @staticmethod
    def atanh(x):
        return 0.5 * (x.log1p() - (-x).log1p())

    def __eq__(self, other):
        return isinstance(other, TanhTransform)

    def _call(self, x):
        return x.tanh()

    def _inverse(self, y):
        # atanh is unstable near +-1: the cache (cache_size=1) returns rsample's own x instead
        return self.atanh(y)

    def log_abs_det_jacobian(self, x, y):
        return 2. * (math.log(2.) - x - F.softplus(-2. * x))


class SquashedNormal(pyd.transformed_distribution.TransformedDistribution):
    def __init__(self, loc, scale):
        self.loc = loc
        self.scale = scale
        self.base_dist = pyd.Normal(loc, scale)
        super().__init__(self.base_dist, [TanhTransform()])

    @property
    def mean(self):
        mu = self.loc
        for tr in self.transforms:
            mu = tr(mu)
        return mu


def weight_init(m):
    if isinstance(m, nn.Linear):
        nn.init.orthogonal_(m.weight)
        if hasattr(m.bias, 'data'):
            with torch.no_grad():
                m.bias.fill_(0.0)


def mlp(input_dim, hidden_dim, output_dim, hidden_depth, output_mod=None):
    mods = [nn.Linear(input_dim, hidden_dim), nn.ReLU(inplace=True)]
    for _ in range(hidden_depth - 1):
        mods += [nn.Linear(hidden_dim, hidden_dim), nn.ReLU(inplace=True)]
    mods.append(nn.Linear(hidden_dim, output_dim))
    if output_mod is not None:
        mods.append(output_mod)
    return nn.Sequential(*mods)


def soft_update_params(net, target_net, tau):
    with torch.no_grad():
        for param, target_param in zip(net.parameters(), target_net.parameters()):
            target_param.copy_(tau * param + (1 - tau) * target_param)


class DiagGaussianActor(nn.Module):
    def __init__(self, obs_dim, action_dim, hidden_dim, hidden_depth, log_std_bounds):
        super().__init__()
        self.log_std_bounds = log_std_bounds
        self.trunk = mlp(obs_dim, hidden_dim, 2 * action_dim, hidden_depth)
        self.outputs = dict()
        self.apply(weight_init)

    def forward(self, obs):
        mu, log_std = self.trunk(obs).chunk(2, dim=-1)
        # squash log_std into [log_std_min, log_std_max]
        log_std = torch.tanh(log_std)
        log_std_min, log_std_max = self.log_std_bounds
        log_std = log_std_min + 0.5 * (log_std_max - log_std_min) * (log_std + 1)
        std = log_std.exp()
        self.outputs['mu'] = mu
        self.outputs['std'] = std
        return SquashedNormal(mu, std)


class DoubleQCritic(nn.Module):
    def __init__(self, obs_dim, action_dim, hidden_dim, hidden_depth):
        super().__init__()
        self.Q1 = mlp(obs_dim + action_dim, hidden_dim, 1, hidden_depth)
        self.Q2 = mlp(obs_dim + action_dim, hidden_dim, 1, hidden_depth)
        self.apply(weight_init)

    def forward(self, obs, action):
        assert obs.size(0) == action.size(0)
        obs_action = torch.cat([obs, action], dim=-1)
        return self.Q1(obs_action), self.Q2(obs_action)


def make_models(obs_dim=3, action_dim=2):
    return (DiagGaussianActor(obs_dim, action_dim, 16, 2, (-5, 2)), DoubleQCritic(obs_dim, action_dim, 16, 2),
            DoubleQCritic(obs_dim, action_dim, 16, 2))


class SACAgent:
    def __init__(self, actor, critic, critic_target, action_range, discount=0.99, init_temperature=0.1,
                 lr=3e-3, betas=(0.9, 0.999), critic_tau=0.1, actor_update_frequency=1,
                 critic_target_update_frequency=2, batch_size=8):
        self.action_range = action_range
        self.discount, self.critic_tau, self.batch_size = discount, critic_tau, batch_size
        self.actor_update_frequency = actor_update_frequency
        self.critic_target_update_frequency = critic_target_update_frequency
        self.critic, self.critic_target, self.actor = critic, critic_target, actor
        self.critic_target.load_state_dict(self.critic.state_dict())
        self.log_alpha = torch.tensor(np.log(init_temperature))
        self.log_alpha.requires_grad = True
        self.target_entropy = -action_range[0].size
        self.actor_optimizer = torch.optim.Adam(self.actor.parameters(), lr=lr, betas=betas)
        self.critic_optimizer = torch.optim.Adam(self.critic.parameters(), lr=lr, betas=betas)
        self.log_alpha_optimizer = torch.optim.Adam([self.log_alpha], lr=lr, betas=betas)
        self.log = {"critic_loss": [], "actor_loss": [], "alpha_loss": [], "alpha": [], "entropy": []}

    @property
    def alpha(self):
        return self.log_alpha.exp()

    def act(self, obs, sample=False):
        obs = torch.FloatTensor(obs).unsqueeze(0)
        dist = self.actor(obs)
        action = dist.sample() if sample else dist.mean
        action = action.clamp(*[torch.as_tensor(bound) for bound in self.action_range])
        assert action.ndim == 2 and action.shape[0] == 1
        return action[0].cpu().detach().numpy()

    def update_critic(self, obs, action, reward, next_obs, not_done):
        dist = self.actor(next_obs)
        next_action = dist.rsample()
        log_prob = dist.log_prob(next_action).sum(-1, keepdim=True)
        target_Q1, target_Q2 = self.critic_target(next_obs, next_action)
        target_V = torch.min(target_Q1, target_Q2) - self.alpha.detach() * log_prob
        target_Q = reward + (not_done * self.discount * target_V)
        target_Q = target_Q.detach()
        current_Q1, current_Q2 = self.critic(obs, action)
        critic_loss = F.mse_loss(current_Q1, target_Q) + F.mse_loss(current_Q2, target_Q)
        self.critic_optimizer.zero_grad()
        critic_loss.backward()
        self.critic_optimizer.step()
        self.log["critic_loss"].append(critic_loss.item())

    def update_actor_and_alpha(self, obs):
        dist = self.actor(obs)
        action = dist.rsample()
        log_prob = dist.log_prob(action).sum(-1, keepdim=True)
        actor_Q1, actor_Q2 = self.critic(obs, action)
        actor_Q = torch.min(actor_Q1, actor_Q2)
        actor_loss = (self.alpha.detach() * log_prob - actor_Q).mean()
        self.actor_optimizer.zero_grad()
        actor_loss.backward()
        self.actor_optimizer.step()
        self.log_alpha_optimizer.zero_grad()
        alpha_loss = (self.alpha * (-log_prob - self.target_entropy).detach()).mean()
        alpha_loss.backward()
        self.log_alpha_optimizer.step()
        self.log["actor_loss"].append(actor_loss.item())
        self.log["alpha_loss"].append(alpha_loss.item())
        self.log["alpha"].append(self.alpha.item())
        self.log["entropy"].append(-log_prob.mean().item())

    def update(self, batch, step):
        obs, action, reward, next_obs, not_done = (torch.as_tensor(v, dtype=torch.float32) for v in batch)
        self.update_critic(obs, action, reward, next_obs, not_done)
        if step % self.actor_update_frequency == 0:
            self.update_actor_and_alpha(obs)
        if step % self.critic_target_update_frequency == 0:
            soft_update_params(self.critic, self.critic_target, self.critic_tau)


def train(actor, critic, critic_target, batches):
    agent = SACAgent(actor, critic, critic_target, (np.full(2, -1.0, np.float32), np.full(2, 1.0, np.float32)))
    actions = [agent.act(np.array([0.5, -0.2, 0.1], dtype=np.float32))]
    for step, batch in enumerate(batches):
        agent.update(batch, step)
    actions.append(agent.act(np.array([0.5, -0.2, 0.1], dtype=np.float32)))
    actions.append(agent.act(np.array([0.5, -0.2, 0.1], dtype=np.float32), sample=True))
    return agent.log, actions, agent.log_alpha
'''

# ----------------------------------------------------------------------------- 2. TD3 and DDPG

TD3 = '''
class Actor(nn.Module):
    def __init__(self, state_dim, action_dim, max_action):
        super(Actor, self).__init__()
        self.l1 = nn.Linear(state_dim, 16)
        self.l2 = nn.Linear(16, 16)
        self.l3 = nn.Linear(16, action_dim)
        self.max_action = max_action

    def forward(self, state):
        a = F.relu(self.l1(state))
        a = F.relu(self.l2(a))
        return self.max_action * torch.tanh(self.l3(a))


class Critic(nn.Module):
    """Both Q heads in one module; ``Q1`` alone drives the actor."""

    def __init__(self, state_dim, action_dim):
        super(Critic, self).__init__()
        self.l1 = nn.Linear(state_dim + action_dim, 16)
        self.l2 = nn.Linear(16, 16)
        self.l3 = nn.Linear(16, 1)
        self.l4 = nn.Linear(state_dim + action_dim, 16)
        self.l5 = nn.Linear(16, 16)
        self.l6 = nn.Linear(16, 1)

    def forward(self, state, action):
        sa = torch.cat([state, action], 1)
        q1 = self.l3(F.relu(self.l2(F.relu(self.l1(sa)))))
        q2 = self.l6(F.relu(self.l5(F.relu(self.l4(sa)))))
        return q1, q2

    def Q1(self, state, action):
        sa = torch.cat([state, action], 1)
        return self.l3(F.relu(self.l2(F.relu(self.l1(sa)))))


class DDPGCritic(nn.Module):
    def __init__(self, state_dim, action_dim):
        super(DDPGCritic, self).__init__()
        self.l1 = nn.Linear(state_dim + action_dim, 16)
        self.l2 = nn.Linear(16, 16)
        self.l3 = nn.Linear(16, 1)

    def forward(self, state, action):
        q = F.relu(self.l1(torch.cat([state, action], 1)))
        return self.l3(F.relu(self.l2(q)))


class ReplayBuffer(object):
    def __init__(self, state_dim, action_dim, rng, max_size=64):
        self.max_size, self.ptr, self.size, self.rng = max_size, 0, 0, rng
        self.state = np.zeros((max_size, state_dim))
        self.action = np.zeros((max_size, action_dim))
        self.next_state = np.zeros((max_size, state_dim))
        self.reward = np.zeros((max_size, 1))
        self.not_done = np.zeros((max_size, 1))
        self.device = torch.device("cpu")

    def add(self, state, action, next_state, reward, done):
        self.state[self.ptr] = state
        self.action[self.ptr] = action
        self.next_state[self.ptr] = next_state
        self.reward[self.ptr] = reward
        self.not_done[self.ptr] = 1. - done
        self.ptr = (self.ptr + 1) % self.max_size
        self.size = min(self.size + 1, self.max_size)

    def sample(self, batch_size):
        ind = self.rng.integers(0, self.size, size=batch_size)
        return (torch.FloatTensor(self.state[ind]).to(self.device),
                torch.FloatTensor(self.action[ind]).to(self.device),
                torch.FloatTensor(self.next_state[ind]).to(self.device),
                torch.FloatTensor(self.reward[ind]).to(self.device),
                torch.FloatTensor(self.not_done[ind]).to(self.device))


class Checkpoint(object):
    """TD3.py's and OurDDPG.py's save/load: four files; the targets restart as copies of the loaded networks."""

    def save(self, filename):
        torch.save(self.critic.state_dict(), filename + "_critic")
        torch.save(self.critic_optimizer.state_dict(), filename + "_critic_optimizer")
        torch.save(self.actor.state_dict(), filename + "_actor")
        torch.save(self.actor_optimizer.state_dict(), filename + "_actor_optimizer")

    def load(self, filename):
        self.critic.load_state_dict(torch.load(filename + "_critic"))
        self.critic_optimizer.load_state_dict(torch.load(filename + "_critic_optimizer"))
        self.critic_target = copy.deepcopy(self.critic)
        self.actor.load_state_dict(torch.load(filename + "_actor"))
        self.actor_optimizer.load_state_dict(torch.load(filename + "_actor_optimizer"))
        self.actor_target = copy.deepcopy(self.actor)


class TD3(Checkpoint):
    def __init__(self, actor, critic, max_action, discount=0.99, tau=0.1, policy_noise=0.2, noise_clip=0.5,
                 policy_freq=2):
        self.actor = actor
        self.actor_target = copy.deepcopy(self.actor)
        self.actor_optimizer = torch.optim.Adam(self.actor.parameters(), lr=3e-3)
        self.critic = critic
        self.critic_target = copy.deepcopy(self.critic)
        self.critic_optimizer = torch.optim.Adam(self.critic.parameters(), lr=3e-3)
        self.max_action, self.discount, self.tau = max_action, discount, tau
        self.policy_noise, self.noise_clip, self.policy_freq = policy_noise, noise_clip, policy_freq
        self.total_it = 0

    def train(self, replay_buffer, batch_size=8):
        self.total_it += 1
        state, action, next_state, reward, not_done = replay_buffer.sample(batch_size)
        with torch.no_grad():
            # target policy smoothing: clipped noise on the target action
            noise = (torch.randn_like(action) * self.policy_noise).clamp(-self.noise_clip, self.noise_clip)
            next_action = (self.actor_target(next_state) + noise).clamp(-self.max_action, self.max_action)
            target_Q1, target_Q2 = self.critic_target(next_state, next_action)
            target_Q = torch.min(target_Q1, target_Q2)
            target_Q = reward + not_done * self.discount * target_Q
        current_Q1, current_Q2 = self.critic(state, action)
        critic_loss = F.mse_loss(current_Q1, target_Q) + F.mse_loss(current_Q2, target_Q)
        self.critic_optimizer.zero_grad()
        critic_loss.backward()
        self.critic_optimizer.step()
        actor_loss = None
        if self.total_it % self.policy_freq == 0:
            actor_loss = -self.critic.Q1(state, self.actor(state)).mean()
            self.actor_optimizer.zero_grad()
            actor_loss.backward()
            self.actor_optimizer.step()
            with torch.no_grad():
                for param, target_param in zip(self.critic.parameters(), self.critic_target.parameters()):
                    target_param.lerp_(param, self.tau)
                for param, target_param in zip(self.actor.parameters(), self.actor_target.parameters()):
                    target_param.lerp_(param, self.tau)
            actor_loss = actor_loss.item()
        return critic_loss.item(), actor_loss


class DDPG(Checkpoint):
    def __init__(self, actor, critic, discount=0.99, tau=0.1):
        self.actor = actor
        self.actor_target = copy.deepcopy(self.actor)
        self.actor_optimizer = torch.optim.Adam(self.actor.parameters(), lr=3e-3)
        self.critic = critic
        self.critic_target = copy.deepcopy(self.critic)
        self.critic_optimizer = torch.optim.Adam(self.critic.parameters(), lr=3e-3, weight_decay=1e-2)
        self.discount, self.tau = discount, tau

    def train(self, replay_buffer, batch_size=8):
        state, action, next_state, reward, not_done = replay_buffer.sample(batch_size)
        target_Q = self.critic_target(next_state, self.actor_target(next_state))
        target_Q = reward + (not_done * self.discount * target_Q).detach()
        current_Q = self.critic(state, action)
        critic_loss = F.mse_loss(current_Q, target_Q)
        self.critic_optimizer.zero_grad()
        critic_loss.backward()
        self.critic_optimizer.step()
        actor_loss = -self.critic(state, self.actor(state)).mean()
        self.actor_optimizer.zero_grad()
        actor_loss.backward()
        self.actor_optimizer.step()
        with torch.no_grad():
            for param, target_param in zip(self.critic.parameters(), self.critic_target.parameters()):
                target_param.mul_(1 - self.tau).add_(param, alpha=self.tau)
            for param, target_param in zip(self.actor.parameters(), self.actor_target.parameters()):
                target_param.mul_(1 - self.tau).add_(param, alpha=self.tau)
        return critic_loss.item(), actor_loss.item()


class OUNoise:
    """dx = theta (mu - x) dt + sigma sqrt(dt) N(0, 1), from ``torch.randn``."""

    def __init__(self, size, mu=0.0, theta=0.15, sigma=0.2, dt=1e-2):
        self.mu = mu * torch.ones(size)
        self.theta, self.sigma, self.dt = theta, sigma, dt
        self.reset()

    def reset(self):
        self.state = self.mu.clone()

    def sample(self):
        dx = self.theta * (self.mu - self.state) * self.dt + self.sigma * math.sqrt(self.dt) * torch.randn(
            self.mu.shape)
        self.state = self.state + dx
        return self.state


def make_models(state_dim=3, action_dim=2, max_action=1.0, kind="td3"):
    critic = Critic(state_dim, action_dim) if kind == "td3" else DDPGCritic(state_dim, action_dim)
    return Actor(state_dim, action_dim, max_action), critic


def run(kind, actor, critic, rng, steps=12, start=4, max_action=1.0, filename=None):
    state_dim, action_dim = actor.l1.in_features, actor.l3.out_features
    agent = TD3(actor, critic, max_action) if kind == "td3" else DDPG(actor, critic)
    replay_buffer = ReplayBuffer(state_dim, action_dim, rng)
    noise = OUNoise(action_dim)
    state = np.linspace(-1, 1, state_dim)
    log = {"critic": [], "actor": [], "actions": []}
    for t in range(steps):
        with torch.no_grad():
            action = agent.actor(torch.FloatTensor(state.reshape(1, -1))).flatten()
        if kind == "td3":
            action = (action + 0.1 * max_action * torch.randn(action_dim)).clamp(-max_action, max_action)
        else:
            action = (action + noise.sample()).clamp(-max_action, max_action)
        action = action.numpy()
        log["actions"].append(action)
        next_state = 0.9 * state + 0.1 * np.resize(action, state_dim)
        reward = -float((next_state ** 2).sum())
        replay_buffer.add(state, action, next_state, reward, float(t % 5 == 4))
        state = next_state
        if t >= start:
            critic_loss, actor_loss = agent.train(replay_buffer)
            log["critic"].append(critic_loss)
            if actor_loss is not None:
                log["actor"].append(actor_loss)
    if filename is not None:
        # save, load into fresh networks and train on: the Adam moments must come back too
        agent.save(filename)
        actor, critic = make_models(state_dim, action_dim, max_action, kind)
        agent = TD3(actor, critic, max_action) if kind == "td3" else DDPG(actor, critic)
        agent.load(filename)
        log["resumed"] = [agent.train(replay_buffer)[0] for _ in range(3)]
    return log, agent
'''

# ----------------------------------------------------------------------------- 3. wav2vec 2.0

WAV2VEC2 = '''
class Fp32GroupNorm(nn.GroupNorm):
    def forward(self, input):
        output = F.group_norm(input.float(), self.num_groups, self.weight.float() if self.weight is not None else None,
                              self.bias.float() if self.bias is not None else None, self.eps)
        return output.type_as(input)


class GradMultiply(torch.autograd.Function):
    """Identity forward; the gradient scaled by ``scale`` (the feature encoder learns slower)."""

    @staticmethod
    def forward(ctx, x, scale):
        ctx.scale = scale
        res = x.new(x)
        return res

    @staticmethod
    def backward(ctx, grad):
        return grad * ctx.scale, None


def buffered_arange(max):
    if not hasattr(buffered_arange, "buf"):
        buffered_arange.buf = torch.LongTensor()
    if max > buffered_arange.buf.numel():
        buffered_arange.buf.resize_(max)
        torch.arange(max, out=buffered_arange.buf)
    return buffered_arange.buf[:max]


class FeatureEncoder(nn.Module):
    """(B, samples) waveform -> (B, C, T) features: strided convolutions, GroupNorm on the first, GELU."""

    def __init__(self, channels=8):
        super().__init__()
        self.conv_layers = nn.ModuleList([
            nn.Sequential(nn.Conv1d(1, channels, 6, stride=3, bias=False),
                          Fp32GroupNorm(channels, channels, affine=True), nn.GELU()),
            nn.Sequential(nn.Conv1d(channels, channels, 3, stride=2, bias=False), nn.GELU()),
        ])

    def forward(self, input_values):
        hidden = input_values[:, None]
        for conv_layer in self.conv_layers:
            hidden = conv_layer(hidden)
        return hidden


class GumbelVectorQuantizer(nn.Module):
    def __init__(self, dim, num_groups=2, num_vars=4, codevector_dim=8):
        super().__init__()
        self.num_groups, self.num_vars = num_groups, num_vars
        self.codevectors = nn.Parameter(torch.FloatTensor(1, num_groups * num_vars, codevector_dim // num_groups))
        self.weight_proj = nn.Linear(dim, num_groups * num_vars)
        nn.init.normal_(self.weight_proj.weight, mean=0.0, std=1)
        nn.init.zeros_(self.weight_proj.bias)
        nn.init.uniform_(self.codevectors)
        self.temperature = 2.0

    @staticmethod
    def _compute_perplexity(probs, mask=None):
        if mask is not None:
            probs = torch.where(mask.flatten()[:, None, None], probs, torch.zeros_like(probs))
            marginal_probs = probs.sum(dim=0) / mask.sum()
        else:
            marginal_probs = probs.mean(dim=0)
        return torch.exp(-torch.sum(marginal_probs * torch.log(marginal_probs + 1e-7), dim=-1)).sum()

    def forward(self, hidden_states, mask_time_indices=None):
        batch_size, sequence_length, hidden_size = hidden_states.shape
        hidden_states = self.weight_proj(hidden_states)
        hidden_states = hidden_states.view(batch_size * sequence_length * self.num_groups, -1)
        if self.training:
            codevector_probs = F.gumbel_softmax(hidden_states.float(), tau=self.temperature, hard=True)
            codevector_probs = codevector_probs.type_as(hidden_states)
            codevector_soft_dist = torch.softmax(
                hidden_states.view(batch_size * sequence_length, self.num_groups, -1).float(), dim=-1)
            perplexity = self._compute_perplexity(codevector_soft_dist, mask_time_indices)
        else:
            codevector_idx = hidden_states.argmax(dim=-1)
            codevector_probs = hidden_states.new_zeros(hidden_states.shape).scatter_(
                -1, codevector_idx.view(-1, 1), 1.0)
            codevector_probs = codevector_probs.view(batch_size * sequence_length, self.num_groups, -1)
            perplexity = self._compute_perplexity(codevector_probs, mask_time_indices)
        codevector_probs = codevector_probs.view(batch_size * sequence_length, -1)
        codevectors_per_group = codevector_probs.unsqueeze(-1) * self.codevectors
        codevectors = codevectors_per_group.view(batch_size * sequence_length, self.num_groups, self.num_vars, -1)
        codevectors = codevectors.sum(-2).view(batch_size, sequence_length, -1)
        return codevectors, perplexity, codevector_probs.argmax(-1)


class Wav2Vec2(nn.Module):
    def __init__(self, channels=8, hidden=16, codevector_dim=8, proj_dim=8):
        super().__init__()
        self.feature_extractor = FeatureEncoder(channels)
        self.layer_norm = nn.LayerNorm(channels)
        self.projection = nn.Linear(channels, hidden)
        self.masked_spec_embed = nn.Parameter(torch.FloatTensor(hidden).uniform_())
        pos_conv = nn.Conv1d(hidden, hidden, kernel_size=4, padding=2, groups=2)
        nn.init.normal_(pos_conv.weight, mean=0, std=math.sqrt(4 / (4 * hidden)))
        nn.init.constant_(pos_conv.bias, 0)
        self.pos_conv = nn.utils.parametrizations.weight_norm(pos_conv, name="weight", dim=2)
        self.encoder_layer_norm = nn.LayerNorm(hidden)
        self.encoder = nn.TransformerEncoderLayer(hidden, 2, 2 * hidden, dropout=0.0, activation="gelu",
                                                  batch_first=True)
        self.quantizer = GumbelVectorQuantizer(channels, codevector_dim=codevector_dim)
        self.project_q = nn.Linear(codevector_dim, proj_dim)
        self.project_hid = nn.Linear(hidden, proj_dim)

    def forward(self, input_values, mask_time_indices, feature_grad_mult=0.5):
        features = GradMultiply.apply(self.feature_extractor(input_values), feature_grad_mult)
        features_pen = features.float().pow(2).mean()
        extract_features = features.transpose(1, 2)   # (B, T, C)
        extract_features = self.layer_norm(extract_features)
        hidden_states = self.projection(extract_features)
        hidden_states[mask_time_indices] = self.masked_spec_embed.to(hidden_states.dtype)
        position = self.pos_conv(hidden_states.transpose(1, 2))[:, :, :-1]   # even kernel: drop the last
        hidden_states = self.encoder_layer_norm(hidden_states + F.gelu(position).transpose(1, 2))
        hidden_states = self.encoder(hidden_states)
        quantized, perplexity, codes = self.quantizer(extract_features, mask_time_indices)
        return self.project_hid(hidden_states), self.project_q(quantized), perplexity, codes, features_pen


def compute_mask_indices(batch_size, sequence_length, mask_length, num_spans):
    """(B, T) bool: ``num_spans`` spans of ``mask_length`` frames per row, their starts from ``torch.randint``."""
    starts = torch.randint(0, sequence_length - mask_length + 1, (batch_size, num_spans))
    steps = torch.arange(sequence_length)[None, None, :]
    inside = (steps >= starts[:, :, None]) & (steps < starts[:, :, None] + mask_length)
    return inside.any(dim=1)


def sample_negatives(y, num_negatives):
    """y: (B, T, D) -> (K, B, T, D) distractors from other time steps of the same row, as fairseq draws them."""
    bsz, tsz, fsz = y.shape
    y = y.view(-1, fsz)   # (B * T, D)
    with torch.no_grad():
        tszs = buffered_arange(tsz).unsqueeze(-1).expand(-1, num_negatives).flatten()
        neg_idxs = torch.randint(low=0, high=tsz - 1, size=(bsz, num_negatives * tsz))
        neg_idxs[neg_idxs >= tszs] += 1   # skip the positive itself
        for i in range(1, bsz):
            neg_idxs[i] += i * tsz
    negs = y[neg_idxs.view(-1)]
    return negs.view(bsz, tsz, num_negatives, fsz).permute(2, 0, 1, 3)


def contrastive_logits(target_features, negative_features, predicted_features, temperature=0.1):
    target_features = torch.cat([target_features, negative_features], dim=0)   # (1 + K, B, T, D)
    logits = torch.cosine_similarity(predicted_features.float(), target_features.float(), dim=-1)
    return (logits / temperature).type_as(target_features)


def make_model():
    return Wav2Vec2()


def train(model, waves, steps=4, num_negatives=3, diversity_weight=0.1, penalty_weight=1.0, max_temp=2.0,
          min_temp=0.5, decay=0.7):
    optimizer = optim.AdamW(model.parameters(), lr=2e-3, weight_decay=0.01)
    log = {"loss": [], "contrastive": [], "diversity": [], "perplexity": [], "codes": []}
    for step in range(steps):
        model.quantizer.temperature = max(max_temp * decay ** step, min_temp)
        batch_size = waves.shape[0]
        sequence_length = model.feature_extractor(waves[:1]).shape[-1]
        mask = compute_mask_indices(batch_size, sequence_length, mask_length=2, num_spans=2)
        hidden, quantized, perplexity, codes, features_pen = model(waves, mask)
        negatives = sample_negatives(quantized, num_negatives)   # (K, B, T, D)
        logits = contrastive_logits(quantized[None], negatives, hidden[None])
        neg_is_pos = (quantized == negatives).all(-1)
        if neg_is_pos.any():
            logits[1:][neg_is_pos] = float("-inf")
        logits = logits.transpose(0, 2).reshape(-1, logits.size(0))   # (T * B, 1 + K)
        target = ((1 - mask.long()) * -100).transpose(0, 1).flatten()
        contrastive_loss = F.cross_entropy(logits.float(), target, reduction="sum")
        num_codevectors = model.quantizer.num_groups * model.quantizer.num_vars
        diversity_loss = ((num_codevectors - perplexity) / num_codevectors) * mask.sum()
        loss = contrastive_loss + diversity_weight * diversity_loss + penalty_weight * features_pen
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
        optimizer.step()
        log["loss"].append(loss.item())
        log["contrastive"].append(contrastive_loss.item())
        log["diversity"].append(diversity_loss.item())
        log["perplexity"].append(perplexity.item())
        log["codes"].append(codes.tolist())
    model.eval()
    with torch.no_grad():
        _, _, perplexity, codes, _ = model(waves, torch.zeros(batch_size, sequence_length, dtype=torch.bool))
    log["eval"] = (perplexity.item(), codes.tolist())
    return log
'''

# ----------------------------------------------------------------------------- 4. Autoformer

AUTOFORMER = '''
class moving_avg(nn.Module):
    """Moving average over time, the ends padded with repeats of the first and last values."""

    def __init__(self, kernel_size, stride):
        super(moving_avg, self).__init__()
        self.kernel_size = kernel_size
        self.avg = nn.AvgPool1d(kernel_size=kernel_size, stride=stride, padding=0)

    def forward(self, x):
        front = x[:, 0:1, :].repeat(1, (self.kernel_size - 1) // 2, 1)
        end = x[:, -1:, :].repeat(1, (self.kernel_size - 1) // 2, 1)
        x = torch.cat([front, x, end], dim=1)
        x = self.avg(x.permute(0, 2, 1))
        return x.permute(0, 2, 1)


class series_decomp(nn.Module):
    def __init__(self, kernel_size):
        super(series_decomp, self).__init__()
        self.moving_avg = moving_avg(kernel_size, stride=1)

    def forward(self, x):
        moving_mean = self.moving_avg(x)
        return x - moving_mean, moving_mean


class my_Layernorm(nn.Module):
    def __init__(self, channels):
        super(my_Layernorm, self).__init__()
        self.layernorm = nn.LayerNorm(channels)

    def forward(self, x):
        x_hat = self.layernorm(x)
        bias = torch.mean(x_hat, dim=1).unsqueeze(1).repeat(1, x.shape[1], 1)
        return x_hat - bias


class TokenEmbedding(nn.Module):
    def __init__(self, c_in, d_model):
        super(TokenEmbedding, self).__init__()
        self.tokenConv = nn.Conv1d(c_in, d_model, kernel_size=3, padding=1, padding_mode='circular', bias=False)
        for m in self.modules():
            if isinstance(m, nn.Conv1d):
                nn.init.kaiming_normal_(m.weight, mode='fan_in', nonlinearity='leaky_relu')

    def forward(self, x):
        return self.tokenConv(x.permute(0, 2, 1)).transpose(1, 2)


class AutoCorrelation(nn.Module):
    def __init__(self, factor=1):
        super(AutoCorrelation, self).__init__()
        self.factor = factor

    def time_delay_agg_training(self, values, corr):
        """values, corr: (B, H, E, L); the top lags are shared by the batch (mean over it), rolled."""
        head, channel, length = values.shape[1], values.shape[2], values.shape[3]
        top_k = int(self.factor * math.log(length))
        mean_value = torch.mean(torch.mean(corr, dim=1), dim=1)
        index = torch.topk(torch.mean(mean_value, dim=0), top_k, dim=-1)[1]
        weights = torch.stack([mean_value[:, index[i]] for i in range(top_k)], dim=-1)
        tmp_corr = torch.softmax(weights, dim=-1)
        delays_agg = torch.zeros_like(values).float()
        for i in range(top_k):
            pattern = torch.roll(values, -int(index[i]), -1)
            delays_agg = delays_agg + pattern * (
                tmp_corr[:, i].unsqueeze(1).unsqueeze(1).unsqueeze(1).repeat(1, head, channel, length))
        return delays_agg

    def time_delay_agg_inference(self, values, corr):
        """Each sample's own top lags, read by ``gather`` from the series written twice."""
        batch, head, channel, length = values.shape
        init_index = torch.arange(length).unsqueeze(0).unsqueeze(0).unsqueeze(0).repeat(batch, head, channel, 1)
        top_k = int(self.factor * math.log(length))
        mean_value = torch.mean(torch.mean(corr, dim=1), dim=1)
        weights, delay = torch.topk(mean_value, top_k, dim=-1)
        tmp_corr = torch.softmax(weights, dim=-1)
        tmp_values = values.repeat(1, 1, 1, 2)
        delays_agg = torch.zeros_like(values).float()
        for i in range(top_k):
            tmp_delay = init_index + delay[:, i].unsqueeze(1).unsqueeze(1).unsqueeze(1).repeat(
                1, head, channel, length)
            pattern = torch.gather(tmp_values, dim=-1, index=tmp_delay)
            delays_agg = delays_agg + pattern * (
                tmp_corr[:, i].unsqueeze(1).unsqueeze(1).unsqueeze(1).repeat(1, head, channel, length))
        return delays_agg

    def forward(self, queries, keys, values):
        B, L, H, E = queries.shape
        _, S, _, D = values.shape
        if L > S:
            zeros = torch.zeros_like(queries[:, :(L - S), :]).float()
            values = torch.cat([values, zeros], dim=1)
            keys = torch.cat([keys, zeros], dim=1)
        else:
            values = values[:, :L, :, :]
            keys = keys[:, :L, :, :]
        q_fft = torch.fft.rfft(queries.permute(0, 2, 3, 1).contiguous(), dim=-1)
        k_fft = torch.fft.rfft(keys.permute(0, 2, 3, 1).contiguous(), dim=-1)
        res = q_fft * torch.conj(k_fft)
        corr = torch.fft.irfft(res, n=L, dim=-1)
        if self.training:
            V = self.time_delay_agg_training(values.permute(0, 2, 3, 1).contiguous(), corr).permute(0, 3, 1, 2)
        else:
            V = self.time_delay_agg_inference(values.permute(0, 2, 3, 1).contiguous(), corr).permute(0, 3, 1, 2)
        return V.contiguous(), corr.permute(0, 3, 1, 2)


class AutoCorrelationLayer(nn.Module):
    def __init__(self, correlation, d_model, n_heads):
        super(AutoCorrelationLayer, self).__init__()
        d_keys = d_model // n_heads
        self.inner_correlation = correlation
        self.query_projection = nn.Linear(d_model, d_keys * n_heads)
        self.key_projection = nn.Linear(d_model, d_keys * n_heads)
        self.value_projection = nn.Linear(d_model, d_keys * n_heads)
        self.out_projection = nn.Linear(d_keys * n_heads, d_model)
        self.n_heads = n_heads

    def forward(self, queries, keys, values):
        B, L, _ = queries.shape
        _, S, _ = keys.shape
        H = self.n_heads
        queries = self.query_projection(queries).view(B, L, H, -1)
        keys = self.key_projection(keys).view(B, S, H, -1)
        values = self.value_projection(values).view(B, S, H, -1)
        out, attn = self.inner_correlation(queries, keys, values)
        return self.out_projection(out.view(B, L, -1)), attn


class EncoderLayer(nn.Module):
    def __init__(self, attention, d_model, d_ff, moving_avg=5):
        super(EncoderLayer, self).__init__()
        self.attention = attention
        self.conv1 = nn.Conv1d(in_channels=d_model, out_channels=d_ff, kernel_size=1, bias=False)
        self.conv2 = nn.Conv1d(in_channels=d_ff, out_channels=d_model, kernel_size=1, bias=False)
        self.decomp1 = series_decomp(moving_avg)
        self.decomp2 = series_decomp(moving_avg)

    def forward(self, x):
        new_x, attn = self.attention(x, x, x)
        x, _ = self.decomp1(x + new_x)
        y = F.gelu(self.conv1(x.transpose(-1, 1)))
        y = self.conv2(y).transpose(-1, 1)
        res, _ = self.decomp2(x + y)
        return res, attn


class DecoderLayer(nn.Module):
    def __init__(self, self_attention, cross_attention, d_model, c_out, d_ff, moving_avg=5):
        super(DecoderLayer, self).__init__()
        self.self_attention = self_attention
        self.cross_attention = cross_attention
        self.conv1 = nn.Conv1d(in_channels=d_model, out_channels=d_ff, kernel_size=1, bias=False)
        self.conv2 = nn.Conv1d(in_channels=d_ff, out_channels=d_model, kernel_size=1, bias=False)
        self.decomp1 = series_decomp(moving_avg)
        self.decomp2 = series_decomp(moving_avg)
        self.decomp3 = series_decomp(moving_avg)
        self.projection = nn.Conv1d(in_channels=d_model, out_channels=c_out, kernel_size=3, stride=1, padding=1,
                                    padding_mode='circular', bias=False)

    def forward(self, x, cross):
        x, trend1 = self.decomp1(x + self.self_attention(x, x, x)[0])
        x, trend2 = self.decomp2(x + self.cross_attention(x, cross, cross)[0])
        y = F.gelu(self.conv1(x.transpose(-1, 1)))
        y = self.conv2(y).transpose(-1, 1)
        x, trend3 = self.decomp3(x + y)
        residual_trend = trend1 + trend2 + trend3
        residual_trend = self.projection(residual_trend.permute(0, 2, 1)).transpose(1, 2)
        return x, residual_trend


class Autoformer(nn.Module):
    def __init__(self, c_in=2, d_model=8, n_heads=2, d_ff=16, label_len=6, pred_len=4, moving_avg=5):
        super(Autoformer, self).__init__()
        self.label_len, self.pred_len = label_len, pred_len
        self.decomp = series_decomp(moving_avg)
        self.enc_embedding = TokenEmbedding(c_in, d_model)
        self.dec_embedding = TokenEmbedding(c_in, d_model)
        self.encoder = EncoderLayer(AutoCorrelationLayer(AutoCorrelation(), d_model, n_heads), d_model, d_ff,
                                    moving_avg)
        self.encoder_norm = my_Layernorm(d_model)
        self.decoder = DecoderLayer(AutoCorrelationLayer(AutoCorrelation(), d_model, n_heads),
                                    AutoCorrelationLayer(AutoCorrelation(), d_model, n_heads),
                                    d_model, c_in, d_ff, moving_avg)
        self.decoder_norm = my_Layernorm(d_model)
        self.decoder_projection = nn.Linear(d_model, c_in, bias=True)

    def forward(self, x_enc):
        mean = torch.mean(x_enc, dim=1).unsqueeze(1).repeat(1, self.pred_len, 1)
        zeros = torch.zeros([x_enc.shape[0], self.pred_len, x_enc.shape[2]], device=x_enc.device)
        seasonal_init, trend_init = self.decomp(x_enc)
        trend_init = torch.cat([trend_init[:, -self.label_len:, :], mean], dim=1)
        seasonal_init = torch.cat([seasonal_init[:, -self.label_len:, :], zeros], dim=1)
        enc_out, attn = self.encoder(self.enc_embedding(x_enc))
        enc_out = self.encoder_norm(enc_out)
        seasonal_part, residual_trend = self.decoder(self.dec_embedding(seasonal_init), enc_out)
        seasonal_part = self.decoder_projection(self.decoder_norm(seasonal_part))
        dec_out = trend_init + residual_trend + seasonal_part
        return dec_out[:, -self.pred_len:, :], attn


def make_model():
    return Autoformer()


def train(model, series, steps=5, seq_len=12, batch_size=4):
    pred_len = model.pred_len
    windows = torch.stack([series[i:i + seq_len + pred_len] for i in range(0, batch_size * 3, 3)])
    x, y = windows[:, :seq_len], windows[:, seq_len:]
    optimizer = optim.Adam(model.parameters(), lr=3e-3)
    criterion = nn.MSELoss()
    losses = []
    for step in range(steps):
        # adjust_learning_rate's 'type1': halve the rate each epoch
        for param_group in optimizer.param_groups:
            param_group['lr'] = 3e-3 * (0.5 ** (step // 2))
        model.train()
        optimizer.zero_grad()
        prediction, _ = model(x)
        loss = criterion(prediction, y)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    model.eval()
    with torch.no_grad():
        prediction, corr = model(x)
    return losses, prediction.numpy(), corr.numpy()
'''

PROGRAMS = (SAC, SAC_SQUASHED_NORMAL, TD3, WAV2VEC2, AUTOFORMER)


def _twins(source: str, *args: Any, **kwargs: Any) -> tuple:
    return _twin_models(source, *args, imports=(TORCH_IMPORTS_CONTROL, MINIGRAD_IMPORTS_CONTROL), **kwargs)


def test_the_programs_differ_only_in_their_imports() -> None:
    for torch_line, mg_line in zip(TORCH_IMPORTS_CONTROL.splitlines()[5:], MINIGRAD_IMPORTS_CONTROL.splitlines()[5:]):
        assert torch_line.replace("torch", "minigrad") == mg_line
    for source in PROGRAMS:
        assert "import" not in source and "minigrad" not in source and "mg." not in source


def _assert_same_logs(log: dict, expected: dict, rtol: float = 1e-5, atol: float = 1e-6) -> None:
    assert log.keys() == expected.keys()
    for key in log:
        assert len(log[key]) == len(expected[key]), key
        for ours, theirs in zip(log[key], expected[key]):
            np.testing.assert_allclose(np.asarray(ours, np.float64), np.asarray(theirs, np.float64),
                                       rtol=rtol, atol=atol, err_msg=key)


# ----------------------------------------------------------------------------- 1. SAC


def _sac_transitions(seed: int, count: int = 12) -> list:
    rng = np.random.default_rng(seed)
    obs = rng.standard_normal((count, 3)).astype(np.float32)
    act = rng.uniform(-1.5, 1.5, (count, 2)).astype(np.float32)
    next_obs = (0.9 * obs + 0.1 * np.pad(act, ((0, 0), (0, 1)))).astype(np.float32)
    reward = -(next_obs ** 2).sum(1)
    return [(o, a, float(r), o2, float(i % 6 == 5)) for i, (o, a, r, o2) in
            enumerate(zip(obs, act, reward, next_obs))]


@pytest.mark.parametrize("lerp", [False, True], ids=["mul_add", "lerp"])
def test_spinning_up_sac_with_automatic_entropy_tuning(torch: Any, monkeypatch: pytest.MonkeyPatch,
                                                       lerp: bool) -> None:
    """Six updates of Spinning Up's SAC on shared replay indices and shared Gaussian noise: the actions, both Q
    losses, the policy and alpha losses, alpha, the squashed log-probabilities, and the final weights of the actor
    critic and its polyak target (both spellings of the update) agree with torch."""
    _shared_normal_draws(monkeypatch, torch, 3)
    torch_program, torch_ac, mg_program, mg_ac, initial = _twins(SAC)
    expected, torch_target = torch_program["train"](torch_ac, _sac_transitions(0), np.random.default_rng(1),
                                                    lerp=lerp)
    log, mg_target = mg_program["train"](mg_ac, _sac_transitions(0), np.random.default_rng(1), lerp=lerp)
    _assert_same_logs(log, expected)
    assert log["logp"][0].dtype == np.float32 and len(log["alpha"]) == 6
    assert log["alpha"][-1] != 1.0
    _assert_same_weights(torch_ac, mg_ac, initial)
    _assert_same_weights(torch_target, mg_target, initial)
    assert not any(p.requires_grad for p in mg_target.parameters())
    assert all(p.requires_grad for p in mg_ac.parameters())


def _sac_batches(seed: int, count: int = 6, batch_size: int = 8) -> list:
    """Replay batches (obs, action, reward, next_obs, not_done) of the point mass, float32."""
    rng = np.random.default_rng(seed)
    batches = []
    for _ in range(count):
        obs = rng.standard_normal((batch_size, 3)).astype(np.float32)
        action = rng.uniform(-1, 1, (batch_size, 2)).astype(np.float32)
        next_obs = (0.9 * obs + 0.1 * np.pad(action, ((0, 0), (0, 1)))).astype(np.float32)
        reward = -(next_obs ** 2).sum(1, keepdims=True)
        batches.append((obs, action, reward, next_obs, (rng.random((batch_size, 1)) > 0.2).astype(np.float32)))
    return batches


def test_pytorch_sac_with_a_squashed_normal_transformed_distribution(torch: Any,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """Six updates of denisyarats/pytorch_sac's agent: ``SquashedNormal`` (a ``TransformedDistribution`` over a
    ``TanhTransform`` subclass whose cache gives ``log_prob`` rsample's own pre-tanh value), orthogonal init through
    ``self.apply``, a float64 ``log_alpha`` from ``torch.tensor(np.log(t))``: losses, alpha, entropy, the greedy and
    sampled actions and every network's weights agree with torch."""
    _shared_normal_draws(monkeypatch, torch, 7)
    torch_program, torch_nets, mg_program, mg_nets, initials = _twins(SAC_SQUASHED_NORMAL, factory="make_models")
    expected, expected_actions, torch_log_alpha = torch_program["train"](*torch_nets, _sac_batches(8))
    log, actions, log_alpha = mg_program["train"](*mg_nets, _sac_batches(8))
    _assert_same_logs(log, expected)
    np.testing.assert_allclose(np.stack(actions), np.stack(expected_actions), rtol=1e-5, atol=1e-6)
    assert log_alpha.dtype == np.float64 and log_alpha.item() != np.log(0.1)
    np.testing.assert_allclose(log_alpha.item(), torch_log_alpha.item(), rtol=1e-6)
    for torch_net, mg_net, initial in zip(torch_nets, mg_nets, initials):
        _assert_same_weights(torch_net, mg_net, initial)


# ----------------------------------------------------------------------------- 2. TD3 and DDPG


@pytest.mark.parametrize("kind", ["td3", "ddpg"])
def test_td3_and_ddpg(torch: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Any, kind: str) -> None:
    """Twelve environment steps (updates from the fifth) of Fujimoto's TD3 (smoothed targets, delayed actor) and
    OurDDPG (OU exploration): the same actions, critic and actor losses, and final weights of both networks and
    both targets; then ``save``/``load`` of networks and optimizers into fresh ones and three more updates."""
    _shared_draws(monkeypatch, torch, 4)
    torch_program, torch_nets, mg_program, mg_nets, initials = _twins(TD3, kind=kind, factory="make_models")
    expected, torch_agent = torch_program["run"](kind, *torch_nets, np.random.default_rng(2),
                                                 filename=str(tmp_path / "torch"))
    log, mg_agent = mg_program["run"](kind, *mg_nets, np.random.default_rng(2), filename=str(tmp_path / "minigrad"))
    _assert_same_logs(log, expected)
    assert len(log["critic"]) == 8 and len(log["actor"]) == (4 if kind == "td3" else 8) and len(log["resumed"]) == 3
    for torch_net, mg_net, initial in zip(torch_nets, mg_nets, initials):
        _assert_same_weights(torch_net, mg_net, initial)
    # the resumed agent: networks and targets (copies made at load, then soft-updated) equal torch's
    _assert_same_weights(torch_agent.actor, mg_agent.actor, initials[0])
    _assert_same_weights(torch_agent.critic, mg_agent.critic, initials[1])
    _assert_same_weights(torch_agent.actor_target, mg_agent.actor_target, initials[0])
    _assert_same_weights(torch_agent.critic_target, mg_agent.critic_target, initials[1])
    assert mg_agent.critic_optimizer.state_dict()["state"][0]["step"] == 8 + 3


# ----------------------------------------------------------------------------- 3. wav2vec 2.0


def test_wav2vec2_contrastive_pretraining(torch: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Four AdamW steps of the contrastive + diversity objective with shared Gumbel noise, span masks and
    distractors: the losses, perplexities, chosen codewords, the evaluation codes and the weights equal torch's."""
    rng = np.random.default_rng(5)
    t = np.arange(60, dtype=np.float32)
    waves = np.stack([np.sin(0.3 * t + p) for p in rng.uniform(0, 6, 3)]).astype(np.float32)
    waves += 0.1 * rng.standard_normal(waves.shape).astype(np.float32)
    torch_program, torch_model, mg_program, mg_model, initial = _twins(WAV2VEC2)
    _shared_draws(monkeypatch, torch, 6)
    expected = torch_program["train"](torch_model, torch.from_numpy(waves))
    log = mg_program["train"](mg_model, mg_program["torch"].from_numpy(waves))
    assert log["codes"] == expected["codes"] and log["eval"][1] == expected["eval"][1]
    for key in ("loss", "contrastive", "diversity", "perplexity"):
        np.testing.assert_allclose(log[key], expected[key], rtol=1e-5, atol=1e-6, err_msg=key)
    np.testing.assert_allclose(log["eval"][0], expected["eval"][0], rtol=1e-5)
    # the key bias adds a constant to each query's scores: the softmax ignores it, its gradient is rounding noise
    key_bias = "encoder.self_attn.in_proj_bias"
    _assert_same_weights(torch_model, mg_model, initial, noise_only=(key_bias,))
    ours, theirs = mg_model.state_dict()[key_bias].numpy(), torch_model.state_dict()[key_bias].detach().numpy()
    for part in (slice(0, 16), slice(32, 48)):   # the query and value biases
        np.testing.assert_allclose(ours[part], theirs[part], rtol=1e-4, atol=1e-5)


# ----------------------------------------------------------------------------- 4. Autoformer


# Biases whose true gradient is exactly 0 (a constant over time, removed by ``series_decomp``'s moving average or
# ``my_Layernorm``'s mean, or a constant shift of every lag's correlation, which ``softmax`` ignores): in float32
# their Adam steps follow the sign of rounding noise (~1e-9 against eps = 1e-8) in both engines. The encoder's
# correlation reads the query and key biases, so in float32 it is compared through what the model uses of it (the
# forecast); float64, whose noise Adam's eps swallows, compares everything.
AUTOFORMER_NOISE_ONLY = tuple(f"{layer}.{projection}_projection.bias" for layer, projections in (
    ("encoder.attention", ("query", "key", "value", "out")),
    ("decoder.self_attention", ("query", "key", "value", "out")),
    ("decoder.cross_attention", ("query", "key"))) for projection in projections) + (
    "encoder_norm.layernorm.bias", "decoder_norm.layernorm.bias")


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_autoformer_with_fft_auto_correlation(torch: Any, dtype: str) -> None:
    """Five Adam steps on a toy two-channel series with trend and two periods (float32 to 1e-5, float64 to
    1e-10): the losses, the evaluation forecast (the gather aggregation), the correlation and the weights."""
    t = np.arange(40, dtype=np.float64)
    series = np.stack([0.05 * t + np.sin(2 * np.pi * t / 6), np.cos(2 * np.pi * t / 4) - 0.02 * t], 1)
    torch_program, torch_model, mg_program, mg_model, initial = _twins(AUTOFORMER)
    if dtype == "float64":
        torch_model.double()
        mg_model.double()
    else:
        series = series.astype(np.float32)
    expected = torch_program["train"](torch_model, torch.from_numpy(series))
    losses, prediction, corr = mg_program["train"](mg_model, mg_program["torch"].from_numpy(series))
    rtol, atol = (1e-5, 1e-6) if dtype == "float32" else (1e-10, 1e-12)
    np.testing.assert_allclose(losses, expected[0], rtol=rtol, atol=atol)
    np.testing.assert_allclose(prediction, expected[1], rtol=rtol, atol=atol)
    assert prediction.dtype == corr.dtype == expected[1].dtype == np.dtype(dtype)
    assert losses[-1] < losses[0]
    if dtype == "float64":
        # the FFT's rounding is absolute (~1e-16 of the largest correlation, ~7 here)
        np.testing.assert_allclose(corr, expected[2], rtol=1e-10, atol=1e-9)
    _assert_same_weights(torch_model, mg_model, initial, noise_only=AUTOFORMER_NOISE_ONLY if dtype == "float32" else ())
