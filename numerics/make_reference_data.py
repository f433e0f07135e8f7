"""High-precision (mpmath) reference values for the mean-field API -> tests/data/meanfield_reference.json.

Independent of statfield's numerics (scipy.stats ``reference_distributions`` style): every Gaussian
expectation is an ``mpmath.quad`` (tanh-sinh, split at 0 for the kinked ReLU) at ``--dps`` digits, fixed
points come from iterating the map and polishing with ``mpmath.findroot``, chi_q is the numerical derivative
``mpmath.diff`` of the q-map (not Stein's identity, which the library uses), the critical sigma_w2 is a
nested root (chi1(sigma_w2) = 1 with q* re-solved at every sigma_w2), and c* uses 2-D ``mpmath.quad``.

Usage: ``python numerics/make_reference_data.py [--out DIR] [--dps 30] [--smoke]``; without ``--out`` it
writes ``tests/data/meanfield_reference.json``.
"""

from __future__ import annotations

import argparse
import json
import time
from multiprocessing import Pool
from pathlib import Path

import mpmath as mp



DPS2 = 20


def acts():
    """phi, phi', phi'' as mpmath functions (written out here, not taken from statfield)."""
    sq2pi = mp.sqrt(2 * mp.pi)
    npdf = lambda x: mp.exp(-x * x / 2) / sq2pi  # noqa: E731
    ncdf = lambda x: mp.erfc(-x / mp.sqrt(2)) / 2  # noqa: E731
    sig = lambda x: 1 / (1 + mp.exp(-x))  # noqa: E731
    return {
        "tanh": (mp.tanh, lambda x: mp.sech(x) ** 2, lambda x: -2 * mp.tanh(x) * mp.sech(x) ** 2, False),
        "erf": (mp.erf, lambda x: 2 / mp.sqrt(mp.pi) * mp.exp(-x * x),
                lambda x: -4 * x / mp.sqrt(mp.pi) * mp.exp(-x * x), False),
        "gelu": (lambda x: x * ncdf(x), lambda x: ncdf(x) + x * npdf(x), lambda x: npdf(x) * (2 - x * x), False),
        "silu": (lambda x: x * sig(x), lambda x: sig(x) * (1 + x * (1 - sig(x))),
                 lambda x: sig(x) * (1 - sig(x)) * (2 + x * (1 - 2 * sig(x))), False),
        "relu": (lambda x: x if x > 0 else mp.mpf(0), lambda x: mp.mpf(1) if x > 0 else mp.mpf(0), lambda x: mp.mpf(0), True),
        "linear": (lambda x: x, lambda x: mp.mpf(1), lambda x: mp.mpf(0), True),
    }


def E1(f, q):
    """E[f(sqrt(q) z)], z ~ N(0,1)."""
    s = mp.sqrt(q)
    return mp.quad(lambda z: f(s * z) * mp.exp(-z * z / 2), [-mp.inf, -4, 0, 4, mp.inf]) / mp.sqrt(2 * mp.pi)


def E2(f, q, c):
    """E[f(u) f(v)], Var u = Var v = q, corr c: outer ``mpmath.quad`` over z1, inner trapezoid sum over z2.

    v = sqrt(q)(c z1 + r z2), r = sqrt(1 - c^2). The inner rule (step 0.08/sqrt(1 + q r^2), |z2| <= 11) is
    spectrally accurate for the smooth activations used here (error < 1e-25 at these q); a full 2-D
    tanh-sinh quadrature takes ~80 s per value.
    """
    s = mp.sqrt(q)
    r = mp.sqrt(1 - c * c)
    h = mp.mpf("0.08") / mp.sqrt(1 + q * r * r)
    J = int(mp.ceil(11 / h))
    z2 = [j * h for j in range(-J, J + 1)]
    w2 = [h * mp.exp(-z * z / 2) / mp.sqrt(2 * mp.pi) for z in z2]

    def inner(a):
        m = c * a
        return mp.fsum(w * f(s * (m + r * z)) for z, w in zip(z2, w2))

    g = lambda a: f(s * a) * inner(a) * mp.exp(-a * a / 2)  # noqa: E731
    return mp.quad(g, [-mp.inf, -3, 0, 3, mp.inf]) / mp.sqrt(2 * mp.pi)


