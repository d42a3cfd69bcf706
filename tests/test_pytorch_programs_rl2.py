"""Value-based and distributional RL programs, small, run unchanged on minigrad: only the import lines differ.

Each program is our own rewrite of a well-known public PyTorch program, with the original's PyTorch calls and
habits in the same roles, our own names and comments, a short run on a tiny environment (the helpers and the
rule come from tests/test_pytorch_programs.py; REINFORCE, actor-critic and the DQN tutorial are in
tests/test_pytorch_programs_rl.py, CleanRL's PPO and SAC in tests/test_pytorch_programs_ppo.py):

* ``RAINBOW`` mirrors Kaixhin/Rainbow (https://github.com/Kaixhin/Rainbow: ``model.py``, ``agent.py``,
  ``memory.py``) with the projection written as Curt-Park's "rainbow-is-all-you-need" writes it: a
  ``NoisyLinear`` with factorised Gaussian noise (``f(x) = x.sign().mul_(x.abs().sqrt_())``, ``epsilon_out.ger(
  epsilon_in)`` copied into ``register_buffer``'d epsilons, the mean weights only in ``eval()``), a dueling C51
  head (``v + a - a.mean(1, keepdim=True)``, ``softmax``/``log_softmax`` over the atoms, the support from
  ``torch.linspace``), double-DQN action selection by ``argmax`` of the online net's expected values, n-step
  returns by ``torch.matmul`` with the discount powers, the categorical projection (``Tz.clamp``,
  ``b = (Tz - v_min) / delta_z``, ``floor``/``ceil`` to int64, the ``l == u`` fix written with in-place masked
  ``-= 1``/``+= 1``, the offset ``torch.linspace(0, (B - 1) * atoms, B).long().unsqueeze(1).expand(B, atoms)``,
  two ``index_add_`` on ``m.view(-1)``), the importance-weighted cross-entropy, ``clip_grad_norm_``,
  ``Adam(eps=1.5e-4)``, and proportional prioritized replay (``priorities ** alpha`` normalised, indices from
  ``torch.multinomial``, weights ``(N * P) ** -beta / max``, priorities written back from the loss);
* ``A2C_GAE`` mirrors ikostrikov's pytorch-a2c-ppo-acktr-gail (``a2c_ppo_acktr/storage.py``,
  ``algo/a2c_acktr.py``): a ``RolloutStorage`` of ``torch.zeros(num_steps + 1, num_processes, ...)`` buffers
  written with ``copy_``, masks ``torch.FloatTensor([[0.0] if done_ else [1.0] for done_ in done])``, GAE(lambda)
  computed backwards in a Python loop, ``Categorical(logits=...)`` with ``sample()``, ``log_prob`` and
  ``entropy().mean()``, the value loss as ``F.smooth_l1_loss`` (Huber), ``RMSprop(lr, eps=1e-5, alpha=0.99)``,
  ``nn.utils.clip_grad_norm_``, ``after_update`` copying the last step into the first;
* ``QR_DQN`` mirrors the quantile-regression DQN of the common public implementations (Dabney et al. 2017;
  e.g. ShangtongZhang/DeepRL's ``QuantileRegressionDQNAgent``): ``(B, actions, N)`` quantiles, midpoints
  ``tau = (torch.arange(N) + 0.5) / N``, greedy target actions from ``mean(-1).argmax(-1)``, the pairwise
  differences ``target.unsqueeze(1) - quantiles.unsqueeze(2)`` by broadcasting, the quantile Huber loss weighted
  by ``(tau - (u.detach() < 0).float()).abs()``, epsilon-greedy acting and ``random.sample`` replay batches
  (Python's ``random``, seeded alike), a hard target update with ``load_state_dict``.

The environments are written below in plain Python/NumPy: a chain of states (one-hot observations, left/right,
reward at the right end) and a vectorised "walk to the goal" of several copies with automatic reset, both
deterministic for a seed and an action sequence.

Random draws: ``NoisyLinear``'s ``torch.randn`` of both libraries reads one NumPy stream each (``_shared_noise``);
``torch.multinomial`` (the prioritized replay's draw over a 1-D weight vector, and ``Categorical.sample``'s over
rows of probabilities) reads one NumPy stream each by the inverse CDF of each engine's own probabilities
(``_shared_multinomial`` of the NLP and RL program files), so the two runs take the same actions and replay the
same transitions.

Beside them: the noisy dueling C51 net and the quantile Huber loss in float64 (to 1e-10 and 1e-12; the float64 net is
compared from the same noise buffers, since torch's vectorised float32 ``sqrt`` in ``f(x)`` is not correctly rounded
on an AVX-512 CPU, 1 ulp off for ~15% of values, where NumPy's is exact), and the net and the projection on the GPU
(the strict CuPy stand-in where there is none). All three programs ran unchanged and agreed with torch at once:
nothing in minigrad needed a fix for them. The regression test at the end covers what the probes around them found:
A3C's ``share_memory()``/``share_memory_()`` (Hogwild workers forked after it must update the parent's weights).
"""

from __future__ import annotations

import importlib
import random
from typing import Any

import numpy as np
import pytest

from tests.test_pytorch_programs import (
    MINIGRAD_IMPORTS,
    TORCH_IMPORTS,
    _assert_same_weights,
    _program,
    _twin_models,
)
from tests.test_pytorch_programs_more import _shared_noise
from tests.test_pytorch_programs_nlp import _shared_multinomial as _shared_multinomial_1d
from tests.test_pytorch_programs_rl import _shared_multinomial as _shared_multinomial_rows

