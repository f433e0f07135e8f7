"""``statfield spectra FILE`` through the self-contained add_parser/run pair (table, --json, --plot)."""

import argparse
import json
import pickle

import numpy as np
import pytest

import statfield.spectra as sp
from statfield.spectra.cli import add_parser, run


def _parse(argv):
    ap = argparse.ArgumentParser(prog="statfield")
    sub = ap.add_subparsers(dest="command")
    add_parser(sub)
    return ap.parse_args(["spectra", *argv])


def _weights():
    Ws = sp.random_network_weights([64, 128, 96, 10], sigma_w2=2.0, seed=0)
    return {"fc1.weight": Ws[0].astype(np.float32), "fc1.bias": np.zeros(128, np.float32),
            "fc2.weight": sp.pareto_matrix(96, 128, 1.0, seed=1).astype(np.float32),
            "head.weight": Ws[2].astype(np.float32)}


def test_cli_on_a_real_safetensors_file(tmp_path, capsys):
    st = pytest.importorskip("safetensors.numpy", reason="the optional 'safetensors' package is not installed "
                                                         "(pip install statfield[spectra])")
    path = tmp_path / "model.safetensors"
    st.save_file(_weights(), str(path))
    assert run(_parse([str(path), "--n-boot", "5", "--sigma-w2", "2", "--plot", str(tmp_path / "figs")])) == 0
    out = capsys.readouterr().out
    assert "fc1.weight" in out and "fc2.weight" in out and "too small for a tail fit" in out
    assert "random-network null" in out and "fc1.bias" not in out
    assert sorted(p.name for p in (tmp_path / "figs").glob("*.png")) == [
        "esd_fc1.weight.png", "esd_fc2.weight.png", "esd_head.weight.png"]
    assert run(_parse([str(path), "--json", "--n-boot", "5"])) == 0
    js = json.loads(capsys.readouterr().out)
    assert [m["name"] for m in js["layers"]] == ["fc1.weight", "fc2.weight", "head.weight"]
    fc2 = js["layers"][1]
    assert fc2["transposed"] and fc2["alpha"] < fc2["alpha_baseline"] and fc2["alpha_stderr"] > 0
    assert js["layers"][2]["alpha"] is None


def test_cli_on_npz_and_json(tmp_path, capsys):
    np.savez(tmp_path / "w.npz", **_weights())
    assert run(_parse([str(tmp_path / "w.npz"), "--json", "--n-boot", "0", "--n-baseline", "1"])) == 0
    js = json.loads(capsys.readouterr().out)
    assert js["n_alpha"] == 2 and "asymptotic" in js["layers"][0]["powerlaw"]["stderr_method"]


def test_cli_errors(tmp_path, capsys):
    p = tmp_path / "model.pkl"
    p.write_bytes(pickle.dumps({"w": np.ones((3, 3))}))
    assert run(_parse([str(p)])) == 1
    assert "never unpickles" in capsys.readouterr().err
    np.savez(tmp_path / "bias.npz", b=np.ones(4))
    assert run(_parse([str(tmp_path / "bias.npz")])) == 1
    assert "no weight matrix" in capsys.readouterr().err
    assert run(_parse([str(tmp_path / "bias.npz"), "--n-boot", "-1"])) == 2
    assert run(_parse([str(tmp_path / "bias.npz"), "--sigma-w2", "0"])) == 2
    assert run(_parse([str(tmp_path / "nothing.npz")])) == 1
    assert "no such weight file" in capsys.readouterr().err
