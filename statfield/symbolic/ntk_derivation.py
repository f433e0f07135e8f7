r"""Derivation ``ntk``: the neural tangent kernel, the linearised training dynamics and the Bayesian posterior.

SymPy only. Conventions: ``docs/conventions.md`` (fan-in variances), training in the NTK parameterisation
(trainable unit-variance parameters, the same law at initialisation), loss
:math:`\mathcal L = \tfrac12\sum_\mu (f(x_\mu) - y_\mu)^2`. Every displayed identity that SymPy can check is checked
when the document is built (``Derivation.results`` records the outcomes).
"""

from __future__ import annotations

import sympy as sp

from .derivation import Derivation
from .symbols import L, l, sigma_b2, sigma_w2

__all__ = ["build_ntk_derivation"]

_CONV = (
    r"Network $z^{1} = \sqrt{\sigma_w^2/d_{\mathrm{in}}}\,\omega^{1}x + \sigma_b\beta^{1}$, "
    r"$z^{l} = \sqrt{\sigma_w^2/N_{l-1}}\,\omega^{l}\phi(z^{l-1}) + \sigma_b\beta^{l}$ with trainable "
    r"$\omega^l_{ij},\beta^l_i\sim\mathcal N(0,1)$ (the NTK parameterisation; at initialisation the same law as the "
    r"fan-in convention $W^{l}_{ij}\sim\mathcal N(0,\sigma_w^2/N_{l-1})$, $b^l_i\sim\mathcal N(0,\sigma_b^2)$), one "
    r"output $f = z^{L}$, $K^{1}(x,x') = \sigma_b^2 + \sigma_w^2\,x\cdot x'/d_{\mathrm{in}}$. Loss "
    r"$\mathcal L = \tfrac12\sum_{\mu=1}^{P}(f(x_\mu)-y_\mu)^2$ (a sum over the training set); gradient flow "
    r"$\dot\theta = -\partial_\theta\mathcal L$ or gradient descent $\theta\leftarrow\theta-\eta\,\partial_\theta\mathcal L$."
)


def build_ntk_derivation() -> Derivation:
    """The ``ntk`` document: NTK recursion, linearised dynamics (flow and descent), test predictions, posterior."""
    d = Derivation("The neural tangent kernel and training as a flow", conventions=_CONV,
                   abstract=(r"From the explicit back-propagation formula we derive the empirical NTK of one network as "
                             r"a sum of products of Gram matrices, its infinite-width recursion (Jacot et al.\ 2018, "
                             r"arXiv:1806.07572), the solution of the linearised dynamics under gradient flow and "
                             r"gradient descent with its stability limit, the distribution of the trained ensemble "
                             r"(Lee et al.\ 2019, arXiv:1902.06720, Eq.~16) and the exact Bayesian posterior "
                             r"with noise variance $1/J_D$."))
    _step_empirical(d)
    _step_recursion(d)
    _step_dynamics(d)
    _step_ensemble(d)
    _step_posterior(d)
    _step_finite_width(d)
    return d


