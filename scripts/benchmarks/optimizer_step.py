"""Time one RMSprop step over the lecture model's parameters, each way the package has computed it.

One process, the same parameters and gradients for every way, in interleaved rounds, the fastest, in µs a
step: one compiled pass a parameter (:func:`~imdb_lightning.network.optimizers.rmsprop_arrays`, a CPU's step,
its arrays made from the tensors at each call), Keras's operations one by one
(:func:`~imdb_lightning.network.optimizers.rmsprop_by_ops`, other devices'), and PyTorch's fused
``addcmul``/``addcdiv`` forms of the same update (the package's step until 2026-12-07); and
``KerasRMSprop.step`` whole, as a fit calls it (its checks, and the compiled pass on arrays of the parameters
and velocities that it holds between steps, 2026-12-08). The first layer's kernel (10,000 × 16) is nearly all
of the arithmetic.
"""

from __future__ import annotations

import time

import torch

from benchmarks.fit import threads_as_a_run
from benchmarks.harness import Table, fastest, rounds
from imdb_lightning.network.model import DenseStack
from imdb_lightning.network.optimizers import KerasRMSprop, flat, rmsprop_arrays, rmsprop_by_ops

STEPS = 200


def compiled_pass(params, grads, velocities, rho: float, eps: float, lr: float) -> None:
    """The compiled pass, each tensor made a flat array at each call (the package's step until 2026-12-08)."""
    arrays = [tuple(map(flat, tensors)) for tensors in zip(params, grads, velocities, strict=True)]
    rmsprop_arrays(arrays, rho, eps, lr)


def fused_forms(params, grads, velocities, rho: float, eps: float, lr: float) -> None:
    torch._foreach_mul_(velocities, rho)
    torch._foreach_addcmul_(velocities, grads, grads, value=1 - rho)
    denom = torch._foreach_add(velocities, eps)
    torch._foreach_sqrt_(denom)
    torch._foreach_addcdiv_(params, grads, denom, value=-lr)


def optimizer_steps(params, grads, velocities, rho: float, eps: float, lr: float) -> None:
    """The optimizer's own step (its velocities stand in for ``velocities``)."""
    params = [torch.nn.Parameter(p, requires_grad=True) for p in params]
    for p, g in zip(params, grads, strict=True):
        p.grad = g
    optimizer = KerasRMSprop(params, lr=lr, rho=rho, eps=eps)
    for _ in range(STEPS):
        optimizer.step()


def optimizer_step(repeat: int) -> tuple[dict, dict[str, Table]]:
    threads_as_a_run()
    torch.manual_seed(0)
    shapes = [p.shape for p in DenseStack(10000).parameters()]
    grads = [torch.randn(shape) * 1e-3 for shape in shapes]
    ways = {
        "one compiled pass a parameter (on a CPU)": compiled_pass,
        "Keras's operations one by one (other devices)": rmsprop_by_ops,
        "PyTorch's fused addcmul/addcdiv forms (until 2026-12-07)": fused_forms,
        "`KerasRMSprop.step`: the compiled pass with its checks, its arrays held": optimizer_steps,
    }

    def timed(step) -> float:
        params = [torch.randn(shape) for shape in shapes]
        velocities = [torch.zeros(shape) for shape in shapes]
        started = time.perf_counter()
        if step is optimizer_steps:  # steps STEPS times itself: the optimizer is made once
            step(params, grads, velocities, 0.9, 1e-7, 1e-3)
        else:
            for _ in range(STEPS):
                step(params, grads, velocities, 0.9, 1e-7, 1e-3)
        return 1e6 * (time.perf_counter() - started) / STEPS

    tries = rounds({name: (lambda step=step: timed(step)) for name, step in ways.items()}, repeat)
    table = Table(["an RMSprop step over the model's parameters", "µs"])
    for name, t in tries.items():
        table.add(name, f"{fastest(t):.0f}")
    return {"optimizer_step_us": {name: fastest(t) for name, t in tries.items()}}, {"optimizer-step": table}
