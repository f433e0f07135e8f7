"""Validation: every theoretical statement against Monte Carlo.

:mod:`~statfield.validation.core` holds the registry (:func:`register_check`, :func:`compare`,
:func:`run_checks`), the records (:class:`CheckRecord`, with ``to_dict``/``from_dict`` and a
:data:`SCHEMA_VERSION`) and the ``results.json`` document (:func:`results_document`, :func:`load_results`);
:mod:`~statfield.validation.plots` draws the figures (overlays with pull panels). The built-in checks live in
``checks_meanfield`` (fixed points, NNGP kernels), ``checks_eft`` (lagged correlators and correlation
lengths of the quadratic EFT), ``checks_samplers`` (exact finite-N identities), ``checks_paper``
(published coefficients, reported with z-scores but never counted as failures), ``checks_finite_width``
(four-point vertex, kurtosis), ``checks_perturbation`` (Wick series, reweighting, the NNGP posterior),
``checks_spectra`` (Gaussian baselines, power-law fits), ``checks_training`` (NTK, trained ensembles),
``checks_models`` (Jacobians, initialisation schemes, the student–teacher model) and ``checks_architectures``
(residual networks, the gradient noise scale); the list is ``core._BUILTIN``. They are imported when
:func:`run_checks` or
:func:`available_checks` is first called. Conventions and the pass rule :math:`|z| < 5`:
``docs/conventions.md``, section *Statistics*.
"""

from .core import (CHECKS, DEFAULT_THRESHOLD, SCHEMA_VERSION, CheckRecord, available_checks, compare, load_results,
                   register_check, results_document, run_checks, skipped, summarize, z_distribution)

__all__ = ["CHECKS", "DEFAULT_THRESHOLD", "SCHEMA_VERSION", "CheckRecord", "available_checks", "compare",
           "load_results", "register_check", "results_document", "run_checks", "skipped", "summarize",
           "z_distribution"]
