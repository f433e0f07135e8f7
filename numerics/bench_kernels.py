"""Benchmark: closed-form NNGP / NTK kernels at large P, time and peak memory, new blocked code vs the old one.

Measures, in one process and one run (BLAS pinned to one thread), ``statfield.meanfield.nngp_kernel`` and
``ntk_kernel`` (in place over the upper triangle, row blocks of ``2**16`` elements) against the previous
implementation of ``nngp_kernel`` (full ``P x P`` temporaries per layer, kept verbatim below as ``_old_nngp``),
at P = 1000, 2000, 4000 (ReLU and erf closed forms, depth 3, d_in = 10), and checks that the numbers agree
(max relative difference, expected ~1e-16). Peak memory is the ``tracemalloc`` peak of NumPy allocations
during the call (NumPy reports its buffers to tracemalloc); the output alone is ``8 P^2`` bytes (NNGP) and
``16 P^2`` (NTK, which also returns K internally). Optionally (``--nt-python PATH``: an interpreter with
neural-tangents 0.6.5 + jax, never a statfield dependency) the same kernels are timed with neural-tangents'
``kernel_fn`` (jit-compiled, best of two after compilation) in a subprocess; its memory is not measured (XLA
buffers are invisible to tracemalloc and RSS growth after the jax import is not meaningful). Never asserts
timings. Writes ``bench_kernels.json`` into ``--out``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np

from statfield import meanfield as mf
from statfield.activations import get_activation

ROOT = Path(__file__).resolve().parents[1]


# ----------------------------------------------------------------------------- the previous implementation
def _old_nngp(activation, sw, sb, X, depth):
    """nngp_kernel as it was before the blocked rewrite (closed-form branch; full-size temporaries)."""
    act = get_activation(activation)
    d = X.shape[1]
    K = sb + sw * (X @ X.T) / d
    K = 0.5 * (K + K.T)
    for _ in range(depth - 1):
        diag = np.diagonal(K).copy()
        s = np.sqrt(np.outer(diag, diag))
        C = np.clip(K, -s, s)
        E = act.kernel(diag[:, None], diag[None, :], C)
        K = sb + sw * E
        K = 0.5 * (K + K.T)
    return K


def _measure(fn, repeats):
    best = np.inf
    peak = 0
    out = None
    for _ in range(repeats):
        out = None
        tracemalloc.start()
        t = time.perf_counter()
        out = fn()
        dt = time.perf_counter() - t
        peak = max(peak, tracemalloc.get_traced_memory()[1])
        tracemalloc.stop()
        best = min(best, dt)
    return out, best, peak


_NT_SNIPPET = r"""
import json, sys, time
import numpy as np
import jax
jax.config.update("jax_enable_x64", True)
from neural_tangents import stax
P, depth, act, w, b = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], float(sys.argv[4]), float(sys.argv[5])
X = np.random.default_rng(0).normal(size=(P, 10))
phi = {"relu": stax.Relu(), "erf": stax.Erf()}[act]
dense = stax.Dense(1, W_std=np.sqrt(w), b_std=np.sqrt(b))
_, _, kfn = stax.serial(*([dense] + [phi, dense] * (depth - 1)))
kfn = jax.jit(kfn, static_argnames="get")
out = {}
for get in ("nngp", "ntk"):
    np.asarray(kfn(X, None, get))            # compile
    best = 1e9
    for _ in range(2):
        t = time.perf_counter(); np.asarray(kfn(X, None, get)).sum(); best = min(best, time.perf_counter() - t)
    out[get] = best
print(json.dumps(out))
"""


def _nt(python, P, depth, act, w, b):
    try:
        r = subprocess.run([python, "-c", _NT_SNIPPET, str(P), str(depth), act, str(w), str(b)], capture_output=True,
                           text=True, timeout=900, check=False, env={**os.environ, "OMP_NUM_THREADS": "1",
                                                        "XLA_FLAGS": "--xla_cpu_multi_thread_eigen=false "
                                                                     "intra_op_parallelism_threads=1"})
        return json.loads(r.stdout.strip().splitlines()[-1])
    except Exception as exc:  # noqa: BLE001 - optional comparison
        return {"error": str(exc)[:200]}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=Path("out/bench_kernels"))
    ap.add_argument("--smoke", action="store_true", help="P = 200, 400 only, one repeat")
    ap.add_argument("--sizes", type=int, nargs="+", default=[1000, 2000, 4000])
    ap.add_argument("--depth", type=int, default=3)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--nt-python", default=None, help="python with neural-tangents (optional comparison)")
    a = ap.parse_args(argv)
    try:
        from threadpoolctl import threadpool_limits

        threadpool_limits(1)
    except ImportError:
        pass
    a.out.mkdir(parents=True, exist_ok=True)
    sizes = [200, 400] if a.smoke else a.sizes
    reps = 1 if a.smoke else a.repeats
    load0 = os.getloadavg()[0]
    rows = []
    for act, (w, b) in (("relu", (1.8, 0.1)), ("erf", (1.5, 0.05))):
        for P in sizes:
            X = np.random.default_rng(0).normal(size=(P, 10))
            Kold, t_old, m_old = _measure(lambda act=act, w=w, b=b, X=X: _old_nngp(act, w, b, X, a.depth), reps)
            Knew, t_new, m_new = _measure(lambda act=act, w=w, b=b, X=X: mf.nngp_kernel(act, w, b, X, a.depth), reps)
            diff = float(np.max(np.abs(Knew - Kold)) / np.max(np.abs(Kold)))
            del Kold
            Th, t_ntk, m_ntk = _measure(lambda act=act, w=w, b=b, X=X: mf.ntk_kernel(act, w, b, X, a.depth), reps)
            del Th, Knew
            row = {"activation": act, "P": P, "depth": a.depth,
                   "old_nngp_s": round(t_old, 4), "new_nngp_s": round(t_new, 4), "new_ntk_s": round(t_ntk, 4),
                   "speedup_nngp_old_over_new": round(t_old / t_new, 2),
                   "old_nngp_peak_MB": round(m_old / 2**20, 1), "new_nngp_peak_MB": round(m_new / 2**20, 1),
                   "new_ntk_peak_MB": round(m_ntk / 2**20, 1),
                   "memory_ratio_old_over_new": round(m_old / m_new, 2),
                   "new_nngp_peak_over_output": round(m_new / (8 * P * P), 2),
                   "new_ntk_peak_over_output": round(m_ntk / (8 * P * P), 2),
                   "max_rel_diff_new_vs_old": diff}
            if a.nt_python:
                row["neural_tangents"] = _nt(a.nt_python, P, a.depth, act, w, b)
            rows.append(row)
            print(json.dumps(row))
    res = {"rows": rows, "machine": platform.machine(), "cpu_count": os.cpu_count(), "blas_threads": 1,
           "load_avg_start": load0, "load_avg_end": os.getloadavg()[0], "python": platform.python_version(),
           "numpy": np.__version__, "date_utc": time.strftime("%Y-%m-%d %H:%M", time.gmtime())}
    (a.out / "bench_kernels.json").write_text(json.dumps(res, indent=1))
    print(f"wrote {a.out / 'bench_kernels.json'}")


if __name__ == "__main__":
    sys.exit(main())
