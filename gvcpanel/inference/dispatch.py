"""The one place that maps (model kind, inference kind) to the function that computes it.

Designs carry a ``model_kind`` (``"linear"`` for :class:`~gvcpanel.inference.designs.LinearDesign`,
``"likelihood"`` for :class:`~gvcpanel.inference.designs.LikelihoodDesign`); an
:class:`~gvcpanel.inference.spec.InferenceSpec` carries the inference kind.  :data:`INFERENCE`
pairs them with a function of :mod:`~gvcpanel.inference.covariance` (analytic covariances),
:mod:`~gvcpanel.inference.bootstrap` (wild cluster bootstrap) or
:mod:`~gvcpanel.inference.score` (score bootstrap); those modules do not import one another.
A new model kind or inference kind is one more entry here.

Import order: the layer's base (:mod:`~gvcpanel.inference.spec`,
:mod:`~gvcpanel.inference.designs`, :mod:`~gvcpanel.inference.clusters`) imports nothing above it;
covariance, bootstrap and score import the base; this module imports them all and registers
:func:`infer` as the function behind ``design.inference(spec)``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace

import numpy as np
import pandas as pd

from gvcpanel.errors import SpecificationError
from gvcpanel.inference import bootstrap, covariance, score, survey
from gvcpanel.inference.designs import register_dispatcher
from gvcpanel.inference.spec import Inference, InferenceSpec
from gvcpanel.results import register_inference_layer


def _wild(design, spec: InferenceSpec) -> Inference:
    """CRV1 standard errors with wild-bootstrap p-values and intervals."""
    crv = covariance.linear_crv1(design, spec)
    return bootstrap.wild_inference(design, spec, crv.cov, crv.name, crv.sizes)


def _score(design, spec: InferenceSpec) -> Inference:
    """Cluster-sandwich standard errors with score-bootstrap p-values."""
    crv = covariance.likelihood_crv(design, spec)
    return score.score_inference(design, spec, crv.cov, crv.name, crv.sizes)


#: (model kind, inference kind) -> function(design, spec) -> Inference
INFERENCE: Mapping[tuple[str, str], Callable[..., Inference]] = {
    ("linear", "unadjusted"): covariance.linear_unadjusted,
    ("linear", "robust"): covariance.linear_robust,
    ("linear", "cluster"): covariance.linear_cluster,
    ("linear", "cr2"): covariance.linear_bias_reduced,
    ("linear", "cr3"): covariance.linear_bias_reduced,
    ("linear", "twoway"): covariance.linear_twoway,
    ("linear", "driscoll_kraay"): covariance.linear_driscoll_kraay,
    ("linear", "wild"): _wild,
    ("linear", "survey"): survey.linear_survey,
    ("likelihood", "unadjusted"): covariance.likelihood_unadjusted,
    ("likelihood", "cluster"): covariance.likelihood_cluster,
    ("likelihood", "twoway"): covariance.likelihood_twoway,
    ("likelihood", "score"): _score,
    ("likelihood", "survey"): survey.likelihood_survey,
}

#: model kind -> (bootstrap test of one restriction, inference kind it uses, label)
BOOTSTRAP_TESTS: Mapping[str, tuple[Callable[..., bootstrap.BootstrapTest], str, str]] = {
    "linear": (bootstrap.wild_test, "wild", "wild (restricted)"),
    "likelihood": (score.score_test, "score", "score"),
}

#: (model kind, inference kind) -> function(design, spec) -> callable giving the degrees of
#: freedom of contrasts; kinds not listed have the same degrees of freedom for every contrast
CONTRAST_DF: Mapping[tuple[str, str], Callable[..., Callable[[np.ndarray], np.ndarray]]] = {
    ("linear", "cr2"): covariance.linear_cr2_contrast_df,
}


def model_kind(design: object) -> str:
    kind = getattr(design, "model_kind", None)
    if kind is None:
        raise SpecificationError(
            f"{type(design).__name__} is not a fitted design the inference layer knows "
            "(LinearDesign or LikelihoodDesign)."
        )
    return str(kind)


def available(kind: str) -> tuple[str, ...]:
    """Inference kinds available for a model kind."""
    return tuple(inference for model, inference in INFERENCE if model == kind)


def infer(design: object, spec: InferenceSpec) -> Inference:
    """Covariance or bootstrap of a fitted design under ``spec``."""
    kind = model_kind(design)
    function = INFERENCE.get((kind, spec.kind))
    if function is None:
        choices = ", ".join(repr(k) for k in available(kind))
        raise SpecificationError(
            f"inference={spec.kind!r} is not available for {kind} models; use one of {choices}."
        )
    return function(design, spec)


def bootstrap_test(
    design: object,
    R: np.ndarray | Mapping[str, float] | str,
    r: float,
    spec: InferenceSpec,
    weights: np.ndarray | pd.DataFrame | None = None,
) -> tuple[bootstrap.BootstrapTest, str]:
    """The bootstrap test of R b = r that suits the model (restricted wild, or score), and its name.

    Least squares get the restricted wild cluster bootstrap without an interval, likelihood
    models the score bootstrap; ``spec`` gives draws, weights, seed and cluster.
    """
    kind = model_kind(design)
    if kind not in BOOTSTRAP_TESTS:
        raise SpecificationError(f"no bootstrap test is available for {kind} models.")
    test, inference_kind, label = BOOTSTRAP_TESTS[kind]
    own = replace(spec, kind=inference_kind, bootstrap="restricted")
    options = {"ci": False} if test is bootstrap.wild_test else {}
    return test(design, R, r, own, weights=weights, **options), label


def contrast_df(design: object, spec: InferenceSpec) -> Callable[[np.ndarray], np.ndarray] | None:
    """Degrees of freedom of linear contrasts when they depend on the contrast (CR2), else None.

    The returned callable takes a q x k array (rows over the design's coefficients) and gives q
    degrees of freedom; None means that the inference's ``df`` holds for every contrast.
    """
    function = CONTRAST_DF.get((model_kind(design), spec.kind))
    return None if function is None else function(design, spec)


def restriction_test(design: object, a: np.ndarray, r: float, spec: InferenceSpec) -> bootstrap.BootstrapTest:
    """The bootstrap test of a'b = r that ``result.wald_test`` runs when the result's inference is
    a bootstrap: ``spec.kind`` must be the model's own (wild for least squares, with its
    test-inversion interval; score for likelihood models)."""
    kind = model_kind(design)
    if kind not in BOOTSTRAP_TESTS or BOOTSTRAP_TESTS[kind][1] != spec.kind:
        raise SpecificationError(f"inference={spec.kind!r} has no bootstrap test for {kind} models.")
    return BOOTSTRAP_TESTS[kind][0](design, a, r, spec)


register_dispatcher(infer)
register_inference_layer(restriction_test, contrast_df)
