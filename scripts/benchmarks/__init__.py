"""The benchmarks behind docs/benchmarks.md, one module a subject, run through ``scripts/bench.py``."""