# the extra lines the programs import with; each line names the same thing in both
TORCH_IMPORTS_RL2 = TORCH_IMPORTS + """\
import random
import numpy as np
from collections import deque
from torch.distributions import Categorical
"""

MINIGRAD_IMPORTS_RL2 = MINIGRAD_IMPORTS + """\
import random
import numpy as np
from collections import deque
from minigrad.distributions import Categorical
"""


RAINBOW = '''
class NoisyLinear(nn.Module):
    """y = (mu_w + sigma_w * eps_w) x + (mu_b + sigma_b * eps_b) while training, mu_w x + mu_b in eval();
    factorised noise eps_w = f(eps_out) f(eps_in)^T, eps_b = f(eps_out), f(x) = sign(x) sqrt(|x|)."""

    def __init__(self, in_features, out_features, std_init=0.5):
        super(NoisyLinear, self).__init__()
        self.in_features, self.out_features, self.std_init = in_features, out_features, std_init
        self.weight_mu = nn.Parameter(torch.empty(out_features, in_features))
        self.weight_sigma = nn.Parameter(torch.empty(out_features, in_features))
        self.register_buffer('weight_epsilon', torch.empty(out_features, in_features))
        self.bias_mu = nn.Parameter(torch.empty(out_features))
        self.bias_sigma = nn.Parameter(torch.empty(out_features))
        self.register_buffer('bias_epsilon', torch.empty(out_features))
        self.reset_parameters()
        self.reset_noise()

    def reset_parameters(self):
        mu_range = 1 / math.sqrt(self.in_features)
        with torch.no_grad():
            self.weight_mu.uniform_(-mu_range, mu_range)
            self.weight_sigma.fill_(self.std_init / math.sqrt(self.in_features))
            self.bias_mu.uniform_(-mu_range, mu_range)
            self.bias_sigma.fill_(self.std_init / math.sqrt(self.out_features))

    def _scale_noise(self, size):
        x = torch.randn(size, device=self.weight_mu.device)
        return x.sign().mul_(x.abs().sqrt_())

    def reset_noise(self):
        epsilon_in = self._scale_noise(self.in_features)
        epsilon_out = self._scale_noise(self.out_features)
        self.weight_epsilon.copy_(epsilon_out.ger(epsilon_in))
        self.bias_epsilon.copy_(epsilon_out)

    def forward(self, input):
        if self.training:
            return F.linear(input, self.weight_mu + self.weight_sigma * self.weight_epsilon,
                            self.bias_mu + self.bias_sigma * self.bias_epsilon)
        return F.linear(input, self.weight_mu, self.bias_mu)


class DuelingC51(nn.Module):
    """Observations (B, S) to a distribution over `atoms` returns per action (B, A, atoms) (log-probabilities
    with log=True): a shared body, noisy value and advantage streams, q = v + a - mean_a(a)."""

    def __init__(self, state_size, action_space, atoms, hidden=16, noisy_std=0.5):
        super(DuelingC51, self).__init__()
        self.atoms, self.action_space = atoms, action_space
        self.body = nn.Linear(state_size, hidden)
        self.fc_h_v = NoisyLinear(hidden, hidden, std_init=noisy_std)
        self.fc_h_a = NoisyLinear(hidden, hidden, std_init=noisy_std)
        self.fc_z_v = NoisyLinear(hidden, self.atoms, std_init=noisy_std)
        self.fc_z_a = NoisyLinear(hidden, action_space * self.atoms, std_init=noisy_std)

    def forward(self, x, log=False):
        x = F.relu(self.body(x))
        v = self.fc_z_v(F.relu(self.fc_h_v(x)))
        a = self.fc_z_a(F.relu(self.fc_h_a(x)))
        v, a = v.view(-1, 1, self.atoms), a.view(-1, self.action_space, self.atoms)
        q = v + a - a.mean(1, keepdim=True)
        return F.log_softmax(q, dim=2) if log else F.softmax(q, dim=2)

    def reset_noise(self):
        for name, module in self.named_children():
            if 'fc' in name:
                module.reset_noise()


class PrioritizedReplay:
    """Proportional prioritized replay of n-step transitions: P(i) = p_i^alpha / sum_k p_k^alpha, sampling
    weights (N P(i))^-beta divided by their maximum; new transitions get the largest priority seen."""

    def __init__(self, capacity, n, discount, alpha=0.5):
        self.capacity, self.n, self.alpha = capacity, n, alpha
        self.transitions = []   # (state, action, reward, next_state, done)
        self.priorities = torch.zeros(capacity)
        self.max_priority = 1.0
        self.n_step_scaling = torch.tensor([discount ** i for i in range(n)], dtype=torch.float32)

    def append(self, transition):
        if len(self.transitions) == self.capacity:
            self.transitions.pop(0)
            self.priorities = torch.cat([self.priorities[1:], self.priorities.new_zeros(1)])
        self.priorities[len(self.transitions)] = self.max_priority
        self.transitions.append(transition)

    def _n_step(self, index):
        """The n-step return from transition `index` (cut at an episode's end), the state n steps on, and 0/1."""
        rewards = torch.zeros(self.n)
        nonterminal = 1.0
        for k in range(self.n):
            state, action, reward, next_state, done = self.transitions[min(index + k, len(self.transitions) - 1)]
            rewards[k] = reward
            if done or index + k >= len(self.transitions) - 1:
                nonterminal = 0.0 if done else 1.0
                break
        return torch.matmul(rewards, self.n_step_scaling), next_state, nonterminal

    def sample(self, batch_size, beta):
        size = len(self.transitions)
        scaled = self.priorities[:size] ** self.alpha
        probs = scaled / scaled.sum()
        idxs = torch.multinomial(probs, batch_size, replacement=True)
        weights = (size * probs[idxs]) ** -beta
        weights = weights / weights.max()
        states, actions, returns, next_states, nonterminals = [], [], [], [], []
        for index in idxs.tolist():
            ret, next_state, nonterminal = self._n_step(index)
            states.append(self.transitions[index][0])
            actions.append(self.transitions[index][1])
            returns.append(ret)
            next_states.append(next_state)
            nonterminals.append([nonterminal])
        return (idxs, torch.from_numpy(np.stack(states)).float(), torch.tensor(actions, dtype=torch.int64),
                torch.stack(returns), torch.from_numpy(np.stack(next_states)).float(),
                torch.tensor(nonterminals, dtype=torch.float32), weights)

    def update_priorities(self, idxs, priorities):
        self.priorities[idxs] = torch.from_numpy(priorities)
        self.max_priority = max(self.max_priority, float(np.max(priorities)))


def project_distribution(next_dist, returns, nonterminals, support, discount_n):
    """The target distribution: next_dist (B, atoms) on the support moved to T z = R^n + gamma^n z, projected back
    onto the fixed support (B, atoms); returns (B,), nonterminals (B, 1). Also the count of T z exactly on an atom."""
    batch_size, atoms = next_dist.shape
    v_min, v_max = support[0].item(), support[-1].item()
    delta_z = (v_max - v_min) / (atoms - 1)
    Tz = returns.unsqueeze(1) + nonterminals * discount_n * support.unsqueeze(0)
    Tz = Tz.clamp(min=v_min, max=v_max)
    b = (Tz - v_min) / delta_z
    l, u = b.floor().long(), b.ceil().long()
    on_atom = (l == u).sum().item()
    # a target exactly on an atom: l == u would lose its mass, so move one of them
    l[(u > 0) * (l == u)] -= 1
    u[(l < (atoms - 1)) * (l == u)] += 1

    m = next_dist.new_zeros(batch_size, atoms)
    offset = torch.linspace(0, (batch_size - 1) * atoms, batch_size, device=next_dist.device).long()
    offset = offset.unsqueeze(1).expand(batch_size, atoms)
    m.view(-1).index_add_(0, (l + offset).view(-1), (next_dist * (u.float() - b)).view(-1))
    m.view(-1).index_add_(0, (u + offset).view(-1), (next_dist * (b - l.float())).view(-1))
    return m, on_atom


class Agent:
    def __init__(self, online_net, target_net, atoms=11, v_min=-1.0, v_max=1.0, discount=0.9, n=3,
                 batch_size=6, lr=5e-3, norm_clip=10.0):
        self.online_net, self.target_net = online_net, target_net
        self.atoms, self.Vmin, self.Vmax = atoms, v_min, v_max
        self.support = torch.linspace(v_min, v_max, self.atoms)
        self.delta_z = (v_max - v_min) / (self.atoms - 1)
        self.batch_size, self.n, self.discount, self.norm_clip = batch_size, n, discount, norm_clip
        self.online_net.train()
        self.update_target_net()
        self.target_net.train()
        for param in self.target_net.parameters():
            param.requires_grad = False
        self.optimiser = optim.Adam(self.online_net.parameters(), lr=lr, eps=1.5e-4)

    def reset_noise(self):
        self.online_net.reset_noise()

    def act(self, state):
        with torch.no_grad():
            probs = self.online_net(state.unsqueeze(0))
            return (probs * self.support).sum(2).argmax(1).item()

    def update_target_net(self):
        self.target_net.load_state_dict(self.online_net.state_dict())

    def learn(self, mem, beta):
        idxs, states, actions, returns, next_states, nonterminals, weights = mem.sample(self.batch_size, beta)
        log_ps = self.online_net(states, log=True)
        log_ps_a = log_ps[range(self.batch_size), actions]   # (B, atoms)

        with torch.no_grad():
            pns = self.online_net(next_states)   # the online net picks the action (double DQN)
            dns = self.support.expand_as(pns) * pns
            argmax_indices_ns = dns.sum(2).argmax(1)
            self.target_net.reset_noise()
            pns = self.target_net(next_states)   # and the target net values it
            pns_a = pns[range(self.batch_size), argmax_indices_ns]

            m, on_atom = project_distribution(pns_a, returns, nonterminals, self.support, self.discount ** self.n)

        loss = -torch.sum(m * log_ps_a, 1)   # cross-entropy per sample (B,)
        self.online_net.zero_grad()
        (weights * loss).mean().backward()
        total_norm = nn.utils.clip_grad_norm_(self.online_net.parameters(), self.norm_clip)
        self.optimiser.step()
        mem.update_priorities(idxs, loss.detach().cpu().numpy())
        return loss.detach().mean().item(), total_norm.item(), idxs.tolist(), m.sum(1).tolist(), on_atom


def make_models(state_size=5, actions=2, atoms=11):
    return DuelingC51(state_size, actions, atoms), DuelingC51(state_size, actions, atoms)


def train(online_net, target_net, env, steps, learn_start=6, target_update=5, seed=0):
    agent = Agent(online_net, target_net)
    mem = PrioritizedReplay(capacity=24, n=agent.n, discount=agent.discount)
    beta, beta_step = 0.4, (1.0 - 0.4) / steps
    state, log = env.reset(seed=seed), []
    for step in range(steps):
        if step % 2 == 0:
            agent.reset_noise()   # fresh exploration noise
        action = agent.act(torch.from_numpy(state).float())
        next_state, reward, done = env.step(action)
        mem.append((state, action, reward, next_state, done))
        state = env.reset() if done else next_state
        beta = min(beta + beta_step, 1.0)
        if step >= learn_start:
            loss, norm, idxs, mass, on_atom = agent.learn(mem, beta)
            log.append((action, loss, norm, idxs, mass, on_atom))
            if step % target_update == 0:
                agent.update_target_net()
    online_net.eval()
    with torch.no_grad():   # eval(): the mean weights only
        greedy = (online_net(torch.eye(5)) * agent.support).sum(2)
    return log, mem.priorities.tolist(), greedy.numpy()
'''


