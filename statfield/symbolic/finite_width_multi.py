r"""Finite width for several inputs (SymPy): vertex over input quadruples, 1/n kernel shift, exact results.

Conventions (``docs/conventions.md``): fan-in weights :math:`W\sim N(0,\sigma_w^2/n)`, biases
:math:`N(0,\sigma_b^2)`, :math:`K^{(1)}_{\alpha\beta} = \sigma_b^2 + \sigma_w^2x_\alpha\cdot x_\beta/d_{in}`, equal widths
:math:`n`. Every formula used by :mod:`statfield.finite_width.multi` is derived or checked here:

* the exact identity "connected four-point function = sum of three covariances of the metric" and the exactness of
  one hidden layer (Halverson, Maiti & Stoner, arXiv:2008.08601);
* the leading-order recursions of :math:`V_{(ab)(cd)}` and :math:`K^{(1)}_{ab}` (PDLT, arXiv:2106.10165, §4.3–4.5)
  with derivatives with respect to the independent kernel entries (Price's theorem);
* the Gaussian integration by parts that gives :math:`\langle\phi_a''''\phi_b\rangle` and
  :math:`\langle\phi_a'''\phi_b'\rangle` from :math:`\phi, \phi', \phi''` alone (checked on polynomials);
* the closed-form Jacobian and Hessian of the scale-invariant (ReLU-type) kernel and the cancellation at :math:`\rho = 1`;
* the exact Wishart recursion of linear networks for P inputs and its 1/n expansion (= the leading order).

This module is SymPy-only.
"""

from __future__ import annotations

import sympy as sp

from .derivation import Derivation
from .printing import latex_expr
from .symbols import sigma_b2, sigma_w2

__all__ = [
    "build_finite_width_multi_derivation",
    "integration_by_parts_check",
    "linear_wishart_two_inputs",
    "relu_kernel_derivatives",
]

_CONV = (r"Network $z^{1} = W^{1}x + b^{1}$, $z^{l} = W^{l}\phi(z^{l-1}) + b^{l}$, equal widths $n$; fan-in "
         r"parameterisation $W^{l}_{ij}\sim\mathcal N(0,\sigma_w^2/n)$ ($n_0 = d_{\mathrm{in}}$), "
         r"$b^{l}_i\sim\mathcal N(0,\sigma_b^2)$, so $K^{1}_{\alpha\beta} = \sigma_b^2 + \sigma_w^2\,x_\alpha\cdot x_\beta/d_{\mathrm{in}}$. "
         r"Metric $\hat G^{l}_{\alpha\beta} = \sigma_b^2 + \frac{\sigma_w^2}{n}\sum_j\phi(z^{l-1}_{j\alpha})\phi(z^{l-1}_{j\beta})$; "
         r"$\langle\cdot\rangle_K$ is the average over $z\sim\mathcal N(0,K)$, $\phi_a = \phi(z_a)$. "
         r"Conventions as in docs/conventions.md; PDLT = Roberts, Yaida, Hanin, arXiv:2106.10165.")


def relu_kernel_derivatives():
    r"""Scale-invariant class: :math:`k = \sqrt{q_1q_2}\,F(\rho)`, :math:`\rho = c/\sqrt{q_1q_2}`,
    :math:`F = a_+a_-\rho + (a_+-a_-)^2 f(\rho)`, :math:`f = (\sqrt{1-\rho^2} + (\pi-\arccos\rho)\rho)/(2\pi)`.

    Returns a dict with ``F``, ``F1``, ``F2`` (derivatives in :math:`\rho`), the Jacobian ``J`` (3,) and Hessian
    ``H`` (3, 3) of :math:`k` with respect to :math:`(q_1, q_2, c)`, in terms of ``F, F1, F2`` (symbols), and
    ``H_at_1`` (the Hessian at :math:`\rho = 1` with the :math:`F''` terms dropped, which vanishes).
    """
    q1, q2, c = sp.symbols("q_1 q_2 c", positive=True)
    rho = sp.Symbol("rho", real=True)
    ap, am = sp.symbols("a_+ a_-", real=True)
    f = (sp.sqrt(1 - rho**2) + (sp.pi - sp.acos(rho)) * rho) / (2 * sp.pi)
    F = ap * am * rho + (ap - am) ** 2 * f
    F1 = sp.simplify(sp.diff(F, rho))
    F2 = sp.simplify(sp.diff(F, rho, 2))
    Fs, F1s, F2s = sp.symbols("F F' F''")
    vars_ = (q1, q2, c)
    sq = sp.sqrt(q1 * q2)
    rho_e = c / sq

    def sub(e):
        return sp.simplify(e.subs(c, rho * sq))

    # chain rule for k = s F(rho(q1, q2, c)), s = sqrt(q1 q2)
    J = [sub(sp.diff(sq, v) * Fs + sq * F1s * sp.diff(rho_e, v)) for v in vars_]
    H = [[sub(sp.diff(sq, v, w) * Fs + (sp.diff(sq, v) * sp.diff(rho_e, w) + sp.diff(sq, w) * sp.diff(rho_e, v)) * F1s
              + sq * F2s * sp.diff(rho_e, v) * sp.diff(rho_e, w) + sq * F1s * sp.diff(rho_e, v, w))
          for w in vars_] for v in vars_]
    at1 = {Fs: F.subs(rho, 1), F1s: sp.limit(F1, rho, 1), F2s: 0, rho: 1}
    H_at_1 = [[sp.simplify(h.subs(at1)) for h in row] for row in H]
    return {"F": F, "F1": F1, "F2": F2, "J": J, "H": H, "H_at_1": H_at_1, "symbols": (q1, q2, c, rho, Fs, F1s, F2s)}


