"""Figures of the validation checks: Monte Carlo points with error bars over theory curves.

Matplotlib with the non-interactive Agg backend (no display needed); every figure is written
atomically as PNG (write to a temporary name, then ``os.replace``).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

__all__ = ["theory_vs_mc", "save_figure"]


def _pyplot():
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig, path) -> str:
    """Save ``fig`` as PNG at ``path`` atomically; returns the file name (relative to its folder)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.stem + ".tmp.png")
    fig.savefig(tmp, dpi=110, bbox_inches="tight")
    os.replace(tmp, path)
    _pyplot().close(fig)
    return path.name


def theory_vs_mc(path, curves=(), points=(), xlabel="", ylabel="", title="", logy=False, logx=False,
                 hline=None, note=None, panels=None):
    """MC points with error bars over theory curves.

    Parameters
    ----------
    path : path-like
        PNG to write.
    curves : sequence of dict
        ``{"x", "y", "label", optional "style"}`` theory curves (lines).
    points : sequence of dict
        ``{"x", "y", "yerr", "label"}`` MC estimates with standard errors (markers, error bars).
    panels : sequence of dict, optional
        Several sub-plots side by side, each a dict with the keys above (``curves``, ``points``,
        ``xlabel``, ``ylabel``, ``title``, ``logy``, ``logx``, ``hline``, ``xticklabels``); overrides the single-panel
        arguments.
    Returns
    -------
    str
        The file name of the figure (relative to its folder), for the records and the report.
    """
    plt = _pyplot()
    if panels is None:
        panels = [dict(curves=curves, points=points, xlabel=xlabel, ylabel=ylabel, title=title, logy=logy,
                       logx=logx, hline=hline)]
    fig, axes = plt.subplots(1, len(panels), figsize=(4.6 * len(panels), 3.6), squeeze=False)
    for ax, p in zip(axes[0], panels):
        for i, c in enumerate(p.get("curves", ())):
            ax.plot(np.asarray(c["x"], float), np.asarray(c["y"], float), c.get("style", "-"),
                    color=c.get("color", f"C{i}"), lw=1.6, label=c.get("label"), zorder=1)
        for i, q in enumerate(p.get("points", ())):
            ax.errorbar(np.asarray(q["x"], float), np.asarray(q["y"], float),
                        yerr=np.asarray(q.get("yerr", np.zeros(len(q["x"]))), float),
                        fmt=q.get("fmt", "o"), ms=4, capsize=2.5, color=q.get("color", f"C{i + len(p.get('curves', ()))}"),
                        mfc="white" if q.get("open") else None, label=q.get("label"), zorder=3)
        if p.get("xticklabels") is not None:
            ax.set_xticks(np.arange(len(p["xticklabels"])))
            ax.set_xticklabels(p["xticklabels"], rotation=40, ha="right", fontsize=7)
        if p.get("hline") is not None:
            ax.axhline(p["hline"], color="0.5", lw=0.8, ls=":")
        if p.get("logy"):
            ax.set_yscale("log")
        if p.get("logx"):
            ax.set_xscale("log")
        ax.set_xlabel(p.get("xlabel", ""))
        ax.set_ylabel(p.get("ylabel", ""))
        if p.get("title"):
            ax.set_title(p["title"], fontsize=10)
        ax.grid(alpha=0.25)
        handles, labels = ax.get_legend_handles_labels()
        if labels:
            ax.legend(fontsize=7.5, frameon=False)
    if note:
        fig.text(0.01, -0.02, note, fontsize=7, ha="left", va="top")
    fig.tight_layout()
    return save_figure(fig, path)
