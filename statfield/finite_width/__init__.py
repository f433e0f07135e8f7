r"""Finite-width theory of deep random networks: the four-point vertex, the 1/n kernel shift, exact results.

* :mod:`._single` — one input (and two at leading order): :func:`recursion` (leading order in 1/n for any
  activation, exact for linear/ReLU-type), exact moments of the metric, :math:`\ln q` at zero bias, the quartic
  single-unit action, :func:`two_input_recursion`.
* :mod:`.multi` — P inputs: :func:`multi_input_recursion` (kernel, four-point vertex over input quadruples,
  1/n kernel shift), :func:`connected_four_point` (exact for one hidden layer and for linear networks) and the
  exact Wishart recursion of linear networks.

Input convention (as :func:`statfield.simulate`): the default input is :math:`x = (1,)`, :math:`d_{in} = 1`, so
:math:`K^{(1)} = \sigma_b^2 + \sigma_w^2`; ``inputs=`` gives :math:`K^{(1)}_{\alpha\beta} = \sigma_b^2 +
\sigma_w^2 x_\alpha\cdot x_\beta/d_{in}`. Conventions: ``docs/conventions.md``.
"""

from __future__ import annotations

from . import _single
from ._single import *
from ._single import __all__ as _single_all
from .multi import (
    DEFAULT_NODES,
    MultiInputResult,
    connected_four_point,
    gaussian_four_point,
    linear_exact_moments,
    multi_input_recursion,
)

__all__ = list(_single_all) + ["MultiInputResult", "multi_input_recursion", "connected_four_point",
                               "linear_exact_moments", "gaussian_four_point", "DEFAULT_NODES",
                               "TIME_LIMIT_S", "LO_WARN_RATIO"]

TIME_LIMIT_S = _single.TIME_LIMIT_S
LO_WARN_RATIO = _single.LO_WARN_RATIO


def __getattr__(name):
    # module-level settings live in _single (so that changing them there takes effect)
    if name.startswith("_") and hasattr(_single, name):
        return getattr(_single, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
