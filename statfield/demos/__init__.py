"""Demonstrations on real data shipped inside Python packages (optional extras; nothing is downloaded).

* :mod:`statfield.demos.digits` — reweighting a learned distribution (scikit-learn's 8x8 digits, extra
  ``statfield[sklearn]``): one class from 10 % to 30 % with the weighted loss and adjusted batches.
"""
