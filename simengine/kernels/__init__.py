"""@njit kernels only: arrays and scalars in, arrays or scalars out.

No validation, no defaults that matter, no Python objects.  Nothing here imports
the public layer except `simengine._jit` for the numba options.
"""