def integration_by_parts_check():
    r"""Check the identities used for smooth φ on :math:`\phi(x) = x^3 + x^2` (exact Gaussian moments):

    with :math:`z_b = \beta z_a + w` (:math:`\beta = c/q_1`, :math:`w` independent of :math:`z_a`),
    :math:`\langle\phi_a'''\phi_b'\rangle = \langle\phi_a''(z_a\phi_b'/q_1 - \beta\phi_b'')\rangle` and
    :math:`\langle\phi_a''''\phi_b\rangle = \langle\phi_a''[\beta^2\phi_b'' - 2\beta (z_a/q_1)\phi_b' + \phi_b(z_a^2/q_1^2 - 1/q_1)]\rangle`.
    Returns the two differences (left − right), which simplify to 0.
    """
    x, y = sp.symbols("x y", real=True)
    q1, q2 = sp.symbols("q_1 q_2", positive=True)
    c = sp.Symbol("c", real=True)
    phi = lambda t: t**3 + t**2
    d = lambda e, t, k=1: sp.diff(e, t, k)

    def gauss_avg(expr):
        # (z_a, z_b) ~ N(0, [[q1, c], [c, q2]]): Isserlis via the moment generating function
        s, t = sp.symbols("s t")
        mgf = sp.exp((q1 * s**2 + 2 * c * s * t + q2 * t**2) / 2)
        poly = sp.Poly(sp.expand(expr), x, y)
        out = 0
        for (i, j), coef in poly.terms():
            out += coef * sp.diff(mgf, s, i, t, j).subs({s: 0, t: 0})
        return sp.expand(out)

    beta = c / q1
    fa, fb = phi(x), phi(y)
    lhs3 = gauss_avg(d(fa, x, 3) * d(fb, y))
    rhs3 = gauss_avg(d(fa, x, 2) * (x * d(fb, y) / q1 - beta * d(fb, y, 2)))
    lhs4 = gauss_avg(d(fa, x, 4) * fb)
    rhs4 = gauss_avg(d(fa, x, 2) * (beta**2 * d(fb, y, 2) - 2 * beta * (x / q1) * d(fb, y) + fb * (x**2 / q1**2 - 1 / q1)))
    return sp.expand(lhs3 - rhs3), sp.expand(lhs4 - rhs4)


