"""Keras optimizer updates, checked step by step against the formulas Keras 3 implements."""

from __future__ import annotations

import math

import pytest
import torch

from imdb_lightning.optimizers import KerasAdagrad, KerasAdam, KerasRMSprop

GRADS = [torch.tensor([0.5, -1.0, 2e-4]), torch.tensor([0.1, 0.3, -2e-4]), torch.tensor([-0.7, 0.0, 1e-3])]
W0 = [1.0, -2.0, 0.5]


def run(optimizer_class, **kwargs) -> list[float]:
    w = torch.nn.Parameter(torch.tensor(W0, dtype=torch.float64))
    opt = optimizer_class([w], **kwargs)
    for g in GRADS:
        w.grad = g.to(torch.float64)
        opt.step()
    return w.detach().tolist()


def test_rmsprop_keeps_epsilon_inside_the_square_root():
    lr, rho, eps = 1e-3, 0.9, 1e-7
    expected = []
    for i, w in enumerate(W0):
        v = 0.0
        for g in GRADS:
            g = float(g[i])
            v = rho * v + (1 - rho) * g * g
            w -= lr * g / math.sqrt(v + eps)
        expected.append(w)
    assert run(KerasRMSprop) == pytest.approx(expected, rel=1e-12, abs=1e-15)


def test_adagrad_starts_its_accumulator_at_0_1():
    lr, eps = 1e-3, 1e-7
    expected = []
    for i, w in enumerate(W0):
        a = 0.1
        for g in GRADS:
            g = float(g[i])
            a += g * g
            w -= lr * g / math.sqrt(a + eps)
        expected.append(w)
    assert run(KerasAdagrad) == pytest.approx(expected, rel=1e-12, abs=1e-15)


def test_adam_adds_epsilon_to_the_uncorrected_root():
    lr, b1, b2, eps = 1e-3, 0.9, 0.999, 1e-7
    expected = []
    for i, w in enumerate(W0):
        m = v = 0.0
        for t, g in enumerate(GRADS, start=1):
            g = float(g[i])
            m += (g - m) * (1 - b1)
            v += (g * g - v) * (1 - b2)
            w -= lr * math.sqrt(1 - b2**t) / (1 - b1**t) * m / (math.sqrt(v) + eps)
        expected.append(w)
    assert run(KerasAdam) == pytest.approx(expected, rel=1e-12, abs=1e-15)


def test_keras_and_pytorch_rmsprop_differ_where_the_gradient_is_tiny():
    keras = run(KerasRMSprop)
    w = torch.nn.Parameter(torch.tensor(W0, dtype=torch.float64))
    opt = torch.optim.RMSprop([w], lr=1e-3, alpha=0.9, eps=1e-7)
    for g in GRADS:
        w.grad = g.to(torch.float64)
        opt.step()
    assert keras[0] == pytest.approx(w[0].item(), rel=1e-6)  # large gradients: same step
    assert abs(keras[2] - 0.5) < 0.75 * abs(w[2].item() - 0.5)  # tiny gradients: eps inside the root damps them


@pytest.mark.parametrize("cls", [KerasRMSprop, KerasAdagrad, KerasAdam])
def test_non_positive_learning_rate_is_refused(cls):
    with pytest.raises(ValueError, match="optimizer.lr must be positive"):
        cls([torch.nn.Parameter(torch.zeros(1))], lr=0.0)
