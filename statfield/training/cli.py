r"""``statfield ntk`` and ``statfield train``: the NTK and trained ensembles from the command line.

The lead wires them into :data:`statfield.cli.SUBCOMMANDS`::

    "ntk":   Subcommand("statfield.training.cli", "...", add="add_ntk_parser", run="run_ntk"),
    "train": Subcommand("statfield.training.cli", "...", add="add_train_parser", run="run_train"),

Inputs: ``--inputs`` is a ``.npy``/``.csv``/``.txt`` file of shape (P, d_in) or inline rows ``"1,0;0.6,0.8"``;
``statfield train`` takes ``--data FILE.npz`` with arrays ``X_train``, ``y_train``, ``X_test``, or a synthetic
problem ``--synthetic P,P_TEST,D_IN`` (Gaussian inputs, target :math:`y = \sin(\sum_i x_i)`, ``--data-seed``).
Conventions: ``docs/conventions.md``; training in the NTK parameterisation on
:math:`\tfrac12\sum_\mu (f(x_\mu)-y_\mu)^2`.
"""

from __future__ import annotations

import sys

import numpy as np

__all__ = ["add_ntk_parser", "add_train_parser", "load_inputs", "run_ntk", "run_train"]


def _cli_types():
    from ..cli._common import (
        finite_float,
        nonneg_int,
        positive_float,
        positive_int,
        print_json,
    )

    return finite_float, nonneg_int, positive_float, positive_int, print_json


def load_inputs(text, name="inputs"):
    """A (P, d_in) float array from a ``.npy``/``.csv``/``.txt`` path or inline rows ``"a,b;c,d"``."""
    import os

    if os.path.exists(text):
        if text.endswith(".npy"):
            X = np.load(text, allow_pickle=False)
        else:
            X = np.loadtxt(text, delimiter="," if text.endswith(".csv") else None, ndmin=2)
    else:
        try:
            X = np.array([[float(v) for v in row.split(",")] for row in text.split(";") if row.strip()])
        except ValueError:
            raise ValueError(f"{name}: not a file and not inline rows like '1,0;0.6,0.8': {text!r}") from None
    X = np.asarray(X, dtype=float)
    if X.ndim == 1:
        X = X[None, :]
    if X.ndim != 2 or X.size == 0:
        raise ValueError(f"{name} must be a (P, d_in) array, got shape {X.shape}")
    if not np.all(np.isfinite(X)):
        raise ValueError(f"{name} must be finite (it contains NaN or inf)")
    return X


def _common_args(p, finite_float, positive_int):
    p.add_argument("activation", help="linear, relu, leaky_relu[_a], tanh, erf, gelu, silu")
    p.add_argument("--sigma-w2", type=finite_float, required=True,
                   help="weight variance per fan-in, W ~ N(0, sigma_w2/N_{l-1}) (> 0)")
    p.add_argument("--sigma-b2", type=finite_float, required=True, help="bias variance, b ~ N(0, sigma_b2) (>= 0)")
    p.add_argument("--depth", type=positive_int, required=True, help="number of Dense layers L (output z^L)")
    p.add_argument("--json", action="store_true", help="print the results as JSON")
    p.add_argument("--no-progress", action="store_true", help="no progress bar (default: shown on a terminal)")


# ---------------------------------------------------------------------------------------------- ntk
def add_ntk_parser(subparsers):
    """Register ``ntk``: the infinite-width NTK (and NNGP) of inputs, optionally the empirical NTK by MC."""
    finite_float, nonneg_int, _positive_float, positive_int, _ = _cli_types()
    p = subparsers.add_parser(
        "ntk", help="neural tangent kernel at infinite width (and its finite-width Monte Carlo mean)",
        description="Theta^(L) by the recursion Theta^1 = K^1, Theta^{l+1} = K^{l+1} + sigma_w2 E[phi'phi'] Theta^l "
                    "(Jacot et al. 2018; NTK parameterisation), the NNGP K^(L), and with --width the mean empirical "
                    "NTK of sampled networks (explicit forward/backward pass) with standard errors.")
    _common_args(p, finite_float, positive_int)
    p.add_argument("--inputs", required=True,
                   help="inputs X of shape (P, d_in): a .npy/.csv/.txt file or inline rows '1,0;0.6,0.8'")
    p.add_argument("--width", type=positive_int, help="also estimate the empirical NTK of width-N networks")
    p.add_argument("--n-networks", type=positive_int, default=1000, help="networks for --width (default 1000)")
    p.add_argument("--seed", type=nonneg_int, default=0, help="root seed (block b: SeedSequence(seed, (b,)))")
    return p


