"""From a formula and a panel to an outcome and a design, with every excluded row counted.

- :mod:`~gvcpanel.formula.parse`: formulaic's grammar plus panel syntax (``| effects``, ``C()``,
  ``i()``, ``l()``/``f()``/``d()``), read once per string;
- :mod:`~gvcpanel.formula.evaluate`: the terms evaluated on numpy arrays into one Fortran-ordered
  array, dummies coded as formulaic codes them, excluded rows counted by reason;
- :mod:`~gvcpanel.formula.frame`: the panel frame every model reads and the estimators' arrays;
- :mod:`~gvcpanel.formula.design`: the same design as pandas objects, and the columns a formula reads.
"""
