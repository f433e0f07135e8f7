r"""Collective-coordinate reductions of the single-input chain, with exact measures (SymPy).

Conditional on layer :math:`l-1`, the pre-activations of layer :math:`l` are exactly
:math:`z^l\,|\,z^{l-1}\sim\mathcal N(0, K_{l-1}\,\mathbb 1_N)` with
:math:`K_{l-1} = \sigma_w^2|\phi(z^{l-1})|^2/N + \sigma_b^2` (``docs/conventions.md``, "Exact chain";
SPS17 arXiv:1710.06570 Eq. 10--11 with fan-in :math:`\sigma_w^2/N`). The density depends on
:math:`z^l` only through a few collective coordinates, which are therefore a Markov chain with an
exactly normalised transition density. Its negative logarithm is the *collective action* of one
link; the periodic chain (layer :math:`L+1\equiv 1`) sums links.

**Linear** (:math:`\phi(z)=z`): radial variable :math:`r=|z|` (:math:`q=r^2/N`), measure
:math:`A_N r^{N-1}dr` with :math:`A_n = 2\pi^{n/2}/\Gamma(n/2)` the area of :math:`S^{n-1}`:

.. math:: S_{\rm link}(r_l\,|\,r_{l-1}) = \frac{r_l^2}{2K_{l-1}} + \frac N2\ln(2\pi K_{l-1})
          - (N-1)\ln r_l - \ln A_N,\qquad K_{l-1} = \sigma_w^2 r_{l-1}^2/N + \sigma_b^2 .

(:math:`N-1` in the Jacobian, :math:`N` in the Gaussian normalisation.)
Equivalently :math:`q_l = K_{l-1}\chi^2_N/N`.

**ReLU** (:math:`\phi(z)=\max(0,z)`): :math:`r_\pm = |z_\pm|` (norms over the positive / negative
units) and :math:`k` = number of positive units. With :math:`1\le k\le N-1`,

.. math:: S_{\rm link} = -\ln\!\left[\binom Nk 2^{-N}\right] - \ln A_k - (k-1)\ln r_+
          - \ln A_{N-k} - (N-k-1)\ln r_- + \frac{r_+^2 + r_-^2}{2K_{l-1}} + \frac N2\ln(2\pi K_{l-1}),

with :math:`K_{l-1} = \sigma_w^2 r_{+,l-1}^2/N + \sigma_b^2` (only :math:`r_+` of the previous
layer enters). Equivalently :math:`k\sim{\rm Bin}(N,1/2)`, :math:`u = r_+^2/N = K\chi^2_k/N`,
:math:`v = r_-^2/N = K\chi^2_{N-k}/N`. (:math:`k=0, N` are the degenerate orthants of total
probability :math:`2^{1-N}`.)

**Stirling** (named approximation step, ``large_n=True``): every
:math:`\ln\Gamma(x)` is replaced by :math:`(x-\tfrac12)\ln x - x + \tfrac12\ln 2\pi` (the
binomial through :math:`\ln\binom Nk = \ln\Gamma(N+1)-\ln\Gamma(k+1)-\ln\Gamma(N-k+1)`), which
makes :math:`k` a continuous variable. The error is :math:`O(1/x)` per :math:`\ln\Gamma`.
"""

from __future__ import annotations

import functools

import sympy as sp

from .derivation import latex as _latex
from .models import collective_model
from .symbols import LATEX_NAMES, N, k, kappa, q, q_prev, r, r_minus, r_plus, r_plus_prev, r_prev, sigma_b2, sigma_w2
from .symbols import u, u_prev, v

__all__ = [
    "N", "sigma_w2", "sigma_b2", "SYMBOL_NAMES", "tex",
    "sphere_area", "stirling", "log_gamma_stirling",
    "linear_link_action", "linear_chain_action", "linear_transition_density",
    "relu_link_action", "relu_chain_action", "relu_transition_density",
    "collective_derivation_steps", "per_unit_action",
]

#: The LaTeX names of the statfield symbols (alias of :data:`statfield.symbolic.symbols.LATEX_NAMES`).
SYMBOL_NAMES = LATEX_NAMES


def tex(expr, **kwargs) -> str:
    r"""LaTeX of ``expr`` with statfield's notation (:math:`\sigma_w^2`, not ``\sigma_{w2}``);
    ``(lhs, rhs)`` pairs and ``Eq`` print as ``lhs = rhs``. ``names=`` overrides symbol names."""
    return _latex(expr, kwargs.get("names"))


def sphere_area(n):
    r"""Area of the unit sphere :math:`S^{n-1}\subset\mathbb R^n`: :math:`A_n = 2\pi^{n/2}/\Gamma(n/2)`."""
    return 2 * sp.pi ** (sp.sympify(n) / 2) / sp.gamma(sp.sympify(n) / 2)


