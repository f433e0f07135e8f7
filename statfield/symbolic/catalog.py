"""Compatibility re-export of the derivation catalogue, which lives in :mod:`statfield.documents.catalog`.

``DERIVATIONS``, ``build_derivation`` and ``derivation_names`` are the objects of the document
layer (the catalogue contains documents with numeric tables). This module is the only place in
:mod:`statfield.symbolic` that refers to the document layer; the import-purity test exempts it.
"""

from statfield.documents.catalog import DERIVATIONS, build_derivation, derivation_names

__all__ = ["DERIVATIONS", "build_derivation", "derivation_names"]
