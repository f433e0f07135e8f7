"""Validation: every theoretical statement against Monte Carlo.

:mod:`~statfield.validation.core` holds the registry (:func:`register_check`, :func:`compare`,
:func:`run_checks`); the built-in checks live in ``checks_meanfield`` (fixed points, NNGP kernels),
``checks_eft`` (lagged correlators and correlation lengths of the quadratic EFT),
``checks_samplers`` (exact finite-N identities), ``checks_paper`` (published coefficients, reported
with z-scores but never counted as failures) and ``checks_finite_width`` (four-point vertex,
kurtosis). They are imported when :func:`run_checks` or :func:`available_checks` is first called.
"""

from .core import (CHECKS, DEFAULT_THRESHOLD, CheckRecord, available_checks, compare, register_check, run_checks,
                   skipped, summarize)

__all__ = ["CHECKS", "DEFAULT_THRESHOLD", "CheckRecord", "available_checks", "compare", "register_check",
           "run_checks", "skipped", "summarize"]