def linear_wishart_two_inputs():
    r"""Exact linear recursion for two inputs and its 1/n expansion (:math:`\phi(z) = z`).

    With :math:`M = \mathbb E\hat G` and :math:`M_{2,abcd} = \mathbb E[\hat G_{ab}\hat G_{cd}]`, one layer maps
    :math:`M_2' = \sigma_b^4 + \sigma_b^2\sigma_w^2(M_{ab} + M_{cd}) + \sigma_w^4[M_{2,abcd} + (M_{2,acbd} + M_{2,adbc})/n]`.
    Returns the exact :math:`n\,\mathrm{Cov}(\hat G_{12}, \hat G_{12})` at layer 3 (from a deterministic :math:`K^{(1)}`)
    and its difference from the leading-order vertex :math:`V^{(3)}_{(12)(12)}` (which is :math:`O(1/n)`).
    """
    n, sw, sb = sp.Symbol("n", positive=True), sigma_w2, sigma_b2
    k11, k12, k22 = sp.symbols("K_11 K_12 K_22", real=True)
    K1 = sp.Matrix([[k11, k12], [k12, k22]])
    idx = [(a, b, c, d) for a in range(2) for b in range(2) for c in range(2) for d in range(2)]
    M = K1
    M2 = {t: K1[t[0], t[1]] * K1[t[2], t[3]] for t in idx}
    for _ in range(2):  # layers 1 -> 2 -> 3
        M2 = {(a, b, c, d): sp.expand(sb**2 + sb * sw * (M[a, b] + M[c, d])
                                      + sw**2 * (M2[(a, b, c, d)] + (M2[(a, c, b, d)] + M2[(a, d, b, c)]) / n))
              for a, b, c, d in idx}
        M = sb * sp.ones(2, 2) + sw * M
    cov = sp.simplify(n * (M2[(0, 1, 0, 1)] - M[0, 1] ** 2))
    # leading order: V^{l+1} = sw^2 C + sw^2 V^l (J = identity for phi = z), C_(ab)(cd) = K_ac K_bd + K_ad K_bc
    Kl = K1
    V = {t: 0 for t in idx}
    for _ in range(2):
        V = {(a, b, c, d): sp.expand(sw**2 * (Kl[a, c] * Kl[b, d] + Kl[a, d] * Kl[b, c]) + sw**2 * V[(a, b, c, d)])
             for a, b, c, d in idx}
        Kl = sb * sp.ones(2, 2) + sw * Kl
    diff = sp.simplify(cov - V[(0, 1, 0, 1)])
    return {"cov_exact": cov, "V_lo": sp.factor(V[(0, 1, 0, 1)]), "difference": sp.factor(diff),
            "n_times_difference_at_infinity": sp.limit(diff * n, n, sp.oo)}


