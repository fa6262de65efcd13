"""Keras optimizer updates, checked step by step against the formulas Keras 3 implements."""

from __future__ import annotations

import copy
import math

import hydra
import numpy as np
import pytest
import torch
from runs import composed

from imdb_lightning.config.files import CONFIG_DIR
from imdb_lightning.network.optimizers import (
    KerasAdagrad,
    KerasAdam,
    KerasAdamax,
    KerasAdamW,
    KerasNadam,
    KerasRMSprop,
)

GRADS = [torch.tensor([0.5, -1.0, 2e-4]), torch.tensor([0.1, 0.3, -2e-4]), torch.tensor([-0.7, 0.0, 1e-3])]
W0 = [1.0, -2.0, 0.5]


def run(optimizer_class, **kwargs) -> list[float]:
    w = torch.nn.Parameter(torch.tensor(W0, dtype=torch.float64))
    opt = optimizer_class([w], **kwargs)
    for g in GRADS:
        w.grad = g.to(torch.float64)
        opt.step()
    return w.detach().tolist()


# Keras 3's update_step of each optimizer, written out for one scalar weight; defaults as Keras's.
def keras_sgd(w, grads, lr=0.01, momentum=0.0, nesterov=False):
    m = 0.0
    for g in grads:
        if momentum:
            m = m * momentum - g * lr
            w += m * momentum - g * lr if nesterov else m
        else:
            w -= g * lr
    return w


def keras_rmsprop(w, grads, lr=1e-3, rho=0.9, eps=1e-7):
    v = 0.0
    for g in grads:
        v = rho * v + (1 - rho) * g * g
        w -= lr * g / math.sqrt(v + eps)
    return w


def keras_adagrad(w, grads, lr=1e-3, eps=1e-7):
    a = 0.1
    for g in grads:
        a += g * g
        w -= lr * g / math.sqrt(a + eps)
    return w


def keras_adam(w, grads, lr=1e-3, b1=0.9, b2=0.999, eps=1e-7, weight_decay=0.0):
    m = v = 0.0
    for t, g in enumerate(grads, start=1):
        w -= w * weight_decay * lr  # Optimizer._apply_weight_decay, before the update
        m += (g - m) * (1 - b1)
        v += (g * g - v) * (1 - b2)
        w -= lr * math.sqrt(1 - b2**t) / (1 - b1**t) * m / (math.sqrt(v) + eps)
    return w


def keras_nadam(w, grads, lr=1e-3, b1=0.9, b2=0.999, eps=1e-7):
    m = v = 0.0
    u_product = 1.0
    for t, g in enumerate(grads, start=1):
        u_product *= b1 * (1 - 0.5 * 0.96**t)  # _backend_update_step, before update_step
        u_t, u_t_1 = b1 * (1 - 0.5 * 0.96**t), b1 * (1 - 0.5 * 0.96 ** (t + 1))
        m += (g - m) * (1 - b1)
        v += (g * g - v) * (1 - b2)
        m_hat = u_t_1 * m / (1 - u_product * u_t_1) + (1 - u_t) * g / (1 - u_product)
        v_hat = v / (1 - b2**t)
        w -= m_hat * lr / (math.sqrt(v_hat) + eps)
    return w


def keras_adadelta(w, grads, lr=1e-3, rho=0.95, eps=1e-7):
    acc_grad = acc_delta = 0.0
    for g in grads:
        acc_grad = rho * acc_grad + (1 - rho) * g * g
        delta = -math.sqrt(acc_delta + eps) * g / math.sqrt(acc_grad + eps)
        acc_delta = rho * acc_delta + (1 - rho) * delta * delta
        w += lr * delta
    return w


def keras_adamax(w, grads, lr=1e-3, b1=0.9, b2=0.999, eps=1e-7):
    m = u = 0.0
    for t, g in enumerate(grads, start=1):
        m += (g - m) * (1 - b1)
        u = max(b2 * u, abs(g))
        w -= lr * m / ((1 - b1**t) * (u + eps))
    return w


KERAS_UPDATES = {
    "sgd": keras_sgd,
    "momentum": lambda w, grads: keras_sgd(w, grads, momentum=0.9),
    "nesterov": lambda w, grads: keras_sgd(w, grads, momentum=0.9, nesterov=True),
    "rmsprop": keras_rmsprop,
    "adagrad": keras_adagrad,
    "adam": keras_adam,
    "adamw": lambda w, grads: keras_adam(w, grads, weight_decay=0.004),
    "nadam": keras_nadam,
    "adadelta": keras_adadelta,
    "adamax": keras_adamax,
}
OPTIMIZER_CONFIGS = sorted(p.stem for p in (CONFIG_DIR / "optimizer").glob("*.yaml"))