def _step_finite_width(d):
    Lsym, j = sp.symbols("L j", positive=True, integer=True)
    # ReLU at criticality (sigma_w2 = 2, sigma_b2 = 0), one input: K^l = q, chi = chi_q = 1, d<phi'^2>/dK = 0;
    # noise covariances Var eta = 5 q^2, Var zeta = 5, Cov = q; sensitivities c_eta^j = L - j, c_zeta^j = j q
    per_layer = 5 * (Lsym - j) ** 2 + 5 * j**2 + 2 * j * (Lsym - j)
    rel = sp.factor(sp.simplify(sp.summation(per_layer, (j, 1, Lsym - 1)) / Lsym**2))
    d.results["relu_ntk_variance"] = str(rel)
    d.step("Finite width: NTK fluctuations of one input (leading order in 1/N)",
           r"Split $W^{l+1} = u\,\hat h^{\top} + W_\perp$ along $\hat h = h^l/|h^l|$: the forward pass sees only "
           r"$u = W^{l+1}\hat h$, while $g = W_\perp^{\top}\delta^{l+1}\sim\mathcal N(0, B^{l+1}(1-\hat h\hat h^\top))$ is "
           r"independent of everything else ($B^l = |\delta^l|^2$). Up to terms that change the variance at $O(N^{-2})$, "
           r"$B^l = R_lB^{l+1}$ with $R_l = \frac{\sigma_w^2}{N}\sum_i\phi'(z^l_i)^2g_i^2$, $g_i\sim\mathcal N(0,1)$, "
           r"and $\hat G^{l+1} = \sigma_b^2 + \frac{\sigma_w^2}{N}\sum_i\phi(z^l_i)^2$ share the same $z^l_i$. "
           r"Linearising $\hat\Theta = \sum_l\hat G^l\prod_{m\ge l}R_m$ in the per-layer noises gives "
           r"$N\,\mathrm{Var}\,\hat\Theta = \sum_{j=1}^{L-1}c^{j\top}\Sigma_jc^j$ "
           r"(\texttt{statfield.training.finite\_width\_ntk}). For ReLU at $\sigma_w^2 = 2$, $\sigma_b^2 = 0$ "
           r"($\Theta = Lq$; per layer $5(L-j)^2 + 5j^2 + 2j(L-j)$ in units of $q^2$):",
           [(r"\frac{N\,\mathrm{Var}\,\hat\Theta}{\Theta^2}\Big|_{\mathrm{ReLU}}", rel)],
           approximation=r"leading order in $1/N$ (verified against Monte Carlo extrapolated in $1/N$)",
           after=r"i.e.\ $3$, $58/9$, $68/5$ for $L = 2, 3, 5$.")


def _step_empirical(d):
    d.step("The empirical NTK from back-propagation",
           r"With $h^0 = x$, $h^l = \phi(z^l)$ and the sensitivities $\delta^{L} = 1$, "
           r"$\delta^{l}_i = \phi'(z^l_i)\sum_j\sqrt{\sigma_w^2/N_l}\,\omega^{l+1}_{ji}\delta^{l+1}_j$, the gradients are "
           r"$\partial f/\partial\omega^l_{ij} = \sqrt{\sigma_w^2/N_{l-1}}\,\delta^l_i h^{l-1}_j$ and "
           r"$\partial f/\partial\beta^l_i = \sigma_b\delta^l_i$. Summing over $i, j$ factorises each layer's term:",
           [(r"\hat\Theta(x,x') = \sum_\theta\frac{\partial f(x)}{\partial\theta}\frac{\partial f(x')}{\partial\theta}"
            r" = \sum_{l=1}^{L}\big[\delta^l(x)\cdot\delta^l(x')\big]\Big[\sigma_b^2 + \frac{\sigma_w^2}{N_{l-1}}"
            r"h^{l-1}(x)\cdot h^{l-1}(x')\Big].")],
           after=r"The second factor is the conditional covariance $\hat G^l$ of layer $l$; no Jacobian over the "
                 r"parameters is formed, and after the forward pass the cost is $O(LNP^2)$ "
                 r"(\texttt{statfield.training.empirical}).")


