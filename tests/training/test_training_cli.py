"""``statfield ntk`` / ``statfield train`` implementations (parsers built here; the lead wires them into the CLI)."""

import argparse
import json

import numpy as np
import pytest

from statfield import meanfield as mf
from statfield.training import cli


def _parser():
    ap = argparse.ArgumentParser()
    sp = ap.add_subparsers(dest="cmd")
    cli.add_ntk_parser(sp)
    cli.add_train_parser(sp)
    return ap


def test_ntk_json(capsys):
    a = _parser().parse_args(["ntk", "erf", "--sigma-w2", "1.5", "--sigma-b2", "0.05", "--depth", "3",
                              "--inputs", "1,0;0.6,0.8", "--width", "32", "--n-networks", "64", "--json"])
    assert cli.run_ntk(a) == 0
    d = json.loads(capsys.readouterr().out)
    X = np.array([[1.0, 0.0], [0.6, 0.8]])
    np.testing.assert_allclose(d["ntk"], mf.ntk_kernel("erf", 1.5, 0.05, X, 3), rtol=1e-14)
    assert np.array(d["empirical_stderr"]).shape == (2, 2) and d["n_networks"] == 64


def test_train_text_and_json(capsys, tmp_path):
    r = np.random.default_rng(0)
    X = r.normal(size=(4, 2))
    path = tmp_path / "data.npz"
    np.savez(path, X_train=X, y_train=np.cos(X[:, 0]), X_test=r.normal(size=(2, 2)))
    a = _parser().parse_args(["train", "relu", "--sigma-w2", "2", "--sigma-b2", "0.1", "--depth", "2",
                              "--data", str(path), "--steps", "0,5,inf"])
    assert cli.run_train(a) == 0
    assert "stability limit" in capsys.readouterr().out
    a = _parser().parse_args(["train", "relu", "--sigma-w2", "2", "--sigma-b2", "0.1", "--depth", "2",
                              "--synthetic", "4,2,2", "--steps", "0,5", "--width", "16", "--n-networks", "8",
                              "--json"])
    assert cli.run_train(a) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["ensemble"]["n_networks"] == 8 and len(d["z"]["loss"]) == 2


def test_bad_inputs():
    with pytest.raises(ValueError, match="inputs"):
        cli.load_inputs("1,nan;0,1")
    with pytest.raises(ValueError, match="synthetic"):
        a = _parser().parse_args(["train", "relu", "--sigma-w2", "2", "--sigma-b2", "0.1", "--depth", "2",
                                  "--synthetic", "4,2"])
        cli.run_train(a)
