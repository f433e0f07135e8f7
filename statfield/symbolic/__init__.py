"""Symbolic field theory of random networks (SymPy; never imports the numeric theory modules).

Modules: ``symbols`` (the one set of SymPy symbols, with their assumptions and LaTeX names),
``printing`` (the physicist's LaTeX printer), ``models`` (which exact collective reduction an
activation has, decided from the activation object), ``action`` (pre-activation action,
delta/lambda and direct routes), ``gaussian`` (Gaussian integrals), ``collective`` (radial and
orthant reductions with exact measures), ``saddle`` (stationarity, stability, 1/N displacement,
exact finite-N modes), ``eft`` (lattice precision, propagator, correlators, correlation lengths,
continuum EFT), ``compare`` (the published SPS17 coefficients), ``general`` (general-phi saddle),
``finite_width`` (exact finite-width recursions, 1/n expansion), ``derivation`` (LaTeX documents
and fragments).

:mod:`statfield.symbolic` never imports :mod:`statfield.meanfield`, :mod:`statfield.finite_width`
or :mod:`statfield.sampling` (a test enforces it); documents that need their numbers live in
:mod:`statfield.documents`.
"""

from . import symbols
from .derivation import CONVENTIONS, Derivation, Step
from .printing import PhysicsLatexPrinter, latex_expr
from .symbols import (FIELDS, K1, LATEX_NAMES, L, N, K, a_minus, a_plus, d_in, eps, eps_k, eps_minus, eps_plus,
                      k, kappa, l, p, q, q_prev, q_star, r, r_minus, r_plus, sigma_b2, sigma_w2, u, v, w)

__all__ = ["Derivation", "Step", "CONVENTIONS", "symbols", "PhysicsLatexPrinter", "latex_expr",
           "sigma_w2", "sigma_b2", "N", "L", "l", "d_in", "q", "q_prev", "q_star", "K", "K1", "r", "r_plus",
           "r_minus", "u", "v", "k", "kappa", "a_plus", "a_minus", "p", "w", "eps", "eps_plus", "eps_minus",
           "eps_k", "FIELDS", "LATEX_NAMES"]

# collective models, saddle, quadratic EFT, comparison with the published coefficients
from .models import collective_model  # noqa: E402
from .saddle import NoSaddleError, SaddleResult, saddle  # noqa: E402
from .eft import ContinuumEFT, QuadraticEFT, linear_eft_derivation, quadratic_eft, relu_eft_derivation  # noqa: E402
from .compare import comparison_derivation, comparison_table, our_invariants, published_invariants  # noqa: E402

__all__ += ["collective_model", "saddle", "SaddleResult", "NoSaddleError", "quadratic_eft", "QuadraticEFT",
            "ContinuumEFT", "linear_eft_derivation", "relu_eft_derivation",
            "published_invariants", "our_invariants", "comparison_table", "comparison_derivation"]

# exact finite-width recursions (linear/ReLU), 1/n expansion, quartic EFT coupling
from .finite_width import finite_width_derivation  # noqa: E402

__all__ += ["finite_width_derivation"]

# pre-activation action (SPS17 Eq. 9-11), Gaussian integrals, general-phi saddle
from .gaussian import complete_square, gaussian_integral, integrate_out, quadratic_form  # noqa: E402
from .action import Action, action, action_derivation, layer_term  # noqa: E402
from .general import GeneralSaddle, general_derivation, general_saddle, saddle_equation  # noqa: E402

__all__ += ["gaussian_integral", "integrate_out", "complete_square", "quadratic_form",
            "Action", "action", "action_derivation", "layer_term",
            "GeneralSaddle", "general_saddle", "general_derivation", "saddle_equation"]