A2C_GAE = '''
class Policy(nn.Module):
    """Observations (P, S) to action logits (P, A) and state values (P, 1): one tanh body, two heads."""

    def __init__(self, obs_size, num_actions, hidden=16):
        super(Policy, self).__init__()
        self.base = nn.Sequential(nn.Linear(obs_size, hidden), nn.Tanh(), nn.Linear(hidden, hidden), nn.Tanh())
        self.critic_linear = nn.Linear(hidden, 1)
        self.dist_linear = nn.Linear(hidden, num_actions)

    def forward(self, inputs):
        features = self.base(inputs)
        return self.critic_linear(features), self.dist_linear(features)

    def act(self, inputs):
        value, logits = self(inputs)
        dist = Categorical(logits=logits)
        action = dist.sample().unsqueeze(-1)
        return value, action, dist.log_prob(action.squeeze(-1)).unsqueeze(-1)

    def get_value(self, inputs):
        return self(inputs)[0]

    def evaluate_actions(self, inputs, action):
        value, logits = self(inputs)
        dist = Categorical(logits=logits)
        return value, dist.log_prob(action.squeeze(-1)).unsqueeze(-1), dist.entropy().mean()


class RolloutStorage(object):
    def __init__(self, num_steps, num_processes, obs_size):
        self.obs = torch.zeros(num_steps + 1, num_processes, obs_size)
        self.rewards = torch.zeros(num_steps, num_processes, 1)
        self.value_preds = torch.zeros(num_steps + 1, num_processes, 1)
        self.returns = torch.zeros(num_steps + 1, num_processes, 1)
        self.action_log_probs = torch.zeros(num_steps, num_processes, 1)
        self.actions = torch.zeros(num_steps, num_processes, 1).long()
        self.masks = torch.ones(num_steps + 1, num_processes, 1)
        self.num_steps, self.step = num_steps, 0

    def insert(self, obs, actions, action_log_probs, value_preds, rewards, masks):
        self.obs[self.step + 1].copy_(obs)
        self.actions[self.step].copy_(actions)
        self.action_log_probs[self.step].copy_(action_log_probs)
        self.value_preds[self.step].copy_(value_preds)
        self.rewards[self.step].copy_(rewards)
        self.masks[self.step + 1].copy_(masks)
        self.step = (self.step + 1) % self.num_steps

    def after_update(self):
        self.obs[0].copy_(self.obs[-1])
        self.masks[0].copy_(self.masks[-1])

    def compute_returns(self, next_value, gamma, gae_lambda):
        self.value_preds[-1] = next_value
        gae = 0
        for step in reversed(range(self.rewards.size(0))):
            delta = (self.rewards[step] + gamma * self.value_preds[step + 1] * self.masks[step + 1]
                     - self.value_preds[step])
            gae = delta + gamma * gae_lambda * self.masks[step + 1] * gae
            self.returns[step] = gae + self.value_preds[step]


class A2C():
    def __init__(self, actor_critic, value_loss_coef, entropy_coef, lr, eps, alpha, max_grad_norm):
        self.actor_critic = actor_critic
        self.value_loss_coef, self.entropy_coef, self.max_grad_norm = value_loss_coef, entropy_coef, max_grad_norm
        self.optimizer = optim.RMSprop(actor_critic.parameters(), lr, eps=eps, alpha=alpha)

    def update(self, rollouts):
        num_steps, num_processes, _ = rollouts.rewards.size()
        obs_shape = rollouts.obs.size()[2:]
        values, action_log_probs, dist_entropy = self.actor_critic.evaluate_actions(
            rollouts.obs[:-1].view(-1, *obs_shape), rollouts.actions.view(-1, 1))
        values = values.view(num_steps, num_processes, 1)
        action_log_probs = action_log_probs.view(num_steps, num_processes, 1)

        advantages = rollouts.returns[:-1] - values
        value_loss = F.smooth_l1_loss(values, rollouts.returns[:-1])
        action_loss = -(advantages.detach() * action_log_probs).mean()

        self.optimizer.zero_grad()
        (value_loss * self.value_loss_coef + action_loss - dist_entropy * self.entropy_coef).backward()
        grad_norm = nn.utils.clip_grad_norm_(self.actor_critic.parameters(), self.max_grad_norm)
        self.optimizer.step()
        return value_loss.item(), action_loss.item(), dist_entropy.item(), grad_norm.item()


def make_model(obs_size=6, num_actions=3):
    return Policy(obs_size, num_actions)


def train(actor_critic, envs, updates, num_steps=5, gamma=0.95, gae_lambda=0.9, seed=1):
    agent = A2C(actor_critic, value_loss_coef=0.5, entropy_coef=0.01, lr=7e-3, eps=1e-5, alpha=0.99,
                max_grad_norm=0.5)
    rollouts = RolloutStorage(num_steps, envs.num_envs, envs.obs_size)
    obs = envs.reset(seed=seed)
    rollouts.obs[0].copy_(torch.from_numpy(obs).float())
    episode_rewards, log = deque(maxlen=10), []
    for update in range(updates):
        actions_taken = []
        for step in range(num_steps):
            with torch.no_grad():
                value, action, action_log_prob = actor_critic.act(rollouts.obs[step])
            obs, reward, done, infos = envs.step(action.squeeze(1).numpy())
            actions_taken.append(action.view(-1).tolist())
            for info in infos:
                if 'episode' in info.keys():
                    episode_rewards.append(info['episode']['r'])
            masks = torch.FloatTensor([[0.0] if done_ else [1.0] for done_ in done])
            reward = torch.from_numpy(reward).unsqueeze(1).float()
            rollouts.insert(torch.from_numpy(obs).float(), action, action_log_prob, value, reward, masks)
        with torch.no_grad():
            next_value = actor_critic.get_value(rollouts.obs[-1]).detach()
        rollouts.compute_returns(next_value, gamma, gae_lambda)
        losses = agent.update(rollouts)
        log.append((actions_taken, losses, rollouts.returns[:-1].view(-1).tolist(),
                    float(np.mean(episode_rewards)) if len(episode_rewards) > 0 else 0.0))
        rollouts.after_update()
    return log
'''


