"""``statfield meanfield``: every mean-field number of one network at ``(sigma_w2, sigma_b2)``."""

from __future__ import annotations

import math

from ._common import finite_float, print_json

__all__ = ["add_parser", "run", "meanfield_summary"]

_LABELS = (("q_star", "q*  (fixed point of the q-map)"), ("chi1", "chi_1 (slope of the c-map at c = 1)"),
           ("chi_q", "chi_q (slope of the q-map at q*)"), ("c_star", "c*  (fixed point of the c-map)"),
           ("chi_c", "chi_c (slope of the c-map at c*)"), ("xi_q", "xi_q = -1/ln chi_q"),
           ("xi_c", "xi_c = -1/ln chi_c"), ("phase", "phase"))


def add_parser(subparsers):
    """Register ``meanfield`` on an argparse ``subparsers`` object; returns the sub-parser."""
    m = subparsers.add_parser("meanfield", help="mean-field numbers: q*, chi_1, chi_q, c*, chi_c, xi's, phase",
                              description="Mean-field signal propagation (Poole et al. 2016, arXiv:1606.05340; "
                                          "Schoenholz et al. 2017, arXiv:1611.01232) for one activation at "
                                          "(sigma_w2, sigma_b2). The phase is statfield.meanfield.phase: ordered, "
                                          "critical, chaotic, or unbounded (no stable fixed point of the q-map).")
    m.add_argument("activation", help="linear, relu, leaky_relu[_a], tanh, erf, gelu, silu")
    m.add_argument("--sigma-w2", type=finite_float, required=True,
                   help="weight variance per fan-in, W ~ N(0, sigma_w2/N) (> 0)")
    m.add_argument("--sigma-b2", type=finite_float, required=True, help="bias variance, b ~ N(0, sigma_b2) (>= 0)")
    m.add_argument("--json", action="store_true", help="print the numbers as JSON")
    return m


def _finite_or_none(x):
    try:
        x = float(x)
    except (TypeError, ValueError):
        return None
    return x if math.isfinite(x) else None


def meanfield_summary(activation, sigma_w2, sigma_b2) -> dict:
    """All single-network mean-field numbers, with the reason wherever a quantity does not exist.

    Keys: ``q_star, chi1, chi_q, c_star, chi_c, xi_q, xi_c, phase, critical_sigma_w2`` and ``notes`` (why a
    value is missing, e.g. no finite fixed point of a linear/ReLU network with ``chi1 >= 1``). The phase is
    :func:`statfield.meanfield.phase`. Poole et al. 2016 (arXiv:1606.05340) and Schoenholz et al. 2017
    (arXiv:1611.01232); conventions in ``docs/conventions.md`` (*Order parameters and fields*).

    Raises
    ------
    ValueError
        Unknown activation, ``sigma_w2 <= 0`` or ``sigma_b2 < 0`` (checked before anything is computed).
    """
    from .. import meanfield as mf
    from .._checks import check_nonnegative, check_positive
    from ..activations import get_activation

    get_activation(activation)  # an unknown activation is bad input, not a missing quantity
    check_positive(sigma_w2, "sigma_w2")
    check_nonnegative(sigma_b2, "sigma_b2")
    out = {"activation": str(activation), "sigma_w2": float(sigma_w2), "sigma_b2": float(sigma_b2)}
    notes = {}

    def get(key, fn, *a):
        try:
            return fn(*a)
        except (ValueError, OverflowError) as exc:  # the quantity does not exist here: say why
            notes[key] = str(exc)
            return None

    for key in ("q_star", "chi1", "chi_q", "c_star", "chi_c"):
        out[key] = _finite_or_none(get(key, getattr(mf, key), activation, sigma_w2, sigma_b2))
    xis = get("depth_scales", mf.depth_scales, activation, sigma_w2, sigma_b2) or (None, None)
    out["xi_q"], out["xi_c"] = (None if x is None else _finite_or_none(x) for x in xis)
    for key, x in zip(("xi_q", "xi_c"), xis):
        if x is not None and out[key] is None:
            notes.setdefault(key, "infinite (critical: chi = 1)")
    out["phase"] = get("phase", mf.phase, activation, sigma_w2, sigma_b2)
    out["critical_sigma_w2"] = _finite_or_none(get("critical_sigma_w2", mf.critical_sigma_w2, activation, sigma_b2))
    out["notes"] = notes
    return out


def run(args) -> int:
    """Print the mean-field summary (text or JSON)."""
    res = meanfield_summary(args.activation, args.sigma_w2, args.sigma_b2)
    if args.json:
        print_json(res)
        return 0
    print(f"mean field for {args.activation}, sigma_w2 = {args.sigma_w2:g}, sigma_b2 = {args.sigma_b2:g} "
          f"(fan-in W ~ N(0, sigma_w2/N), q = |z|^2/N)")
    labels = _LABELS + (("critical_sigma_w2", f"critical sigma_w2 at sigma_b2 = {args.sigma_b2:g}"),)
    for key, lab in labels:
        v = res[key]
        txt = v if isinstance(v, str) else ("-" if v is None else f"{v:.10g}")
        if v is None and key in res["notes"]:
            txt += f"   ({res['notes'][key]})"
        print(f"  {lab:<44} {txt}")
    return 0