def log_gamma_stirling(x):
    r"""Stirling's series to :math:`O(1/x)`: :math:`\ln\Gamma(x)\approx(x-\tfrac12)\ln x - x + \tfrac12\ln 2\pi`."""
    return (x - sp.Rational(1, 2)) * sp.log(x) - x + sp.log(2 * sp.pi) / 2


def stirling(expr):
    r"""Named approximation step "Stirling": replace every :math:`\ln\Gamma` / :math:`\Gamma` /
    binomial in ``expr`` by Stirling's formula (:func:`log_gamma_stirling`)."""
    expr = sp.sympify(expr)
    # integer symbols (the width N) are replaced by positive real stand-ins first: SymPy evaluates
    # loggamma of an integer-valued argument to log(gamma(...)) (and applies the duplication formula),
    # which would hide the Gamma functions from the Stirling replacement
    ints = {x: sp.Dummy(x.name, positive=True) for x in expr.free_symbols if x.is_integer}
    expr = expr.xreplace(ints)
    expr = expr.replace(sp.binomial, lambda n, k: sp.exp(sp.loggamma(n + 1) - sp.loggamma(k + 1) - sp.loggamma(n - k + 1)))
    expr = expr.replace(sp.gamma, lambda x: sp.exp(sp.loggamma(x)))
    expr = sp.expand_log(expr, force=True)
    expr = expr.replace(sp.loggamma, log_gamma_stirling)
    return expr.xreplace({d: x for x, d in ints.items()})


def _K(r_prev, n, sw, sb):
    return sw * r_prev**2 / n + sb


def linear_link_action(r, r_prev, n=N, sw=sigma_w2, sb=sigma_b2, large_n=False):
    r"""Exact collective action of one link of the linear chain (minus log transition density).

    .. math:: S = \frac{r^2}{2K} + \frac N2\ln(2\pi K) - (N-1)\ln r - \ln A_N,
              \quad K = \sigma_w^2 r_{l-1}^2/N + \sigma_b^2

    (SPS17 Eq. 12 up to the Jacobian, which SPS17 writes with :math:`N` instead of :math:`N-1` and
    without :math:`A_N`). ``large_n=True`` applies the named Stirling step to :math:`\ln A_N`.
    """
    K = _K(r_prev, n, sw, sb)
    s = r**2 / (2 * K) + n / 2 * sp.log(2 * sp.pi * K) - (n - 1) * sp.log(r) \
        - sp.log(2) - n / 2 * sp.log(sp.pi) + sp.loggamma(n / 2, evaluate=False)
    return stirling(s) if large_n else s


def linear_transition_density(r, r_prev, n=N, sw=sigma_w2, sb=sigma_b2):
    r""":math:`p(r_l\,|\,r_{l-1}) = e^{-S_{\rm link}}` (exact, normalised in :math:`r_l` on :math:`(0,\infty)`)."""
    K = _K(r_prev, n, sw, sb)
    return sphere_area(n) * r ** (n - 1) * (2 * sp.pi * K) ** (-n / 2) * sp.exp(-r**2 / (2 * K))


def linear_chain_action(L, n=N, sw=sigma_w2, sb=sigma_b2, large_n=False):
    r"""Periodic chain :math:`S[\{r\}] = \sum_{l=1}^{L} S_{\rm link}(r_l|r_{l-1})`, :math:`r_0\equiv r_L`.

    Returns ``(S, (r_1, ..., r_L))``.
    """
    rs = sp.symbols(f"r_1:{L + 1}", positive=True)
    return sp.Add(*[linear_link_action(rs[l], rs[l - 1], n, sw, sb, large_n) for l in range(L)]), rs


def relu_link_action(r_plus, r_minus, k, r_plus_prev, n=N, sw=sigma_w2, sb=sigma_b2, large_n=False):
    r"""Exact collective action of one ReLU link in :math:`(r_+, r_-, k)` (see module docstring).

    Orthant count :math:`\binom Nk 2^{-N}`, sphere factors :math:`A_k r_+^{k-1}` and
    :math:`A_{N-k} r_-^{N-k-1}` (the :math:`2^{-k}, 2^{-(N-k)}` orthant fractions of the two
    spheres combine with the :math:`2^N` sign choices into the binomial weight), Gaussian factor
    :math:`(2\pi K)^{-N/2}e^{-(r_+^2+r_-^2)/2K}`, :math:`K=\sigma_w^2 r_{+,l-1}^2/N+\sigma_b^2`.
    ``large_n=True``: named Stirling step on all :math:`\ln\Gamma` (then :math:`k` is continuous).
    """
    K = _K(r_plus_prev, n, sw, sb)
    log_binom = sp.loggamma(n + 1, evaluate=False) - sp.loggamma(k + 1) - sp.loggamma(n - k + 1)
    log_area = lambda m: sp.log(2) + m / 2 * sp.log(sp.pi) - sp.loggamma(m / 2, evaluate=False)  # noqa: E731
    s = (-log_binom + n * sp.log(2)
         - log_area(k) - (k - 1) * sp.log(r_plus)
         - log_area(n - k) - (n - k - 1) * sp.log(r_minus)
         + (r_plus**2 + r_minus**2) / (2 * K) + n / 2 * sp.log(2 * sp.pi * K))
    return stirling(s) if large_n else s


