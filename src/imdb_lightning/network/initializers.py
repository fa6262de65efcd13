"""Kernel initializers as Keras defines them (biases are always zero).

Kernels are stored as Keras stores them (``[in, out]``, see :class:`~imdb_lightning.network.layers.Dense`), so
``fan_in = kernel.shape[0]`` and ``fan_out = kernel.shape[1]``, and a seed draws its numbers in Keras's order.
Keras's ``*_normal`` variance-scaling initializers draw from a normal *truncated at two standard deviations*
and divide the stddev by 0.8796 (the stddev of a unit normal truncated there) so the kept values still have
the intended variance. The lecture's text simplifies this to "a normal with stddev sqrt(2/fan_in)" (He),
"sqrt(1/fan_in)" (what it calls Xavier: Keras's LeCun normal) and "sqrt(2/(fan_in+fan_out))" (Glorot normal):
those are the *target* stddevs, which we reach exactly.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import nn

from imdb_lightning.network.settings import MODEL_RULES
from imdb_lightning.utils.checks import one_of, require
from imdb_lightning.utils.errors import ConfigError

TRUNCATED_STDDEV = 0.87962566103423978  # stddev of N(0, 1) truncated to [-2, 2]

#: Default stddev of each plain-normal initializer. ``too_small``/``too_large`` are the lecture's vanishing
#: and exploding demonstrations; the scale is configurable (``model.init_scale``).
DEFAULT_SCALES = {"random_normal": 0.05, "too_small": 1e-4, "too_large": 1.0}


def fans(kernel: torch.Tensor) -> tuple[int, int]:
    return kernel.shape[0], kernel.shape[1]


def _truncated(kernel: torch.Tensor, target_std: float, generator: torch.Generator | None) -> None:
    std = target_std / TRUNCATED_STDDEV
    with torch.no_grad():
        # Keras redraws values beyond 2 std; drawing from the truncated distribution directly is the same law.
        nn.init.trunc_normal_(kernel, 0.0, std, -2 * std, 2 * std, generator=generator)


def _variance_scaling(scale: float, mode: str) -> Callable[..., None]:
    def init(kernel: torch.Tensor, *, generator: torch.Generator | None = None, **_) -> None:
        fan_in, fan_out = fans(kernel)
        n = {"fan_in": fan_in, "fan_avg": (fan_in + fan_out) / 2}[mode]
        _truncated(kernel, math.sqrt(scale / n), generator)

    return init


def _normal(name: str) -> Callable[..., None]:
    def init(
        kernel: torch.Tensor, *, scale: float | None = None, generator: torch.Generator | None = None
    ) -> None:
        with torch.no_grad():
            kernel.normal_(0.0, DEFAULT_SCALES[name] if scale is None else scale, generator=generator)

    return init


def zeros(kernel: torch.Tensor, **_) -> None:
    """Every unit computes the same thing and gets the same gradient: the symmetry is never broken."""
    with torch.no_grad():
        kernel.zero_()


def glorot_uniform(kernel: torch.Tensor, *, generator: torch.Generator | None = None, **_) -> None:
    """Keras's Dense default: U(-limit, limit), limit = sqrt(6 / (fan_in + fan_out))."""
    fan_in, fan_out = fans(kernel)
    limit = math.sqrt(6.0 / (fan_in + fan_out))
    with torch.no_grad():
        kernel.uniform_(-limit, limit, generator=generator)


INITIALIZERS: dict[str, Callable[..., None]] = {
    "zeros": zeros,
    "random_normal": _normal("random_normal"),
    "too_small": _normal("too_small"),
    "too_large": _normal("too_large"),
    "he_normal": _variance_scaling(2.0, "fan_in"),
    "lecun_normal": _variance_scaling(1.0, "fan_in"),
    "glorot_normal": _variance_scaling(1.0, "fan_avg"),
    "glorot_uniform": glorot_uniform,
}


def target_stddev(name: str, kernel_shape: tuple[int, int], scale: float | None = None) -> float:
    """The stddev the lecture's formula gives each initializer (what tests compare the samples with)."""
    fan_in, fan_out = kernel_shape
    if name in DEFAULT_SCALES:
        return DEFAULT_SCALES[name] if scale is None else scale
    return {
        "zeros": 0.0,
        "he_normal": math.sqrt(2 / fan_in),
        "lecun_normal": math.sqrt(1 / fan_in),
        "glorot_normal": math.sqrt(2 / (fan_in + fan_out)),
        "glorot_uniform": math.sqrt(6 / (fan_in + fan_out)) / math.sqrt(3),
    }[name]


def initialize(
    dense: nn.Module, name: str, *, scale: float | None = None, generator: torch.Generator | None = None
) -> None:
    """Initialize a Dense layer's ``kernel`` with ``name`` and its ``bias`` with zeros, as Keras does."""
    require("model.init", name, one_of(INITIALIZERS))
    require("model.init_scale", scale, MODEL_RULES["init_scale"])
    if scale is not None and name not in DEFAULT_SCALES:  # it would be ignored: runs the same, named apart
        raise ConfigError(
            f"model.init_scale sets the stddev of {', '.join(DEFAULT_SCALES)} only; model.init={name} would "
            "ignore it (leave model.init_scale=null)"
        )
    INITIALIZERS[name](dense.kernel, scale=scale, generator=generator)
    with torch.no_grad():
        dense.bias.zero_()
