"""CleanRL's PPO (discrete and continuous actions) and SAC, small, run unchanged on minigrad: only the imports differ.

Each program is our own rewrite of a well-known public PyTorch program, with the original's PyTorch calls and
habits in the same roles, our own names and comments, a short run on a tiny environment (the helpers and the
rule come from tests/test_pytorch_programs.py):

* ``PPO_DISCRETE`` mirrors CleanRL's ``ppo.py`` (https://github.com/vwxyzjn/cleanrl/blob/master/cleanrl/ppo.py):
  a ``@dataclass`` of arguments, ``layer_init`` with ``torch.nn.init.orthogonal_(layer.weight, std)`` and
  ``constant_``, an ``Agent`` of separate critic and actor ``nn.Sequential``s with ``nn.Tanh`` whose first Linear
  takes ``np.array(shape).prod()`` (a NumPy integer), ``Categorical(logits=logits)``; rollout storage
  ``torch.zeros((num_steps, num_envs) + obs_shape)``, ``torch.Tensor(next_obs)`` (float32 from a NumPy array,
  booleans included), ``torch.tensor(reward).to(device).view(-1)`` written into float32 storage, GAE in a
  reversed Python loop (``nextnonterminal = 1.0 - dones[t + 1]``, ``advantages[t] = lastgaelam = ...`` where the
  last step's ``next_value.reshape(1, -1)`` is (1, num_envs)), ``b_obs = obs.reshape((-1,) + obs_shape)``,
  minibatches indexed by a NumPy array shuffled with ``np.random.shuffle``, ``b_actions.long()[mb_inds]``,
  ``logratio.exp()``, ``approx_kl = ((ratio - 1) - logratio).mean()``,
  ``clipfracs += [((ratio - 1.0).abs() > clip_coef).float().mean().item()]``, advantage normalisation with
  ``std()``, ``torch.max(pg_loss1, pg_loss2).mean()``, the clipped value loss with ``torch.clamp``,
  ``nn.utils.clip_grad_norm_``, learning-rate annealing through ``optimizer.param_groups[0]["lr"]``,
  ``Adam(eps=1e-5)``, ``approx_kl > target_kl`` as an ``if`` condition, the explained variance with ``np.var``;
* ``PPO_CONTINUOUS`` mirrors ``ppo_continuous_action.py`` of the same repository: the same loop with a Gaussian
  policy, ``actor_logstd = nn.Parameter(torch.zeros(1, act_dim))`` broadcast by ``expand_as(action_mean)``,
  ``Normal(action_mean, action_std)``, ``probs.log_prob(action).sum(1)``, ``probs.entropy().sum(1)``;
* ``SAC`` mirrors ``sac_continuous_action.py`` of the same repository: twin ``SoftQNetwork``s over
  ``torch.cat([x, a], 1)`` and their target copies loaded with ``load_state_dict``, a tanh-squashed Gaussian
  actor (``LOG_STD_MIN``/``MAX`` rescaling of ``torch.tanh(log_std)``, ``register_buffer`` of the action scale
  and bias, ``rsample()``, ``log_prob -= torch.log(action_scale * (1 - y_t.pow(2)) + 1e-6)`` in place, then
  ``.sum(1, keepdim=True)``), automatic entropy tuning (``target_entropy =
  -torch.prod(torch.Tensor(action_shape)).item()``, ``log_alpha = torch.zeros(1, requires_grad=True)`` with its
  own Adam), ``torch.min(qf1, qf2)``, ``F.mse_loss``, delayed policy updates, and a replay buffer written as
  stable-baselines3's (NumPy storage, ``np.random.randint`` batches, ``torch.tensor(array, device=...)``).
  CleanRL's soft update ``target_param.data.copy_(tau * param.data + (1 - tau) * target_param.data)`` relies on
  ``.data`` being a tensor; minigrad's ``.data`` is the NumPy array (README, "Coming from PyTorch"), so the
  program writes PyTorch's equivalents: ``with torch.no_grad(): target_param.copy_(...)`` for the first Q network
  and ``target_param.lerp_(param, tau)`` for the second.

The environments are written below in NumPy with the gymnasium vector-environment calls the programs make
(``single_observation_space``/``single_action_space``, ``reset(seed=...)``, ``step`` with same-step autoreset,
``final_observation``/``final_info``): a 3x3 gridworld with one-hot observations and four actions, and a 1-D
point mass pushed by a force in [-2, 2]; both deterministic for a seed and an action sequence.

Random draws: ``Categorical.sample`` reads ``multinomial`` in both libraries, made to read one NumPy stream by the
inverse CDF of each engine's own probabilities (``_shared_multinomial``); ``Normal.sample``/``rsample`` of both
read ``loc + eps * scale`` with ``eps`` from one NumPy stream (``_shared_normal_draws``), so each engine transforms
the same noise by its own parameters and the two runs take the same actions. NumPy's global generator (the
minibatch shuffles and replay batches) and Python's ``random`` are seeded by the programs themselves, as CleanRL
does; the tests restore both afterwards.

Beside them: the continuous programs on minigrad's own generator, and CleanRL's ``.data`` soft-update line
against the README's spellings. The regression test at the end covers what the probes around the programs
found: ``x[i] = value`` with a one-element value of shape (1,) (or (1, 1)) into a single element (as
``returns[t] = R`` does with a one-element ``R``), which PyTorch accepts (it drops the value's leading 1s) and
NumPy refuses.

The programs run under ``_program``, whose ``compile`` inherits this package's ``from __future__ import
annotations``: the ``@dataclass`` fields' annotations are then strings, which dataclasses resolves through
``sys.modules["program"]``; the fixture ``global_generators`` registers an empty module of that name.
"""

from __future__ import annotations

import random
import sys
import types
from typing import Any

import numpy as np
import pytest

from tests.test_pytorch_programs import (
    MINIGRAD_IMPORTS,
    TORCH_IMPORTS,
    _assert_same_weights,
    _twin_models,
)
from tests.test_pytorch_programs_rl import _shared_multinomial

# the extra lines CleanRL's files import with; each line names the same thing in both
TORCH_IMPORTS_PPO = TORCH_IMPORTS + """\
import random
import numpy as np
from collections import namedtuple
from dataclasses import dataclass
import torch.optim as optim
from torch.distributions.categorical import Categorical
from torch.distributions.normal import Normal
"""

