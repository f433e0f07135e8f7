"""Input validation shared by every module.

Every public function validates its inputs with these helpers so that bad input
raises an exception that names the parameter and the allowed range, never a
silent NaN or inf.
"""

from __future__ import annotations

import math
from numbers import Integral, Real

import numpy as np

__all__ = [
    "check_finite",
    "check_positive",
    "check_nonnegative",
    "check_int",
    "check_in_range",
    "check_variances",
]


def _as_float_array(value, name):
    try:
        arr = np.asarray(value, dtype=float)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name} must be a real number or array of real numbers, got {value!r}") from exc
    return arr


def check_finite(value, name):
    """Return ``value`` as float (array) after checking that it is finite."""
    arr = _as_float_array(value, name)
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be finite, got {value!r}")
    return float(arr) if arr.ndim == 0 else arr


def check_positive(value, name):
    """Check ``value > 0`` (elementwise) and finite."""
    arr = _as_float_array(value, name)
    if not np.all(np.isfinite(arr)) or not np.all(arr > 0):
        raise ValueError(f"{name} must be finite and > 0, got {value!r}")
    return float(arr) if arr.ndim == 0 else arr


def check_nonnegative(value, name):
    """Check ``value >= 0`` (elementwise) and finite."""
    arr = _as_float_array(value, name)
    if not np.all(np.isfinite(arr)) or not np.all(arr >= 0):
        raise ValueError(f"{name} must be finite and >= 0, got {value!r}")
    return float(arr) if arr.ndim == 0 else arr


def check_int(value, name, minimum=None, maximum=None):
    """Check that ``value`` is an integer in ``[minimum, maximum]``."""
    if isinstance(value, bool) or not isinstance(value, (Integral, np.integer)):
        if isinstance(value, Real) and float(value).is_integer():
            value = int(value)
        else:
            raise TypeError(f"{name} must be an integer, got {value!r}")
    value = int(value)
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    if maximum is not None and value > maximum:
        raise ValueError(f"{name} must be <= {maximum}, got {value}")
    return value


def check_in_range(value, name, low=-math.inf, high=math.inf, low_open=False, high_open=False):
    """Check ``low <(=) value <(=) high`` elementwise; the message states the interval."""
    arr = _as_float_array(value, name)
    ok = np.isfinite(arr) if (math.isfinite(low) and math.isfinite(high)) else ~np.isnan(arr)
    ok &= (arr > low) if low_open else (arr >= low)
    ok &= (arr < high) if high_open else (arr <= high)
    if not np.all(ok):
        lb = "(" if low_open else "["
        hb = ")" if high_open else "]"
        raise ValueError(f"{name} must lie in {lb}{low}, {high}{hb}, got {value!r}")
    return float(arr) if arr.ndim == 0 else arr


def check_variances(sigma_w2, sigma_b2):
    """Validate the weight and bias variances: ``sigma_w2 > 0``, ``sigma_b2 >= 0``."""
    return check_positive(sigma_w2, "sigma_w2"), check_nonnegative(sigma_b2, "sigma_b2")
