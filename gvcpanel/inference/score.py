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
:mod:`gvcpanel.inference.resampling`.

Intervals by test inversion: the level-:math:`1-\alpha` interval of :math:`a'\theta` is
:math:`\{r : p(r) > \alpha\}`, with :math:`p(r)` the bootstrap p-value of :math:`H_0: a'\theta = r`
computed with the same draws at every r (one restricted fit per trial value), found by bisection
from the estimate outwards to :data:`CI_TOL` of the cluster-sandwich half-width.  The set is the
whole line when the draws that reproduce the data are more than :math:`\alpha` of all draws;
a side on which the restricted fit fails to converge, or on which no trial value is rejected
within 2^30 half-widths, is left open (infinite end).

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
    data_draw_share,
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


#: bisection of a score-bootstrap interval stops at this fraction of the sandwich half-width
CI_TOL = 1e-4


def _statistics(design: LikelihoodDesign, a: np.ndarray, r: float, codes: np.ndarray,
                v: np.ndarray, start: np.ndarray | None = None) -> tuple[float, np.ndarray, np.ndarray]:
    """The score statistic of a'theta = r, its bootstrap draws and the restricted estimate."""
    fit_restricted, score_fn, information_fn = model_functions(design)
    if start is not None and _takes_start(fit_restricted):
        theta = np.asarray(fit_restricted(a[None, :], float(r), start=start), dtype=float)
    else:
        theta = np.asarray(fit_restricted(a[None, :], float(r)), dtype=float)
    scores = np.asarray(score_fn(theta), dtype=float)
    information = np.asarray(information_fn(theta), dtype=float)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        # far from the estimate (interval search) the restricted fit can degenerate: the caller
        # treats a statistic that is not finite as a rejection
        contributions = sum_by_group(scores, codes) @ np.linalg.solve(information, a)
        t = float(contributions.sum() / np.sqrt(np.sum(contributions**2)))
        weighted = v * contributions
        tb = weighted.sum(axis=1) / np.sqrt(np.sum(weighted**2, axis=1))
    return t, tb, theta


def _takes_start(function: Callable) -> bool:
    """Whether a model's restricted fit accepts ``start=`` (warm starts along an inversion)."""
    import inspect

    try:
        return "start" in inspect.signature(function).parameters
    except (TypeError, ValueError):
        return False


def _half_width(design: LikelihoodDesign, a: np.ndarray, codes: np.ndarray) -> float:
    """Cluster-sandwich standard error of a'theta at the estimate (the bisection's scale)."""
    bread_a = np.linalg.solve(design.information, a)
    contributions = sum_by_group(design.scores, codes) @ bread_a
    return float(np.sqrt(np.sum(contributions**2)))


def score_interval(design: LikelihoodDesign, a: np.ndarray, codes: np.ndarray, v: np.ndarray,
                   level: float, pvalue_type: str = "symmetric") -> tuple[float, float]:
    """Test-inversion interval of a'theta from the score bootstrap (module notes)."""
    from gvcpanel.errors import ConvergenceError

    alpha = 1.0 - level
    pick = 0 if pvalue_type == "symmetric" else 1
    if data_draw_share(v) > alpha:
        return -np.inf, np.inf

    last: list[np.ndarray] = []  # the latest restricted estimate: a warm start for the next trial

    def accepted(r: float) -> bool:
        try:
            t, tb, theta = _statistics(design, a, r, codes, v, last[-1] if last else None)
        except (ConvergenceError, np.linalg.LinAlgError):
            return False  # no restricted maximum here: treated as outside the set
        if not (np.isfinite(t) and np.isfinite(tb).all()):
            return False
        last[:] = [theta]
        return bootstrap_pvalues(t, tb)[pick] > alpha

    estimate = float(a @ design.params)
    width = max(_half_width(design, a, codes), 1e-12 * max(1.0, abs(estimate)))
    ends = []
    for sign in (-1.0, 1.0):
        last.clear()
        # a 95% interval ends about two standard errors out: start the bracket there
        inner, outer, n_expand = estimate, estimate + 2.0 * sign * width, 0
        while accepted(outer):
            inner, outer = outer, outer + 2.0 * sign * width * 2**n_expand
            n_expand += 1
            if n_expand > 30:
                outer = sign * np.inf
                break
        if np.isinf(outer):
            ends.append(outer)
            continue
        while abs(outer - inner) > CI_TOL * width:
            mid = (inner + outer) / 2
            if accepted(mid):
                inner = mid
            else:
                outer = mid
        ends.append((inner + outer) / 2)
    return ends[0], ends[1]