MINIGRAD_IMPORTS_PPO = MINIGRAD_IMPORTS + """\
import random
import numpy as np
from collections import namedtuple
from dataclasses import dataclass
import minigrad.optim as optim
from minigrad.distributions.categorical import Categorical
from minigrad.distributions.normal import Normal
"""


PPO_ARGS_AND_INIT = '''
@dataclass
class Args:
    seed: int = 1
    torch_deterministic: bool = True
    cuda: bool = False
    total_timesteps: int = 48
    learning_rate: float = 2.5e-4
    num_envs: int = 2
    num_steps: int = 8
    anneal_lr: bool = True
    gamma: float = 0.99
    gae_lambda: float = 0.95
    num_minibatches: int = 4
    update_epochs: int = 2
    norm_adv: bool = True
    clip_coef: float = 0.2
    clip_vloss: bool = True
    ent_coef: float = 0.01
    vf_coef: float = 0.5
    max_grad_norm: float = 0.5
    target_kl: float = None
    # filled in at run time
    batch_size: int = 0
    minibatch_size: int = 0
    num_iterations: int = 0


def layer_init(layer, std=np.sqrt(2), bias_const=0.0):
    """Orthogonal weights of gain ``std`` and a constant bias, in place; the layer is returned for nesting."""
    torch.nn.init.orthogonal_(layer.weight, std)
    torch.nn.init.constant_(layer.bias, bias_const)
    return layer
'''

PPO_DISCRETE_AGENT = '''
class Agent(nn.Module):
    """Observations (B, obs) to an action sampled from the categorical policy, its log-probability (B,), the
    policy's entropy (B,) and the state value (B, 1); actor and critic share nothing."""

    def __init__(self, envs, hidden=64):
        super().__init__()
        obs_size = np.array(envs.single_observation_space.shape).prod()
        self.critic = nn.Sequential(
            layer_init(nn.Linear(obs_size, hidden)),
            nn.Tanh(),
            layer_init(nn.Linear(hidden, hidden)),
            nn.Tanh(),
            layer_init(nn.Linear(hidden, 1), std=1.0),
        )
        self.actor = nn.Sequential(
            layer_init(nn.Linear(obs_size, hidden)),
            nn.Tanh(),
            layer_init(nn.Linear(hidden, hidden)),
            nn.Tanh(),
            layer_init(nn.Linear(hidden, envs.single_action_space.n), std=0.01),
        )

    def get_value(self, x):
        return self.critic(x)

    def get_action_and_value(self, x, action=None):
        logits = self.actor(x)
        probs = Categorical(logits=logits)
        if action is None:
            action = probs.sample()
        return action, probs.log_prob(action), probs.entropy(), self.critic(x)


def make_model(envs, hidden=64):
    return Agent(envs, hidden)
'''

PPO_CONTINUOUS_AGENT = '''
class Agent(nn.Module):
    """Observations (B, obs) to an action (B, act) from a diagonal Gaussian whose log std is one learned row,
    its log-probability and entropy summed over the action dims (B,), and the state value (B, 1)."""

    def __init__(self, envs, hidden=64):
        super().__init__()
        obs_size = np.array(envs.single_observation_space.shape).prod()
        act_size = np.prod(envs.single_action_space.shape)
        self.critic = nn.Sequential(
            layer_init(nn.Linear(obs_size, hidden)),
            nn.Tanh(),
            layer_init(nn.Linear(hidden, hidden)),
            nn.Tanh(),
            layer_init(nn.Linear(hidden, 1), std=1.0),
        )
        self.actor_mean = nn.Sequential(
            layer_init(nn.Linear(obs_size, hidden)),
            nn.Tanh(),
            layer_init(nn.Linear(hidden, hidden)),
            nn.Tanh(),
            layer_init(nn.Linear(hidden, act_size), std=0.01),
        )
        self.actor_logstd = nn.Parameter(torch.zeros(1, act_size))

    def get_value(self, x):
        return self.critic(x)

    def get_action_and_value(self, x, action=None):
        action_mean = self.actor_mean(x)
        action_logstd = self.actor_logstd.expand_as(action_mean)
        action_std = torch.exp(action_logstd)
        probs = Normal(action_mean, action_std)
        if action is None:
            action = probs.sample()
        return action, probs.log_prob(action).sum(1), probs.entropy().sum(1), self.critic(x)


def make_model(envs, hidden=64):
    return Agent(envs, hidden)
'''