QR_DQN = '''
class QuantileNet(nn.Module):
    """Observations (B, S) to N quantiles of the return of each action (B, A, N)."""

    def __init__(self, state_size, num_actions, num_quantiles, hidden=16):
        super().__init__()
        self.num_actions, self.num_quantiles = num_actions, num_quantiles
        self.layers = nn.Sequential(nn.Linear(state_size, hidden), nn.ReLU(),
                                    nn.Linear(hidden, num_actions * num_quantiles))

    def forward(self, x):
        return self.layers(x).view(-1, self.num_actions, self.num_quantiles)


def quantile_huber_loss(quantiles, target, tau, kappa=1.0):
    """quantiles, target (B, N); tau (N,) midpoints. Each predicted quantile i against every target sample j:
    u_ij = target_j - quantile_i, loss = mean_j sum_i |tau_i - 1{u_ij < 0}| huber_kappa(u_ij) / kappa."""
    u = target.unsqueeze(1) - quantiles.unsqueeze(2)   # (B, N_i, N_j)
    huber = torch.where(u.abs() <= kappa, 0.5 * u.pow(2), kappa * (u.abs() - 0.5 * kappa))
    also = F.smooth_l1_loss(quantiles.unsqueeze(2).expand_as(u), target.unsqueeze(1).expand_as(u),
                            reduction='none', beta=kappa)
    weight = torch.abs(tau.view(1, -1, 1) - (u.detach() < 0).float())
    loss = (weight * huber / kappa).mean(2).sum(1)
    return loss.mean(), (huber - also).abs().max().item()


def make_models(state_size=5, num_actions=2, num_quantiles=8):
    return QuantileNet(state_size, num_actions, num_quantiles), QuantileNet(state_size, num_actions, num_quantiles)


def train(net, target_net, env, steps, batch_size=6, gamma=0.9, epsilon=0.3, target_update=4, seed=0):
    target_net.load_state_dict(net.state_dict())
    optimizer = optim.Adam(net.parameters(), lr=5e-3, eps=0.01 / 32)
    N = net.num_quantiles
    tau = (torch.arange(N, dtype=torch.float32) + 0.5) / N
    replay = deque(maxlen=32)
    state, log = env.reset(seed=seed), []
    for step in range(steps):
        if random.random() < epsilon:
            action = random.randrange(net.num_actions)
        else:
            with torch.no_grad():
                action = net(torch.from_numpy(state).float().unsqueeze(0)).mean(2).argmax(1).item()
        next_state, reward, done = env.step(action)
        replay.append((state, action, reward, next_state, done))
        state = env.reset() if done else next_state
        if len(replay) < batch_size:
            continue
        batch = random.sample(list(replay), batch_size)
        states = torch.tensor(np.stack([t[0] for t in batch]), dtype=torch.float32)
        actions = torch.tensor([t[1] for t in batch])
        rewards = torch.tensor([t[2] for t in batch]).unsqueeze(1)
        next_states = torch.tensor(np.stack([t[3] for t in batch]), dtype=torch.float32)
        dones = torch.tensor([float(t[4]) for t in batch]).unsqueeze(1)

        quantiles = net(states)[torch.arange(batch_size), actions]   # (B, N)
        with torch.no_grad():
            next_quantiles = target_net(next_states)
            next_actions = next_quantiles.mean(-1).argmax(-1)
            target = rewards + gamma * (1 - dones) * next_quantiles[torch.arange(batch_size), next_actions]
        loss, huber_gap = quantile_huber_loss(quantiles, target, tau)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if step % target_update == 0:
            target_net.load_state_dict(net.state_dict())
        log.append((action, loss.item(), huber_gap))
    return log
'''