def score_test(
    design: LikelihoodDesign,
    R: np.ndarray | Mapping[str, float] | str,
    r: float = 0.0,
    spec: InferenceSpec | None = None,
    weights: np.ndarray | pd.DataFrame | None = None,
    *,
    pvalue_type: str = "symmetric",
    ci: bool = False,
) -> BootstrapTest:
    """Score wild cluster bootstrap test of one linear restriction (see the module notes).

    With ``ci=True`` the interval at ``spec.level`` comes by test inversion with the same
    draws (one restricted fit per trial value).  Below
    :data:`~gvcpanel.inference.clusters.FEW_CLUSTERS_BOOTSTRAP` clusters a
    :class:`~gvcpanel.errors.FewClustersWarning` says so, unless ``weights`` are given.
    """
    spec = spec or InferenceSpec(kind="score")
    if pvalue_type not in ("symmetric", "equal_tail"):
        raise SpecificationError(f"pvalue_type={pvalue_type!r}; use 'symmetric' or 'equal_tail'.")
    if not isinstance(ci, bool):
        raise SpecificationError(f"ci={ci!r}; use True or False.")
    a = restriction_vector(design, R)
    name, codes, v, kind, enumerated = cluster_weights(design, spec, weights)
    if weights is None:
        warn_few_clusters(v.shape[1], "score", name, smallest_pvalue_note(v, kind, enumerated, v.shape[1]))
    t, tb, _ = _statistics(design, a, float(r), codes, v)
    sym, equal = bootstrap_pvalues(t, tb)
    interval = score_interval(design, a, codes, v, spec.level, pvalue_type) if ci else None
    return BootstrapTest(
        statistic=t,
        pvalue=sym if pvalue_type == "symmetric" else equal,
        ci=interval,
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
        recompute=partial(score_test, design, R, weights=weights, pvalue_type=pvalue_type, ci=ci),
    )


def score_inference(
    design: LikelihoodDesign, spec: InferenceSpec, cov: pd.DataFrame, name: str, sizes: tuple[int, float, int]
) -> Inference:
    """Inference for ``kind="score"``: cluster sandwich covariance, score-bootstrap p-values and
    test-inversion intervals.

    One set of draws is shared by every coefficient's test (H0: b_j = 0) and interval.  The
    baseline terms a hazard lists in ``design.extra["baseline_terms"]`` get p-values but no
    interval (NaN): each would cost a few dozen restricted fits for a nuisance parameter.
    """
    model_functions(design)  # a clear error before any work
    codes = np.asarray(design.groups[name])
    n_groups = int(codes.max()) + 1
    v, kind, enumerated = choose_weights(n_groups, spec)
    warn_few_clusters(n_groups, "score", name, smallest_pvalue_note(v, kind, enumerated, n_groups))
    nuisance = set(design.extra.get("baseline_terms", ()) or ())
    pvals, lower, upper = [], [], []
    for term in progress(design.names, desc="score bootstrap", unit="term"):
        test = score_test(design, term, 0.0, spec, weights=v, ci=term not in nuisance)
        pvals.append(test.pvalue)
        low, high = test.ci if test.ci is not None else (np.nan, np.nan)
        lower.append(low)
        upper.append(high)
    index = list(design.names)
    return Inference(
        spec,
        f"score wild cluster bootstrap ({kind} weights, {v.shape[0]} draws) by {name}, intervals by "
        "test inversion; cluster-robust sandwich standard errors",
        cov,
        n_groups - 1,
        pvalues=pd.Series(pvals, index=index, name="p"),
        ci=pd.DataFrame({"lower": lower, "upper": upper}, index=index),
        n_clusters=n_groups,
        cluster_sizes=sizes,
        details={"draws": int(v.shape[0]), "weights": kind, "enumerated": enumerated},
    )