PPO_TRAINING = '''
def train(args, envs, agent):
    """CleanRL's PPO loop: rollouts of num_steps x num_envs, GAE, update_epochs of shuffled minibatches.
    Returns a log of the per-minibatch losses and per-iteration statistics."""
    args.batch_size = int(args.num_envs * args.num_steps)
    args.minibatch_size = int(args.batch_size // args.num_minibatches)
    args.num_iterations = args.total_timesteps // args.batch_size

    random.seed(args.seed)
    np.random.seed(args.seed)
    torch.manual_seed(args.seed)
    torch.backends.cudnn.deterministic = args.torch_deterministic
    device = torch.device("cuda" if torch.cuda.is_available() and args.cuda else "cpu")

    agent = agent.to(device)
    optimizer = optim.Adam(agent.parameters(), lr=args.learning_rate, eps=1e-5)

    # rollout storage
    obs = torch.zeros((args.num_steps, args.num_envs) + envs.single_observation_space.shape).to(device)
    actions = torch.zeros((args.num_steps, args.num_envs) + envs.single_action_space.shape).to(device)
    logprobs = torch.zeros((args.num_steps, args.num_envs)).to(device)
    rewards = torch.zeros((args.num_steps, args.num_envs)).to(device)
    dones = torch.zeros((args.num_steps, args.num_envs)).to(device)
    values = torch.zeros((args.num_steps, args.num_envs)).to(device)

    log = {key: [] for key in ("lr", "actions", "episodic_return", "value_loss", "policy_loss", "entropy",
                               "old_approx_kl", "approx_kl", "clipfrac", "explained_variance", "advantages")}
    global_step = 0
    next_obs, _ = envs.reset(seed=args.seed)
    next_obs = torch.Tensor(next_obs).to(device)
    next_done = torch.zeros(args.num_envs).to(device)

    for iteration in range(1, args.num_iterations + 1):
        if args.anneal_lr:
            frac = 1.0 - (iteration - 1.0) / args.num_iterations
            lrnow = frac * args.learning_rate
            optimizer.param_groups[0]["lr"] = lrnow

        for step in range(0, args.num_steps):
            global_step += args.num_envs
            obs[step] = next_obs
            dones[step] = next_done

            with torch.no_grad():
                action, logprob, _, value = agent.get_action_and_value(next_obs)
                values[step] = value.flatten()
            actions[step] = action
            logprobs[step] = logprob

            next_obs, reward, terminations, truncations, infos = envs.step(action.cpu().numpy())
            next_done = np.logical_or(terminations, truncations)
            rewards[step] = torch.tensor(reward).to(device).view(-1)
            next_obs, next_done = torch.Tensor(next_obs).to(device), torch.Tensor(next_done).to(device)

            if "final_info" in infos:
                for info in infos["final_info"]:
                    if info and "episode" in info:
                        log["episodic_return"].append((global_step, float(info["episode"]["r"][0])))

        # generalised advantage estimation, bootstrapped from the value of the state after the rollout
        with torch.no_grad():
            next_value = agent.get_value(next_obs).reshape(1, -1)
            advantages = torch.zeros_like(rewards).to(device)
            lastgaelam = 0
            for t in reversed(range(args.num_steps)):
                if t == args.num_steps - 1:
                    nextnonterminal = 1.0 - next_done
                    nextvalues = next_value
                else:
                    nextnonterminal = 1.0 - dones[t + 1]
                    nextvalues = values[t + 1]
                delta = rewards[t] + args.gamma * nextvalues * nextnonterminal - values[t]
                advantages[t] = lastgaelam = delta + args.gamma * args.gae_lambda * nextnonterminal * lastgaelam
            returns = advantages + values

        b_obs = obs.reshape((-1,) + envs.single_observation_space.shape)
        b_logprobs = logprobs.reshape(-1)
        b_actions = actions.reshape((-1,) + envs.single_action_space.shape)
        b_advantages = advantages.reshape(-1)
        b_returns = returns.reshape(-1)
        b_values = values.reshape(-1)

        b_inds = np.arange(args.batch_size)
        clipfracs = []
        for epoch in range(args.update_epochs):
            np.random.shuffle(b_inds)
            for start in range(0, args.batch_size, args.minibatch_size):
                end = start + args.minibatch_size
                mb_inds = b_inds[start:end]

                _, newlogprob, entropy, newvalue = agent.get_action_and_value(b_obs[mb_inds], STORED_ACTIONS[mb_inds])
                logratio = newlogprob - b_logprobs[mb_inds]
                ratio = logratio.exp()

                with torch.no_grad():
                    old_approx_kl = (-logratio).mean()
                    approx_kl = ((ratio - 1) - logratio).mean()
                    clipfracs += [((ratio - 1.0).abs() > args.clip_coef).float().mean().item()]

                mb_advantages = b_advantages[mb_inds]
                if args.norm_adv:
                    mb_advantages = (mb_advantages - mb_advantages.mean()) / (mb_advantages.std() + 1e-8)

                # clipped surrogate objective
                pg_loss1 = -mb_advantages * ratio
                pg_loss2 = -mb_advantages * torch.clamp(ratio, 1 - args.clip_coef, 1 + args.clip_coef)
                pg_loss = torch.max(pg_loss1, pg_loss2).mean()

                newvalue = newvalue.view(-1)
                if args.clip_vloss:
                    v_loss_unclipped = (newvalue - b_returns[mb_inds]) ** 2
                    v_clipped = b_values[mb_inds] + torch.clamp(
                        newvalue - b_values[mb_inds],
                        -args.clip_coef,
                        args.clip_coef,
                    )
                    v_loss_clipped = (v_clipped - b_returns[mb_inds]) ** 2
                    v_loss_max = torch.max(v_loss_unclipped, v_loss_clipped)
                    v_loss = 0.5 * v_loss_max.mean()
                else:
                    v_loss = 0.5 * ((newvalue - b_returns[mb_inds]) ** 2).mean()

                entropy_loss = entropy.mean()
                loss = pg_loss - args.ent_coef * entropy_loss + v_loss * args.vf_coef

                optimizer.zero_grad()
                loss.backward()
                nn.utils.clip_grad_norm_(agent.parameters(), args.max_grad_norm)
                optimizer.step()

                log["value_loss"].append(v_loss.item())
                log["policy_loss"].append(pg_loss.item())
                log["entropy"].append(entropy_loss.item())
                log["old_approx_kl"].append(old_approx_kl.item())
                log["approx_kl"].append(approx_kl.item())

            if args.target_kl is not None and approx_kl > args.target_kl:
                break

        y_pred, y_true = b_values.cpu().numpy(), b_returns.cpu().numpy()
        var_y = np.var(y_true)
        explained_var = np.nan if var_y == 0 else 1 - np.var(y_true - y_pred) / var_y

        log["lr"].append(optimizer.param_groups[0]["lr"])
        log["clipfrac"].append(np.mean(clipfracs))
        log["explained_variance"].append(explained_var)
        log["actions"].append(actions.cpu().numpy().copy())
        log["advantages"].append(advantages.cpu().numpy().copy())
    return log
'''

PPO_DISCRETE = PPO_ARGS_AND_INIT + PPO_DISCRETE_AGENT + PPO_TRAINING.replace("STORED_ACTIONS", "b_actions.long()")
PPO_CONTINUOUS = PPO_ARGS_AND_INIT + PPO_CONTINUOUS_AGENT + PPO_TRAINING.replace("STORED_ACTIONS", "b_actions")