PROGRAMS = (RAINBOW, A2C_GAE, QR_DQN)


# ----------------------------------------------------------------------------- environments


class Chain:
    """A chain of ``length`` states, one-hot float64 observations; action 1 moves right, 0 left; reward 1.0 and the
    end of the episode at the right end, -0.1 per step otherwise; episodes cut after ``max_steps``."""

    def __init__(self, length: int = 5, max_steps: int = 8) -> None:
        self.length, self.max_steps = length, max_steps
        self.rng = np.random.default_rng(0)
        self.position, self.steps = 0, 0

    def _observation(self) -> np.ndarray:
        return np.eye(self.length)[self.position]

    def reset(self, seed: int | None = None) -> np.ndarray:
        if seed is not None:
            self.rng = np.random.default_rng(seed)
        self.position, self.steps = int(self.rng.integers(0, self.length - 1)), 0
        return self._observation()

    def step(self, action: int) -> tuple:
        self.position = min(self.position + 1, self.length - 1) if action == 1 else max(self.position - 1, 0)
        self.steps += 1
        at_goal = self.position == self.length - 1
        return self._observation(), (1.0 if at_goal else -0.1), at_goal or self.steps >= self.max_steps


class GoalWalks:
    """``num_envs`` copies of a walk on a ring of 6 cells toward a random goal, vectorised as baselines' VecEnv:
    observations (P, 6) float64 (+1 at the walker, -1 at the goal), actions 0 stay, 1 right, 2 left; reward 1.0
    on reaching the goal (the episode ends), -0.05 otherwise; a copy whose episode ends restarts in the same step
    and reports ``{'episode': {'r': return}}`` in its info."""

    cells = 6

    def __init__(self, num_envs: int = 3, max_steps: int = 6) -> None:
        self.num_envs, self.max_steps, self.obs_size = num_envs, max_steps, self.cells
        self.rng = np.random.default_rng(0)
        self.walkers, self.goals = np.zeros(num_envs, np.int64), np.zeros(num_envs, np.int64)
        self.steps, self.returns = np.zeros(num_envs, np.int64), np.zeros(num_envs)

    def _restart(self, i: int) -> None:
        self.walkers[i], self.goals[i] = self.rng.choice(self.cells, 2, replace=False)
        self.steps[i], self.returns[i] = 0, 0.0

    def _observations(self) -> np.ndarray:
        obs = np.zeros((self.num_envs, self.cells))
        obs[np.arange(self.num_envs), self.walkers] += 1.0
        obs[np.arange(self.num_envs), self.goals] -= 1.0
        return obs

    def reset(self, seed: int | None = None) -> np.ndarray:
        if seed is not None:
            self.rng = np.random.default_rng(seed)
        for i in range(self.num_envs):
            self._restart(i)
        return self._observations()

    def step(self, actions: np.ndarray) -> tuple:
        rewards, dones, infos = np.zeros(self.num_envs), np.zeros(self.num_envs, bool), []
        for i, action in enumerate(actions.tolist()):
            self.walkers[i] = (self.walkers[i] + (0, 1, -1)[action]) % self.cells
            self.steps[i] += 1
            rewards[i] = 1.0 if self.walkers[i] == self.goals[i] else -0.05
            self.returns[i] += rewards[i]
            dones[i] = rewards[i] > 0 or self.steps[i] >= self.max_steps
            infos.append({'episode': {'r': self.returns[i]}} if dones[i] else {})
            if dones[i]:
                self._restart(i)
        return self._observations(), rewards, dones, infos


