"""One array-namespace helper: the array-API namespace of some arrays (NumPy for Python scalars/lists)."""

from __future__ import annotations

import numpy as np

__all__ = ["namespace_of"]


def namespace_of(*arrays, xp=None):
    """The array-API namespace of ``arrays`` (``xp`` wins when given).

    Python scalars, lists and ``None`` are ignored; with no array argument the result is NumPy
    (``array_api_compat.numpy`` when array-api-compat is installed, which it is as a core dependency).
    """
    if xp is not None:
        return xp
    arrs = [a for a in arrays if a is not None and not isinstance(a, (int, float, complex, bool, list, tuple))]
    if not arrs:
        return np
    try:
        from array_api_compat import array_namespace

        return array_namespace(*arrs)
    except Exception:  # objects that are not arrays of a known library
        return np
