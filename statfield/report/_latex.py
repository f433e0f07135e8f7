r"""Stage 2 of the report: the LaTeX document (a pure function of :class:`~._collect.ReportData`).

Figure captions are LaTeX (math in ``$...$``): each check registers one (``register_check(..., caption=...)``);
checks without a caption fall back to their escaped plain-text description.
"""

from __future__ import annotations

from ._collect import GROUP_PULLS_CAPTION, ReportData
from ._markdown import num, paper_rows, z_sentence

__all__ = ["build_latex", "tex_escape", "GROUP_TITLES", "GROUP_INTROS"]

GROUP_TITLES = {"meanfield": "Mean field and NNGP kernels",
                "eft": "Quadratic EFT: lagged correlators and correlation lengths",
                "samplers": "Exact finite-width identities",
                "paper": "Published coefficients (SPS17, as quoted)",
                "finite_width": "Finite width: four-point vertex and kurtosis",
                "perturbation": "Perturbation theory: data as a perturbation of the prior",
                "spectra": "Weight-matrix spectra",
                "training": "Training dynamics and the neural tangent kernel",
                "jacobians": "Jacobians and initialisation",
                "student_teacher": "The linear student--teacher model",
                "architectures": "Residual networks and the gradient noise scale"}

#: One paragraph per group (LaTeX): what is compared and where the equations come from.
GROUP_INTROS = {
    "perturbation": (
        r"Data as a perturbation of the random-network prior (\texttt{statfield.perturbation}): the data term "
        r"$\Delta H=\sum_\mu\frac12(f(x_\mu)-y_\mu)^2$ with coupling $\varepsilon=J_D$ of the action of SPS17 "
        r"(arXiv:1710.06570). The coefficients of $\langle O\rangle_\varepsilon=\sum_n c_n\varepsilon^n$, "
        r"$c_n=(-1)^n\kappa(O,\Delta H,\dots,\Delta H)/n!$, are exact by Wick's theorem (\texttt{wick\_expansion}); "
        r"the NNGP posterior is kernel regression with noise variance $1/J_D$ (Rasmussen \& Williams 2006, "
        r"Eq.~2.23--2.24; \texttt{gp\_posterior}), whose Taylor series in $J_D$ (\texttt{data\_series}) converges "
        r"for $J_D\lambda_{\max}(K_{DD})<1$. Reweighted Monte Carlo (\texttt{reweight}: self-normalised importance "
        r"sampling, Kish effective sample size, PSIS $\hat k$) is compared with both. Measured outside this report "
        r"(\texttt{docs/perturbation.md}, \texttt{numerics/digits\_reweighting.py}): batches of fixed adjusted size "
        r"$\sum_i\tilde w_i$ reduce the variance of the summed weighted gradient by factors 9.9, 5.0 and 1.8 for "
        r"log-weight standard deviations 0.5, 1.0 and 1.5; a mixture model trained on the digits reweighted to "
        r"30\,\% twos generates $29.64\pm0.21\,\%$ twos ($z=-1.7$; unweighted baseline $9.68\pm0.23\,\%$ against "
        r"9.85\,\%)."),
    "spectra": (
        r"Weight-matrix spectra (\texttt{statfield.spectra}, \texttt{docs/spectra.md}): the empirical spectral "
        r"density of $X=W^\top W/N$ ($N\ge M$ the larger and smaller dimension), exact finite-size Gaussian "
        r"baselines ($\chi^2_{NM}$ law of $\|W\|_F^2$, Wishart log-determinant), the Marchenko--Pastur bulk, the "
        r"power-law tail exponent $\alpha$ by the Clauset--Shalizi--Newman estimator (SIAM Rev.\ 51, 661, 2009), "
        r"Johnstone's $TW_1$ approximation of $\lambda_{\max}$ (Ann.\ Stat.\ 29, 295, 2001) and the heavy-tailed "
        r"exponent $\alpha=1+\mu/2$ (Martin \& Mahoney, arXiv:1810.01075). The last two are asymptotic statements "
        r"and are reported as \emph{published} records, not counted as failures."),
    "training": (
        r"Training as a flow (\texttt{statfield.training}): the infinite-width NTK "
        r"$\Theta^{l+1}=K^{l+1}+\sigma_w^2\,\mathbb{E}[\phi'(u)\phi'(v)]\,\Theta^l$ (Jacot et al.\ 2018, "
        r"arXiv:1806.07572; NTK parameterisation, \texttt{meanfield.ntk\_kernel}), the linearised ensemble trained "
        r"by gradient descent on $\frac12\sum_\mu(f_\mu-y_\mu)^2$ (Lee et al.\ 2019, arXiv:1902.06720, Eq.~14--16; "
        r"\texttt{training.gradient\_descent\_mse}) and the leading-order NTK variance $N\,\mathrm{Var}\,\hat\Theta"
        r"\to C$ (Roberts, Yaida \& Hanin, arXiv:2106.10165), against sampled and trained finite networks "
        r"(\texttt{training.train\_ensemble})."),
    "jacobians": (
        r"Input--output Jacobians (\texttt{statfield.jacobian}): the mean squared singular value "
        r"$\frac1N\mathbb{E}\,\mathrm{tr}\,JJ^\top=\chi_1^L$ (Poole et al.\ 2016, arXiv:1606.05340), the "
        r"free-probability relative variance $\mathrm{Var}\,\lambda/(\mathbb{E}\lambda)^2=L(\kappa_D+s_W)$, "
        r"$s_W=1$ (Gaussian) or 0 (orthogonal) (Pennington, Schoenholz \& Ganguli 2017, arXiv:1711.04735, "
        r"Eq.~7--11; exact at infinite width, so the Monte Carlo is extrapolated in $1/N$), and the exact "
        r"finite-width law of $\ln\|Ju\|^2$ for ReLU (Hanin \& Nica 2018, arXiv:1812.05994). Initialisation schemes "
        r"with unequal widths (\texttt{statfield.initialisation}): forward $q^l=v_lN_{l-1}\langle\phi^2\rangle+"
        r"\sigma_b^2$ and backward $g^{l-1}=v_lN_l\langle\phi'^2\rangle g^l$ (Schoenholz et al.\ 2017, "
        r"arXiv:1611.01232, \S4; He et al.\ 2015; Glorot \& Bengio 2010)."),
    "student_teacher": (
        r"The solvable linear student--teacher model (\texttt{statfield.student\_teacher}; Advani \& Saxe, "
        r"arXiv:1710.03667): inputs with entries $N(0,1/P)$, the test error per eigenmode of $X^\top X$ after "
        r"gradient flow or ridge regression (Kaplan's notes Eq.~6.0.13--6.0.14), exact given the spectrum, and its "
        r"Marchenko--Pastur limit at fixed $r=D/P$ (notes Eq.~6.0.15), which diverges at $r=1$ for "
        r"$t\to\infty$ (the interpolation peak). Simulations sample teacher, data, noise and initialisation and "
        r"train in closed form."),
    "architectures": (
        r"Residual networks (\texttt{statfield.resnet}; pre-activation residual blocks, Kaplan's notes Eq.~5.1.13; "
        r"mean-field residual networks of Yang \& Schoenholz 2017, arXiv:1712.08969): the residual NNGP kernel "
        r"$K^{l+1}=K^l+\sigma_b^2+\sigma_w^2\,\mathbb{E}[\phi\phi]$, the residual NTK and the leading $1/N$ "
        r"correction of $\mathbb{E}\,q^L$, against exactly sampled residual networks. The gradient noise scale "
        r"$\mathcal{B}_{\rm simple}=\mathrm{tr}\,\Sigma/|G|^2$ (\texttt{statfield.noise\_scale}; Kaplan's notes "
        r"\S4.5, Eq.~4.5.9; McCandlish et al.\ 2018, arXiv:1812.06162, Eq.~2.9): exact for linear regression and "
        r"at infinite width from the NNGP and NTK kernels."),
}
_PAPER_TITLE = "Published coefficients against Monte Carlo"
_PHASE_TITLE = "Mean-field phase diagram"


