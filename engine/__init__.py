"""Numba geodistance engine: kernels and the immutable InstitutionTable. No I/O."""
