"""Initializers follow Keras's definitions; their samples have the stddevs the lecture's formulas give."""

from __future__ import annotations

import math

import pytest
import torch

from imdb_lightning.network.initializers import INITIALIZERS, TRUNCATED_STDDEV, initialize, target_stddev
from imdb_lightning.network.layers import Dense


def fresh(fan_in: int = 1000, fan_out: int = 400) -> Dense:
    torch.manual_seed(0)
    return Dense(fan_in, fan_out)


@pytest.mark.parametrize("name", sorted(INITIALIZERS))
def test_kernel_stddev_matches_the_formula_and_bias_is_zero(name):
    layer = fresh()
    initialize(layer, name)
    expected = target_stddev(name, tuple(layer.kernel.shape))
    assert layer.kernel.std().item() == pytest.approx(expected, rel=0.03, abs=1e-12)
    assert layer.kernel.mean().item() == pytest.approx(0.0, abs=max(expected, 1e-12) * 0.02)
    assert torch.count_nonzero(layer.bias) == 0


def test_lecture_formulas_for_he_lecun_and_glorot():
    shape = (10000, 16)  # Keras's kernel [in, out]: fan_in 10000, fan_out 16
    assert target_stddev("he_normal", shape) == pytest.approx(math.sqrt(2 / 10000))
    assert target_stddev("lecun_normal", shape) == pytest.approx(math.sqrt(1 / 10000))
    assert target_stddev("glorot_normal", shape) == pytest.approx(math.sqrt(2 / 10016))


@pytest.mark.parametrize("name", ["he_normal", "lecun_normal", "glorot_normal"])
def test_variance_scaling_normals_are_truncated_at_two_sigma_as_keras(name):
    layer = fresh()
    initialize(layer, name)
    sigma = target_stddev(name, tuple(layer.kernel.shape)) / TRUNCATED_STDDEV
    assert layer.kernel.abs().max().item() <= 2 * sigma + 1e-9


def test_glorot_uniform_stays_within_its_limit():
    layer = fresh()
    initialize(layer, "glorot_uniform")
    limit = math.sqrt(6 / 1400)
    assert layer.kernel.abs().max().item() <= limit
    assert layer.kernel.abs().max().item() > 0.95 * limit


def test_scale_sets_the_stddev_of_the_plain_normals():
    for name in ("random_normal", "too_small", "too_large"):
        layer = fresh()
        initialize(layer, name, scale=0.3)
        assert layer.kernel.std().item() == pytest.approx(0.3, rel=0.03)
    assert (
        target_stddev("too_small", (1, 1))
        < target_stddev("random_normal", (1, 1))
        < target_stddev("too_large", (1, 1))
    )


@pytest.mark.parametrize(
    ("name", "stddev"),
    [("random_normal", 0.05), ("too_small", 1e-4), ("too_large", 1.0)],  # conf/experiment/init_*.yaml
)
def test_the_plain_normals_default_to_the_lectures_stddevs(name, stddev):
    """Keras's ``RandomNormal()`` (stddev 0.05), and the lecture's vanishing and exploding examples."""
    layer = fresh()
    initialize(layer, name)
    assert layer.kernel.std().item() == pytest.approx(stddev, rel=0.03)
    assert target_stddev(name, tuple(layer.kernel.shape)) == stddev


def test_zeros_kernel_is_all_zero_and_unknown_names_list_the_choices():
    layer = fresh()
    initialize(layer, "zeros")
    assert torch.count_nonzero(layer.kernel) == 0
    with pytest.raises(ValueError, match="glorot_uniform"):
        initialize(layer, "xavier")
