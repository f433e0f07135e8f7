"""Validation records on disk: to_dict/from_dict/from_json with a schema version, results.json, the z summary."""

import json
import math

import pytest

from statfield.stats import Estimate
from statfield.validation import core
from statfield.validation.core import (SCHEMA_VERSION, CheckRecord, compare, load_results, results_document, skipped,
                                       summarize, z_distribution)


def _records():
    a = compare("g/a", "a passing test", 1.0, Estimate(1.2, 0.1, 50), params={"width": 8, "widths": [4, 8]}, seed=3,
                group="g", figure="a.png")
    b = compare("g/b", "a failing test", 1.0, Estimate(2.0, 0.1, 50), group="g")
    c = compare("p/c", "published", 0.5, Estimate(0.9, 0.1, 50), kind="published", group="p",
                params={"ours": 0.91})
    d = skipped("g/d", "needs cupy", "ModuleNotFoundError: No module named 'cupy'", group="g")
    e = compare("g/e", "non-finite estimate", 1.0, Estimate(math.nan, 0.1, 5), group="g")
    for r in (a, b, c, d, e):
        r.check = r.name.split("/")[0] + "-check"
    return [a, b, c, d, e]


def test_record_round_trip():
    for r in _records():
        d = r.to_dict()
        assert d["schema_version"] == SCHEMA_VERSION and d["status"] == r.status
        json.dumps(d, allow_nan=False)
        back = CheckRecord.from_dict(d)
        assert back.status == r.status and back.failed == r.failed and back.params == r.params
        for k in ("prediction", "estimate", "stderr", "z", "threshold"):
            x, y = getattr(back, k), getattr(r, k)
            assert (math.isnan(x) and math.isnan(y)) or x == y, k
        assert CheckRecord.from_json(json.dumps(d)).to_dict() == d


def test_from_dict_refuses_bad_documents():
    d = _records()[0].to_dict()
    with pytest.raises(ValueError, match="schema_version"):
        CheckRecord.from_dict({**d, "schema_version": SCHEMA_VERSION + 1})
    with pytest.raises(ValueError, match="unknown check record field"):
        CheckRecord.from_dict({**d, "colour": "red"})
    with pytest.raises(ValueError, match="prediction"):
        CheckRecord.from_dict({k: v for k, v in d.items() if k != "prediction"})
    with pytest.raises(ValueError, match="dict"):
        CheckRecord.from_dict([1, 2])


def test_results_file_round_trip(tmp_path):
    from statfield._io import write_json

    recs = _records()
    summary = summarize(recs)
    p = write_json(tmp_path / "results.json", results_document(recs, summary, versions={"numpy": "x"}))
    back, doc = load_results(p)
    assert doc["schema_version"] == SCHEMA_VERSION and doc["versions"] == {"numpy": "x"}
    assert [r.to_dict() for r in back] == [r.to_dict() for r in recs]
    assert summarize(back)["n_failed"] == summary["n_failed"] == 2
    bad = tmp_path / "bad.json"
    bad.write_text('{"records": [1]}')
    with pytest.raises(ValueError, match="bad.json"):
        load_results(bad)
    bad.write_text("not json")
    with pytest.raises(ValueError, match="not valid JSON"):
        load_results(bad)
    bad.write_text(json.dumps({"records": [], "schema_version": SCHEMA_VERSION + 1}))
    with pytest.raises(ValueError, match="schema_version"):
        load_results(bad)


def test_z_distribution_and_per_check_rows():
    recs = _records()
    z = z_distribution(recs)
    # tests that ran with a finite z: a (z = 2) and b (z = 10); published, skipped and non-finite are left out
    assert z["n"] == 2 and z["mean"] == pytest.approx(6.0) and z["max_abs"] == pytest.approx(10.0)
    assert z["sd"] == pytest.approx(math.sqrt(32.0))
    assert z_distribution([]) == {"n": 0, "mean": None, "sd": None, "max_abs": None}
    s = summarize(recs, timings={"g-check": 1.5})
    assert s["z_distribution"] == z
    row = s["checks"]["g-check"]
    assert row["n"] == 3 and row["failed"] == 2 and row["skipped"] == 1 and row["max_abs_z"] == pytest.approx(10.0)
    assert row["runtime"] == 1.5 and s["checks"]["p-check"]["published"] == 1


def test_run_checks_refuses_a_negative_seed():
    with pytest.raises(ValueError, match="seed"):
        core.run_checks(["relu-k-binomial"], seed=-1)


def test_collective_variables_from_the_activation_object():
    from statfield.validation.checks_eft import collective_variables

    assert collective_variables("linear") == ("q",)
    assert collective_variables("relu") == ("u", "v", "k")
    with pytest.raises(ValueError, match="tanh"):
        collective_variables("tanh")
