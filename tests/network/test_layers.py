"""Keras's Dense layer and its bag input: the same numbers as multi-hot rows, by either gradient kernel."""

from __future__ import annotations

import pytest
import torch

from imdb_lightning.data import CompactBatch, multi_hot
from imdb_lightning.network.layers import BatchNormalization, Dense, kernel_gradient


def random_bags(reviews: int = 40, width: int = 300, seed: int = 0) -> CompactBatch:
    generator = torch.Generator().manual_seed(seed)
    lengths = torch.randint(0, 50, (reviews,), generator=generator)  # empty reviews included
    offsets = torch.cat([torch.zeros(1, dtype=torch.long), lengths.cumsum(0)])
    ids = torch.cat([torch.randperm(width, generator=generator)[:n] for n in lengths.tolist()]).int()
    return CompactBatch(ids, offsets, torch.zeros(reviews))


def test_dense_stores_the_kernel_as_keras_in_by_out_and_computes_x_kernel_plus_bias():
    torch.manual_seed(0)
    layer = Dense(7, 3)
    assert layer.kernel.shape == (7, 3) and layer.bias.shape == (3,) and torch.count_nonzero(layer.bias) == 0
    x = torch.randn(5, 7)
    assert torch.allclose(layer(x), x @ layer.kernel + layer.bias)
    assert torch.allclose(layer(x[0]), x[0] @ layer.kernel + layer.bias)  # an unbatched row too


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_a_bag_gives_the_multi_hot_rows_logits_and_kernel_gradient(dtype):
    torch.manual_seed(0)
    layer = Dense(300, 16).to(dtype)
    with torch.no_grad():
        layer.bias.uniform_()
    bags = random_bags()
    rows = multi_hot(bags.ids, bags.offsets, 300).to(dtype)
    upstream = torch.randn(40, 16, dtype=dtype)
    tol = 1e-5 if dtype == torch.float32 else 1e-12
    assert torch.allclose(layer(bags), layer(rows), atol=tol)
    grads = []
    for x in (bags, rows):
        layer.zero_grad()
        layer(x).backward(upstream)
        grads.append((layer.kernel.grad.clone(), layer.bias.grad.clone()))
    assert torch.allclose(grads[0][0], grads[1][0], atol=tol) and torch.allclose(
        grads[0][1], grads[1][1], atol=tol
    )


def test_the_compiled_gradient_loop_equals_index_add():
    bags = random_bags(reviews=64, width=500, seed=3)
    grad = torch.randn(64, 16)
    ids, offsets = bags.ids.long(), bags.offsets
    compiled = kernel_gradient(ids, offsets, grad, torch.Size((500, 16)), compiled=True)
    indexed = kernel_gradient(ids, offsets, grad, torch.Size((500, 16)), compiled=False)
    assert torch.allclose(compiled, indexed, atol=1e-6)
    assert torch.count_nonzero(compiled.abs().sum(1)) == len(torch.unique(ids))  # only the rows of ids seen


def test_an_id_beyond_the_kernel_is_an_error_not_a_silent_read():
    layer = Dense(10, 2)
    with pytest.raises((IndexError, RuntimeError), match="10"):
        layer(CompactBatch(torch.tensor([3, 10], dtype=torch.int32), torch.tensor([0, 2]), torch.zeros(1)))


def test_batch_normalization_updates_its_moving_statistics_as_keras():
    torch.manual_seed(0)
    bn = BatchNormalization(4)
    x = torch.randn(7, 4, dtype=torch.float32) * 3 + 1
    y = bn(x)
    mean, var = x.mean(0), x.var(0, unbiased=False)  # Keras: tf.nn.moments, the biased variance
    torch.testing.assert_close(bn.running_mean, 0.99 * torch.zeros(4) + 0.01 * mean)
    torch.testing.assert_close(bn.running_var, 0.99 * torch.ones(4) + 0.01 * var)
    torch.testing.assert_close(y, (x - mean) / torch.sqrt(var + 1e-3))
    bn.eval()
    torch.testing.assert_close(bn(x), (x - bn.running_mean) / torch.sqrt(bn.running_var + 1e-3))
