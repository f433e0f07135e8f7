"""Validation figures: Figure objects without pyplot's backend switch, pull panels, discrete data as markers."""

import numpy as np
import pytest

from statfield.validation import plots

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def test_pulls():
    z = plots.pulls([1.0, 2.0, 3.0, 4.0], [0.5, 0.0, np.nan, 1.0], [0.0, 2.0, 3.0, 5.0])
    assert z[0] == 2.0 and np.isnan(z[1]) and np.isnan(z[2]) and z[3] == -1.0


def test_figures_never_switch_the_backend(tmp_path, monkeypatch):
    import matplotlib

    def forbidden(*a, **k):
        raise AssertionError("library code called matplotlib.use")

    monkeypatch.setattr(matplotlib, "use", forbidden)
    backend = matplotlib.rcParams["backend"]
    name = plots.theory_vs_mc(tmp_path / "f.png", curves=[{"x": [0, 1], "y": [0, 1], "label": "theory"}],
                              points=[{"x": [0, 1], "y": [0.1, 0.9], "yerr": [0.1, 0.1], "theory": [0, 1]}])
    assert name == "f.png" and (tmp_path / "f.png").read_bytes()[:8] == PNG_MAGIC
    assert matplotlib.rcParams["backend"] == backend
    assert not list(tmp_path.glob("*.tmp"))


def test_pull_panel_only_with_theory_values():
    from matplotlib.figure import Figure

    pts = {"x": [1, 2, 3], "y": [1.0, 2.1, 2.9], "yerr": [0.1, 0.1, 0.1]}
    fig = plots.theory_vs_mc_figure(points=[pts])
    assert isinstance(fig, Figure) and len(fig.axes) == 1
    fig = plots.theory_vs_mc_figure(points=[{**pts, "theory": [1, 2, 3]}])
    assert len(fig.axes) == 2
    pull_ax = fig.axes[1]
    (line,) = [ln for ln in pull_ax.get_lines() if ln.get_marker() not in (None, "None", "")]
    assert np.allclose(line.get_ydata(), [0.0, 1.0, -1.0])


@pytest.mark.parametrize("panel_extra", [{}, {"xticklabels": ["a", "b", "c"]}])
def test_discrete_data_drawn_as_markers(panel_extra):
    curve = {"x": [0, 1, 2], "y": [0.2, 0.5, 0.3], "label": "pmf", "discrete": not panel_extra}
    fig = plots.theory_vs_mc_figure(panels=[{"curves": [curve], **panel_extra}])
    (line,) = fig.axes[0].get_lines()
    assert line.get_linestyle() == "None" and line.get_marker() not in (None, "None", "")
