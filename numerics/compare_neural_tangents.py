"""Compare statfield.meanfield.nngp_kernel with neural-tangents' stax NNGP kernels; record the max difference.

If ``neural_tangents`` imports (it is never a statfield dependency; install it in a throwaway venv, e.g.
``python3 -m venv /tmp/ntvenv && /tmp/ntvenv/bin/pip install "jax[cpu]==0.5.3" "jaxlib==0.5.3"
neural-tangents==0.6.5`` and run ``PYTHONPATH=. /tmp/ntvenv/bin/python numerics/compare_neural_tangents.py``),
random inputs are pushed through ``stax.serial(Dense, *[phi, Dense] * (depth - 1))`` in float64 and through
statfield, for linear, ReLU, leaky ReLU, erf, exact GELU (closed forms on both sides) and tanh (neural-tangents
has no closed form: ``ElementwiseNumerical`` Gauss-Hermite, so that row measures neural-tangents' quadrature).
Otherwise the stored oracle ``tests/data/neural_tangents_nngp.json`` is used, and the JSON says so.
Writes ``nt_comparison.json`` into ``--out``.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from statfield.meanfield import nngp_kernel

ROOT = Path(__file__).resolve().parents[1]


def _stored(depths):
    data = json.loads((ROOT / "tests" / "data" / "neural_tangents_nngp.json").read_text())
    X = np.array(data["inputs"])
    rows = []
    for case in data["cases"]:
        R = np.array(case["K"])
        for depth in depths:
            K = nngp_kernel(case["activation"], case["sigma_w2"], case["sigma_b2"], X, depth)
            rows.append(_row(case["activation"], case["sigma_w2"], case["sigma_b2"], depth, K, R[depth - 1]))
    return rows, data["source"]


def _row(name, w, b, depth, K, R):
    d = float(np.max(np.abs(K - R)))
    return {"activation": name, "sigma_w2": w, "sigma_b2": b, "depth": depth, "max_abs_diff": d,
            "max_rel_diff": d / float(np.max(np.abs(R)))}


def _live(depths, P, seed):
    import jax

    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp
    from neural_tangents import stax

    rng = np.random.default_rng(seed)
    X = rng.normal(size=(P, 10))
    X[-1] = -X[0]                      # an exactly anti-correlated pair (rho = -1)
    phis = {
        "linear": None,
        "relu": stax.Relu(),
        "leaky_relu_0.1": stax.LeakyRelu(0.1),
        "erf": stax.Erf(),
        "gelu": stax.Gelu(approximate=False),
        "tanh": stax.ElementwiseNumerical(jnp.tanh, deg=200),
    }
    rows = []
    for name, phi in phis.items():
        for w, b in ((1.5, 0.05), (2.5, 0.3)):
            dense = stax.Dense(1, W_std=np.sqrt(w), b_std=np.sqrt(b))
            for depth in depths:
                layers = [dense] + ([phi, dense] if phi is not None else [dense]) * (depth - 1)
                _, _, kfn = stax.serial(*layers)
                R = np.asarray(kfn(X, None, "nngp"), dtype=float)
                K = nngp_kernel(name, w, b, X, depth)
                rows.append(_row(name, w, b, depth, K, R))
    return rows, f"neural-tangents {__import__('neural_tangents').__version__} live, float64"


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=Path("out/compare_neural_tangents"))
    ap.add_argument("--smoke", action="store_true", help="depths 1-2 only")
    ap.add_argument("--inputs", type=int, default=24, help="number of random inputs (live mode)")
    ap.add_argument("--seed", type=int, default=20261122)
    a = ap.parse_args(argv)
    a.out.mkdir(parents=True, exist_ok=True)
    depths = [1, 2] if a.smoke else [1, 2, 3, 4, 5]
    t0 = time.time()
    try:
        import neural_tangents  # noqa: F401

        rows, source = _live(depths, 6 if a.smoke else a.inputs, a.seed)
        mode = "live"
    except ImportError:
        rows, source = _stored(depths)
        mode = "stored oracle (neural_tangents not importable here)"
    closed = [r for r in rows if r["activation"] != "tanh"]
    summary = {
        "mode": mode,
        "source": source,
        "max_abs_diff_closed_forms": max(r["max_abs_diff"] for r in closed),
        "max_rel_diff_closed_forms": max(r["max_rel_diff"] for r in closed),
        "max_abs_diff_tanh_vs_nt_quadrature": max((r["max_abs_diff"] for r in rows if r["activation"] == "tanh"),
                                                  default=None),
        "seconds": round(time.time() - t0, 2),
        "rows": rows,
    }
    (a.out / "nt_comparison.json").write_text(json.dumps(summary, indent=1))
    print(json.dumps({k: v for k, v in summary.items() if k != "rows"}, indent=1))


if __name__ == "__main__":
    main()