def tex_escape(s) -> str:
    """Escape LaTeX's special characters in plain text."""
    rep = {"&": r"\&", "%": r"\%", "#": r"\#", "_": r"\_", "$": r"\$", "{": r"\{", "}": r"\}",
           "~": r"\textasciitilde{}", "^": r"\textasciicircum{}", "\\": r"\textbackslash{}"}
    return "".join(rep.get(ch, ch) for ch in str(s))


def _records_table(records):
    header = ["check", "prediction", r"MC $\pm$ s.e.", "$z$", "verdict"]
    rows = []
    for r in records:
        if r.skipped:
            rows.append([tex_escape(r.name), "--", "--", "--", "skipped"])
            continue
        rows.append([tex_escape(r.name), num(r.prediction), f"{num(r.estimate)} $\\pm$ {num(r.stderr, '.2g')}",
                     num(r.z, '+.2f'), r.status])
    return header, rows


def _captions(records) -> dict:
    """Figure file -> LaTeX caption (the check's registered caption, or its escaped description)."""
    from ..validation.core import CHECKS

    caps = {}
    for r in records:
        if not r.figure or r.figure in caps:
            continue
        chk = CHECKS.get(r.check)
        cap = chk.caption if chk is not None and chk.caption else tex_escape(chk.description if chk else r.description)
        caps[r.figure] = rf"\texttt{{{tex_escape(r.check or r.name)}}}: {cap}"
    return caps


