r"""The finite-width derivation document: the symbolic derivation plus its numeric :math:`K^*=0` table.

The algebra is :func:`statfield.symbolic.finite_width.finite_width_derivation`; the table of the
leading-order recursion at criticality for tanh and erf comes from
:func:`statfield.finite_width.k0_class_table` (Gauss-Hermite quadrature), which the symbolic layer
does not import.
"""

from __future__ import annotations

import math

from ..symbolic.derivation import Derivation
from ..symbolic.finite_width import finite_width_derivation as _symbolic_derivation

__all__ = ["finite_width_derivation", "k0_table_rows"]


def _fmt(x, digits=5):
    return f"{float(x):.{digits}g}"


def k0_table_rows(depths=(10, 100, 1000)):
    r"""Rows ``[phi, l, l K, V/(l K^2)]`` of the leading-order recursion at criticality
    (:math:`\sigma_b^2 = 0`, :math:`K_1 = 1`; tanh at :math:`\sigma_w^2 = 1`, erf at :math:`\pi/4`)."""
    from ..finite_width import k0_class_table

    rows = []
    for name, sw, label in (("tanh", 1.0, r"$\tanh$"), ("erf", math.pi / 4, r"$\mathrm{erf}$")):
        for r in k0_class_table(name, sw, tuple(depths)):
            rows.append([label, r["l"], _fmt(r["l_K"]), _fmt(r["V_over_lK2"])])
    return rows


def finite_width_derivation(numeric_tables: bool = True) -> Derivation:
    """Builder for ``statfield derive finite-width``: exact finite-n recursions, 1/n expansion, EFT.

    ``numeric_tables=True`` adds the :math:`K^*=0` table (:func:`k0_table_rows`) to the step on
    the :math:`K^*=0` universality class.
    """
    d = _symbolic_derivation(numeric_tables=False)
    if numeric_tables:
        step = next(s for s in d.steps if "K^*=0" in s.title)
        step.tables.append({
            "caption": (r"Leading-order recursion at criticality ($\sigma_b^2 = 0$, $K_1 = 1$): $lK$ tends to "
                        r"$1/2$ and $V/(lK^2)$ to $2/3$ (numeric, Gauss--Hermite quadrature with 120 nodes)."),
            "header": [r"$\phi$", "$l$", "$lK$", r"$V/(lK^2)$"], "rows": k0_table_rows(), "raw": True})
    return d