def _step_recursion(d):
    Th = sp.Function("Theta")
    K = sp.Function("K")
    rec = sp.Eq(Th(l + 1), K(l + 1) + sigma_w2 * sp.Symbol(r"\dot{E}^{(l)}") * Th(l))
    # ReLU, single input: E[phi'^2] = 1/2, K^{l+1} = sigma_b2 + sigma_w2 K^l / 2; solve both recursions
    K1 = sp.Symbol("K^{(1)}", positive=True)
    Kl = sp.Function("k")
    Tl = sp.Function("t")
    n = sp.Symbol("n", integer=True, nonnegative=True)
    ksol = sp.rsolve(Kl(n + 1) - sigma_b2 - sigma_w2 * Kl(n) / 2, Kl(n), {Kl(0): K1})
    # critical ReLU: sigma_w2 = 2, sigma_b2 = 0 -> K constant, Theta^{l} = l K^{(1)}
    tsol = sp.rsolve(Tl(n + 1) - K1 - Tl(n), Tl(n), {Tl(0): K1})
    ok_crit = sp.simplify(tsol.subs(n, L - 1) - L * K1) == 0
    d.results["relu_critical_linear_growth"] = bool(ok_crit)
    d.step("Infinite width: the NTK recursion",
           r"At infinite width $\delta^l(x)\cdot\delta^l(x')$ self-averages; with $(u,v)\sim\mathcal N(0,K^{(l)})$ "
           r"and $\dot E^{(l)} = \mathbb E[\phi'(u)\phi'(v)]$ the layer-to-layer law is (Jacot et al.\ 2018, Thm.~1; "
           r"Arora et al.\ 2019, arXiv:1904.11955, Eqs.~9--11)",
           [r"\Theta^{(1)} = K^{(1)},", rec,
            (r"\text{ReLU: }\dot E = \frac{\pi-\theta}{2\pi},\quad \cos\theta = \frac{K_{12}}{\sqrt{K_{11}K_{22}}}"
            r"\qquad(\text{Cho \& Saul 2009, arc-cosine kernel of order }0)."),
            (r"K^{(n+1)}\big|_{\mathrm{ReLU},\,x=x'}", ksol),
            (r"\Theta^{(L)}\big|_{\mathrm{ReLU},\,\sigma_w^2=2,\,\sigma_b^2=0}", tsol.subs(n, L - 1))],
           after=r"so at ReLU criticality the NTK of one input grows linearly in depth, $\Theta^{(L)} = L\,K^{(1)}$ "
                 r"(checked by \texttt{sympy.rsolve}). In the standard parameterisation the gradient with respect to "
                 r"$W^l$ lacks the factor $\sqrt{\sigma_w^2/N_{l-1}}$, each layer contributes "
                 r"$1 + \mathbb E[\phi\phi]$ instead of $K^{(l)}$, and the learning rate must scale as $1/N$.")


def _step_dynamics(d):
    t, eta, lam = sp.symbols("t eta lambda", positive=True)
    k = sp.Symbol("k", integer=True, nonnegative=True)
    g = sp.Function("g")
    y0 = sp.Symbol("g_0")
    sol = sp.dsolve(sp.Eq(g(t).diff(t), -lam * g(t)), g(t), ics={g(0): y0}).rhs
    gd = sp.Function("e")
    sol_gd = sp.rsolve(gd(k + 1) - (1 - eta * lam) * gd(k), gd(k), {gd(0): y0})
    d.results["flow_solution_ok"] = sp.simplify(sol - y0 * sp.exp(-lam * t)) == 0
    d.results["gd_solution_ok"] = sp.simplify(sol_gd - y0 * (1 - eta * lam) ** k) == 0
    d.step("Linearised dynamics",
           r"With $\partial_t\theta = -\sum_\mu\partial_\theta f(x_\mu)(f(x_\mu) - y_\mu)$, any output moves as "
           r"$\partial_t f(x) = -\sum_\mu\hat\Theta(x,x_\mu)(f(x_\mu)-y_\mu)$. At infinite width $\hat\Theta\to\Theta$ "
           r"is constant during training (Jacot et al.\ 2018; Lee et al.\ 2019), so the residual "
           r"$g = f(X) - y$ obeys a linear equation; in each eigendirection $\lambda$ of $\Theta$:",
           [(r"g_\lambda(t)", sol), (r"g_\lambda(k)\ \text{(descent)}", sol_gd),
            r"|1-\eta\lambda_{\max}| < 1\iff \eta < \frac{2}{\lambda_{\max}(\Theta)}\quad\text{(stability limit)}.",
            (r"f_t(X_*) = f_0(X_*) + \Theta_{*}\Theta^{-1}\big(1 - e^{-\Theta t}\big)\big(y - f_0(X)\big),"
            r"\qquad e^{-\Theta t}\to(1-\eta\Theta)^k\ \text{for descent}.")],
           after=r"At finite width $\hat\Theta$ moves; \texttt{train\_ensemble} measures its relative change and "
                 r"the learning rates beyond $2/\lambda_{\max}$ where the linear picture fails.")


