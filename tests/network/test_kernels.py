"""The compiled loops: importable wherever the package is, even where numba cannot cache them on disk."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from imdb_lightning.network.kernels import bucket_counts, distinct_segments, gather_segments


@given(st.lists(st.lists(st.integers(0, 40), max_size=12), max_size=8))
def test_distinct_segments_keeps_each_segments_distinct_values_sorted(segments):
    values = np.array([v for segment in segments for v in segment], dtype=np.int32)
    offsets = np.concatenate([[0], np.cumsum([len(s) for s in segments])]).astype(np.int64)
    out, out_offsets = distinct_segments(values, offsets)
    found = [out[out_offsets[i] : out_offsets[i + 1]].tolist() for i in range(len(segments))]
    assert found == [sorted(set(segment)) for segment in segments]
    assert out.dtype == np.int32 and out_offsets[-1] == len(out)


def test_gather_segments_puts_the_chosen_segments_back_to_back_in_order():
    values, offsets = np.array([10, 11, 20, 21, 22, 30]), np.array([0, 2, 5, 6])
    out, out_offsets = gather_segments(values, offsets, np.array([2, 0, 1]))
    assert out.tolist() == [30, 10, 11, 20, 21, 22]
    assert out_offsets.tolist() == [0, 1, 3, 6]


@given(st.lists(st.floats(-1e3, 1e3), min_size=2, max_size=300), st.integers(1, 70))
def test_bucket_counts_are_numpys_histogram_values_on_edges_included(values, bins):
    values = np.array(values + [0.0, 0.5, 1.0])  # with the edges of a 0..1 range
    lo, hi = values.min(), values.max()
    edges = np.linspace(lo, hi, bins + 1)
    values = np.concatenate([values, edges])  # every edge as a value too
    counts = np.zeros(bins)
    bucket_counts(values, edges, counts)
    assert counts.tolist() == np.histogram(values, bins=bins, range=(lo, hi))[0].tolist()


def test_without_a_writable_cache_folder_the_loops_compile_at_import_with_a_warning():
    # Only numba's zip-file locator: none of its places to cache this module's loops applies, as in a
    # read-only install run by a user without a writable home; numba itself would fail the import.
    env = {**os.environ, "NUMBA_CACHE_LOCATOR_CLASSES": "ZipCacheLocator"}
    code = (
        "from imdb_lightning.network.kernels import gather_segments; import numpy as np; "
        "print(gather_segments(np.arange(3), np.array([0, 1, 3]), np.array([1]))[0].tolist())"
    )
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[1, 2]"
    assert "NUMBA_CACHE_DIR" in done.stderr
