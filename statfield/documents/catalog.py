"""The catalogue of named derivations (``statfield derive NAME``).

Each entry maps a name to ``("module:function", description)``; the function takes no required
arguments and returns a :class:`~statfield.symbolic.derivation.Derivation`. Builders are resolved
lazily, so listing the catalogue imports nothing. Builders that need numbers from the numeric
modules live in :mod:`statfield.documents`; the purely symbolic ones in :mod:`statfield.symbolic`.
"""

from __future__ import annotations

import importlib

__all__ = ["DERIVATIONS", "build_derivation", "derivation_names"]

DERIVATIONS = {
    "action": ("statfield.symbolic.action:action_derivation",
               "Pre-activation action (SPS17 Eq. 9-11): delta/lambda route and direct route"),
    "general-phi": ("statfield.symbolic.general:general_derivation",
                    "Action and saddle equations for a general activation (tanh by default)"),
    "linear-eft": ("statfield.symbolic.eft:linear_eft_derivation",
                   "Linear network: radial reduction, saddle, quadratic EFT, correlation lengths"),
    "relu-eft": ("statfield.symbolic.eft:relu_eft_derivation",
                 "ReLU network: (r+, r-, k) reduction, saddle, 3x3 quadratic EFT, continuum limit"),
    "paper-comparison": ("statfield.symbolic.compare:comparison_derivation",
                         "Comparison with the EFT coefficients quoted for SPS17 (talk Eq. 12, 23)"),
    "finite-width": ("statfield.documents.finite_width:finite_width_derivation",
                     "Exact finite-width recursions for linear and ReLU networks"),
    "finite-width-multi": ("statfield.symbolic.finite_width_multi:build_finite_width_multi_derivation",
                           "Finite width for P inputs: four-point vertex, 1/n kernel shift, connected four-point function"),
    "ntk": ("statfield.symbolic.ntk_derivation:build_ntk_derivation",
            "Neural tangent kernel recursion, linearised gradient-flow dynamics and the NNGP posterior"),
    "data-perturbation": ("statfield.symbolic.perturbation:data_perturbation_derivation",
                          "Data as a perturbation: cumulant (Wick) series, the J_D expansion, reweighting"),
}


def derivation_names():
    """The catalogue names, in catalogue order."""
    return tuple(DERIVATIONS)


def build_derivation(name, **kwargs):
    """Build the named derivation (a :class:`~statfield.symbolic.derivation.Derivation`).

    Raises ``ValueError`` naming ``name`` and the allowed names for an unknown name.
    """
    if name not in DERIVATIONS:
        raise ValueError(f"derivation name must be one of {sorted(DERIVATIONS)}, got {name!r}")
    target = DERIVATIONS[name][0]
    mod, fn = target.split(":")
    return getattr(importlib.import_module(mod), fn)(**kwargs)
