r"""Figures of the validation checks: Monte Carlo points with error bars over theory curves.

The figures are :class:`matplotlib.figure.Figure` objects built directly (never through ``pyplot``, and
the library never calls ``matplotlib.use``, so a notebook's backend is left alone); they are rendered
with the Agg canvas and written atomically as PNG (:func:`statfield._io.atomic_write`).

Every panel is an overlay (theory as lines, MC as markers with error bars). Where the MC points carry
the theory value at their abscissae (key ``"theory"``), a **pull panel** underneath shows
:math:`(\mathrm{MC}-\mathrm{theory})/\sigma` with the pass band :math:`|z| < 5` (``docs/conventions.md``,
section *Statistics*). Discrete data (a probability mass function, a list of invariants) is drawn as
markers, never joined by lines.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .._io import atomic_write

__all__ = ["theory_vs_mc", "theory_vs_mc_figure", "save_figure", "pulls"]

_DPI = 110


def save_figure(fig, path) -> str:
    """Render ``fig`` (a :class:`matplotlib.figure.Figure`) with Agg and write it as PNG at ``path`` atomically.

    Returns the file name (relative to its folder), as stored in the validation records.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    path = Path(path)
    if not isinstance(fig.canvas, FigureCanvasAgg):
        FigureCanvasAgg(fig)
    atomic_write(path, lambda fh: fig.savefig(fh, format="png", dpi=_DPI, bbox_inches="tight"), "wb")
    return path.name


def pulls(y, yerr, theory) -> np.ndarray:
    r"""Pulls :math:`(y - \mathrm{theory})/\sigma` elementwise; ``nan`` where :math:`\sigma \le 0` or not finite."""
    y, s, t = (np.asarray(a, float) for a in (y, yerr, theory))
    y, s, t = np.broadcast_arrays(y, s, t)
    out = np.full(y.shape, np.nan)
    ok = np.isfinite(y) & np.isfinite(s) & np.isfinite(t) & (s > 0)
    out[ok] = (y[ok] - t[ok]) / s[ok]
    return out


def _draw_overlay(ax, p):
    ncurves = len(p.get("curves", ()))
    for i, c in enumerate(p.get("curves", ())):
        x, y = np.asarray(c["x"], float), np.asarray(c["y"], float)
        color = c.get("color", f"C{i}")
        style = c.get("style", "-")
        if c.get("discrete") or p.get("xticklabels") is not None and style in ("-", "--", ":", "-."):
            # discrete data: markers only (a line would suggest values between the points)
            marker = style if style not in ("-", "--", ":", "-.") else "_"
            ax.plot(x, y, linestyle="none", marker=marker, ms=9 if marker == "_" else 5, mew=1.6, color=color,
                    label=c.get("label"), zorder=2)
        else:
            ax.plot(x, y, style, color=color, lw=1.6, label=c.get("label"), zorder=1)
    for i, q in enumerate(p.get("points", ())):
        x = np.asarray(q["x"], float)
        ax.errorbar(x, np.asarray(q["y"], float), yerr=np.asarray(q.get("yerr", np.zeros(len(x))), float),
                    fmt=q.get("fmt", "o"), ms=4, capsize=2.5, color=q.get("color", f"C{i + ncurves}"),
                    mfc="white" if q.get("open") else None, label=q.get("label"), zorder=3)
    if p.get("hline") is not None:
        ax.axhline(p["hline"], color="0.5", lw=0.8, ls=":")
    if p.get("logy"):
        ax.set_yscale("log")
    if p.get("logx"):
        ax.set_xscale("log")
    ax.set_ylabel(p.get("ylabel", ""))
    if p.get("title"):
        ax.set_title(p["title"], fontsize=10)
    ax.grid(alpha=0.25)
    if ax.get_legend_handles_labels()[1]:
        ax.legend(fontsize=7.5, frameon=False)