SAC = '''
@dataclass
class Args:
    seed: int = 1
    torch_deterministic: bool = True
    cuda: bool = False
    num_envs: int = 1
    total_timesteps: int = 16
    buffer_size: int = 1000
    gamma: float = 0.99
    tau: float = 0.005
    batch_size: int = 8
    learning_starts: int = 4
    policy_lr: float = 3e-4
    q_lr: float = 1e-3
    policy_frequency: int = 2
    target_network_frequency: int = 1
    alpha: float = 0.2
    autotune: bool = True


ReplayBufferSamples = namedtuple("ReplayBufferSamples",
                                 ["observations", "actions", "next_observations", "dones", "rewards"])


class ReplayBuffer:
    """A ring of transitions in NumPy arrays (buffer_size, n_envs, ...) as stable-baselines3 keeps them;
    ``sample`` draws (step, env) pairs with NumPy's global generator and returns tensors on ``device``."""

    def __init__(self, buffer_size, observation_space, action_space, device, n_envs=1):
        self.buffer_size = max(buffer_size // n_envs, 1)
        self.device, self.n_envs = device, n_envs
        self.observations = np.zeros((self.buffer_size, n_envs) + observation_space.shape,
                                     dtype=observation_space.dtype)
        self.next_observations = np.zeros_like(self.observations)
        self.actions = np.zeros((self.buffer_size, n_envs) + action_space.shape, dtype=action_space.dtype)
        self.rewards = np.zeros((self.buffer_size, n_envs), dtype=np.float32)
        self.dones = np.zeros((self.buffer_size, n_envs), dtype=np.float32)
        self.pos, self.full = 0, False

    def add(self, obs, next_obs, action, reward, done, infos):
        self.observations[self.pos] = np.array(obs)
        self.next_observations[self.pos] = np.array(next_obs)
        self.actions[self.pos] = np.array(action)
        self.rewards[self.pos] = np.array(reward)
        self.dones[self.pos] = np.array(done)
        self.pos += 1
        if self.pos == self.buffer_size:
            self.full, self.pos = True, 0

    def sample(self, batch_size):
        upper_bound = self.buffer_size if self.full else self.pos
        batch_inds = np.random.randint(0, upper_bound, size=batch_size)
        env_indices = np.random.randint(0, high=self.n_envs, size=(len(batch_inds),))
        data = (
            self.observations[batch_inds, env_indices, :],
            self.actions[batch_inds, env_indices, :],
            self.next_observations[batch_inds, env_indices, :],
            self.dones[batch_inds, env_indices].reshape(-1, 1),
            self.rewards[batch_inds, env_indices].reshape(-1, 1),
        )
        return ReplayBufferSamples(*tuple(map(self.to_torch, data)))

    def to_torch(self, array):
        return torch.tensor(array, device=self.device)


class SoftQNetwork(nn.Module):
    """(observation (B, obs), action (B, act)) to Q (B, 1)."""

    def __init__(self, env, hidden=256):
        super().__init__()
        self.fc1 = nn.Linear(
            np.array(env.single_observation_space.shape).prod() + np.prod(env.single_action_space.shape),
            hidden,
        )
        self.fc2 = nn.Linear(hidden, hidden)
        self.fc3 = nn.Linear(hidden, 1)

    def forward(self, x, a):
        x = torch.cat([x, a], 1)
        x = F.relu(self.fc1(x))
        x = F.relu(self.fc2(x))
        x = self.fc3(x)
        return x


LOG_STD_MAX = 2
LOG_STD_MIN = -5


class Actor(nn.Module):
    """Observations (B, obs) to the mean and log std (B, act) of a Gaussian squashed by tanh into the action
    box; ``get_action`` samples it with the reparameterisation trick."""

    def __init__(self, env, hidden=256):
        super().__init__()
        self.fc1 = nn.Linear(np.array(env.single_observation_space.shape).prod(), hidden)
        self.fc2 = nn.Linear(hidden, hidden)
        self.fc_mean = nn.Linear(hidden, np.prod(env.single_action_space.shape))
        self.fc_logstd = nn.Linear(hidden, np.prod(env.single_action_space.shape))
        # the tanh output in [-1, 1] is mapped onto [low, high]
        self.register_buffer(
            "action_scale",
            torch.tensor((env.single_action_space.high - env.single_action_space.low) / 2.0, dtype=torch.float32),
        )
        self.register_buffer(
            "action_bias",
            torch.tensor((env.single_action_space.high + env.single_action_space.low) / 2.0, dtype=torch.float32),
        )

    def forward(self, x):
        x = F.relu(self.fc1(x))
        x = F.relu(self.fc2(x))
        mean = self.fc_mean(x)
        log_std = self.fc_logstd(x)
        log_std = torch.tanh(log_std)
        log_std = LOG_STD_MIN + 0.5 * (LOG_STD_MAX - LOG_STD_MIN) * (log_std + 1)   # into [min, max]
        return mean, log_std

    def get_action(self, x):
        mean, log_std = self(x)
        std = log_std.exp()
        normal = torch.distributions.Normal(mean, std)
        x_t = normal.rsample()   # mean + std * N(0, 1): differentiable in mean and std
        y_t = torch.tanh(x_t)
        action = y_t * self.action_scale + self.action_bias
        log_prob = normal.log_prob(x_t)
        # the change of variables through tanh and the scaling
        log_prob -= torch.log(self.action_scale * (1 - y_t.pow(2)) + 1e-6)
        log_prob = log_prob.sum(1, keepdim=True)
        mean = torch.tanh(mean) * self.action_scale + self.action_bias
        return action, log_prob, mean


def make_models(envs, hidden=256):
    actor = Actor(envs, hidden)
    qf1, qf2 = SoftQNetwork(envs, hidden), SoftQNetwork(envs, hidden)
    qf1_target, qf2_target = SoftQNetwork(envs, hidden), SoftQNetwork(envs, hidden)
    return actor, qf1, qf2, qf1_target, qf2_target


def train(args, envs, actor, qf1, qf2, qf1_target, qf2_target):
    """CleanRL's SAC loop: random actions until learning_starts, then one Q update per step, the actor and the
    temperature every policy_frequency steps, Polyak-averaged targets. Returns a log of losses and actions."""
    random.seed(args.seed)
    np.random.seed(args.seed)
    torch.manual_seed(args.seed)
    torch.backends.cudnn.deterministic = args.torch_deterministic
    device = torch.device("cuda" if torch.cuda.is_available() and args.cuda else "cpu")

    qf1_target.load_state_dict(qf1.state_dict())
    qf2_target.load_state_dict(qf2.state_dict())
    q_optimizer = optim.Adam(list(qf1.parameters()) + list(qf2.parameters()), lr=args.q_lr)
    actor_optimizer = optim.Adam(list(actor.parameters()), lr=args.policy_lr)

    if args.autotune:
        target_entropy = -torch.prod(torch.Tensor(envs.single_action_space.shape).to(device)).item()
        log_alpha = torch.zeros(1, requires_grad=True, device=device)
        alpha = log_alpha.exp().item()
        a_optimizer = optim.Adam([log_alpha], lr=args.q_lr)
    else:
        alpha = args.alpha

    envs.single_observation_space.dtype = np.float32
    rb = ReplayBuffer(args.buffer_size, envs.single_observation_space, envs.single_action_space, device,
                      n_envs=args.num_envs)
    log = {key: [] for key in ("actions", "qf1_values", "qf1_loss", "qf2_loss", "actor_loss", "alpha",
                               "alpha_loss", "episodic_return")}

    obs, _ = envs.reset(seed=args.seed)
    for global_step in range(args.total_timesteps):
        if global_step < args.learning_starts:
            actions = np.array([envs.single_action_space.sample() for _ in range(envs.num_envs)])
        else:
            actions, _, _ = actor.get_action(torch.Tensor(obs).to(device))
            actions = actions.detach().cpu().numpy()
        log["actions"].append(actions)

        next_obs, rewards, terminations, truncations, infos = envs.step(actions)
        if "final_info" in infos:
            for info in infos["final_info"]:
                if info is not None:
                    log["episodic_return"].append((global_step, float(info["episode"]["r"][0])))

        # a truncated episode's transition ends in its real last observation, not the reset one
        real_next_obs = next_obs.copy()
        for idx, trunc in enumerate(truncations):
            if trunc:
                real_next_obs[idx] = infos["final_observation"][idx]
        rb.add(obs, real_next_obs, actions, rewards, terminations, infos)
        obs = next_obs

        if global_step > args.learning_starts:
            data = rb.sample(args.batch_size)
            with torch.no_grad():
                next_state_actions, next_state_log_pi, _ = actor.get_action(data.next_observations)
                qf1_next_target = qf1_target(data.next_observations, next_state_actions)
                qf2_next_target = qf2_target(data.next_observations, next_state_actions)
                min_qf_next_target = torch.min(qf1_next_target, qf2_next_target) - alpha * next_state_log_pi
                next_q_value = data.rewards.flatten() + (1 - data.dones.flatten()) * args.gamma * (
                    min_qf_next_target).view(-1)

            qf1_a_values = qf1(data.observations, data.actions).view(-1)
            qf2_a_values = qf2(data.observations, data.actions).view(-1)
            qf1_loss = F.mse_loss(qf1_a_values, next_q_value)
            qf2_loss = F.mse_loss(qf2_a_values, next_q_value)
            qf_loss = qf1_loss + qf2_loss

            q_optimizer.zero_grad()
            qf_loss.backward()
            q_optimizer.step()
            log["qf1_values"].append(qf1_a_values.mean().item())
            log["qf1_loss"].append(qf1_loss.item())
            log["qf2_loss"].append(qf2_loss.item())

            if global_step % args.policy_frequency == 0:   # delayed, as TD3, compensated by more updates
                for _ in range(args.policy_frequency):
                    pi, log_pi, _ = actor.get_action(data.observations)
                    qf1_pi = qf1(data.observations, pi)
                    qf2_pi = qf2(data.observations, pi)
                    min_qf_pi = torch.min(qf1_pi, qf2_pi)
                    actor_loss = ((alpha * log_pi) - min_qf_pi).mean()

                    actor_optimizer.zero_grad()
                    actor_loss.backward()
                    actor_optimizer.step()
                    log["actor_loss"].append(actor_loss.item())

                    if args.autotune:
                        with torch.no_grad():
                            _, log_pi, _ = actor.get_action(data.observations)
                        alpha_loss = (-log_alpha.exp() * (log_pi + target_entropy)).mean()

                        a_optimizer.zero_grad()
                        alpha_loss.backward()
                        a_optimizer.step()
                        alpha = log_alpha.exp().item()
                        log["alpha_loss"].append(alpha_loss.item())
                        log["alpha"].append(alpha)

            if global_step % args.target_network_frequency == 0:
                with torch.no_grad():
                    for param, target_param in zip(qf1.parameters(), qf1_target.parameters()):
                        target_param.copy_(args.tau * param + (1 - args.tau) * target_param)
                    for param, target_param in zip(qf2.parameters(), qf2_target.parameters()):
                        target_param.lerp_(param, args.tau)
    return log
'''

