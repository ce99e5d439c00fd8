"""The analysis layer: works on model recordings and on real neural data alike.

This package never imports torch (``tests/test_layering.py`` enforces it).  Functions accept numpy arrays of
shape (n_presentations, n_neuroids) and ``xr.DataArray`` (in-memory or dask-backed) alike.
"""