def configured(name: str):
    """The optimizer factory that ``optimizer=NAME`` builds, as train() builds it."""
    cfg = composed(f"optimizer={name}")
    return hydra.utils.instantiate(cfg.optimizer, _convert_="all")


@pytest.mark.parametrize("name", sorted(KERAS_UPDATES))
def test_each_keras_optimizer_config_steps_as_kerass_update_written_out(name):
    expected = [KERAS_UPDATES[name](w, [float(g[i]) for g in GRADS]) for i, w in enumerate(W0)]
    assert run(configured(name)) == pytest.approx(expected, rel=1e-12, abs=1e-15)


@pytest.mark.parametrize("name", OPTIMIZER_CONFIGS)
def test_every_optimizer_config_builds_and_steps(name):
    assert name in KERAS_UPDATES or name.startswith("torch_")  # a new Keras optimizer needs its formula above
    w = run(configured(name))
    assert all(math.isfinite(x) for x in w) and w != W0


def test_pytorchs_nadam_is_not_kerass():
    keras = run(configured("nadam"))
    torch_nadam = run(torch.optim.NAdam, lr=1e-3, eps=1e-7)
    assert abs(keras[0] - torch_nadam[0]) > 1e-5  # momentum decay 0.96**t against 0.96**(0.004 t)


def test_keras_and_pytorch_rmsprop_differ_where_the_gradient_is_tiny():
    keras = run(KerasRMSprop)
    w = torch.nn.Parameter(torch.tensor(W0, dtype=torch.float64))
    opt = torch.optim.RMSprop([w], lr=1e-3, alpha=0.9, eps=1e-7)
    for g in GRADS:
        w.grad = g.to(torch.float64)
        opt.step()
    assert keras[0] == pytest.approx(w[0].item(), rel=1e-6)  # large gradients: same step
    assert abs(keras[2] - 0.5) < 0.75 * abs(
        w[2].item() - 0.5
    )  # tiny gradients: eps inside the root damps them


@pytest.mark.parametrize("cls", [KerasRMSprop, KerasAdagrad, KerasAdam, KerasAdamW, KerasNadam, KerasAdamax])
def test_non_positive_learning_rate_or_negative_eps_is_refused(cls):
    with pytest.raises(ValueError, match="optimizer.lr must be a positive number, got 0.0"):
        cls([torch.nn.Parameter(torch.zeros(1))], lr=0.0)
    with pytest.raises(ValueError, match="optimizer.eps must be a number >= 0, got -1"):
        cls([torch.nn.Parameter(torch.zeros(1))], eps=-1)


# Keras 3's own defaults (keras.optimizers.*): a class built with no setting must have them, whatever the
# YAML configs pass (they set every value, so only this catches a class default that drifts).
KERAS_DEFAULTS = {
    "KerasRMSprop": {"lr": 1e-3, "rho": 0.9, "eps": 1e-7},
    "KerasAdagrad": {"lr": 1e-3, "initial_accumulator_value": 0.1, "eps": 1e-7},
    "KerasAdam": {"lr": 1e-3, "betas": (0.9, 0.999), "eps": 1e-7, "weight_decay": 0.0},
    "KerasAdamW": {"lr": 1e-3, "betas": (0.9, 0.999), "eps": 1e-7, "weight_decay": 0.004},
    "KerasNadam": {"lr": 1e-3, "betas": (0.9, 0.999), "eps": 1e-7, "weight_decay": 0.0},
    "KerasAdamax": {"lr": 1e-3, "betas": (0.9, 0.999), "eps": 1e-7, "weight_decay": 0.0},
}


@pytest.mark.parametrize("name", sorted(KERAS_DEFAULTS))
def test_each_keras_optimizer_class_defaults_to_kerass_own_settings(name):
    import imdb_lightning.network.optimizers as optimizers

    group = getattr(optimizers, name)([torch.zeros(1, requires_grad=True)]).param_groups[0]
    settings = {key: value for key, value in group.items() if key != "params"}
    assert {k: tuple(v) if isinstance(v, list) else v for k, v in settings.items()} == KERAS_DEFAULTS[name]


