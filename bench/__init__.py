"""Benchmarks (not tests): ``python -m bench.appeals_bench [--quick]``. See bench/README.md."""
