"""Produce ``tests/data/neural_tangents_ntk.json``: infinite-width NTKs computed with neural-tangents 0.6.5 (float64).

neural-tangents is never a statfield dependency. Run in a throwaway environment::

    python3 -m venv /work/nt-venv
    /work/nt-venv/bin/pip install neural-tangents==0.6.5 jax==0.5.3 jaxlib==0.5.3
    /work/nt-venv/bin/python numerics/make_nt_ntk_reference.py            # writes tests/data/neural_tangents_ntk.json

``--out DIR`` writes ``neural_tangents_ntk.json`` into ``DIR`` instead. Where neural-tangents is not importable,
``--smoke`` checks the stored file against statfield (``nt_ntk_reference_check.json``: max relative
difference), so the script runs in CI without the throwaway environment.

Mirrors the NNGP oracle ``tests/data/neural_tangents_nngp.json``: the same six inputs (``X[5] = -X[0]``, an
exactly anti-correlated pair), linear, ReLU, erf, exact GELU and leaky ReLU (0.1), the parameter sets
``(sigma_w2, sigma_b2) = (1.5, 0.05)`` and ``(2.5, 0.3)``, depths 1-5, with
``stax.serial(Dense(1, W_std, b_std, parameterization='ntk'), *[phi, Dense(...)] * (depth - 1))``,
``W_std**2 = sigma_w2``, ``b_std**2 = sigma_b2``. Every case also holds the cross kernels between the first two
inputs and three further inputs ``inputs2`` (``kernel_fn(X[:2], X2)``).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
PARAMS = ((1.5, 0.05), (2.5, 0.3))
DEPTHS = (1, 2, 3, 4, 5)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=ROOT / "tests" / "data", help="output folder")
    ap.add_argument("--smoke", action="store_true", help="depths 1-2 (or, without neural-tangents, check the stored file)")
    ap.add_argument("--seed", type=int, default=20261129)
    a = ap.parse_args(argv)
    a.out.mkdir(parents=True, exist_ok=True)
    try:
        import jax
        import neural_tangents  # noqa: F401
    except ImportError:
        if not a.smoke:
            print("neural-tangents is not importable: run this script in the throwaway environment (see docstring)")
            return 2
        return _check_stored(a.out)

    jax.config.update("jax_enable_x64", True)
    import neural_tangents as nt
    from neural_tangents import stax

    nngp_ref = json.loads((ROOT / "tests" / "data" / "neural_tangents_nngp.json").read_text())
    X = np.array(nngp_ref["inputs"], dtype=np.float64)
    rng = np.random.default_rng(a.seed)
    X2 = rng.normal(size=(3, X.shape[1]))
    X2[2] = -X[1]                                     # anti-correlated with the second row of X[:2]
    phis = {
        "linear": ("identity", None),
        "relu": ("max(0,z)", stax.Relu()),
        "erf": ("erf(z)", stax.Erf()),
        "gelu": ("z*Phi(z) (exact GELU)", stax.Gelu(approximate=False)),
        "leaky_relu_0.1": ("z if z>0 else 0.1*z", stax.LeakyRelu(0.1)),
    }
    cases = []
    depths = DEPTHS[:2] if a.smoke else DEPTHS
    for name, (desc, phi) in phis.items():
        for w, b in PARAMS:
            dense = stax.Dense(1, W_std=np.sqrt(w), b_std=np.sqrt(b), parameterization="ntk")
            Ks, Ts, Kx, Tx = [], [], [], []
            for depth in depths:
                layers = [dense] + ([phi, dense] if phi is not None else [dense]) * (depth - 1)
                _, _, kfn = stax.serial(*layers)
                k = kfn(X, None, ("nngp", "ntk"))
                kc = kfn(X[:2], X2, ("nngp", "ntk"))
                Ks.append(np.asarray(k.nngp, dtype=np.float64).tolist())
                Ts.append(np.asarray(k.ntk, dtype=np.float64).tolist())
                Kx.append(np.asarray(kc.nngp, dtype=np.float64).tolist())
                Tx.append(np.asarray(kc.ntk, dtype=np.float64).tolist())
            cases.append({"activation": name, "phi": desc, "sigma_w2": w, "sigma_b2": b,
                          "K": Ks, "Theta": Ts, "K_cross": Kx, "Theta_cross": Tx})
    out = {
        "source": (f"neural-tangents {nt.__version__} with jax {jax.__version__}, float64 (jax_enable_x64), "
                   "stax.serial(Dense(parameterization='ntk'), [phi, Dense] * (l-1)) "
                   "kernel_fn(X, None, ('nngp', 'ntk')) and kernel_fn(X[:2], inputs2, ...); "
                   "script numerics/make_nt_ntk_reference.py"),
        "convention": ("K[l-1], Theta[l-1]: NNGP kernel and NTK of the pre-activations of layer l (layer 1 = first "
                       "Dense): K^(1) = Theta^(1) = sigma_b2 + sigma_w2 X X^T / d_in, Theta^(l+1) = K^(l+1) + "
                       "sigma_w2 E[phi'(u) phi'(v)] Theta^(l), (u, v) ~ N(0, K^(l)); NTK parameterisation, "
                       "W_std^2 = sigma_w2, b_std^2 = sigma_b2. *_cross: rows X[:2], columns inputs2."),
        "depths": list(depths),
        "inputs": X.tolist(),
        "inputs2": X2.tolist(),
        "cases": cases,
    }
    path = a.out / "neural_tangents_ntk.json"
    path.write_text(json.dumps(out, indent=1) + "\n")
    print(f"wrote {path} ({len(cases)} cases, depths {depths})")
    return 0


def _check_stored(out):
    """Without neural-tangents: max relative difference of statfield against the stored reference."""
    from statfield import meanfield as mf

    data = json.loads((ROOT / "tests" / "data" / "neural_tangents_ntk.json").read_text())
    X, X2 = np.array(data["inputs"]), np.array(data["inputs2"])
    worst = 0.0
    for case in data["cases"]:
        args = (case["activation"], case["sigma_w2"], case["sigma_b2"])
        for depth in data["depths"]:
            for key, got in (("Theta", mf.ntk_kernel(*args, X, depth)),
                             ("Theta_cross", mf.ntk_kernel(*args, X[:2], depth, X2=X2))):
                R = np.array(case[key][depth - 1])
                worst = max(worst, float(np.max(np.abs(got - R)) / np.max(np.abs(R))))
    res = {"mode": "stored reference checked (neural-tangents not importable)", "source": data["source"],
           "max_rel_diff_vs_max_entry": worst}
    (out / "nt_ntk_reference_check.json").write_text(json.dumps(res, indent=1))
    print(json.dumps(res))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
