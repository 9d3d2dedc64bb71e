"""Benchmarks (not tests); `passport bench` runs them.

Add a row from any area with :func:`bench.register` in a module ``bench/cases_<area>.py``
(see ``bench.registry`` for the factory contract); ``passport bench`` imports those.
"""

from bench.registry import Skip, register

__all__ = ["Skip", "register"]
