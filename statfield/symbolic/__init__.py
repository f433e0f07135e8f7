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

# pre-activation action (SPS17 Eq. 9-11), Gaussian integrals, general-phi saddle (issue 2, items 1, 6)
from .gaussian import complete_square, gaussian_integral, integrate_out, quadratic_form  # noqa: E402
from .action import Action, action, action_derivation, layer_term  # noqa: E402
from .general import GeneralSaddle, general_derivation, general_saddle, saddle_equation  # noqa: E402

__all__ += ["gaussian_integral", "integrate_out", "complete_square", "quadratic_form",
            "Action", "action", "action_derivation", "layer_term",
            "GeneralSaddle", "general_saddle", "general_derivation", "saddle_equation"]
