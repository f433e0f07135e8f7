"""Symbolic field theory of random networks (SymPy only; never imports the array side).

Modules: ``action`` (pre-activation action, delta/lambda and direct routes), ``gaussian``
(Gaussian integrals), ``collective`` (radial and orthant reductions with exact measures),
``saddle`` (stationarity, stability, 1/N displacement), ``eft`` (lattice precision,
propagator, correlators, correlation lengths, continuum EFT), ``derivation`` (LaTeX).
"""

from .derivation import CONVENTIONS, Derivation, Step

__all__ = ["Derivation", "Step", "CONVENTIONS"]

# collective coordinates, saddle, quadratic EFT, comparison with the published coefficients (issue 2)
from .saddle import SaddleResult, saddle  # noqa: E402
from .eft import ContinuumEFT, QuadraticEFT, linear_eft_derivation, quadratic_eft, relu_eft_derivation  # noqa: E402
from .compare import comparison_derivation, comparison_table, our_invariants, published_invariants  # noqa: E402

__all__ += ["saddle", "SaddleResult", "quadratic_eft", "QuadraticEFT", "ContinuumEFT",
            "linear_eft_derivation", "relu_eft_derivation",
            "published_invariants", "our_invariants", "comparison_table", "comparison_derivation"]

# exact finite-width recursions (linear/ReLU), 1/n expansion, quartic EFT coupling (issue 5)
from .finite_width import finite_width_derivation  # noqa: E402

__all__ += ["finite_width_derivation"]
