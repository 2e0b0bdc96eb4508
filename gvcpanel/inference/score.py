r"""Score (Kline-Santos) wild cluster bootstrap for likelihood models.

Refitting a hazard or logit model thousands of times is slow and can fail to converge in a
bootstrap sample; the score bootstrap (Kline and Santos 2012, *Journal of Econometric Methods*)
fits once under the null and perturbs the cluster scores instead.

For :math:`H_0: a'\theta = r` let :math:`\tilde\theta` be the restricted estimate,
:math:`S_g` the cluster sums of the scores at :math:`\tilde\theta` and :math:`J` the
information there.  The contribution of cluster g to the one-step estimate of :math:`a'\theta`
is :math:`\tilde s_g = a'J^{-1}S_g`, which is robust to the estimation of the other parameters.
The statistic and its bootstrap counterpart are

.. math:: t = \frac{\sum_g \tilde s_g}{\sqrt{\sum_g \tilde s_g^2}},\qquad
          t^*_b = \frac{\sum_g v_{bg}\tilde s_g}{\sqrt{\sum_g v_{bg}^2\tilde s_g^2}},

the cluster-robust score (LM) test and its wild bootstrap with the weights and p-values of
:mod:`gvcpanel.inference.resampling`.  No interval is produced (inverting would need one
restricted fit per trial value).

The likelihood is the model's: the restricted fit, the scores and the information come from the
callables the estimator puts in ``design.extra`` (``"fit_restricted"``, ``"score_fn"``,
``"information_fn"``; see :class:`~gvcpanel.inference.designs.LikelihoodDesign`), so this module
knows no model family.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import partial

import numpy as np
import pandas as pd

from gvcpanel.errors import SpecificationError
from gvcpanel.inference.bootstrap import BootstrapTest
from gvcpanel.inference.clusters import sum_by_group, warn_few_clusters
from gvcpanel.inference.designs import LikelihoodDesign
from gvcpanel.inference.resampling import (
    bootstrap_pvalues,
    choose_weights,
    cluster_weights,
    restriction_vector,
    smallest_pvalue_note,
)
from gvcpanel.inference.spec import Inference, InferenceSpec
from gvcpanel.progress import progress
from gvcpanel.results import combination_label


def model_functions(design: LikelihoodDesign) -> tuple[Callable, Callable, Callable]:
    """The model's ``fit_restricted``, ``score_fn`` and ``information_fn`` from ``design.extra``."""
    extra: Mapping[str, object] = design.extra
    missing = [key for key in LikelihoodDesign.SCORE_BOOTSTRAP_KEYS if not callable(extra.get(key))]
    if missing:
        raise SpecificationError(
            f"inference='score' needs the model's own callables {missing} in design.extra (the "
            "restricted fit, per-observation scores and information of its likelihood, as "
            f"discrete_hazard provides them); this design has {sorted(extra)}. Use "
            "inference='cluster' for this model."
        )
    return extra["fit_restricted"], extra["score_fn"], extra["information_fn"]  # type: ignore[return-value]


def score_test(
    design: LikelihoodDesign,
    R: np.ndarray | Mapping[str, float] | str,
    r: float = 0.0,
    spec: InferenceSpec | None = None,
    weights: np.ndarray | pd.DataFrame | None = None,
    *,
    pvalue_type: str = "symmetric",
) -> BootstrapTest:
    """Score wild cluster bootstrap test of one linear restriction (see the module notes).

    Below :data:`~gvcpanel.inference.clusters.FEW_CLUSTERS_BOOTSTRAP` clusters a
    :class:`~gvcpanel.errors.FewClustersWarning` says so, unless ``weights`` are given.
    """
    spec = spec or InferenceSpec(kind="score")
    if pvalue_type not in ("symmetric", "equal_tail"):
        raise SpecificationError(f"pvalue_type={pvalue_type!r}; use 'symmetric' or 'equal_tail'.")
    a = restriction_vector(design, R)
    name, codes, v, kind, enumerated = cluster_weights(design, spec, weights)
    if weights is None:
        warn_few_clusters(v.shape[1], "score", name, smallest_pvalue_note(v, kind, enumerated, v.shape[1]))
    fit_restricted, score_fn, information_fn = model_functions(design)
    theta = np.asarray(fit_restricted(a[None, :], float(r)), dtype=float)
    scores = np.asarray(score_fn(theta), dtype=float)
    information = np.asarray(information_fn(theta), dtype=float)
    contributions = sum_by_group(scores, codes) @ np.linalg.solve(information, a)
    t = float(contributions.sum() / np.sqrt(np.sum(contributions**2)))
    weighted = v * contributions
    tb = weighted.sum(axis=1) / np.sqrt(np.sum(weighted**2, axis=1))
    sym, equal = bootstrap_pvalues(t, tb)
    return BootstrapTest(
        statistic=t,
        pvalue=sym if pvalue_type == "symmetric" else equal,
        ci=None,
        t_boot=tb,
        draws=int(v.shape[0]),
        weights_kind=kind,
        enumerated=enumerated,
        pvalue_symmetric=sym,
        pvalue_equal_tail=equal,
        bootstrap="restricted",
        estimate=float(a @ design.params),
        null=float(r),
        spec=spec,
        label=combination_label(a, design.names),
        n_clusters=int(v.shape[1]),
        recompute=partial(score_test, design, R, weights=weights, pvalue_type=pvalue_type),
    )


def score_inference(
    design: LikelihoodDesign, spec: InferenceSpec, cov: pd.DataFrame, name: str, sizes: tuple[int, float, int]
) -> Inference:
    """Inference for ``kind="score"``: cluster sandwich covariance, score-bootstrap p-values.

    Intervals stay the analytic ones (``ci=None``); the p-values of H0: b_j = 0 share one set
    of draws.
    """
    model_functions(design)  # a clear error before any work
    codes = np.asarray(design.groups[name])
    n_groups = int(codes.max()) + 1
    v, kind, enumerated = choose_weights(n_groups, spec)
    warn_few_clusters(n_groups, "score", name, smallest_pvalue_note(v, kind, enumerated, n_groups))
    terms = progress(design.names, desc="score bootstrap", unit="term")
    pvals = [score_test(design, term, 0.0, spec, weights=v).pvalue for term in terms]
    return Inference(
        spec,
        f"score wild cluster bootstrap ({kind} weights, {v.shape[0]} draws) by {name}; "
        "cluster-robust sandwich standard errors",
        cov,
        n_groups - 1,
        pvalues=pd.Series(pvals, index=list(design.names), name="p"),
        n_clusters=n_groups,
        cluster_sizes=sizes,
        details={"draws": int(v.shape[0]), "weights": kind, "enumerated": enumerated},
    )