def _figure(path, caption, width=r"0.92\linewidth") -> str:
    return (r"\begin{center}\includegraphics[width=" + width + r",height=0.36\textheight,keepaspectratio]{"
            + path + r"}\\[2pt]\parbox{0.92\linewidth}{\small " + caption + r"}\end{center}")


def _summary_text(data: ReportData) -> str:
    s, v = data.summary, data.versions
    fails = s["failures"]
    z = s.get("z_distribution", {})
    n_sps17 = len(paper_rows(data.records))
    return (rf"{s['n_checks']} comparisons of statfield's theory with Monte Carlo: "
            rf"{s['n_passed']} passed, {s['n_failed']} failed, {s['n_skipped']} skipped "
            rf"(profile \texttt{{{data.profile}}}, seed {data.seed}). " + tex_escape(s["multiple_comparisons"]) + ". "
            + (tex_escape(z_sentence(z)).replace("|z|", "$|z|$") + ". " if z else "")
            + (rf"{n_sps17} coefficients quoted for SPS17 were compared with the same data and "
               r"are reported, not counted (Section on published coefficients). " if n_sps17 else "")
            + (rf"{s['n_published'] - n_sps17} other published asymptotic statements are reported the same way. "
               if s["n_published"] > n_sps17 else "")
            + (r"\textbf{Failures:} " + "; ".join(tex_escape(f) for f in fails) + "." if fails else "")
            + rf" Software: statfield {tex_escape(v.get('statfield'))}, NumPy {tex_escape(v.get('numpy'))}, "
              rf"SymPy {tex_escape(v.get('sympy'))}, Python {tex_escape(v.get('python'))}.")


