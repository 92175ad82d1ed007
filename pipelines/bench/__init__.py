"""Benchmarks: each writes JSON + Markdown (+ plots) under docs/benchmarks/, with the exact
command and machine facts at the top, and the baselines measured in the same run."""