def rmsprop_steps(params: list[torch.Tensor], grads: list[list[torch.Tensor]], **settings) -> list:
    """``params`` after KerasRMSprop's steps with each of ``grads`` in turn (copies; the inputs stay)."""
    params = [torch.nn.Parameter(p.clone()) for p in params]
    opt = KerasRMSprop(params, **settings)
    for step in grads:
        for p, g in zip(params, step, strict=True):
            p.grad = g.clone()
        opt.step()
    return [p.detach() for p in params]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_rmsprop_on_a_cpu_gives_the_bits_of_kerass_update_op_by_op(dtype):
    # Keras's update_step as separate tensor ops, each rounded on its own: numpy's float ops (and sqrt)
    # round exactly as TensorFlow's. A first layer's kernel and the small tensors, six steps.
    rng = np.random.default_rng(0)
    shapes = [(10000, 16), (16,), (16, 1), (1,)]
    params = [rng.standard_normal(shape).astype(dtype) for shape in shapes]
    grads = [[(rng.standard_normal(s) * rng.random(s) ** 4).astype(dtype) for s in shapes] for _ in range(6)]
    lr, rho, eps = dtype(2e-3), dtype(0.8), dtype(1e-6)
    expected, velocity = [p.copy() for p in params], [np.zeros(s, dtype) for s in shapes]
    for step in grads:
        for w, v, g in zip(expected, velocity, step, strict=True):
            v[...] = rho * v + dtype(1 - 0.8) * np.square(g)
            w -= lr * g / np.sqrt(v + eps)
    stepped = rmsprop_steps(
        [torch.from_numpy(p) for p in params],
        [[torch.from_numpy(g) for g in step] for step in grads],
        lr=2e-3,
        rho=0.8,
        eps=1e-6,
    )
    assert all(np.array_equal(w.numpy(), e) for w, e in zip(stepped, expected, strict=True))


def test_rmsprop_steps_a_parameter_the_compiled_loop_cannot_take_as_it_within_rounding():
    # A non-contiguous parameter (a transposed view) goes through PyTorch's ops in the same order; their
    # sqrt may round the last bit differently from the compiled one on a CPU.
    gen = torch.Generator().manual_seed(1)
    base = torch.randn(16, 300, generator=gen)
    grads = [[torch.randn(16, 300, generator=gen).t()] for _ in range(4)]
    assert not base.t().is_contiguous()
    compiled = rmsprop_steps([base.t().contiguous()], [[g.contiguous() for g in step] for step in grads])[0]
    by_ops = rmsprop_steps([base.t()], grads)[0]
    torch.testing.assert_close(by_ops, compiled, rtol=1e-6, atol=1e-7)
    assert (by_ops - base.t()).abs().min() > 0  # every weight moved


def test_rmsprop_steps_the_tensors_it_holds_now_after_a_load_or_a_replaced_parameter():
    # The compiled step keeps arrays of the parameters and velocities between steps: a parameter given new
    # numbers (a move, ``.data =``) and velocities loaded from a checkpoint are what the next step updates.
    gen = torch.Generator().manual_seed(2)
    start, grads = torch.randn(40, 4, generator=gen), [torch.randn(40, 4, generator=gen) for _ in range(3)]

    def stepped(w: torch.nn.Parameter, opt: KerasRMSprop, grad: torch.Tensor) -> torch.Tensor:
        w.grad = grad.clone()
        opt.step()
        return w.detach().clone()

    w = torch.nn.Parameter(start.clone())
    opt = KerasRMSprop([w])
    stepped(w, opt, grads[0])
    saved = copy.deepcopy(opt.state_dict())  # the step-one state
    after_one = w.detach().clone()
    w.data = after_one.clone()  # new storage: the old arrays would update the tensor left behind
    replaced = stepped(w, opt, grads[1])
    opt.load_state_dict(copy.deepcopy(saved))  # new velocities (torch keeps the very tensors it is given)
    w.data = after_one.clone()
    loaded = stepped(w, opt, grads[2])

    fresh = torch.nn.Parameter(start.clone())
    reference = KerasRMSprop([fresh])
    stepped(fresh, reference, grads[0])
    assert torch.equal(stepped(fresh, reference, grads[1]), replaced)
    fresh.data, reference = after_one.clone(), KerasRMSprop([fresh])
    reference.load_state_dict(copy.deepcopy(saved))
    assert torch.equal(stepped(fresh, reference, grads[2]), loaded)
    assert not torch.equal(replaced, after_one) and not torch.equal(loaded, after_one)


def test_a_pickled_rmsprop_steps_as_the_one_it_was_pickled_from():
    # torch pickles an optimizer's state and parameter groups only: the copy makes its own arrays.
    import pickle

    w = torch.nn.Parameter(torch.randn(30, 4, generator=torch.Generator().manual_seed(3)))
    opt = KerasRMSprop([w])
    w.grad = torch.ones(30, 4)
    opt.step()
    copied = pickle.loads(pickle.dumps(opt))
    for optimizer in (opt, copied):
        optimizer.param_groups[0]["params"][0].grad = torch.full((30, 4), 0.5)
        optimizer.step()
    assert torch.equal(copied.param_groups[0]["params"][0], w)