PROGRAMS = (PPO_DISCRETE, PPO_CONTINUOUS, SAC)


# ----------------------------------------------------------------------------- environments (gymnasium's calls)


class _Discrete:
    """gymnasium's ``Discrete(n)``: ``n``, ``shape == ()``, a seeded ``sample()``."""

    def __init__(self, n: int) -> None:
        self.n, self.shape, self.dtype = n, (), np.int64
        self.rng = np.random.default_rng(0)

    def sample(self) -> int:
        return int(self.rng.integers(self.n))


class _Box:
    """gymnasium's ``Box(low, high, shape, float32)``: ``low``/``high`` arrays, ``shape``, a seeded ``sample()``."""

    def __init__(self, low: float, high: float, shape: tuple) -> None:
        self.low, self.high = np.full(shape, low, np.float32), np.full(shape, high, np.float32)
        self.shape, self.dtype = shape, np.float32
        self.rng = np.random.default_rng(0)

    def sample(self) -> np.ndarray:
        return self.rng.uniform(self.low, self.high).astype(np.float32)


class _VectorEnv:
    """gymnasium's ``SyncVectorEnv`` of ``num_envs`` copies as CleanRL drives it: ``reset(seed)`` -> (obs, {}),
    ``step(actions)`` -> (obs, rewards float64, terminations, truncations, infos). A copy whose episode ends is
    reset in the same step (its new first observation is returned); ``infos`` then holds ``final_observation``
    and ``final_info`` (``{"episode": {"r": ..., "l": ...}}``) object arrays, None for the other copies."""

    single_observation_space: Any
    single_action_space: Any

    def __init__(self, num_envs: int, max_steps: int) -> None:
        self.num_envs, self.max_steps = num_envs, max_steps
        self.rng = np.random.default_rng(0)
        self.states: list = [None] * num_envs
        self.steps, self.returns = np.zeros(num_envs, np.int64), np.zeros(num_envs)

    def reset(self, seed: int | None = None) -> tuple:
        if seed is not None:
            self.rng = np.random.default_rng(seed)
            self.single_action_space.rng = np.random.default_rng(seed + 1)
        for i in range(self.num_envs):
            self._restart(i)
        return np.stack([self._observation(i) for i in range(self.num_envs)]), {}

    def _restart(self, i: int) -> None:
        self.states[i] = self._initial_state()
        self.steps[i], self.returns[i] = 0, 0.0

    def step(self, actions: np.ndarray) -> tuple:
        rewards = np.zeros(self.num_envs)
        terminations, truncations = np.zeros(self.num_envs, bool), np.zeros(self.num_envs, bool)
        final_observation, final_info = [None] * self.num_envs, [None] * self.num_envs
        for i in range(self.num_envs):
            self.states[i], rewards[i], terminations[i] = self._move(self.states[i], actions[i])
            self.steps[i] += 1
            self.returns[i] += rewards[i]
            truncations[i] = not terminations[i] and self.steps[i] >= self.max_steps
            if terminations[i] or truncations[i]:
                final_observation[i] = self._observation(i)
                final_info[i] = {"episode": {"r": np.array([self.returns[i]]), "l": np.array([self.steps[i]])}}
                self._restart(i)
        infos: dict = {}
        if terminations.any() or truncations.any():
            infos = {"final_observation": np.array(final_observation + [None], dtype=object)[:-1],
                     "final_info": np.array(final_info + [None], dtype=object)[:-1]}
        obs = np.stack([self._observation(i) for i in range(self.num_envs)])
        return obs, rewards, terminations, truncations, infos

    def _initial_state(self) -> Any:
        raise NotImplementedError

    def _move(self, state: Any, action: Any) -> tuple:
        raise NotImplementedError

    def _observation(self, i: int) -> np.ndarray:
        raise NotImplementedError