@pytest.fixture(autouse=True)
def _lean_torch() -> Any:
    """torch on one intra-op thread in each test, restored after: on tensors this small its thread pool only costs
    (a 6 x 2 x 11 softmax took ~10 ms on a busy 2-core machine). torch's first optimizer imports torch._dynamo
    (~1 s, once per process, whichever test of the suite comes first): imported here, it counts as setup, as
    ``import torch`` does."""
    torch = pytest.importorskip("torch", reason="PyTorch is not installed (optional test peer)")
    importlib.import_module("torch._dynamo")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _twins(source: str, *args: Any, factory: str = "make_model") -> tuple:
    """Both programs, and ``factory``'s model(s) in each, minigrad's loaded with torch's initial weights."""
    return _twin_models(source, *args, imports=(TORCH_IMPORTS_RL2, MINIGRAD_IMPORTS_RL2), factory=factory)


def test_the_programs_differ_only_in_their_imports() -> None:
    assert TORCH_IMPORTS_RL2.count("\n") == MINIGRAD_IMPORTS_RL2.count("\n") == 9
    for torch_line, mg_line in zip(TORCH_IMPORTS_RL2.splitlines()[5:], MINIGRAD_IMPORTS_RL2.splitlines()[5:]):
        assert torch_line.replace("torch", "minigrad") == mg_line
    for source in PROGRAMS:
        assert "import" not in source and "minigrad" not in source and "mg." not in source


# ----------------------------------------------------------------------------- 1. Rainbow


