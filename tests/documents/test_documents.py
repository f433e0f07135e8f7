"""The document layer: the catalogue, the finite-width document with its numeric table, the meanfield route."""

import pytest

from statfield import documents
from statfield.symbolic import catalog as shim


def test_catalogue_is_shared_with_the_symbolic_shim():
    assert shim.DERIVATIONS is documents.DERIVATIONS and shim.build_derivation is documents.build_derivation
    assert documents.derivation_names()[0] == "action"
    with pytest.raises(ValueError, match="derivation name must be one of"):
        documents.build_derivation("nope")


def test_finite_width_document_adds_the_numeric_table(monkeypatch):
    from statfield.documents import finite_width as doc

    rows = doc.k0_table_rows(depths=(300,))
    assert [r[1] for r in rows] == [300, 300]
    assert all(abs(float(r[3]) - 2 / 3) < 0.05 and abs(float(r[2]) - 0.5) < 0.05 for r in rows)
    monkeypatch.setattr(doc, "k0_table_rows", lambda depths=(10, 100, 1000): [["$x$", 1, "2", "3"]])
    d = doc.finite_width_derivation()
    step = next(s for s in d.steps if "K^*=0" in s.title)
    assert step.tables[-1]["rows"] == [["$x$", 1, "2", "3"]]
    with pytest.raises(ValueError, match="numeric_tables"):
        doc._symbolic_derivation(numeric_tables=True)


def test_meanfield_route_records_its_method():
    from statfield.documents.saddles import general_saddle

    r = general_saddle("erf", 1.5, 0.1)
    assert r.method == "meanfield" and r.q_star > 0 and r.stable == (abs(r.chi_q) < 1)
    with pytest.raises(ValueError, match="method"):
        general_saddle("erf", 1.5, 0.1, method="guess")
