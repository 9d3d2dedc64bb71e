"""Benchmarks (not tests); `passport bench` runs them."""