def relu_transition_density(r_plus, r_minus, k, r_plus_prev, n=N, sw=sigma_w2, sb=sigma_b2):
    r""":math:`p(r_+, r_-, k\,|\,r_{+,l-1}) = e^{-S_{\rm link}}`; sums/integrates to :math:`1-2^{1-N}` over
    :math:`1\le k\le N-1` (the rest is the degenerate orthants :math:`k=0,N`)."""
    K = _K(r_plus_prev, n, sw, sb)
    return (sp.binomial(n, k) * sp.Integer(2) ** (-n) * sphere_area(k) * r_plus ** (k - 1)
            * sphere_area(n - k) * r_minus ** (n - k - 1) * (2 * sp.pi * K) ** (-n / 2)
            * sp.exp(-(r_plus**2 + r_minus**2) / (2 * K)))


def relu_chain_action(L, n=N, sw=sigma_w2, sb=sigma_b2, large_n=False):
    r"""Periodic ReLU chain action; returns ``(S, r_plus, r_minus, k)`` (tuples of L symbols)."""
    rp = sp.symbols(f"r_plus_1:{L + 1}", positive=True)
    rm = sp.symbols(f"r_minus_1:{L + 1}", positive=True)
    ks = sp.symbols(f"k_1:{L + 1}", positive=True)
    S = sp.Add(*[relu_link_action(rp[l], rm[l], ks[l], rp[l - 1], n, sw, sb, large_n) for l in range(L)])
    return S, rp, rm, ks


def collective_derivation_steps(d, activation):
    """Append the collective-coordinate and Stirling steps for ``activation`` (an activation or a
    model kind, see :func:`~statfield.symbolic.models.collective_model`) to Derivation ``d``."""
    if collective_model(activation).kind == "radial":
        _radial_steps(d)
    else:
        _orthant_steps(d)
    return d


def _radial_steps(d):
    rp = r_prev
    d.step(
        "Collective coordinate: the radius",
        r"Conditional on layer $l-1$, $z^l\sim\mathcal N(0,K_{l-1}\mathbb 1_N)$ exactly, with "
        r"$K_{l-1}=\sigma_w^2|z^{l-1}|^2/N+\sigma_b^2$; the density depends on $z^l$ only through "
        r"$r_l=|z^l|$. Integrating over the angles with the exact measure $d^Nz = A_N r^{N-1}dr\,d\Omega$, "
        r"$A_N = 2\pi^{N/2}/\Gamma(N/2)$, gives a normalised Markov transition density "
        r"($q_l = r_l^2/N = K_{l-1}\chi^2_N/N$: $N$ degrees of freedom, and $N-1$ in the Jacobian). "
        r"The collective action of one link, and of the periodic chain $r_0\equiv r_L$, is",
        [r"p(r_l\mid r_{l-1}) = " + tex(linear_transition_density(r, rp)),
         r"S_{\rm link}(r_l\mid r_{l-1}) = " + tex(linear_link_action(r, rp)),
         r"S[\{r\}] = \sum_{l=1}^{L} S_{\rm link}(r_l\mid r_{l-1}),\qquad r_0\equiv r_L ."],
    )
    d.step(
        "Large N: Stirling",
        r"The only Gamma function is $\ln\Gamma(N/2)$ in the sphere area; Stirling's formula "
        r"$\ln\Gamma(x)\simeq (x-\tfrac12)\ln x - x+\tfrac12\ln 2\pi$ (error $O(1/x)$) gives "
        r"(it does not depend on $r$, so it does not affect the saddle or the Hessian)",
        [r"\ln A_N \simeq " + tex(stirling(sp.log(sphere_area(N))))],
        approximation="Stirling",
    )


