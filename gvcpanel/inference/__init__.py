"""Covariance choices, bootstraps and multiple-testing adjustments.

Layers, bottom up (no module imports one above it; ``tests/test_architecture.py`` checks it):

- base: :mod:`~gvcpanel.inference.spec` (the user's choice and the :class:`Inference` returned),
  :mod:`~gvcpanel.inference.designs` (what a fitted model hands over),
  :mod:`~gvcpanel.inference.clusters` (cluster codes, sums, few-cluster warnings, CRV1 factors);
- numerics: :mod:`~gvcpanel.inference.biasreduced` (CR2/CR3), :mod:`~gvcpanel.inference.multiple`
  (Romano-Wolf, Holm), :mod:`~gvcpanel.inference.resampling` (bootstrap weights and p-values);
- kinds: :mod:`~gvcpanel.inference.covariance` (analytic), :mod:`~gvcpanel.inference.bootstrap`
  (wild), :mod:`~gvcpanel.inference.score` (score bootstrap);
- :mod:`~gvcpanel.inference.dispatch`: (model kind, inference kind) -> function;
- :mod:`~gvcpanel.inference.family`: bootstraps of a family of tests with shared draws and the
  Romano-Wolf step-down over them.

The dispatcher is imported here so that ``design.inference(spec)`` works whichever module of the
layer is imported first.
"""

from gvcpanel.inference import dispatch  # noqa: F401 - registers design.inference
from gvcpanel.inference.spec import Inference, InferenceSpec, parse_inference

__all__ = ["Inference", "InferenceSpec", "parse_inference"]
