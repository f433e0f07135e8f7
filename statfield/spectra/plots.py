r"""Figures of a layer's spectrum: the ESD with its Marchenko–Pastur bulk fit and its power-law tail fit.

Figures are :class:`matplotlib.figure.Figure` objects built directly (never through ``pyplot``; the library
never calls ``matplotlib.use``), rendered with the Agg canvas and written atomically
(:func:`statfield._io.atomic_write`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .._io import atomic_write
from .metrics import MatrixMetrics, mp_pdf

__all__ = ["esd_figure", "save_figure", "save_layer_figures"]

_DPI = 110


def esd_figure(m: MatrixMetrics):
    r"""Two panels for one :class:`~statfield.spectra.MatrixMetrics` (computed with its eigenvalues).

    Left: histogram of the ESD of :math:`X = W^TW/N` with the fitted Marchenko–Pastur density (solid) and
    the MP density at the matrix's own variance :math:`\|W\|_F^2/(NM)` (dashed). Right: the empirical
    complementary CDF on log–log axes with the fitted power law
    :math:`P(\lambda > x) = \frac{n_{tail}}{M}(x/x_{min})^{1-\alpha}` above :math:`x_{min}`, and the
    :math:`\alpha` of the Gaussian baseline of the same shape in the legend.
    """
    from matplotlib.figure import Figure

    ev = np.asarray(m.eigenvalues if m.eigenvalues is not None else [], float)
    if ev.size == 0:
        raise ValueError("m.eigenvalues is empty: compute the metrics with statfield.spectra.matrix_metrics")
    fig = Figure(figsize=(10.5, 4.0))
    ax1, ax2 = fig.subplots(1, 2)
    pos = ev[ev > 0]
    # the bulk panel stops at twice the larger of the fitted MP edge and the 95th percentile, so that a heavy
    # tail does not squash the bulk; the count of eigenvalues beyond the axis is in the legend
    x_hi = min(float(ev.max()), 2.0 * max(m.mp.edges[1], float(np.quantile(ev, 0.95))))
    inside = ev[ev <= x_hi]
    n_out = ev.size - inside.size
    counts, edges = np.histogram(inside, bins=min(80, max(10, ev.size // 5)), range=(0.0, x_hi * 1.0001))
    ax1.stairs(counts / (ev.size * np.diff(edges)), edges, fill=True, color="0.75",
               label=f"ESD (M = {m.M})" + (f", {n_out} beyond the axis" if n_out else ""))
    xs = np.linspace(0.0, x_hi * 1.02, 600)
    ax1.plot(xs, mp_pdf(xs, m.mp.sigma2, m.mp.ratio), "C0-",
             label=rf"MP fit $\sigma^2$ = {m.mp.sigma2:.3g} (KS {m.mp.ks_distance:.2f})")
    ax1.plot(xs, mp_pdf(xs, m.baseline.variance, m.baseline.ratio), "C1--",
             label=rf"MP at $\|W\|_F^2/NM$ = {m.baseline.variance:.3g}")
    ax1.set_xlabel(r"eigenvalue $\lambda$ of $X = W^TW/N$")
    ax1.set_ylabel("density")
    ax1.set_title(f"{m.name}: {m.shape[0]}x{m.shape[1]}" + (" (transposed)" if m.transposed else ""))
    ax1.legend(fontsize=8)
    if pos.size:
        srt = np.sort(pos)
        ccdf = 1.0 - np.arange(srt.size) / srt.size
        ax2.loglog(srt, ccdf, ".", ms=3, color="0.3", label="empirical CCDF")
        if m.powerlaw is not None:
            f = m.powerlaw
            xx = np.geomspace(f.xmin, srt[-1], 100)
            frac = f.n_tail / srt.size
            lab = rf"power law $\alpha$ = {f.alpha:.2f} ± {f.alpha_stderr:.2f}"
            if m.alpha_baseline is not None:
                lab += f"\n(Gaussian baseline: {m.alpha_baseline:.2f})"
            ax2.loglog(xx, frac * (xx / f.xmin) ** (1.0 - f.alpha), "C3-", label=lab)
            ax2.axvline(f.xmin, color="C3", lw=0.8, ls=":")
        ax2.axvline(m.mp.edges[1], color="C0", lw=0.8, ls="--", label=r"MP edge $\lambda_+$")
    ax2.set_xlabel(r"$\lambda$")
    ax2.set_ylabel(r"$P(\lambda_i > \lambda)$")
    ax2.set_title("tail" + ("" if m.alpha is not None else f" ({m.alpha_note})"))
    ax2.legend(fontsize=8)
    fig.subplots_adjust(left=0.07, right=0.98, bottom=0.13, top=0.92, wspace=0.25)
    return fig


def save_figure(fig, path) -> Path:
    """Render ``fig`` with the Agg canvas and write it as PNG at ``path`` atomically; returns the path."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    path = Path(path)
    if not isinstance(fig.canvas, FigureCanvasAgg):
        FigureCanvasAgg(fig)
    atomic_write(path, lambda fh: fig.savefig(fh, format="png", dpi=_DPI), "wb")
    return path


def _safe_name(name: str) -> str:
    out = "".join(c if (c.isalnum() or c in "-_.") else "_" for c in name)
    return out.strip("._") or "layer"


def save_layer_figures(metrics, outdir) -> list:
    """Write one ``esd_<layer>.png`` per layer of a :class:`~statfield.spectra.NetworkMetrics` into ``outdir``."""
    outdir = Path(outdir)
    paths = []
    seen = set()
    for i, m in enumerate(metrics.layers):
        base = _safe_name(m.name)
        if base in seen:
            base = f"{base}_{i}"
        seen.add(base)
        paths.append(save_figure(esd_figure(m), outdir / f"esd_{base}.png"))
    return paths