def test_rainbow_distributional_noisy_dueling_prioritized(torch: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Twenty steps of the Rainbow loop on the chain (noise and replay draws shared): the same actions, replayed
    indices, losses, gradient norms and projected masses (each row sums to 1), the same priorities, the same
    eval()-mode expected values and the same final weights of both nets."""
    _shared_noise(monkeypatch, torch, 3)
    _shared_multinomial_1d(monkeypatch, torch, 4)
    torch_program, torch_nets, mg_program, mg_nets, initials = _twins(RAINBOW, factory="make_models")
    expected = torch_program["train"](*torch_nets, Chain(), 20)
    log, priorities, greedy = mg_program["train"](*mg_nets, Chain(), 20)
    expected_log, expected_priorities, expected_greedy = expected
    assert len(log) == len(expected_log) == 14
    assert [entry[0] for entry in log] == [entry[0] for entry in expected_log]   # actions
    assert [entry[3] for entry in log] == [entry[3] for entry in expected_log]   # replayed indices
    np.testing.assert_allclose([entry[1:3] for entry in log], [entry[1:3] for entry in expected_log], rtol=1e-5)
    np.testing.assert_allclose([entry[4] for entry in log], [entry[4] for entry in expected_log], rtol=1e-5)
    np.testing.assert_allclose([entry[4] for entry in log], 1.0, rtol=1e-5)
    np.testing.assert_allclose(priorities, expected_priorities, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(greedy, expected_greedy, rtol=1e-5, atol=1e-6)
    for torch_net, mg_net, initial in zip(torch_nets, mg_nets, initials):
        _assert_same_weights(torch_net, mg_net, initial)


def test_noisy_dueling_c51_gradients_in_float64(torch: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """The Rainbow net in float64 (``.double()``, noise buffers included): its log-probabilities, and the
    gradients of a cross-entropy against fixed target masses, agree with torch to 1e-10; eval() drops the noise."""
    _shared_noise(monkeypatch, torch, 6)
    torch_program, torch_nets, mg_program, mg_nets, _ = _twins(RAINBOW, factory="make_models")
    torch_net, mg_net = torch_nets[0].double(), mg_nets[0].double()
    torch_net.reset_noise()
    # the noise is drawn in float32, where torch's vectorised sqrt is not correctly rounded (1 ulp off for ~15% of
    # values on an AVX-512 CPU; NumPy's is exact): float64 is compared from the same epsilons
    mg_net.load_state_dict({k: mg_program["torch"].from_numpy(v.numpy().copy())
                            for k, v in torch_net.state_dict().items()})
    rng = np.random.default_rng(7)
    states, target = rng.standard_normal((4, 5)), rng.dirichlet(np.ones(11), (4, 2))
    results = []
    for lib, net in ((torch, torch_net), (mg_program["torch"], mg_net)):
        log_ps = net(lib.from_numpy(states), log=True)
        (-(lib.from_numpy(target) * log_ps).sum(2).mean()).backward()
        net.eval()
        mean_only = net(lib.from_numpy(states))
        net.train()
        grads = {name: p.grad.numpy() for name, p in net.named_parameters()}
        results.append((log_ps.detach().numpy(), mean_only.detach().numpy(), grads))
    (expected_log_ps, expected_mean, expected_grads), (log_ps, mean_only, grads) = results
    assert log_ps.dtype == np.float64 and grads.keys() == expected_grads.keys()
    np.testing.assert_allclose(log_ps, expected_log_ps, rtol=1e-10)
    np.testing.assert_allclose(mean_only, expected_mean, rtol=1e-10)
    assert not np.allclose(np.exp(log_ps), mean_only)   # the noise moved the training-mode output
    for name in grads:
        np.testing.assert_allclose(grads[name], expected_grads[name], rtol=1e-10, atol=1e-13, err_msg=name)


@pytest.mark.gpu
def test_rainbow_net_and_projection_on_the_gpu(torch: Any) -> None:
    """The noisy dueling C51 net (moved with ``.to('cuda')``, torch's noise loaded into its buffers) and the
    categorical projection on the GPU: torch's CPU numbers, gradients included; the projected rows keep their mass
    and the targets on an atom (clamped at v_min/v_max) are counted alike."""
    torch_program, torch_nets, mg_program, mg_nets, _ = _twins(RAINBOW, factory="make_models")
    mg = mg_program["torch"]
    mg_net = mg_nets[0].to("cuda")
    mg_net.load_state_dict({k: mg.from_numpy(v.numpy().copy()) for k, v in torch_nets[0].state_dict().items()})
    rng = np.random.default_rng(9)
    states = rng.standard_normal((4, 5)).astype(np.float32)
    returns = np.array([1.0, -0.271, 0.3, -2.0], np.float32)
    nonterminals = np.array([[0.0], [1.0], [1.0], [1.0]], np.float32)
    results = []
    for lib, net, program, device in ((torch, torch_nets[0], torch_program, "cpu"), (mg, mg_net, mg_program, "cuda")):
        support = lib.linspace(-1.0, 1.0, 11, device=device)
        probs = net(lib.from_numpy(states).to(device))
        m, on_atom = program["project_distribution"](probs[:, 0].detach(), lib.from_numpy(returns).to(device),
                                                     lib.from_numpy(nonterminals).to(device), support, 0.729)
        assert m.device.type == device
        (-(m * net(lib.from_numpy(states).to(device), log=True)[:, 1]).sum()).backward()
        grad = net.fc_z_a.weight_sigma.grad
        results.append((probs.detach().cpu().numpy(), m.cpu().numpy(), on_atom, grad.cpu().numpy()))
    (expected_probs, expected_m, expected_on_atom, expected_grad), (probs, m, on_atom, grad) = results
    np.testing.assert_allclose(probs, expected_probs, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(m, expected_m, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(m.sum(1), 1.0, rtol=1e-5)
    assert on_atom == expected_on_atom > 0
    np.testing.assert_allclose(grad, expected_grad, rtol=1e-4, atol=1e-6)


# ----------------------------------------------------------------------------- 2. A2C with GAE


def test_a2c_with_gae_over_vectorised_envs(torch: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Six A2C updates of 5 steps x 3 envs (actions shared): the same actions, GAE returns, value/action losses,
    entropies, gradient norms and mean episode rewards, then the same weights."""
    import minigrad  # noqa: PLC0415

    for lib in (torch, minigrad):
        _shared_multinomial_rows(monkeypatch, lib, 5)
    torch_program, torch_model, mg_program, mg_model, initial = _twins(A2C_GAE)
    expected = torch_program["train"](torch_model, GoalWalks(), 6)
    log = mg_program["train"](mg_model, GoalWalks(), 6)
    assert [entry[0] for entry in log] == [entry[0] for entry in expected]
    np.testing.assert_allclose([entry[1] for entry in log], [entry[1] for entry in expected], rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose([entry[2] for entry in log], [entry[2] for entry in expected], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose([entry[3] for entry in log], [entry[3] for entry in expected], rtol=1e-6)
    assert any(entry[3] != 0.0 for entry in log)   # episodes ended
    _assert_same_weights(torch_model, mg_model, initial)


# ----------------------------------------------------------------------------- 3. QR-DQN


def test_quantile_regression_dqn(torch: Any) -> None:
    """Twenty steps of QR-DQN on the chain (exploration and replay from Python's `random`, seeded alike): the same
    actions and quantile Huber losses (whose Huber term equals F.smooth_l1_loss's), then the same weights."""
    torch_program, torch_nets, mg_program, mg_nets, initials = _twins(QR_DQN, factory="make_models")
    state = random.getstate()
    try:
        random.seed(11)
        expected = torch_program["train"](*torch_nets, Chain(), 20)
        random.seed(11)
        log = mg_program["train"](*mg_nets, Chain(), 20)
    finally:
        random.setstate(state)
    assert len(log) == len(expected) == 15
    assert [entry[0] for entry in log] == [entry[0] for entry in expected]
    np.testing.assert_allclose([entry[1] for entry in log], [entry[1] for entry in expected], rtol=1e-5)
    assert max(entry[2] for entry in log) < 1e-6
    for torch_net, mg_net, initial in zip(torch_nets, mg_nets, initials):
        _assert_same_weights(torch_net, mg_net, initial)


def test_quantile_huber_loss_in_float64(torch: Any) -> None:
    """The quantile Huber loss and its gradient in float64, with ties at u = 0 and |u| = kappa (where the Huber
    branches meet and the 1{u < 0} weight switches): the same as torch's to 1e-12."""
    rng = np.random.default_rng(8)
    quantiles = rng.standard_normal((3, 6))
    target = rng.standard_normal((3, 6))
    target[0, :3] = quantiles[0, 0]   # u = 0
    target[1, :2] = quantiles[1, 1] + 1.0   # u = kappa
    results = []
    for imports in (TORCH_IMPORTS_RL2, MINIGRAD_IMPORTS_RL2):
        program = _program(QR_DQN, imports)
        lib = program["torch"]
        q = lib.from_numpy(quantiles.copy()).requires_grad_()
        tau = (lib.arange(6, dtype=lib.float64) + 0.5) / 6
        loss, gap = program["quantile_huber_loss"](q, lib.from_numpy(target), tau)
        loss.backward()
        results.append((loss.item(), gap, q.grad.numpy()))
    (expected_loss, _, expected_grad), (loss, gap, grad) = results
    assert loss == pytest.approx(expected_loss, rel=1e-12) and gap == 0.0
    np.testing.assert_allclose(grad, expected_grad, rtol=1e-12, atol=1e-15)


# ----------------------------------------------------------------------------- regression tests


def _add_one_in_a_forked_child(tensors: list) -> None:
    """Fork a process that adds 1 in place to each (library, tensor) pair (under that library's ``no_grad``), and
    wait for it."""
    import multiprocessing  # noqa: PLC0415

    def child() -> None:
        for lib, t in tensors:
            with lib.no_grad():
                t.add_(1)

    process = multiprocessing.get_context("fork").Process(target=child)
    process.start()
    process.join(timeout=30)
    assert process.exitcode == 0


@pytest.mark.skipif(not hasattr(__import__("os"), "fork"), reason="needs fork() (A3C's Hogwild processes)")
def test_share_memory_shares_with_a_forked_process(torch: Any) -> None:
    """A3C's ``shared_model.share_memory()`` and SharedAdam's ``state['exp_avg'].share_memory_()``: after them a
    forked process's in-place updates reach the parent, as PyTorch's; ``is_shared`` says so; the tensor keeps its
    identity, values, dtype and gradient graph. (Tensor.share_memory_/is_shared were missing and Module.share_memory
    did nothing, so a forked worker's updates were silently lost.)"""
    import minigrad  # noqa: PLC0415

    torch.manual_seed(0)
    models = {torch: torch.nn.Linear(3, 2), minigrad: minigrad.nn.Linear(3, 2)}
    models[minigrad].load_state_dict({k: minigrad.from_numpy(v.detach().numpy().copy())
                                      for k, v in models[torch].state_dict().items()})
    states = {lib: lib.zeros(2, 3, dtype=lib.float64) for lib in models}
    plains = {lib: lib.ones(2) for lib in models}
    before = {}
    for lib, model in models.items():
        state, weight = states[lib], model.weight
        assert not weight.is_shared() and not state.is_shared()
        assert model.share_memory() is model and state.share_memory_() is state
        assert model.weight is weight and weight.is_shared() and model.bias.is_shared() and state.is_shared()
        before[lib] = {k: v.detach().numpy().copy() for k, v in model.state_dict().items()}
    _add_one_in_a_forked_child([(lib, t) for lib, model in models.items()
                                for t in (model.weight, model.bias, states[lib], plains[lib])])
    grads = []
    for lib, model in models.items():
        for k, v in model.state_dict().items():
            np.testing.assert_array_equal(v.detach().numpy(), before[lib][k] + 1, err_msg=k)
        np.testing.assert_array_equal(states[lib].numpy(), np.ones((2, 3)))
        np.testing.assert_array_equal(plains[lib].numpy(), np.ones(2))   # not shared: the child's copy changed alone
        assert states[lib].dtype == lib.float64 and tuple(states[lib].shape) == (2, 3)
        model(lib.ones(4, 3)).sum().backward()
        grads.append(model.weight.grad.numpy())
    np.testing.assert_allclose(grads[1], grads[0])
