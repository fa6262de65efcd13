"""The loops PyTorch and numpy have no fast CPU kernel for, compiled by numba.

Each walks reviews' id segments, which vectorized code can only do through large index tensors or a sort:
adding each review's gradient onto its ids' kernel rows (the sparse first layer's backward), copying
segments into a new order (an epoch's shuffle), and keeping each review's distinct ids (its multi-hot row).
``scripts/bench.py first-layer`` measures the first against PyTorch's alternatives (docs/benchmarks.md).
One more is a whole RMSprop step in one pass over a parameter, where PyTorch's ops take a pass each.
They are compiled for the listed types when this module is first imported and cached on disk by numba, so
no timed fit pays for compilation.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import numba
import numpy as np
import torch

log = logging.getLogger(__name__)

_FLOATS = ("float32", "float64")
_INTS = ("int32", "int64")


def compiled(signatures: list[str], error_model: str = "python") -> Callable[[Callable], Callable]:
    """``numba.njit`` for ``signatures``, cached on disk where numba finds a writable place (beside this file,
    ``NUMBA_CACHE_DIR`` or ``~/.cache/numba``). Where none is (a read-only install run by a user without a
    writable home, as in many containers), numba refuses to cache and would fail the package's import: the
    loops are then compiled at every start instead, several seconds, with a warning that says how to avoid it.
    ``error_model="numpy"`` lets a loop that divides be vectorized (no division-by-zero check per element).
    """

    def decorate(fn: Callable) -> Callable:
        try:
            return numba.njit(signatures, cache=True, nogil=True, error_model=error_model)(fn)
        except RuntimeError as error:  # numba: "cannot cache function ...: no locator available for file ..."
            if "cannot cache" not in str(error):
                raise
            log.warning(
                "numba finds no writable folder to cache %s in: compiling it at every start (seconds); "
                "set NUMBA_CACHE_DIR to a writable folder to compile it once",
                fn.__name__,
            )
            return numba.njit(signatures, nogil=True, error_model=error_model)(fn)

    return decorate


def takes(*tensors: torch.Tensor) -> bool:
    """Whether the compiled loops take these tensors (as numpy arrays): on the CPU, float32 or float64."""
    return all(t.device.type == "cpu" and t.dtype in (torch.float32, torch.float64) for t in tensors)


@compiled([f"void(int64[::1], int64[::1], {t}[:, ::1], {t}[:, ::1])" for t in _FLOATS])
def scatter_rows(ids, offsets, grad, out):  # pragma: no cover -- compiled; tested through its callers
    """``out[ids[j]] += grad[r]`` for every id ``j`` of review ``r`` (reviews are ``offsets``' segments)."""
    width = grad.shape[1]
    for r in range(len(offsets) - 1):
        for j in range(offsets[r], offsets[r + 1]):
            row = ids[j]
            for k in range(width):
                out[row, k] += grad[r, k]


@compiled([f"void({t}[::1], {t}[::1], {t}[::1], {t}, {t}, {t}, {t})" for t in _FLOATS], error_model="numpy")
def rmsprop_update(param, grad, velocity, rho, one_minus_rho, eps, lr):  # pragma: no cover -- compiled
    """Keras's RMSprop step, element by element in Keras's order of operations (each rounded as its own
    tensor op rounds it: no fused multiply-add), so that it gives the bits of the op-by-op update."""
    for i in range(param.shape[0]):
        g = grad[i]
        v = rho * velocity[i] + one_minus_rho * (g * g)
        velocity[i] = v
        param[i] = param[i] - (lr * g) / np.sqrt(v + eps)


@compiled(["void(float64[::1], float64[::1], float64[::1])"])
def bucket_counts(values, edges, counts):  # pragma: no cover -- compiled; tested against numpy.histogram
    """Add to ``counts[k]`` how many ``values`` lie in ``[edges[k], edges[k + 1])``, the last bucket closed
    (``numpy.histogram``'s buckets, ``edges`` equally spaced): one pass, where ``torch.histc`` is slow on a
    CPU."""
    bins = len(counts)
    lo, hi = edges[0], edges[bins]
    scale = bins / (hi - lo)
    for v in values:
        if not lo <= v <= hi:
            continue
        k = min(int((v - lo) * scale), bins - 1)
        if v < edges[k]:  # the arithmetic above can land one bucket off an edge
            k -= 1
        elif k + 1 < bins and v >= edges[k + 1]:
            k += 1
        counts[k] += 1


@compiled([f"void({t}[::1], int64[::1], int64[::1], {t}[::1], int64[::1])" for t in _INTS])
def _copy_segments(values, offsets, index, out, out_offsets):  # pragma: no cover -- compiled
    pos = 0
    for i in range(len(index)):
        start, end = offsets[index[i]], offsets[index[i] + 1]
        out[pos : pos + end - start] = values[start:end]
        pos += end - start
        out_offsets[i + 1] = pos


@compiled(["int64(int32[::1], int64[::1], int32[::1], int64[::1], uint8[::1])"])
def _distinct_segments(values, offsets, out, out_offsets, seen):  # pragma: no cover -- compiled
    # Each segment's distinct values in the order first seen, counted by value ...
    width = len(seen)
    starts = np.zeros(width + 1, np.int64)
    pos = 0
    for r in range(len(offsets) - 1):
        first = pos
        for j in range(offsets[r], offsets[r + 1]):
            if not seen[values[j]]:
                seen[values[j]] = 1
                out[pos] = values[j]
                pos += 1
                starts[values[j] + 1] += 1
        for k in range(first, pos):  # cleared by the segment's own values: no pass over the whole width
            seen[out[k]] = 0
        out_offsets[r + 1] = pos
    # ... then sorted within each segment by two counting sorts, by value then back by segment: linear in the
    # values, where sorting each segment (a few hundred values) is not (docs/benchmarks.md).
    for v in range(width):
        starts[v + 1] += starts[v]
    holders = np.empty(pos, np.int32)
    for r in range(len(out_offsets) - 1):
        for k in range(out_offsets[r], out_offsets[r + 1]):
            holders[starts[out[k]]] = r
            starts[out[k]] += 1
    fill = out_offsets[:-1].copy()
    first = 0
    for v in range(width):  # starts[v] is now where value v's holders end
        for i in range(first, starts[v]):
            out[fill[holders[i]]] = v
            fill[holders[i]] += 1
        first = starts[v]
    return pos


def distinct_segments(values: np.ndarray, offsets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each segment's distinct values (non-negative int32), sorted, back to back, and their offsets."""
    values = np.ascontiguousarray(values, dtype=np.int32)
    offsets = np.ascontiguousarray(offsets, dtype=np.int64)
    out = np.empty(len(values), dtype=np.int32)
    out_offsets = np.zeros(len(offsets), dtype=np.int64)
    seen = np.zeros(int(values.max()) + 1 if len(values) else 1, dtype=np.uint8)
    kept = _distinct_segments(values, offsets, out, out_offsets, seen)
    return out[:kept].copy(), out_offsets


def gather_segments(
    values: np.ndarray, offsets: np.ndarray, index: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Segments ``index`` of ``values`` (segment ``i`` is ``values[offsets[i]:offsets[i + 1]]``), back to back
    in that order, and their offsets."""
    index = np.ascontiguousarray(index, dtype=np.int64)
    lengths = offsets[index + 1] - offsets[index]
    out = np.empty(int(lengths.sum()), dtype=values.dtype)
    out_offsets = np.zeros(len(index) + 1, dtype=np.int64)
    _copy_segments(values, offsets, index, out, out_offsets)
    return out, out_offsets
