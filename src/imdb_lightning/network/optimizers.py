"""Optimizers with Keras's update rules and defaults, so our learning curves compare with the lecture's.

PyTorch's built-ins match Keras's update for SGD (plain, momentum, Nesterov) and Adadelta once given Keras's
defaults (see ``conf/optimizer/``). The others differ in the update itself, and are implemented here exactly
as Keras 3 writes them (``scripts/keras_parity.py`` checks them against Keras,
``tests/network/test_optimizers.py`` against the formulas):

* RMSprop: ``v = rho·v + (1-rho)·g²;  w -= lr·g / sqrt(v + eps)`` — eps *inside* the root (PyTorch: outside);
  in Keras's order of operations, and on a CPU in one compiled pass (the lecture's default: its step matters).
* Adagrad: ``a += g²;  w -= lr·g / sqrt(a + eps)``, accumulator starting at 0.1 (PyTorch: 0, eps outside).
* Adam: ``w -= lr·sqrt(1-β₂ᵗ)/(1-β₁ᵗ) · m / (sqrt(v) + eps)`` — eps added to the *uncorrected* root
  (PyTorch adds it after bias correction). AdamW is Adam after ``w -= lr·wd·w`` (Keras's ``weight_decay``).
* Nadam: the momentum schedule ``μₜ = β₁(1 - 0.96ᵗ/2)`` (PyTorch's ``NAdam`` decays it as ``0.96^(0.004·t)``).
* Adamax: ``w -= lr/(1-β₁ᵗ) · m / (u + eps)`` (PyTorch puts eps inside the max that makes ``u``).

The PyTorch-native flavours stay available as ``optimizer=torch_rmsprop|torch_adagrad|torch_adam``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np
import torch
from torch.optim import Optimizer

from imdb_lightning.network.kernels import rmsprop_update, takes
from imdb_lightning.utils.checks import FRACTION, FRACTION_PAIR, NON_NEGATIVE_NUMBER, POSITIVE_NUMBER, require


def _check(lr: float, eps: float) -> None:
    require("optimizer.lr", lr, POSITIVE_NUMBER)
    require("optimizer.eps", eps, NON_NEGATIVE_NUMBER)


def _state(states: list[dict], key: str, params: list[torch.Tensor], fill: float) -> list[torch.Tensor]:
    """Each parameter's ``key`` slot, created filled with ``fill`` on first use."""
    for state, p in zip(states, params, strict=True):
        if key not in state:
            state[key] = torch.full_like(p, fill, memory_format=torch.preserve_format)
    return [state[key] for state in states]


class _KerasOptimizer(Optimizer):
    """Steps a group's parameters that have a gradient through :meth:`update`, Keras's ``update_step``, all
    at once with ``torch._foreach_*`` ops (a handful of tensor calls a step instead of that many per
    parameter; the same arithmetic). A group's ``weight_decay`` is applied first, as Keras's
    ``_apply_weight_decay``: ``w -= lr·wd·w``.
    """

    @torch.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            params = [p for p in group["params"] if p.grad is not None]
            if params and group.get("weight_decay"):
                torch._foreach_mul_(params, 1 - group["lr"] * group["weight_decay"])
            if params:
                self.update(params, [p.grad for p in params], [self.state[p] for p in params], group)
        return loss

    def update(
        self, params: list[torch.Tensor], grads: list[torch.Tensor], states: list[dict], group: dict
    ) -> None:
        raise NotImplementedError