class GridWorld(_VectorEnv):
    """A 3x3 grid: start on a random cell other than the goal (2, 2); actions 0-3 move up, down, left, right
    (walls stop); -0.05 per step, +1 on reaching the goal (terminated). Observation: the one-hot cell (9,)."""

    moves = ((-1, 0), (1, 0), (0, -1), (0, 1))

    def __init__(self, num_envs: int = 2, max_steps: int = 6) -> None:
        super().__init__(num_envs, max_steps)
        self.single_observation_space = _Box(0.0, 1.0, (9,))
        self.single_action_space = _Discrete(4)

    def _initial_state(self) -> tuple:
        cell = int(self.rng.integers(8))
        return divmod(cell, 3)

    def _move(self, state: tuple, action: Any) -> tuple:
        dr, dc = self.moves[int(action)]
        row, col = min(max(state[0] + dr, 0), 2), min(max(state[1] + dc, 0), 2)
        goal = (row, col) == (2, 2)
        return (row, col), (1.0 if goal else -0.05), goal

    def _observation(self, i: int) -> np.ndarray:
        one_hot = np.zeros(9, np.float32)
        one_hot[3 * self.states[i][0] + self.states[i][1]] = 1.0
        return one_hot


class PointMass(_VectorEnv):
    """A mass on a line pushed by a force clipped to [-2, 2]: velocity += 0.1 force, position += 0.1 velocity;
    reward -(position^2) - 0.01 force^2; it starts at rest in [-1, 1] and terminates past |position| > 1.5.
    Observation: (position, velocity) float32."""

    def __init__(self, num_envs: int = 2, max_steps: int = 6) -> None:
        super().__init__(num_envs, max_steps)
        self.single_observation_space = _Box(-np.inf, np.inf, (2,))
        self.single_action_space = _Box(-2.0, 2.0, (1,))

    def _initial_state(self) -> np.ndarray:
        return np.array([self.rng.uniform(-1.0, 1.0), 0.0])

    def _move(self, state: np.ndarray, action: Any) -> tuple:
        force = float(np.clip(np.asarray(action, np.float64).reshape(-1)[0], -2.0, 2.0))
        velocity = state[1] + 0.1 * force
        position = state[0] + 0.1 * velocity
        return np.array([position, velocity]), -(position ** 2) - 0.01 * force ** 2, abs(position) > 1.5

    def _observation(self, i: int) -> np.ndarray:
        return self.states[i].astype(np.float32)


# ----------------------------------------------------------------------------- shared draws and global state


def _shared_normal_draws(monkeypatch: pytest.MonkeyPatch, torch: Any, seed: int) -> None:
    """``Normal.rsample``/``sample`` of both libraries return ``loc + eps * scale`` with ``eps`` read, in call
    order, from one NumPy stream each of the same seed (``sample`` under ``no_grad``): each engine transforms the
    same noise by its own parameters."""
    import minigrad  # noqa: PLC0415

    for lib in (torch, minigrad):
        rng = np.random.default_rng(seed)

        def rsample(self: Any, sample_shape: Any = (), rng: np.random.Generator = rng, lib: Any = lib) -> Any:
            shape = tuple(self._extended_shape(sample_shape))
            eps = lib.from_numpy(rng.standard_normal(shape)).to(self.loc.dtype)
            return self.loc + eps * self.scale

        def sample(self: Any, sample_shape: Any = (), lib: Any = lib, rsample: Any = rsample) -> Any:
            with lib.no_grad():
                return rsample(self, sample_shape)

        monkeypatch.setattr(lib.distributions.Normal, "rsample", rsample)
        monkeypatch.setattr(lib.distributions.Normal, "sample", sample)


