"""Symbolic field theory of random networks (SymPy only; never imports the array side).

Modules: ``action`` (pre-activation action, delta/lambda and direct routes), ``gaussian``
(Gaussian integrals), ``collective`` (radial and orthant reductions with exact measures),
``saddle`` (stationarity, stability, 1/N displacement), ``eft`` (lattice precision,
propagator, correlators, correlation lengths, continuum EFT), ``derivation`` (LaTeX).
"""

from .derivation import CONVENTIONS, Derivation, Step

__all__ = ["Derivation", "Step", "CONVENTIONS"]
