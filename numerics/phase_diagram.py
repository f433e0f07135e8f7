"""Order-to-chaos phase diagram of a random network: PNG of xi_c over (sigma_w2, sigma_b2) with the chi1 = 1 line.

Library calls only (:func:`statfield.meanfield.phase_diagram`, :meth:`PhaseDiagram.plot`,
:func:`statfield.meanfield.critical_line`); writes ``phase_diagram_<activation>.png`` and a JSON summary
(grid, phase counts, the largest finite depth scales xi_c and xi_ntk, points of the exact critical line) into
``--out``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from statfield import meanfield as mf


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=Path("out/phase_diagram"))
    ap.add_argument("--smoke", action="store_true", help="30 x 30 grid")
    ap.add_argument("--activation", default="tanh")
    ap.add_argument("--n", type=int, default=200)
    ap.add_argument("--sigma-w2", type=float, nargs=2, default=(0.5, 4.0))
    ap.add_argument("--sigma-b2", type=float, nargs=2, default=(0.0, 0.3))
    a = ap.parse_args(argv)
    n = 30 if a.smoke else a.n
    a.out.mkdir(parents=True, exist_ok=True)
    w = np.linspace(*a.sigma_w2, n)
    b = np.linspace(*a.sigma_b2, n)
    pd = mf.phase_diagram(a.activation, w, b)
    png = a.out / f"phase_diagram_{a.activation}.png"
    pd.plot(png)
    qq = np.geomspace(1e-6, 10.0, 40)
    cw, cb = mf.critical_line(a.activation, qq)
    keep = cb >= 0
    summary = {
        "activation": a.activation, "grid": [n, n], "sigma_w2": list(a.sigma_w2), "sigma_b2": list(a.sigma_b2),
        "phases": {k: int(v) for k, v in zip(*np.unique(pd.phase.astype(str), return_counts=True))},
        "xi_c_max_finite": float(np.nanmax(np.where(np.isfinite(pd.xi_c), pd.xi_c, np.nan))),
        # backward pass: depth scale of trainability 1/|ln chi1| and the ordered-phase NTK limit q*/(1 - chi1)
        "xi_ntk_max_finite": float(np.nanmax(np.where(np.isfinite(pd.xi_ntk), pd.xi_ntk, np.nan))),
        "ntk_limit_max_finite": float(np.nanmax(np.where(np.isfinite(pd.ntk_limit), pd.ntk_limit, np.nan))),
        "critical_line": {"q_star": qq[keep].tolist(), "sigma_w2": cw[keep].tolist(), "sigma_b2": cb[keep].tolist()},
        "png": png.name,
    }
    (a.out / f"phase_diagram_{a.activation}.json").write_text(json.dumps(summary, indent=1))
    print(f"wrote {png}")


if __name__ == "__main__":
    main()