@pytest.fixture
def global_generators(torch: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The programs seed NumPy's and Python's global generators and set ``cudnn.deterministic``: restored after.

    Also a module named ``program`` for ``@dataclass``: ``_program`` compiles the source with this package's
    ``from __future__ import annotations`` (compile() inherits it), so the fields' annotations are strings that
    dataclasses looks up in ``sys.modules[cls.__module__]``.
    """
    import minigrad  # noqa: PLC0415

    monkeypatch.setitem(sys.modules, "program", types.ModuleType("program"))
    numpy_state, python_state = np.random.get_state(), random.getstate()
    for lib in (torch, minigrad):
        monkeypatch.setattr(lib.backends.cudnn, "deterministic", lib.backends.cudnn.deterministic)
    yield
    np.random.set_state(numpy_state)
    random.setstate(python_state)


def test_the_programs_differ_only_in_their_imports() -> None:
    assert TORCH_IMPORTS_PPO.count("\n") == MINIGRAD_IMPORTS_PPO.count("\n") == 12
    for torch_line, mg_line in zip(TORCH_IMPORTS_PPO.splitlines()[5:], MINIGRAD_IMPORTS_PPO.splitlines()[5:]):
        assert torch_line.replace("torch", "minigrad") == mg_line
    for source in PROGRAMS:
        assert "import" not in source and "minigrad" not in source and "mg." not in source


# ----------------------------------------------------------------------------- 1. PPO


def _ppo_runs(torch: Any, source: str, envs: Any, **args: Any) -> tuple:
    """The PPO program on both engines from the same initial weights and the same environment seed."""
    torch_program, torch_agent, mg_program, mg_agent, initial = _twin_models(
        source, envs(), 16, imports=(TORCH_IMPORTS_PPO, MINIGRAD_IMPORTS_PPO))
    expected = torch_program["train"](torch_program["Args"](**args), envs(), torch_agent)
    log = mg_program["train"](mg_program["Args"](**args), envs(), mg_agent)
    return expected, log, torch_agent, mg_agent, initial


def _assert_same_logs(log: dict, expected: dict, exact: tuple, rtol: float = 1e-5, atol: float = 1e-6) -> None:
    assert log.keys() == expected.keys()
    for key in exact:
        np.testing.assert_array_equal(np.asarray(log[key]), np.asarray(expected[key]), err_msg=key)
    for key in set(log) - set(exact):
        np.testing.assert_allclose(np.asarray(log[key], dtype=np.float64), np.asarray(expected[key], np.float64),
                                   rtol=rtol, atol=atol, err_msg=key)


def test_ppo_discrete_actions(torch: Any, monkeypatch: pytest.MonkeyPatch, global_generators: Any) -> None:
    """Three iterations of ppo.py on the gridworld (2 envs x 8 steps, 2 epochs of 4 minibatches): the same
    actions and episodes, then the same losses, KL estimates, clip fractions, advantages, explained variances
    and annealed learning rates, and the same final weights."""
    import minigrad  # noqa: PLC0415

    for lib in (torch, minigrad):
        _shared_multinomial(monkeypatch, lib, 3)
    expected, log, torch_agent, mg_agent, initial = _ppo_runs(torch, PPO_DISCRETE, GridWorld, learning_rate=0.02)
    _assert_same_logs(log, expected, exact=("actions", "episodic_return", "lr"))
    assert len(log["value_loss"]) == 3 * 2 * 4 and len(log["episodic_return"]) >= 2
    assert max(log["clipfrac"]) > 0 and log["lr"] == pytest.approx([0.02, 0.02 * 2 / 3, 0.02 / 3])
    assert log["advantages"][0].dtype == np.float32
    _assert_same_weights(torch_agent, mg_agent, initial)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_ppo_continuous_actions(torch: Any, monkeypatch: pytest.MonkeyPatch, global_generators: Any,
                                dtype: str) -> None:
    """Three iterations of ppo_continuous_action.py on the point mass, stopped early by target_kl in some
    iterations: the same Gaussian actions (one shared noise stream), losses, KL estimates, clip fractions and
    final weights (actor_logstd included). In float64 (``set_default_dtype`` in both: ``torch.Tensor(array)``,
    the storage and the weights follow it) to 1e-10."""
    import minigrad  # noqa: PLC0415

    _shared_normal_draws(monkeypatch, torch, 4)
    previous = [(lib, lib.get_default_dtype()) for lib in (torch, minigrad)]
    try:
        for lib, _ in previous:
            lib.set_default_dtype(getattr(lib, dtype))
        expected, log, torch_agent, mg_agent, initial = _ppo_runs(torch, PPO_CONTINUOUS, PointMass,
                                                                  learning_rate=0.03, target_kl=0.01)
    finally:
        for lib, default in previous:
            lib.set_default_dtype(default)
    tight = dtype == "float64"
    _assert_same_logs(log, expected, exact=("lr",), rtol=1e-10 if tight else 1e-5, atol=1e-12 if tight else 1e-6)
    assert log["actions"][0].shape == (8, 2, 1) and log["advantages"][0].dtype == dtype
    assert max(log["clipfrac"]) > 0
    assert len(log["value_loss"]) < 3 * 2 * 4   # the KL stop cut some iteration short
    _assert_same_weights(torch_agent, mg_agent, initial)
    assert mg_agent.actor_logstd.dtype == dtype
    assert not np.array_equal(mg_agent.actor_logstd.numpy(), initial["actor_logstd"].numpy())
    if tight:
        for name, value in torch_agent.state_dict().items():
            np.testing.assert_allclose(mg_agent.state_dict()[name].numpy(), value.numpy(), rtol=1e-10, atol=1e-13)


def test_layer_init_is_orthogonal_with_the_gain(torch: Any, global_generators: Any) -> None:
    """``layer_init`` on minigrad's own draws: W Wᵀ = std² I for a wide layer (WᵀW for a tall one), bias
    constant, in both engines (their draws differ, the property holds)."""
    from tests.test_pytorch_programs import _program  # noqa: PLC0415

    for imports in (TORCH_IMPORTS_PPO, MINIGRAD_IMPORTS_PPO):
        program = _program(PPO_ARGS_AND_INIT, imports)
        nn = program["nn"]
        for shape, std in (((3, 7), 0.5), ((7, 3), np.sqrt(2))):
            layer = program["layer_init"](nn.Linear(shape[1], shape[0]), std=std, bias_const=0.25)
            w = layer.weight.detach().numpy().astype(np.float64)
            gram = w @ w.T if shape[0] <= shape[1] else w.T @ w
            np.testing.assert_allclose(gram, std ** 2 * np.eye(min(shape)), atol=1e-5)
            np.testing.assert_array_equal(layer.bias.detach().numpy(), np.full(shape[0], 0.25, np.float32))


# ----------------------------------------------------------------------------- 2. SAC


def test_sac_with_automatic_entropy_tuning(torch: Any, monkeypatch: pytest.MonkeyPatch,
                                           global_generators: Any) -> None:
    """Sixteen steps of sac_continuous_action.py on the point mass (2 envs, learning from step 5, the actor and
    alpha every second step): the same actions, Q values, losses, alphas, and the same final weights of the
    actor, both Q networks and both soft-updated targets."""
    _shared_normal_draws(monkeypatch, torch, 5)
    torch_program, torch_nets, mg_program, mg_nets, initials = _twin_models(
        SAC, PointMass(), 32, imports=(TORCH_IMPORTS_PPO, MINIGRAD_IMPORTS_PPO), factory="make_models")
    args = {"num_envs": 2, "tau": 0.2, "policy_lr": 3e-3}
    expected = torch_program["train"](torch_program["Args"](**args), PointMass(), *torch_nets)
    log = mg_program["train"](mg_program["Args"](**args), PointMass(), *mg_nets)
    assert log.keys() == expected.keys()
    assert [len(v) for v in log.values()] == [len(v) for v in expected.values()]
    assert len(log["qf1_loss"]) == 11 and len(log["actor_loss"]) == 10
    np.testing.assert_array_equal(np.concatenate(log["actions"][:4]), np.concatenate(expected["actions"][:4]))
    for key in set(log) - {"episodic_return"}:
        np.testing.assert_allclose(np.asarray(log[key], np.float64), np.asarray(expected[key], np.float64),
                                   rtol=1e-5, atol=1e-6, err_msg=key)
    assert np.abs(np.concatenate(log["actions"])).max() <= 2.0
    for torch_net, mg_net, initial in zip(torch_nets, mg_nets, initials):
        _assert_same_weights(torch_net, mg_net, initial)
    actor, qf2, qf2_target = mg_nets[0], mg_nets[2], mg_nets[4]
    assert actor.action_scale.dtype == mg_program["torch"].float32 and actor.action_scale.numpy().tolist() == [2.0]
    assert not np.allclose(qf2_target.fc3.weight.numpy(), qf2.fc3.weight.numpy())   # a lagging average


def test_ppo_and_sac_on_minigrads_own_draws(global_generators: Any) -> None:
    """The continuous programs as written, sampling from minigrad's own generator: they run, every loss is
    finite, the PPO actions are float32 storage, the SAC actions stay in the box, alpha moves."""
    from tests.test_pytorch_programs import _program  # noqa: PLC0415

    ppo = _program(PPO_CONTINUOUS, MINIGRAD_IMPORTS_PPO)
    ppo["torch"].manual_seed(0)
    log = ppo["train"](ppo["Args"](total_timesteps=32), PointMass(), ppo["make_model"](PointMass(), 16))
    assert all(np.isfinite(log[key]).all() for key in ("value_loss", "policy_loss", "entropy", "approx_kl"))
    assert log["actions"][0].dtype == np.float32 and len(np.unique(log["actions"][0])) == 16
    sac = _program(SAC, MINIGRAD_IMPORTS_PPO)
    log = sac["train"](sac["Args"](num_envs=2, total_timesteps=10), PointMass(), *sac["make_models"](PointMass(), 16))
    assert np.abs(np.concatenate(log["actions"])).max() <= 2.0 and np.isfinite(log["actor_loss"]).all()
    assert log["alpha"][-1] != 1.0


def test_cleanrl_data_soft_update_and_its_spellings_here(torch: Any) -> None:
    """CleanRL's ``target_param.data.copy_(tau * param.data + (1 - tau) * target_param.data)`` needs ``.data`` to
    be a Tensor; minigrad's is the NumPy array by design (README), so the line raises AttributeError (never a
    silent no-op) and the README's spellings give torch's numbers: ``copy_`` under ``no_grad``, ``lerp_``, and
    an array assigned to ``.data``."""
    import minigrad  # noqa: PLC0415

    rng = np.random.default_rng(0)
    source, target = rng.standard_normal((2, 3, 4)).astype(np.float32)
    theirs = torch.nn.Parameter(torch.from_numpy(target.copy()))
    theirs.data.copy_(0.1 * torch.from_numpy(source) + 0.9 * theirs.data)
    param, spellings = minigrad.nn.Parameter(minigrad.from_numpy(source)), []
    for spelling in range(3):
        ours = minigrad.nn.Parameter(minigrad.from_numpy(target.copy()))
        with pytest.raises(AttributeError, match="copy_"):
            ours.data.copy_(0.1 * param.data + 0.9 * ours.data)
        if spelling == 0:
            with minigrad.no_grad():
                ours.copy_(0.1 * param + 0.9 * ours)
        elif spelling == 1:
            with minigrad.no_grad():
                ours.lerp_(param, 0.1)
        else:
            ours.data = 0.1 * param.data + 0.9 * ours.data
        spellings.append(ours)
        assert ours.requires_grad and ours.is_leaf and ours.dtype == minigrad.float32
        np.testing.assert_allclose(ours.numpy(), theirs.detach().numpy(), rtol=1e-6, atol=1e-7)


# ----------------------------------------------------------------------------- regressions


@pytest.mark.parametrize("value_shape", [(1,), (1, 1)])
@pytest.mark.parametrize("requires_grad", [False, True])
def test_a_one_element_value_writes_into_one_element_as_torch(torch: Any, value_shape: tuple,
                                                              requires_grad: bool) -> None:
    """``x[i] = v`` (and ``x[i, j] = v``) with a one-element v of shape (1,) or (1, 1): PyTorch drops v's
    leading 1s and writes the element (NumPy refuses a sequence into one element); with gradients to v."""
    import minigrad  # noqa: PLC0415

    results = []
    for lib in (torch, minigrad):
        value = lib.full(value_shape, 3.0, requires_grad=requires_grad)
        x, grid = lib.zeros(4), lib.zeros(2, 3)
        x[1] = value * 2
        grid[1, 2] = value
        grid[0] = value   # a whole row from one element, as before
        if requires_grad:
            (x.sum() + (grid * 5).sum()).backward()
        results.append((x.detach().numpy(), grid.detach().numpy(),
                        value.grad.numpy() if requires_grad else np.zeros(value_shape)))
    for ours, theirs in zip(*results):
        np.testing.assert_array_equal(ours, theirs)
