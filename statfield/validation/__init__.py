"""Validation: every theoretical statement against Monte Carlo (see :mod:`statfield.validation.core`)."""

from .core import CHECKS, CheckRecord, compare, register_check, run_checks

__all__ = ["CHECKS", "CheckRecord", "compare", "register_check", "run_checks"]
