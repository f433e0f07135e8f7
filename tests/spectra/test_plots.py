"""ESD figures are Figure objects (no pyplot) written atomically as PNG."""

import numpy as np

import statfield.spectra as sp
from statfield.spectra.plots import esd_figure, save_figure


def test_esd_figure_and_save(tmp_path):
    from matplotlib.figure import Figure

    m = sp.matrix_metrics(sp.pareto_matrix(200, 100, 1.5, seed=0), n_boot=3, n_baseline=2)
    fig = esd_figure(m)
    assert isinstance(fig, Figure) and len(fig.axes) == 2
    p = save_figure(fig, tmp_path / "sub" / "esd.png")
    assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    small = sp.matrix_metrics(np.random.default_rng(0).standard_normal((30, 20)), tail_fit=False)
    assert isinstance(esd_figure(small), Figure)  # no tail fit: the bulk and the CCDF only