def _draw_pulls(ax, p):
    ncurves = len(p.get("curves", ()))
    t = float(p.get("pull_threshold", 5.0))
    zmax = 0.0
    for i, q in enumerate(p.get("points", ())):
        if q.get("theory") is None:
            continue
        z = pulls(q["y"], q.get("yerr", np.zeros(len(q["x"]))), q["theory"])
        ax.plot(np.asarray(q["x"], float), z, linestyle="none", marker=q.get("fmt", "o"), ms=3.5,
                color=q.get("color", f"C{i + ncurves}"), zorder=3)
        if np.any(np.isfinite(z)):
            zmax = max(zmax, float(np.nanmax(np.abs(z))))
    ax.axhline(0.0, color="0.3", lw=0.8)
    ax.axhspan(-2.0, 2.0, color="0.85", zorder=0, lw=0)
    for s in (-t, t):
        ax.axhline(s, color="C3", lw=0.8, ls="--")
    lim = max(1.15 * zmax, t + 1.0)
    ax.set_ylim(-lim, lim)
    ax.set_ylabel(p.get("pull_label", r"$(\mathrm{MC}-\mathrm{th.})/\sigma$"), fontsize=8)
    ax.grid(alpha=0.25)


def theory_vs_mc_figure(curves=(), points=(), xlabel="", ylabel="", title="", logy=False, logx=False, hline=None,
                        note=None, panels=None):
    """The :class:`matplotlib.figure.Figure` of :func:`theory_vs_mc` (not saved; for notebooks and tests)."""
    from matplotlib.figure import Figure

    if panels is None:
        panels = [dict(curves=curves, points=points, xlabel=xlabel, ylabel=ylabel, title=title, logy=logy,
                       logx=logx, hline=hline)]
    has_pull = [any(q.get("theory") is not None for q in p.get("points", ())) for p in panels]
    fig = Figure(figsize=(4.6 * len(panels), 4.4 if any(has_pull) else 3.6), layout="constrained")
    gs = fig.add_gridspec(2, len(panels), height_ratios=[3, 1])
    for j, p in enumerate(panels):
        if has_pull[j]:
            ax = fig.add_subplot(gs[0, j])
            axp = fig.add_subplot(gs[1, j], sharex=ax)
            ax.tick_params(labelbottom=False)
        else:
            ax, axp = fig.add_subplot(gs[:, j]), None
        _draw_overlay(ax, p)
        bottom = axp if axp is not None else ax
        if axp is not None:
            _draw_pulls(axp, p)
        if p.get("xticklabels") is not None:
            bottom.set_xticks(np.arange(len(p["xticklabels"])))
            bottom.set_xticklabels(p["xticklabels"], rotation=40, ha="right", fontsize=7)
        elif any(c.get("discrete") for c in p.get("curves", ())) and not p.get("logx"):
            from matplotlib.ticker import MaxNLocator

            bottom.xaxis.set_major_locator(MaxNLocator(integer=True))  # layers, lags, counts
        bottom.set_xlabel(p.get("xlabel", ""))
    if note:
        fig.text(0.01, -0.02, note, fontsize=7, ha="left", va="top")
    return fig


def theory_vs_mc(path, curves=(), points=(), xlabel="", ylabel="", title="", logy=False, logx=False,
                 hline=None, note=None, panels=None):
    """MC points with error bars over theory curves, with pull panels; written as PNG.

    Parameters
    ----------
    path : path-like
        PNG to write (atomically).
    curves : sequence of dict
        ``{"x", "y", "label", optional "style", "color", "discrete"}`` theory curves. ``discrete=True``
        (or a panel with ``xticklabels``) draws markers only.
    points : sequence of dict
        ``{"x", "y", "yerr", "label", optional "theory", "fmt", "color", "open"}`` MC estimates with standard
        errors. ``theory`` (the prediction at each ``x``) adds the pull panel
        :math:`(\\mathrm{MC}-\\mathrm{theory})/\\sigma` underneath.
    panels : sequence of dict, optional
        Several sub-plots side by side, each a dict with the keys above (``curves``, ``points``, ``xlabel``,
        ``ylabel``, ``title``, ``logy``, ``logx``, ``hline``, ``xticklabels``, ``pull_threshold``, ``pull_label``);
        overrides
        the single-panel arguments.

    Returns
    -------
    str
        The file name of the figure (relative to its folder), for the records and the report.
    """
    fig = theory_vs_mc_figure(curves, points, xlabel, ylabel, title, logy, logx, hline, note, panels)
    return save_figure(fig, path)
