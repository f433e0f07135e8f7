r"""General-activation saddles through the mean-field module (the numeric cross-check route).

:func:`statfield.symbolic.general.general_saddle` solves the homogeneous saddle equation with
mpmath only. This module offers the same result computed with :mod:`statfield.meanfield`
(``method="meanfield"``), which the symbolic layer does not import.
"""

from __future__ import annotations

from ..symbolic.general import GeneralSaddle, saddle_from_values
from ..symbolic.general import general_saddle as _mpmath_saddle

__all__ = ["general_saddle"]


def general_saddle(activation="tanh", sigma_w2=1.5, sigma_b2=0.05, method="auto") -> GeneralSaddle:
    r"""Homogeneous large-N saddle :math:`q^* = \sigma_w^2\mathbb E[\phi(\sqrt{q^*}\xi)^2] + \sigma_b^2`.

    Parameters
    ----------
    activation, sigma_w2, sigma_b2
        As in :func:`statfield.symbolic.general.general_saddle`.
    method : {"auto", "meanfield", "mpmath"}
        ``"meanfield"`` (= ``"auto"``): :func:`statfield.meanfield.q_star`, ``chi_q``, ``chi1``;
        ``"mpmath"``: :func:`statfield.symbolic.general.general_saddle`.

    Returns
    -------
    GeneralSaddle
        With ``method`` recorded.
    """
    from .._checks import check_variances

    if method not in ("auto", "meanfield", "mpmath"):
        raise ValueError(f"method must be 'auto', 'meanfield' or 'mpmath', got {method!r}")
    if method == "mpmath":
        return _mpmath_saddle(activation, sigma_w2, sigma_b2, method="mpmath")
    from .. import meanfield as mf
    from ..activations import get_activation

    sw2, sb2 = check_variances(sigma_w2, sigma_b2)
    act = get_activation(activation)
    qv = float(mf.q_star(act, sw2, sb2))
    chiq = float(mf.chi_q(act, sw2, sb2))
    chi1 = float(mf.chi1(act, sw2, sb2))
    return saddle_from_values(activation, sw2, sb2, qv, chiq, chi1, "meanfield")