def _orthant_steps(d):
    kk = k
    nn = sp.Symbol("n", positive=True)
    rpp = r_plus_prev
    d.step(
        "Collective coordinates: orthant count and two radii",
        r"For ReLU, $|\phi(z^{l-1})|^2=|z^{l-1}_+|^2$, so $K_{l-1}=\sigma_w^2 r_{+,l-1}^2/N+\sigma_b^2$ "
        r"depends only on the norm $r_+$ of the positive units. Split $z^l$ by signs: $k$ positive "
        r"units ($\binom Nk$ choices of the set), and radii $r_\pm$ of the positive and negative parts. "
        r"Each part lives in an orthant of a sphere: $d^kz_+ = 2^{-k}A_k r_+^{k-1}dr_+$, "
        r"$d^{N-k}z_- = 2^{-(N-k)}A_{N-k}r_-^{N-k-1}dr_-$. The exact transition density "
        r"($k\sim\mathrm{Bin}(N,\tfrac12)$, $u=r_+^2/N = K\chi^2_k/N$, $v=r_-^2/N=K\chi^2_{N-k}/N$; "
        r"$k$ is independent of all earlier layers because $z^l$ is centred) and its action are, with "
        r"$p_n(r) = A_n r^{n-1}(2\pi K)^{-n/2}e^{-r^2/2K}$ the radial density of $n$ Gaussian units",
        [r"p(r_+,r_-,k\mid r_{+,l-1}) = " + tex(sp.binomial(N, kk) * sp.Integer(2) ** (-N))
         + r"\,p_k(r_+)\,p_{N-k}(r_-),\qquad K = " + tex(_K(rpp, N, sigma_w2, sigma_b2)),
         r"S_{\rm link} = -\ln\binom Nk + N\ln 2 - \ln A_k - (k-1)\ln r_+ - \ln A_{N-k} - (N-k-1)\ln r_-"
         r" + \frac{r_+^2+r_-^2}{2K} + \frac N2\ln(2\pi K),",
         r"\ln A_n = " + tex(sp.log(2) + nn / 2 * sp.log(sp.pi) - sp.loggamma(nn / 2))],
    )
    d.step(
        "Large N: Stirling",
        r"Replace each $\ln\Gamma$ (in $\ln\binom Nk$ and in the two sphere areas) by "
        r"$(x-\tfrac12)\ln x - x+\tfrac12\ln 2\pi$; $k$ becomes a continuous field. Error $O(1/k)$, "
        r"$O(1/(N-k))$. The pieces of $S_{\rm link}$ that change are",
        [r"\ln\binom Nk \simeq " + tex(stirling(sp.log(sp.binomial(N, kk)))),
         r"\ln A_n \simeq " + tex(stirling(sp.log(sphere_area(nn))))],
        approximation="Stirling",
    )


def per_unit_action(activation):
    r"""Large-N action per unit, :math:`s = \lim_{N\to\infty} S_{\rm link}/N`, derived from the
    Stirling action by SymPy (substituting :math:`r^2 = Nq` etc.).

    Returns ``(s, variables, previous)``: linear ``(s(q, q'), (q,), (q',))``; ReLU
    ``(s(u, v, kappa, u'), (u, v, kappa), (u',))`` (``activation``: an activation or a model kind,
    dispatched by :func:`~statfield.symbolic.models.collective_model`) with :math:`u=r_+^2/N`, :math:`v=r_-^2/N`,
    :math:`\kappa = k/N`. For ReLU the result equals
    :math:`\tfrac32[\kappa\ln\kappa+(1-\kappa)\ln(1-\kappa)] + \ln 2 - \tfrac12 - \tfrac\kappa2\ln u
    - \tfrac{1-\kappa}2\ln v + \tfrac12\ln K + (u+v)/2K` (the 3/2 collects the binomial and the
    two sphere areas).
    """
    return _per_unit_action(collective_model(activation).kind)


@functools.lru_cache(maxsize=None)
def _per_unit_action(kind):
    h = sp.Symbol("h", positive=True)
    # a positive real stand-in for the width: N is eliminated by the limit, and SymPy's limit is much
    # faster without the integer assumption
    n = sp.Symbol("N", positive=True)
    if kind == "radial":
        S = linear_link_action(r, r_prev, n=n, large_n=True).subs({r: sp.sqrt(n * q), r_prev: sp.sqrt(n * q_prev)})
        vars_, prev = (q,), (q_prev,)
    else:
        S = relu_link_action(r_plus, r_minus, k, r_plus_prev, n=n, large_n=True).subs(
            {r_plus: sp.sqrt(n * u), r_minus: sp.sqrt(n * v), k: n * kappa, r_plus_prev: sp.sqrt(n * u_prev)})
        vars_, prev = (u, v, kappa), (u_prev,)
    s = sp.expand(sp.expand_log(sp.expand(sp.expand_log(S, force=True)).subs(n, 1 / h) * h, force=True))
    s = sp.limit(s, h, 0)
    return sp.expand(sp.expand_log(s, force=True)), vars_, prev
