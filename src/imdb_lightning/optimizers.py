"""Optimizers with Keras's update rules and defaults, so our learning curves compare with the lecture's.

PyTorch's built-ins match Keras's update for SGD (plain, momentum, Nesterov), Nadam and Adadelta once given
Keras's defaults (see ``conf/optimizer/``); AdamW and Adamax use PyTorch's update with Keras's defaults (their
eps sits slightly differently). Three lecture optimizers differ in the update itself, and are implemented
here exactly as Keras 3 writes them:

* RMSprop: ``v = rho·v + (1-rho)·g²;  w -= lr·g / sqrt(v + eps)`` — eps *inside* the root (PyTorch: outside).
* Adagrad: ``a += g²;  w -= lr·g / sqrt(a + eps)``, accumulator starting at 0.1 (PyTorch: 0, eps outside).
* Adam: ``w -= lr·sqrt(1-β₂ᵗ)/(1-β₁ᵗ) · m / (sqrt(v) + eps)`` — eps added to the *uncorrected* root
  (PyTorch adds it after bias correction).

The PyTorch-native flavours stay available as ``optimizer=torch_rmsprop|torch_adagrad|torch_adam``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import torch
from torch.optim import Optimizer

from imdb_lightning.errors import ConfigError


def _check(lr: float, eps: float) -> None:
    if lr <= 0:
        raise ConfigError(f"optimizer.lr must be positive, got {lr}")
    if eps < 0:
        raise ConfigError(f"optimizer.eps must be non-negative, got {eps}")


class _KerasOptimizer(Optimizer):
    """Steps every parameter that has a gradient through :meth:`update`, Keras's ``update_step``."""

    @torch.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is not None:
                    self.update(p, p.grad, self.state[p], group)
        return loss

    def update(self, p: torch.Tensor, g: torch.Tensor, state: dict, group: dict) -> None:
        raise NotImplementedError


class KerasRMSprop(_KerasOptimizer):
    """RMSprop as Keras: lr 1e-3, rho 0.9, eps 1e-7 inside the square root."""

    def __init__(self, params: Iterable, lr: float = 1e-3, rho: float = 0.9, eps: float = 1e-7) -> None:
        _check(lr, eps)
        super().__init__(params, dict(lr=lr, rho=rho, eps=eps))

    def update(self, p, g, state, group) -> None:
        if not state:
            state["velocity"] = torch.zeros_like(p)
        v = state["velocity"]
        v.mul_(group["rho"]).addcmul_(g, g, value=1 - group["rho"])
        p.addcdiv_(g, (v + group["eps"]).sqrt_(), value=-group["lr"])


class KerasAdagrad(_KerasOptimizer):
    """Adagrad as Keras: lr 1e-3, initial accumulator 0.1, eps 1e-7 inside the square root."""

    def __init__(self, params: Iterable, lr: float = 1e-3, initial_accumulator_value: float = 0.1, eps: float = 1e-7) -> None:
        _check(lr, eps)
        super().__init__(params, dict(lr=lr, initial_accumulator_value=initial_accumulator_value, eps=eps))

    def update(self, p, g, state, group) -> None:
        if not state:
            state["accumulator"] = torch.full_like(p, group["initial_accumulator_value"])
        a = state["accumulator"]
        a.addcmul_(g, g)
        p.addcdiv_(g, (a + group["eps"]).sqrt_(), value=-group["lr"])


class KerasAdam(_KerasOptimizer):
    """Adam as Keras: lr 1e-3, betas (0.9, 0.999), eps 1e-7 added to the uncorrected root."""

    def __init__(self, params: Iterable, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-7) -> None:
        _check(lr, eps)
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps))

    def update(self, p, g, state, group) -> None:
        beta1, beta2 = group["betas"]
        if not state:
            state["step"] = 0
            state["m"] = torch.zeros_like(p)
            state["v"] = torch.zeros_like(p)
        state["step"] += 1
        t = state["step"]
        m, v = state["m"], state["v"]
        m.lerp_(g, 1 - beta1)
        v.mul_(beta2).addcmul_(g, g, value=1 - beta2)
        alpha = group["lr"] * math.sqrt(1 - beta2**t) / (1 - beta1**t)
        p.addcdiv_(m, v.sqrt().add_(group["eps"]), value=-alpha)