def q_star(f, sw, sb):
    qmap = lambda q: sw * E1(lambda x: f(x) ** 2, q) + sb  # noqa: E731
    q = mp.mpf(1)
    for _ in range(25):
        q = qmap(q)
    return mp.findroot(lambda x: qmap(x) - x, q), qmap


def fixed_point_record(name, sw, sb, with_c):
    f, d, d2, _ = acts()[name]
    sw, sb = mp.mpf(sw), mp.mpf(sb)
    q, qmap = q_star(f, sw, sb)
    chi1 = sw * E1(lambda x: d(x) ** 2, q)
    chiq = mp.diff(qmap, q)
    rec = {"activation": name, "sigma_w2": float(sw), "sigma_b2": float(sb), "q_star": float(q),
           "chi1": float(chi1), "chi_q": float(chiq)}
    if with_c:
        dps = mp.mp.dps
        mp.mp.dps = DPS2
        cm = lambda c: (sw * E2(f, q, c) + sb) / q  # noqa: E731
        if sb == 0 and name in ("tanh", "erf"):
            cs = mp.mpf(0)      # odd phi, no bias: c = 0 is the chaotic fixed point (E[phi(u)phi(v)] = 0)
        else:
            cs = mp.findroot(lambda c: cm(c) - c, (mp.mpf("0.6"), mp.mpf("0.8")), solver="secant",
                             tol=mp.mpf(10) ** (-2 * mp.mp.dps // 3))
        fd = lambda x: d(x)  # noqa: E731
        chic = sw * E2(fd, q, cs)
        rec.update(c_star=float(cs), chi_c=float(chic))
        mp.mp.dps = dps
    return rec


def critical_record(name, sb):
    f, d, _, _ = acts()[name]
    sb = mp.mpf(sb)

    def chi1_minus_1(sw):
        q, _ = q_star(f, sw, sb)
        return sw * E1(lambda x: d(x) ** 2, q) - 1

    # secant start below the root (for sigma_w2 >~ 1.99 the GELU/SiLU q-maps have no stable fixed point)
    x0 = {"tanh": 1.2, "erf": 1.0, "gelu": 1.95, "silu": 1.94}[name]
    x1 = {"tanh": 1.5, "erf": 1.3, "gelu": 1.96, "silu": 1.95}[name]
    sw = mp.findroot(chi1_minus_1, (mp.mpf(x0), mp.mpf(x1)), solver="secant")
    return {"activation": name, "sigma_b2": float(sb), "sigma_w2_c": float(sw)}


def kernel_record(name, q, c):
    mp.mp.dps = DPS2
    f = acts()[name][0]
    d = acts()[name][1]
    q, c = mp.mpf(q), mp.mpf(c)
    return {"activation": name, "q": float(q), "c": float(c), "kernel": float(E2(f, q, c)),
            "deriv_kernel": float(E2(d, q, c))}


def _init(dps, dps2):
    global DPS2
    mp.mp.dps = dps
    DPS2 = dps2


def _run(task):
    kind, args = task
    t = time.time()
    fn = {"fixed": fixed_point_record, "critical": critical_record, "kernel": kernel_record}[kind]
    dps = mp.mp.dps
    try:
        out = fn(*args)
    except (ValueError, ZeroDivisionError) as exc:   # record is skipped, the run goes on
        print(f"FAILED {kind} {args}: {exc}", flush=True)
        return None
    finally:
        mp.mp.dps = dps
    print(out, f"{time.time() - t:.0f}s", flush=True)
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=None, help="output folder (default: tests/data)")
    ap.add_argument("--dps", type=int, default=30)
    ap.add_argument("--dps2", type=int, default=20, help="digits for the 2-D expectations (c*, chi_c, kernels)")
    ap.add_argument("--smoke", action="store_true", help="two cheap records at 15 digits")
    ap.add_argument("--jobs", type=int, default=2, help="worker processes")
    ap.add_argument("--skip-2d", action="store_true", help="omit c*, chi_c and the 2-D kernels (slow)")
    a = ap.parse_args(argv)
    global DPS2
    mp.mp.dps = 15 if a.smoke else a.dps
    DPS2 = 15 if a.smoke else a.dps2
    if a.smoke and a.out is None:
        ap.error("--smoke needs --out: a smoke run must never overwrite the stored 30-digit tests/data")
    out = a.out if a.out is not None else Path(__file__).resolve().parents[1] / "tests" / "data"
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.time()
    if a.smoke:
        fixed = [fixed_point_record("erf", 1.5, 0.05, False), fixed_point_record("relu", 1.5, 0.05, False)]
        crit, kern = [], []
    else:
        pts = {
            "tanh": [(1.5, 0.05, False), (2.5, 0.3, False), (2.5, 0.1, True), (2.5, 0.0, True), (1.2, 0.2, False)],
            "erf": [(1.5, 0.05, True), (2.5, 0.3, False), (0.8, 0.1, False)],
            "gelu": [(1.5, 0.05, False), (1.9, 0.3, False), (1.9, 1.0, False)],
            "silu": [(1.5, 0.05, False), (1.9, 0.3, False), (1.9, 1.0, False)],
            "relu": [(1.5, 0.05, False), (1.9, 0.3, False)],
            "linear": [(0.5, 0.1, False), (0.9, 0.3, False)],
        }
        tasks = [("fixed", (name, sw, sb, wc and not a.skip_2d)) for name, lst in pts.items() for sw, sb, wc in lst]
        # GELU and SiLU: the chi1 = 1 fixed point is q-unstable for small sigma_b2 (no transition there)
        # sigma_b2 = 0 is exact (1/phi'(0)^2) and ill-conditioned for the nested root (q* -> 0): not stored
        tasks += [("critical", (n, sb)) for n in ("tanh", "erf") for sb in (0.05, 0.3)]
        tasks += [("critical", (n, 1.0)) for n in ("gelu", "silu")]
        if not a.skip_2d:
            tasks += [("kernel", (n, q, c)) for n in ("tanh", "silu") for q, c in ((3.0, -0.7), (0.5, 0.95))]
        tasks.sort(key=lambda t: not (t[0] == "fixed" and t[1][3]))  # longest (c*) first: shortest makespan
        with Pool(a.jobs, initializer=_init, initargs=(mp.mp.dps, DPS2)) as pool:
            results = pool.map(_run, tasks, chunksize=1)
        fixed = [r for (k, _), r in zip(tasks, results) if k == "fixed" and r is not None]
        crit = [r for (k, _), r in zip(tasks, results) if k == "critical" and r is not None]
        kern = [r for (k, _), r in zip(tasks, results) if k == "kernel" and r is not None]
    data = {
        "generator": "numerics/make_reference_data.py (mpmath.quad tanh-sinh, findroot, diff)",
        "mpmath_dps": 15 if a.smoke else a.dps,
        "mpmath_dps_2d": DPS2,
        "conventions": "q-map q' = sigma_w2 E[phi(sqrt(q) z)^2] + sigma_b2; chi1 = sigma_w2 E[phi'(sqrt(q*) z)^2]; "
                       "chi_q = d q'/dq at q*; c* stable fixed point of c' = (sigma_w2 E[phi(u)phi(v)] + sigma_b2)/q*; "
                       "chi_c = sigma_w2 E[phi'(u)phi'(v)] at c*; kernels: Var u = Var v = q, corr c",
        "fixed_points": fixed,
        "critical": crit,
        "kernels": kern,
        "seconds": round(time.time() - t0, 1),
    }
    path = out / "meanfield_reference.json"
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(data, indent=1))
    tmp.replace(path)  # atomic: a killed run never leaves a truncated reference file
    print(f"wrote {path} ({time.time() - t0:.1f} s)")


if __name__ == "__main__":
    main()