class KerasRMSprop(_KerasOptimizer):
    """RMSprop as Keras: lr 1e-3, rho 0.9, eps 1e-7 inside the square root."""

    # The compiled step's arrays of the parameters and velocities (converting them each step cost as much as
    # the loop), known by the tensors' addresses: made again when one is replaced (a load, a move). An array
    # keeps its tensor alive, so no other tensor takes a held address. On the class: the default of a copy
    # that pickling made without it (torch pickles an optimizer's state and groups only).
    _held: tuple[tuple, list[tuple[np.ndarray, np.ndarray]] | None] = ((), None)

    def __init__(self, params: Iterable, lr: float = 1e-3, rho: float = 0.9, eps: float = 1e-7) -> None:
        _check(lr, eps)
        require("optimizer.rho", rho, FRACTION)
        super().__init__(params, dict(lr=lr, rho=rho, eps=eps))

    def update(self, params, grads, states, group) -> None:
        velocities = _state(states, "velocity", params, 0.0)
        held = self._compiled_arrays(params, velocities)
        if held is None or not compiled_takes(grads, params[0].dtype):
            rmsprop_by_ops(params, grads, velocities, group["rho"], group["eps"], group["lr"])
            return
        arrays = [(p, flat(g), v) for (p, v), g in zip(held, grads, strict=True)]
        rmsprop_arrays(arrays, group["rho"], group["eps"], group["lr"])

    def _compiled_arrays(self, params, velocities) -> list[tuple[np.ndarray, np.ndarray]] | None:
        """Each parameter's and its velocity's flat array, or None where the compiled step does not take
        them (another device or float type, a non-contiguous tensor)."""
        tensors = [*params, *velocities]
        key = tuple((t.data_ptr(), t.is_contiguous()) for t in tensors)
        if key != self._held[0]:
            taken = compiled_takes(tensors, params[0].dtype)
            arrays = [(flat(p), flat(v)) for p, v in zip(params, velocities, strict=True)] if taken else None
            self._held = (key, arrays)
        return self._held[1]


def compiled_takes(tensors: list[torch.Tensor], dtype: torch.dtype) -> bool:
    """Whether the compiled step takes these tensors as flat arrays: contiguous, of ``dtype``, and what the
    compiled loops take (:func:`~imdb_lightning.network.kernels.takes`)."""
    return takes(*tensors) and all(t.is_contiguous() and t.dtype == dtype for t in tensors)


def flat(tensor: torch.Tensor) -> np.ndarray:
    """A contiguous CPU tensor's numbers as a flat numpy array that shares them."""
    return tensor.detach().view(-1).numpy()


def rmsprop_by_ops(params, grads, velocities, rho: float, eps: float, lr: float) -> None:
    """Keras's RMSprop step in Keras's order of operations, each rounded on its own:
    ``v = rho·v + (1-rho)·g²;  w -= (lr·g) / sqrt(v + eps)``."""
    torch._foreach_mul_(velocities, rho)
    squares = torch._foreach_mul(grads, grads)
    torch._foreach_mul_(squares, 1 - rho)
    torch._foreach_add_(velocities, squares)
    denom = torch._foreach_add(velocities, eps)
    torch._foreach_sqrt_(denom)
    steps = torch._foreach_mul(grads, lr)
    torch._foreach_div_(steps, denom)
    torch._foreach_sub_(params, steps)


def rmsprop_arrays(arrays: list[tuple[np.ndarray, ...]], rho: float, eps: float, lr: float) -> None:
    """:func:`rmsprop_by_ops` in one compiled pass a parameter, on each ``(param, grad, velocity)`` as flat
    arrays of one float type: the ops' nine passes over the first layer's kernel cost more than twice as much
    (docs/benchmarks.md). Its square root is rounded exactly, as TensorFlow's; PyTorch's on a CPU may differ
    in the last bit."""
    cast = arrays[0][0].dtype.type
    constants = [cast(x) for x in (rho, 1 - rho, eps, lr)]
    for param, grad, velocity in arrays:
        rmsprop_update(param, grad, velocity, *constants)


class KerasAdagrad(_KerasOptimizer):
    """Adagrad as Keras: lr 1e-3, initial accumulator 0.1, eps 1e-7 inside the square root."""

    def __init__(
        self, params: Iterable, lr: float = 1e-3, initial_accumulator_value: float = 0.1, eps: float = 1e-7
    ) -> None:
        _check(lr, eps)
        require("optimizer.initial_accumulator_value", initial_accumulator_value, NON_NEGATIVE_NUMBER)
        super().__init__(params, dict(lr=lr, initial_accumulator_value=initial_accumulator_value, eps=eps))

    def update(self, params, grads, states, group) -> None:
        a = _state(states, "accumulator", params, group["initial_accumulator_value"])
        torch._foreach_addcmul_(a, grads, grads)
        denom = torch._foreach_add(a, group["eps"])
        torch._foreach_sqrt_(denom)
        torch._foreach_addcdiv_(params, grads, denom, value=-group["lr"])


