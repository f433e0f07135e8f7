"""statfield: the statistical field theory of random neural networks.

A random fully connected network z^l = W^l phi(z^{l-1}) + b^l with W ~ N(0, sigma_w2/N_{l-1})
(fan-in) and b ~ N(0, sigma_b2) is a lattice field theory in the layer index
(Schoenholz, Pennington, Sohl-Dickstein, arXiv:1710.06570). statfield

* derives its action, collective-coordinate reductions, saddle points and quadratic EFTs with
  SymPy (:mod:`statfield.symbolic`),
* computes mean-field signal propagation and NNGP kernels (:mod:`statfield.meanfield`) and
  finite-width corrections (:mod:`statfield.finite_width`),
* samples random networks exactly by Monte Carlo (:func:`statfield.simulate`,
  :mod:`statfield.sampling`), and
* verifies theory against simulation (:mod:`statfield.validation`);
* goes beyond initialisation: the NTK and training dynamics (:mod:`statfield.training`), data as a
  perturbation of the prior (:mod:`statfield.perturbation`), weight-matrix spectra with exact random-matrix
  baselines (:mod:`statfield.spectra`), Jacobians, initialisation schemes, residual networks and solvable
  learning models (:mod:`statfield.jacobian`, :mod:`statfield.initialisation`, :mod:`statfield.resnet`,
  :mod:`statfield.student_teacher`, :mod:`statfield.noise_scale`).

Subpackages are imported lazily, so ``import statfield`` is cheap and the samplers never pull
in SymPy.
"""

from __future__ import annotations

import importlib

from .activations import Activation, get_activation
from .stats import Estimate

__version__ = "0.2.0"

_LAZY_MODULES = ("symbolic", "meanfield", "finite_width", "sampling", "stats", "validation",
                 "activations", "quadrature", "report", "cli", "documents", "kernels", "training", "spectra",
                 "perturbation", "jacobian", "initialisation", "student_teacher", "resnet", "noise_scale", "demos",
                 "fields")
_LAZY_ATTRS = {"simulate": "statfield.sampling", "SimulationResult": "statfield.sampling",
               "Derivation": "statfield.symbolic"}

__all__ = ["Activation", "Estimate", "get_activation", "simulate", "SimulationResult", "Derivation",
           "symbolic", "meanfield", "finite_width", "sampling", "validation", "training", "spectra", "perturbation",
           "jacobian", "initialisation", "student_teacher", "resnet", "noise_scale", "__version__"]


def __getattr__(name):
    if name in _LAZY_ATTRS:
        return getattr(importlib.import_module(_LAZY_ATTRS[name]), name)
    if name in _LAZY_MODULES:
        return importlib.import_module(f"statfield.{name}")
    raise AttributeError(f"module 'statfield' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(__all__))