def build_latex(data: ReportData) -> str:
    """The full ``report.tex``: summary, tables and figures per group, published coefficients, phase
    diagram, and every derivation of the catalogue as an appendix."""
    from ..symbolic.derivation import Derivation

    s = data.summary
    rep = Derivation(
        "statfield report: the field theory of random networks against Monte Carlo",
        abstract=(r"Every statement of the theory (mean-field fixed points, exact finite-width identities, the "
                  r"quadratic effective field theory and its correlation lengths, NNGP kernels, perturbation theory "
                  r"in the data, weight spectra, the neural tangent kernel and training, Jacobians and "
                  r"initialisation, the student--teacher model, residual networks) is put against "
                  r"an exact Monte Carlo estimate with a standard error; a comparison passes when "
                  rf"$|z| < {s['threshold']:g}$, $z=(\mathrm{{MC}}-\mathrm{{theory}})/\sigma$. Under each overlay "
                  r"a pull panel shows $(\mathrm{MC}-\mathrm{theory})/\sigma$. The derivations follow as appendices."))
    rep.step("Summary", _summary_text(data))
    groups = {}
    for r in data.records:
        groups.setdefault(r.group or "other", []).append(r)
    rep.table("Validation at a glance: comparisons per group (published coefficients are reported, not counted).",
              ["group", "checks", "comparisons", "passed", "failed", "skipped", "published (consistent)"],
              [[tex_escape(g), str(len({r.check for r in recs})),
                str(sum(r.kind == "test" and not r.skipped for r in recs)),
                str(sum(r.kind == "test" and r.passed and not r.skipped for r in recs)),
                str(sum(r.failed for r in recs)),
                str(sum(r.skipped for r in recs)),
                f"{sum(r.kind == 'published' for r in recs)} ({sum(r.kind == 'published' and r.passed for r in recs)})"]
               for g, recs in groups.items()], raw=True)
    captions = _captions(data.records)
    new_page = []  # sections that start on a new page (so that their tables stay with their figures)
    for g, recs in groups.items():
        title = GROUP_TITLES.get(g, tex_escape(g))
        figs = [_figure(f"figures/{f}", captions[f]) for f in dict.fromkeys(r.figure for r in recs if r.figure)
                if (data.figdir / f).exists()]
        pull = data.group_figures.get(g)
        if pull and (data.figdir / pull).exists():
            figs.append(_figure(f"figures/{pull}", GROUP_PULLS_CAPTION.format(group=tex_escape(g))))
        text = (GROUP_INTROS.get(g, "") + ("\n\n" if g in GROUP_INTROS else "") + f"{len(recs)} records. " + ("Records of kind \\emph{published} compare a quoted coefficient with "
                "the data and are not counted as failures." if any(r.kind == "published" for r in recs) else ""))
        rep.step(title, text + "\n\n" + "\n\n".join(figs))
        new_page.append(title)
        header, rows = _records_table(recs)
        rep.table(tex_escape(f"Validation records of group '{g}'."), header, rows, raw=True)
    prows = paper_rows(data.records)
    if prows:
        rep.step(_PAPER_TITLE, r"Each published coefficient and statfield's value for it are compared with the same "
                               r"MC estimate; $z=(\mathrm{MC}-\mathrm{value})/\mathrm{s.e.}$")
        rep.table("The coefficients quoted for SPS17 (talk notes) and statfield's derivation, against MC.",
                  ["quantity", "published", "statfield", r"MC $\pm$ s.e.", "$z_{\\rm pub}$", "$z_{\\rm ours}$",
                   "verdict"],
                  [[tex_escape(r["quantity"]), num(r["published"]), num(r["statfield"]),
                    f"{num(r['mc'])} $\\pm$ {num(r['mc_stderr'], '.2g')}", num(r["z_published"], "+.1f"),
                    num(r["z_statfield"], "+.1f"), tex_escape(r["verdict"])] for r in prows], raw=True)
    other = [f for f in data.figures if (data.figdir / f).exists()]
    if other:
        rep.step(_PHASE_TITLE, "\n\n".join(_figure(f"figures/{f}", data.figures[f], r"0.8\linewidth") for f in other))
    rep.step("Derivations", "The appendices reproduce every derivation of the catalogue: " + ", ".join(
        rf"\texttt{{{tex_escape(n)}}} ({tex_escape(st['status'])})" for n, st in data.derivations.items()) + ".")
    tex = rep.to_latex()
    for title in new_page + [_PAPER_TITLE, _PHASE_TITLE]:
        tex = tex.replace(rf"\subsection*{{{title}}}", rf"\clearpage\subsection*{{{title}}}", 1)
    appendix = "\n".join(r"\clearpage" + "\n" + d.body_latex() for d in data.built.values())
    return tex.replace(r"\end{document}", appendix + "\n" + r"\end{document}")