def build_finite_width_multi_derivation() -> Derivation:
    """Builder for ``statfield derive finite-width-multi``."""
    d = Derivation("Finite width for several inputs: four-point vertex, 1/n kernel shift, exact results",
                   conventions=_CONV,
                   abstract=(r"For $P$ inputs we derive the exact identity between the connected four-point function of "
                             r"one unit and the covariances of the metric, its exactness for one hidden layer, the "
                             r"leading-order recursions of the vertex $V_{(ab)(cd)}$ over input quadruples and of the "
                             r"$1/n$ kernel shift $K^{(1)}_{ab}$, the closed forms needed for ReLU-type activations, "
                             r"and the exact finite-width recursion of linear networks. Everything is implemented in "
                             r"statfield.finite\_width and checked against Monte Carlo at several widths."))
    d.step("Conditional Gaussianity and the four-point function",
           r"Given layer $l-1$, the rows $(z^{l}_{i\alpha})_\alpha$ are i.i.d.\ $\mathcal N(0,\hat G^{l})$ (exactly). Hence "
           r"$\mathbb E[z_az_bz_cz_d] = \mathbb E[\hat G_{ab}\hat G_{cd} + \hat G_{ac}\hat G_{bd} + \hat G_{ad}\hat G_{bc}]$, "
           r"and with $\mathbb E[z_az_b] = \mathbb E\hat G_{ab}$ the connected four-point function of one unit is, at every width,",
           [(r"\mathbb E[z_az_bz_cz_d] - (\text{3 pairings}) = \mathrm{Cov}(\hat G_{ab},\hat G_{cd}) + "
             r"\mathrm{Cov}(\hat G_{ac},\hat G_{bd}) + \mathrm{Cov}(\hat G_{ad},\hat G_{bc}).")])
    d.step("One hidden layer is exact",
           r"For $l = 2$ the metric is an average of $n$ i.i.d.\ terms, $\hat G^{2}_{ab} = \sigma_b^2 + "
           r"\frac{\sigma_w^2}{n}\sum_j\phi(z^1_{ja})\phi(z^1_{jb})$ with $z^1_j\sim\mathcal N(0,K^{1})$, so exactly",
           [(r"\mathrm{Cov}(\hat G^{2}_{ab},\hat G^{2}_{cd}) = \frac{\sigma_w^4}{n}\Big(\langle\phi_a\phi_b\phi_c\phi_d\rangle_{K^1} "
             r"- \langle\phi_a\phi_b\rangle_{K^1}\langle\phi_c\phi_d\rangle_{K^1}\Big),")],
           after=r"which with the previous step gives the exact one-hidden-layer four-point function (Halverson, Maiti, "
                 r"Stoner, arXiv:2008.08601): no $1/n$ expansion is involved.")
    d.step("Leading order in 1/n for P inputs",
           r"Write $k_{(ab)}(K) = \langle\phi_a\phi_b\rangle_K$ and expand $\mathbb E[\hat G^{l+1}\,|\,\hat G^{l}] = \sigma_b^2 + "
           r"\sigma_w^2 k(\hat G^{l})$ to second order in $\delta = \hat G^{l} - K^{l}$, with $\mathbb E\delta = K^{(1)}/n$ and "
           r"$\mathbb E\delta_e\delta_f = V_{ef}/n + O(n^{-2})$. The derivatives are taken with respect to the independent "
           r"entries $e, f\in\{aa, bb, ab\}$ (Price's theorem: $\partial/\partial K_{aa}\leftrightarrow\frac12\partial_a^2$, "
           r"$\partial/\partial K_{ab}\leftrightarrow\partial_a\partial_b$). With $J_{(ab),e} = \partial k_{(ab)}/\partial K_e$, "
           r"$H_{(ab),ef} = \partial^2k_{(ab)}/\partial K_e\partial K_f$, $C_{(ab)(cd)} = \langle\phi_a\phi_b\phi_c\phi_d\rangle - k_{(ab)}k_{(cd)}$:",
           [r"K^{l+1} = \sigma_b^2 + \sigma_w^2k(K^{l}),\quad V^{l+1}_{pp'} = \sigma_w^4C_{pp'} + \sigma_w^4\sum_{e,f}J_{pe}V^{l}_{ef}J_{p'f},",
            r"K^{(1),l+1}_{p} = \sigma_w^2\sum_eJ_{pe}K^{(1),l}_e + \frac{\sigma_w^2}{2}\sum_{e,f}H_{p,ef}V^{l}_{ef},\qquad V^{1} = K^{(1),1} = 0,",
            (r"J_{(ab),aa} = \tfrac12\langle\phi_a''\phi_b\rangle,\quad J_{(ab),ab} = \langle\phi_a'\phi_b'\rangle,\quad "
             r"H_{(ab),aa\,aa} = \tfrac14\langle\phi_a''''\phi_b\rangle,\quad H_{(ab),aa\,ab} = \tfrac12\langle\phi_a'''\phi_b'\rangle,"),
            (r"H_{(ab),aa\,bb} = \tfrac14\langle\phi_a''\phi_b''\rangle,\quad H_{(ab),ab\,ab} = \langle\phi_a''\phi_b''\rangle,"
             r"\quad J_{(aa),aa} = g'(K_{aa}),\quad H_{(aa),aa\,aa} = g''(K_{aa}).")],
           approximation=r"1/n expansion: third and higher cumulants of $\delta$ dropped ($O(n^{-2})$)",
           after=r"Unequal widths multiply the propagation terms by $n_l/n_{l-1}$. Since $J_{(ab),\cdot}$ and $H_{(ab),\cdot\cdot}$ "
                 r"involve only $aa, bb, ab$, the shift $K^{(1)}$ needs only the two-input blocks of $V$, and the blocks "
                 r"$\{aa,bb,ab\}\times\{cc,dd,cd\}$ close under the recursion: any subset of pairs can be computed alone. "
                 r"For a single input these reduce to the single-input recursions of the finite-width derivation.")
    ibp = integration_by_parts_check()
    d.step("Higher derivatives from phi, phi', phi'' only",
           r"Write $z_b = \beta z_a + w$ with $\beta = K_{ab}/K_{aa}$ and $w$ independent of $z_a$, and integrate by parts "
           r"in $z_a$ (Stein: $\mathbb E[f'(z_a)h(z_a)] = \mathbb E[f(z_a)(z_ah/K_{aa} - h')]$):",
           [r"\langle\phi_a'''\phi_b'\rangle = \Big\langle\phi_a''\Big(\frac{z_a}{K_{aa}}\phi_b' - \beta\phi_b''\Big)\Big\rangle,",
            (r"\langle\phi_a''''\phi_b\rangle = \Big\langle\phi_a''\Big[\beta^2\phi_b'' - 2\beta\frac{z_a}{K_{aa}}\phi_b' + "
             r"\phi_b\Big(\frac{z_a^2}{K_{aa}^2} - \frac{1}{K_{aa}}\Big)\Big]\Big\rangle.")],
           after=(r"Both identities are checked exactly on $\phi(x) = x^3 + x^2$ with Isserlis' theorem (differences: "
                  rf"${latex_expr(ibp[0])}$ and ${latex_expr(ibp[1])}$). They are finite at coincident inputs ($\beta = 1$), "
                  r"where the three entries move together and $\sum_{e,f}H_{(ab),ef} = g''(K)$."))
    rk = relu_kernel_derivatives()
    d.step("Scale-invariant activations (ReLU, leaky ReLU)",
           r"For $\phi = a_+z\theta(z) + a_-z\theta(-z)$, $k = \sqrt{q_1q_2}\,F(\rho)$ with $\rho = c/\sqrt{q_1q_2}$ "
           r"(Cho and Saul 2009) and, by differentiation,",
           [(sp.Symbol("F"), rk["F"]), (sp.Symbol("F'"), rk["F1"]), (sp.Symbol("F''"), rk["F2"]),
            (sp.Symbol(r"\partial k/\partial q_1"), rk["J"][0]), (sp.Symbol(r"\partial k/\partial c"), rk["J"][2]),
            (sp.Symbol(r"\partial^2 k/\partial q_1^2"), rk["H"][0][0]),
            (sp.Symbol(r"\partial^2 k/\partial q_1\partial q_2"), rk["H"][0][1]),
            (sp.Symbol(r"\partial^2 k/\partial q_1\partial c"), rk["H"][0][2]),
            (sp.Symbol(r"\partial^2 k/\partial c^2"), rk["H"][2][2])],
           after=(r"$F''$ diverges at $\rho = \pm1$. Exactly collinear inputs ($\rho = 1$) stay collinear at every layer "
                  r"($z_b = \lambda z_a$, $\lambda > 0$), so the metric fluctuates only along the collinear direction; "
                  r"dropping the $F''$ terms there gives the exact answer, because then $F(1) - F'(1) = 0$ and the whole "
                  rf"Hessian vanishes (SymPy: ${latex_expr(sp.Matrix(rk['H_at_1']), mat_str='array', mat_delim='[')}$). "
                  r"At $\rho = -1$ (layer 1 only) $V = 0$."))
    lw = linear_wishart_two_inputs()
    d.step("Linear networks: exact at every width",
           r"For $\phi(z) = z$, $\hat G^{l+1} = \sigma_b^2\mathbf 1\mathbf 1^\top + \frac{\sigma_w^2}{n}W$ with "
           r"$W\sim\mathrm{Wishart}_P(n,\hat G^{l})$ given layer $l$, and $\mathbb E[W_{ab}W_{cd}\,|\,G] = n^2G_{ab}G_{cd} + "
           r"n(G_{ac}G_{bd} + G_{ad}G_{bc})$ (Isserlis). The first two moments therefore close exactly:",
           [(r"M^{l+1} = \sigma_b^2 + \sigma_w^2M^{l},\qquad M_{2,abcd}^{l+1} = \sigma_b^4 + \sigma_b^2\sigma_w^2(M^{l}_{ab} + M^{l}_{cd}) "
             r"+ \sigma_w^4\Big[M^{l}_{2,abcd} + \frac{M^{l}_{2,acbd} + M^{l}_{2,adbc}}{n}\Big],"),
            (sp.Symbol(r"n\,\mathrm{Cov}(\hat G^{3}_{12},\hat G^{3}_{12})"), lw["cov_exact"]),
            (sp.Symbol(r"n\,\mathrm{Cov} - V^{3}_{(12)(12)}"), lw["difference"])],
           after=(r"with $M_{2,abcd} = \mathbb E[\hat G_{ab}\hat G_{cd}]$. The difference from the leading-order vertex is "
                  rf"$O(1/n)$ ($n\times$ difference $\to {latex_expr(lw['n_times_difference_at_infinity'])}$ as $n\to\infty$, "
                  r"a nonzero constant): the leading order is the $n\to\infty$ limit of the exact result, as it must be."))
    d.step("What is not included",
           r"Exact finite-width results for ReLU with several inputs (the arc-cosine kernel is not linear in the metric, so "
           r"the moments do not close) and the six-point function at $O(1/n^2)$ are not derived here.")
    return d
