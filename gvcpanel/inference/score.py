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

the cluster-robust score (LM) test and its wild bootstrap with the weights of
:mod:`gvcpanel.inference.bootstrap`; p-values as there.  No interval is produced (inverting
would need one restricted fit per trial value).

The restricted fit comes from ``design.extra["fit_restricted"]`` when the estimator provides
it; otherwise it is computed here by Fisher scoring for binomial models with the ``"logit"`` or
``"cloglog"`` link from ``extra["X"]``, ``extra["y"]`` (and ``extra["offset"]``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import partial

import numpy as np
import pandas as pd
from scipy.linalg import null_space

from gvcpanel.errors import ConvergenceError, SpecificationError
from gvcpanel.inference.bootstrap import (
    _TIE,
    BootstrapTest,
    choose_weights,
    cluster_weights,
    restriction_vector,
)
from gvcpanel.inference.covariance import LikelihoodDesign, _sum_by_group
from gvcpanel.inference.spec import Inference, InferenceSpec
from gvcpanel.results import combination_label

LINKS = ("logit", "cloglog")


def _mean_and_derivative(link: str, eta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    if link == "logit":
        mu = 1 / (1 + np.exp(-eta))
        return mu, mu * (1 - mu)
    if link == "cloglog":
        e = np.exp(np.clip(eta, -700, 700))
        surv = np.exp(-e)
        return 1 - surv, e * surv
    raise SpecificationError(f"link {link!r} is not supported by the score bootstrap; use one of {LINKS}.")


def binomial_score_and_information(
    X: np.ndarray, y: np.ndarray, link: str, params: np.ndarray, offset: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    r"""Per-observation scores (n x k) and Fisher information (k x k) of a binomial GLM.

    Notes
    -----
    With :math:`\mu = F(\eta)`, :math:`\eta = x'\theta` (+ offset):
    :math:`s_i = x_i (y_i - \mu_i) F'(\eta_i) / (\mu_i(1-\mu_i))` and
    :math:`J = \sum_i x_i x_i' F'(\eta_i)^2 / (\mu_i(1-\mu_i))`.
    """
    eta = X @ params + (0 if offset is None else offset)
    mu, dmu = _mean_and_derivative(link, eta)
    var = np.clip(mu * (1 - mu), 1e-300, None)
    scores = X * ((y - mu) * dmu / var)[:, None]
    information = (X * (dmu**2 / var)[:, None]).T @ X
    return scores, information


def fit_restricted_binomial(
    X: np.ndarray, y: np.ndarray, link: str, a: np.ndarray, r: float, offset: np.ndarray | None = None,
    start: np.ndarray | None = None, tol: float = 1e-10, max_iter: int = 100,
) -> np.ndarray:
    r"""Maximum likelihood under :math:`a'\theta = r` by Fisher scoring.

    The restriction is imposed by :math:`\theta = \theta_0 + N\gamma` with
    :math:`\theta_0 = a r / a'a` and N an orthonormal basis of the null space of a'.
    """
    theta0 = a * r / float(a @ a)
    basis = null_space(a[None, :])
    gamma = np.zeros(basis.shape[1]) if start is None else basis.T @ (start - theta0)
    for _ in range(max_iter):
        theta = theta0 + basis @ gamma
        scores, information = binomial_score_and_information(X, y, link, theta, offset)
        grad = basis.T @ scores.sum(axis=0)
        step = np.linalg.solve(basis.T @ information @ basis, grad)
        gamma = gamma + step
        if np.max(np.abs(step)) < tol * (1 + np.max(np.abs(gamma))):
            return theta0 + basis @ gamma
    raise ConvergenceError(
        f"the restricted {link} fit did not converge in {max_iter} Fisher-scoring steps; the "
        "restriction may push fitted probabilities to 0 or 1."
    )


def _model_functions(design: LikelihoodDesign) -> tuple[Callable, Callable]:
    """(fit_restricted(a, r) -> params, score_and_information(params) -> (n x k, k x k))."""
    extra: Mapping[str, object] = design.extra
    score_fn, info_fn = extra.get("score_fn"), extra.get("information_fn")
    has_data = all(key in extra for key in ("X", "y", "link"))
    if not has_data and (score_fn is None or info_fn is None):
        raise SpecificationError(
            "inference='score' needs design.extra with 'X', 'y' and 'link' (or 'score_fn' and "
            f"'information_fn'); found keys {sorted(extra)}."
        )
    if has_data:
        X = np.asarray(extra["X"], dtype=float)
        y = np.asarray(extra["y"], dtype=float)
        link = str(extra["link"])
        offset = extra.get("offset")
        offset = None if offset is None else np.asarray(offset, dtype=float)

    def scores_information(params: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if score_fn is not None and info_fn is not None:
            return np.asarray(score_fn(params)), np.asarray(info_fn(params))
        return binomial_score_and_information(X, y, link, params, offset)

    def fit(a: np.ndarray, r: float) -> np.ndarray:
        if "fit_restricted" in extra:
            return np.asarray(extra["fit_restricted"](a[None, :], r), dtype=float)
        if not has_data:
            raise SpecificationError("inference='score' needs extra['fit_restricted'] or 'X', 'y', 'link'.")
        return fit_restricted_binomial(X, y, link, a, r, offset, start=np.asarray(design.params))

    return fit, scores_information


def score_test(
    design: LikelihoodDesign,
    R: np.ndarray | Mapping[str, float] | str,
    r: float = 0.0,
    spec: InferenceSpec | None = None,
    weights: np.ndarray | pd.DataFrame | None = None,
    *,
    pvalue_type: str = "symmetric",
) -> BootstrapTest:
    """Score wild cluster bootstrap test of one linear restriction (see the module notes)."""
    spec = spec or InferenceSpec(kind="score")
    a = restriction_vector(design, R)  # only uses .names
    _, codes, v, kind, enumerated = cluster_weights(design, spec, weights)
    fit, scores_information = _model_functions(design)
    theta = fit(a, float(r))
    scores, information = scores_information(theta)
    contributions = _sum_by_group(scores, codes) @ np.linalg.solve(information, a)
    t = float(contributions.sum() / np.sqrt(np.sum(contributions**2)))
    weighted = v * contributions
    tb = weighted.sum(axis=1) / np.sqrt(np.sum(weighted**2, axis=1))
    sym = float(np.mean(np.abs(tb) > abs(t) * (1 + _TIE)))
    equal = float(min(1.0, 2 * min(np.mean(tb < t - _TIE * abs(t)), np.mean(tb > t + _TIE * abs(t)))))
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
    codes = np.asarray(design.groups[name])
    n_groups = int(codes.max()) + 1
    v, kind, enumerated = choose_weights(n_groups, spec)
    pvals = [score_test(design, term, 0.0, spec, weights=v).pvalue for term in design.names]
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