def _steps(states: list[dict]) -> list[int]:
    """Advance and return each parameter's step count ``t`` (Keras's ``iterations + 1``)."""
    for state in states:
        state["step"] = state.get("step", 0) + 1
    return [state["step"] for state in states]


def _moments(
    params, grads, states, beta1: float, beta2: float
) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    """Keras's first and second moments, updated: ``m += (g - m)(1-β₁)``, ``v += (g² - v)(1-β₂)``."""
    m = _state(states, "m", params, 0.0)
    v = _state(states, "v", params, 0.0)
    torch._foreach_lerp_(m, grads, 1 - beta1)
    torch._foreach_mul_(v, beta2)
    torch._foreach_addcmul_(v, grads, grads, value=1 - beta2)
    return m, v


class _AdamSettings(_KerasOptimizer):
    """The settings Keras's Adam family shares, with Keras's defaults (and its optional decoupled decay)."""

    def __init__(
        self,
        params: Iterable,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-7,
        weight_decay: float = 0.0,
    ) -> None:
        _check(lr, eps)
        require("optimizer.betas", betas, FRACTION_PAIR)
        require("optimizer.weight_decay", weight_decay, NON_NEGATIVE_NUMBER)
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay))


class KerasAdam(_AdamSettings):
    """Adam as Keras: lr 1e-3, betas (0.9, 0.999), eps 1e-7 added to the uncorrected root."""

    def update(self, params, grads, states, group) -> None:
        beta1, beta2 = group["betas"]
        steps = _steps(states)
        m, v = _moments(params, grads, states, beta1, beta2)
        denom = torch._foreach_sqrt(v)
        torch._foreach_add_(denom, group["eps"])
        alphas = [-group["lr"] * math.sqrt(1 - beta2**t) / (1 - beta1**t) for t in steps]
        torch._foreach_addcdiv_(params, m, denom, alphas)


class KerasAdamW(KerasAdam):
    """AdamW as Keras: Keras's Adam after a decoupled ``w -= lr·wd·w``, weight decay 0.004."""

    def __init__(
        self,
        params: Iterable,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-7,
        weight_decay: float = 0.004,
    ) -> None:
        super().__init__(params, lr, betas, eps, weight_decay)


class KerasNadam(_AdamSettings):
    """Nadam as Keras: lr 1e-3, betas (0.9, 0.999), eps 1e-7, momentum schedule ``μₜ = β₁(1 - 0.96ᵗ/2)``."""

    def update(self, params, grads, states, group) -> None:
        beta1, beta2 = group["betas"]
        coef_m, coef_g, coef_v = [], [], []
        for state, t in zip(states, _steps(states), strict=True):
            mu, mu_next = beta1 * (1 - 0.5 * 0.96**t), beta1 * (1 - 0.5 * 0.96 ** (t + 1))
            state["mu_product"] = product = state.get("mu_product", 1.0) * mu
            coef_m.append(mu_next / (1 - product * mu_next))
            coef_g.append((1 - mu) / (1 - product))
            coef_v.append(1 / (1 - beta2**t))
        m, v = _moments(params, grads, states, beta1, beta2)
        m_hat = torch._foreach_mul(m, coef_m)
        torch._foreach_add_(m_hat, torch._foreach_mul(grads, coef_g))
        denom = torch._foreach_mul(v, coef_v)
        torch._foreach_sqrt_(denom)
        torch._foreach_add_(denom, group["eps"])
        torch._foreach_addcdiv_(params, m_hat, denom, value=-group["lr"])


class KerasAdamax(_AdamSettings):
    """Adamax as Keras: lr 1e-3, betas (0.9, 0.999), ``u = max(β₂u, |g|)``, eps added to ``u``."""

    def update(self, params, grads, states, group) -> None:
        beta1, beta2 = group["betas"]
        alphas = [-group["lr"] / (1 - beta1**t) for t in _steps(states)]
        m = _state(states, "m", params, 0.0)
        u = _state(states, "u", params, 0.0)
        torch._foreach_lerp_(m, grads, 1 - beta1)
        torch._foreach_mul_(u, beta2)
        torch._foreach_maximum_(u, torch._foreach_abs(grads))
        denom = torch._foreach_add(u, group["eps"])
        torch._foreach_addcdiv_(params, m, denom, alphas)
