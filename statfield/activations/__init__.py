r"""Everything statfield knows about an activation function, in one place.

* :mod:`~statfield.activations.core`: the :class:`Activation` object (array function, derivatives, lazy
  SymPy form, attached closed forms, kinks, collective model);
* :mod:`~statfield.activations.registry`: :func:`get_activation`, :func:`register`, :func:`registered_names`;
* :mod:`~statfield.activations.builtin`: linear, ReLU, leaky ReLU, tanh, erf, GELU, SiLU with their closed
  forms attached at registration;
* :mod:`~statfield.activations.closed_forms`: the formulas (arc-cosine, Williams' erf, GELU);
* :mod:`~statfield.activations.user`: :func:`from_sympy`, :func:`from_callable`;
* :mod:`~statfield.activations.collective`: :class:`CollectiveModel` (radial / orthant reduction of the
  piecewise-linear class).

Conventions: ``docs/conventions.md``.
"""

from __future__ import annotations

from .builtin import leaky_relu, piecewise_linear
from .collective import CollectiveModel, require_collective, unsupported_eft_message
from .core import CLOSED_FORM_KINDS, Activation, UnsupportedActivationError
from .registry import get_activation, register, register_prefix, registered_names
from .user import from_callable, from_sympy

__all__ = [
    "CLOSED_FORM_KINDS",
    "Activation",
    "CollectiveModel",
    "UnsupportedActivationError",
    "from_callable",
    "from_sympy",
    "get_activation",
    "leaky_relu",
    "piecewise_linear",
    "register",
    "register_prefix",
    "registered_names",
    "require_collective",
    "unsupported_eft_message",
]