def ntk_summary(activation, sigma_w2, sigma_b2, depth, X, width=None, n_networks=1000, seed=0, progress=False):
    """Dict with ``ntk`` and ``nngp`` (P x P) and, with ``width``, ``empirical_mean``/``empirical_stderr``/``z``."""
    from .. import meanfield as mf
    from .._checks import check_int

    out = {"activation": str(activation), "sigma_w2": float(sigma_w2), "sigma_b2": float(sigma_b2),
           "depth": int(depth), "inputs": X.tolist(),
           "ntk": mf.ntk_kernel(activation, sigma_w2, sigma_b2, X, depth),
           "nngp": mf.nngp_kernel(activation, sigma_w2, sigma_b2, X, depth),
           "parameterization": "ntk (trainable unit-variance parameters; same law at init as fan-in W ~ N(0, sw/N))"}
    if width is not None:
        from .._progress import progress_bar
        from ..sampling.backend import default_rng, get_namespace
        from ..sampling.ntk import empirical_ntk_observable
        from ..sampling.runner import block_seed, block_sizes
        from ..stats import MomentAccumulator

        n_networks = check_int(n_networks, "n_networks", minimum=2)
        xp = get_namespace("numpy")
        P = X.shape[0]
        acc = MomentAccumulator((P, P))
        bs = max(1, min(256, 2 ** 22 // (int(width) ** 2 * max(depth - 2, 1) + int(width) * P * depth + 1)))
        sizes = block_sizes(n_networks, bs)
        with progress_bar(total=len(sizes), desc="ntk", unit="block", enabled=progress) as bar:
            for b, n in enumerate(sizes):
                rec = empirical_ntk_observable(default_rng(block_seed(seed, b), xp), n, activation, sigma_w2,
                                               sigma_b2, [int(width)] * depth, X, xp)
                acc.update(np.asarray(rec["ntk"]))
                bar.update(1)
        se = np.sqrt(acc.variance / acc.n)
        out.update({"width": int(width), "n_networks": n_networks, "seed": int(seed), "block_size": bs,
                    "empirical_mean": acc.mean, "empirical_stderr": se,
                    "z": np.where(se > 0, (acc.mean - out["ntk"]) / np.where(se > 0, se, 1.0), 0.0)})
    return out


def run_ntk(args) -> int:
    _, _, _, _, print_json = _cli_types()
    X = load_inputs(args.inputs)
    res = ntk_summary(args.activation, args.sigma_w2, args.sigma_b2, args.depth, X, args.width, args.n_networks,
                      args.seed, progress=not (args.json or args.no_progress) and sys.stderr.isatty())
    if args.json:
        print_json(res)
        return 0
    np.set_printoptions(precision=6, suppress=True, linewidth=120)
    print(f"NTK Theta^({args.depth}) for {args.activation}, sigma_w2 = {args.sigma_w2:g}, sigma_b2 = {args.sigma_b2:g} "
          f"(NTK parameterisation, fan-in variances)")
    print(res["ntk"])
    print(f"NNGP K^({args.depth}):")
    print(res["nngp"])
    if args.width is not None:
        print(f"empirical NTK, width {args.width}, {res['n_networks']} networks (mean, stderr, z vs infinite width):")
        print(res["empirical_mean"])
        print(res["empirical_stderr"])
        print(res["z"])
    return 0


# ---------------------------------------------------------------------------------------------- train
def add_train_parser(subparsers):
    """Register ``train``: infinite-width training dynamics and (with --width) a trained finite-width ensemble."""
    finite_float, nonneg_int, positive_float, positive_int, _ = _cli_types()
    p = subparsers.add_parser(
        "train", help="gradient-descent dynamics: infinite-width theory and trained finite-width ensembles",
        description="Test-output mean and covariance of the trained infinite-width ensemble (Lee et al. 2019; "
                    "loss 1/2 sum (f - y)^2, theta <- theta - lr dL/dtheta, NTK parameterisation) and, with "
                    "--width, of --n-networks finite-width networks trained by full-batch gradient descent, with "
                    "standard errors and z-scores against the theory.")
    _common_args(p, finite_float, positive_int)
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--data", help=".npz file with arrays X_train (P, d_in), y_train (P,), X_test (P_test, d_in)")
    src.add_argument("--synthetic", help="P,P_TEST,D_IN: Gaussian inputs, y = sin(sum x)")
    p.add_argument("--data-seed", type=nonneg_int, default=0, help="seed of the synthetic data (default 0)")
    p.add_argument("--steps", default="0,10,100,1000",
                   help="comma-separated step counts to report (default 0,10,100,1000; 'inf' for the theory only)")
    p.add_argument("--learning-rate", type=positive_float,
                   help="gradient-descent step (default: half the stability limit 2/lambda_max(Theta))")
    p.add_argument("--width", type=positive_int, help="also train an ensemble of networks of this hidden width")
    p.add_argument("--n-networks", type=positive_int, default=200, help="networks for --width (default 200)")
    p.add_argument("--seed", type=nonneg_int, default=0, help="root seed (block b: SeedSequence(seed, (b,)))")
    p.add_argument("--checkpoint", help="resumable .npz checkpoint of the ensemble run")
    return p


def _load_data(args):
    if args.data is not None:
        with np.load(args.data, allow_pickle=False) as f:
            missing = [k for k in ("X_train", "y_train", "X_test") if k not in f.files]
            if missing:
                raise ValueError(f"--data: {args.data} lacks arrays {missing} (needs X_train, y_train, X_test)")
            return np.array(f["X_train"], float), np.array(f["y_train"], float), np.array(f["X_test"], float)
    try:
        P, Ps, d = (int(v) for v in args.synthetic.split(","))
    except ValueError:
        raise ValueError(f"--synthetic must be P,P_TEST,D_IN (three integers), got {args.synthetic!r}") from None
    if min(P, Ps, d) < 1:
        raise ValueError(f"--synthetic: P, P_TEST and D_IN must be >= 1, got {args.synthetic!r}")
    r = np.random.default_rng(args.data_seed)
    X = r.normal(size=(P, d))
    return X, np.sin(X.sum(axis=1)), r.normal(size=(Ps, d))


def train_summary(activation, sigma_w2, sigma_b2, depth, X, y, Xs, steps, learning_rate=None, width=None,
                  n_networks=200, seed=0, checkpoint=None, progress=False) -> dict:
    """Theory (and optionally ensemble) results as a JSON-ready dict."""
    from .linearized import gradient_descent_mse, stability_limit

    lim = stability_limit(activation, sigma_w2, sigma_b2, depth, X)
    eta = 0.5 * lim if learning_rate is None else float(learning_rate)
    th = gradient_descent_mse(activation, sigma_w2, sigma_b2, depth, X, y, Xs, steps, learning_rate=eta)
    out = {"learning_rate": eta, "stability_limit": lim, "theory": th.to_json()}
    if width is not None:
        fin = [int(s) for s in steps if np.isfinite(s)]
        if not fin:
            raise ValueError("--steps: the ensemble needs at least one finite step count")
        from .ensemble import train_ensemble

        res = train_ensemble(activation, sigma_w2, sigma_b2, width, depth, X, y, Xs, fin, n_networks, eta, seed=seed,
                             checkpoint=checkpoint, progress=progress)
        thf = gradient_descent_mse(activation, sigma_w2, sigma_b2, depth, X, y, Xs, res.steps, learning_rate=eta)
        z = res.zscores(thf)
        out["ensemble"] = res.to_json()
        out["z"] = {"mean": z["mean"], "cov": z["cov"],
                    "loss": (res.value("loss") - thf.train_loss) / res.stderr("loss")}
    return out


def run_train(args) -> int:
    _, _, _, _, print_json = _cli_types()
    X, y, Xs = _load_data(args)
    try:
        steps = [float(s) for s in args.steps.split(",")]
    except ValueError:
        raise ValueError(f"--steps must be comma-separated step counts, got {args.steps!r}") from None
    res = train_summary(args.activation, args.sigma_w2, args.sigma_b2, args.depth, X, y, Xs, steps,
                        args.learning_rate, args.width, args.n_networks, args.seed, args.checkpoint,
                        progress=not (args.json or args.no_progress) and sys.stderr.isatty())
    if args.json:
        print_json(res)
        return 0
    np.set_printoptions(precision=5, suppress=True, linewidth=120)
    th = res["theory"]
    print(f"gradient descent, learning rate {res['learning_rate']:.6g} (stability limit {res['stability_limit']:.6g}); "
          f"loss 1/2 sum (f - y)^2, NTK parameterisation")
    print(f"{'step':>8}  {'E loss (theory)':>16}  test mean (theory) +- std")
    std = np.sqrt(np.clip(np.diagonal(np.array(th['cov'], float), axis1=1, axis2=2), 0, None))
    for i, t in enumerate(th["t"]):
        tt = "inf" if th["t_is_inf"][i] else f"{t:g}"
        print(f"{tt:>8}  {th['train_loss'][i]:>16.6g}  {np.array(th['mean'][i])} +- {std[i]}")
    if "ensemble" in res:
        e = res["ensemble"]
        print(f"ensemble of {e['n_networks']} networks, width {args.width}: {e['n_diverged']} diverged "
              f"(left out); z = (ensemble - theory)/stderr")
        for i, s in enumerate(e["steps"]):
            print(f"{s:>8}  loss {e['estimates']['loss'][i]['value']:.6g} (z {res['z']['loss'][i]:+.2f})  "
                  f"mean z {np.round(np.array(res['z']['mean'][i], float), 2)}  "
                  f"NTK change {e['estimates']['ntk_change'][i]['value']:.3g}")
    return 0