def _step_ensemble(d):
    # scalar (one training, one test point) check of Lee et al. Eq. 16 and of the depth-1 posterior identity
    Th, Ths, K, Ks, Kss, t, y = sp.symbols(r"Theta Theta_* K K_* K_** t y", positive=True)
    f0, f0s = sp.symbols("f_0 f_0*")
    T = Ths / Th * (1 - sp.exp(-Th * t))
    fts = f0s + T * (y - f0)
    mean = sp.expand(fts.subs({f0: 0, f0s: 0}))
    # covariance over (f0, f0s) ~ N(0, [[K, Ks], [Ks, Kss]]): Var(f0s - T f0) = Kss + T^2 K - 2 T Ks
    cov = Kss + T**2 * K - 2 * T * Ks
    post = Kss - Ks**2 / K
    d.results["depth1_is_posterior"] = sp.simplify(cov.subs({Th: K, Ths: Ks}).subs(t, sp.oo) - post) == 0 or \
        sp.simplify(sp.limit(cov.subs({Th: K, Ths: Ks}), t, sp.oo) - post) == 0
    d.step("The trained ensemble (Lee et al. 2019, Eq. 16)",
           r"Since $f_0\sim GP(0,K)$ with the NNGP kernel $K = K^{(L)}$ and $f_t$ is affine in $f_0$, the trained "
           r"ensemble is Gaussian with, for $T_t = \Theta_*\Theta^{-1}(1-e^{-\Theta t})$,",
           [r"\mu_t = T_t\,y,\qquad \Sigma_t = K_{**} + T_tKT_t^{\top} - T_tK_*^{\top} - K_*T_t^{\top}.",
            (r"\mu_t\big|_{P=P_*=1}", mean), (r"\Sigma_t\big|_{P=P_*=1}", cov)],
           after=r"At $t=0$ this is the prior; at $t=\infty$ the mean is kernel regression with the NTK, "
                 r"$\Theta_*\Theta^{-1}y$, but the covariance is not the Bayesian posterior unless $\Theta\propto K$ "
                 r"(e.g.\ one layer, checked symbolically below).")


def _step_posterior(d):
    K, Ks, Kss, JD, y = sp.symbols("K K_* K_** J_D y", positive=True)
    mean = Ks / (K + 1 / JD) * y
    var = Kss - Ks**2 / (K + 1 / JD)
    d.step("The exact Bayesian posterior (NNGP regression)",
           r"With prior $f\sim GP(0,K)$ and likelihood $\propto\exp[-\tfrac{J_D}{2}\sum_\mu(f(x_\mu)-y_\mu)^2]$, i.e.\ "
           r"Gaussian noise of variance $\sigma_n^2 = 1/J_D$ (Rasmussen \& Williams 2006, Eqs.~2.22--2.24; Lee et "
           r"al.\ 2018, arXiv:1711.00165, Eq.~8):",
           [r"\mu_* = K_*(K + J_D^{-1})^{-1}y,\qquad \Sigma_* = K_{**} - K_*(K + J_D^{-1})^{-1}K_*^{\top},",
            (r"\mu_*\big|_{P=P_*=1}", mean), (r"\Sigma_*\big|_{P=P_*=1}", var),
            (r"\lim_{J_D\to\infty}\Sigma_*", sp.limit(var, JD, sp.oo))],
           after=r"For one Dense layer ($\Theta = K$) the $t\to\infty$ trained ensemble coincides with the noiseless "
                 rf"posterior (SymPy: {'verified' if d.results.get('depth1_is_posterior') else 'NOT verified'}); "
                 r"for deeper networks it does not (\texttt{statfield.training.nngp\_posterior}).")
