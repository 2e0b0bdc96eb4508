"""Analytic covariances of least-squares and likelihood fits.

Every function here takes a design (:mod:`gvcpanel.inference.designs`) and an
:class:`~gvcpanel.inference.spec.InferenceSpec` and returns an
:class:`~gvcpanel.inference.spec.Inference`; :mod:`gvcpanel.inference.dispatch` picks the
function for a (model kind, inference kind).  Bootstraps live in :mod:`~gvcpanel.inference.bootstrap`
and :mod:`~gvcpanel.inference.score`; this module does not know them.

Least squares: every kind is a sandwich :math:`M\\,\\hat\\Omega\\,M` with :math:`M = (X'X)^{-1}` on
the transformed design; see :func:`~gvcpanel.inference.clusters.crv1_scale` for the CRV1 presets,
:mod:`gvcpanel.inference.biasreduced` and :func:`crossed_columns` for CR2/CR3,
:func:`twoway_cluster_cov` and :func:`driscoll_kraay_meat`.  Likelihood: the inverse information
and its cluster sandwich.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from gvcpanel.errors import FewClustersWarning, InexactCovarianceWarning, SpecificationError
from gvcpanel.inference.biasreduced import (
    bias_reduced_cov,
    satterthwaite_contrasts,
    weighted_bias_reduced_cov,
    weighted_satterthwaite_contrasts,
)
from gvcpanel.inference.clusters import (  # noqa: F401 - FEW_CLUSTERS and crv1_* are re-exported
    FEW_CLUSTERS,
    cluster_codes,
    cached_score_sums,
    cluster_size_summary,
    crv1_df,
    crv1_scale,
    intersection_codes,
    score_sums_by_group,
    sum_by_group,
    twoway_codes,
    user_stacklevel,
    warn_few_clusters,
)
from gvcpanel.inference.designs import CrossedDummies, LikelihoodDesign, LinearDesign  # noqa: F401 - re-exported
from gvcpanel.inference.spec import Inference, InferenceSpec

#: CR2/CR3 carry absorbed effects that cut across the clusters as explicit dummy columns up to
#: this many columns; beyond it (or beyond MAX_CROSSED_CELLS array entries, 400 MB) they fall
#: back to the fully absorbed design, whose hat matrix omits those effects
MAX_CROSSED_COLUMNS = 2_000
MAX_CROSSED_CELLS = 50_000_000
#: a crossed dummy column whose residual on the columns chosen before it (pivoted Cholesky of
#: the Gram matrix, which resolves norms to about 1e-8) is below this fraction of the largest
#: column norm is redundant (its levels sum to something in the nested effects' span)
CROSSED_RANK_TOL = 1e-6


def _frame(cov: np.ndarray, names: tuple[str, ...]) -> pd.DataFrame:
    return pd.DataFrame(cov, index=list(names), columns=list(names))


def _sandwich(bread: np.ndarray, scores: np.ndarray) -> np.ndarray:
    return bread @ (scores.T @ scores) @ bread


def _bread(cross: np.ndarray, what: str) -> np.ndarray:
    """Inverse of X'X (or of the information) with a clear error when it is not finite."""
    if not np.all(np.isfinite(cross)):
        raise SpecificationError(
            f"the {what} has non-finite entries (values too large for double precision, about "
            "1e154 or more squared, or missing values); rescale the variables (divide by a power "
            "of ten or take logs) and fit again."
        )
    return np.linalg.inv(cross)


def _psd_clip(cov: np.ndarray) -> tuple[np.ndarray, int]:
    """Set negative eigenvalues to zero (Cameron, Gelbach and Miller 2011, section 2.3)."""
    vals, vecs = np.linalg.eigh((cov + cov.T) / 2)
    n_negative = int(np.sum(vals < 0))
    if n_negative == 0:
        return cov, 0
    return (vecs * np.clip(vals, 0, None)) @ vecs.T, n_negative


def twoway_cluster_cov(
    bread: np.ndarray, scores_obs: np.ndarray, codes1: np.ndarray, codes2: np.ndarray
) -> tuple[np.ndarray, int, int]:
    r"""Cameron-Gelbach-Miller two-way cluster sandwich before small-sample scaling.

    Notes
    -----
    .. math:: V = V_1 + V_2 - V_{12}

    where :math:`V_j = M (\sum_g s_g s_g') M` with cluster sums of scores by the first, the
    second and the intersection of both variables.  V need not be positive semi-definite; when it
    is not, negative eigenvalues are set to zero (CGM 2011, section 2.3) and their number is
    returned.

    Returns
    -------
    cov, n_negative_eigenvalues, min_groups
    """
    inter = intersection_codes(codes1, codes2)
    parts = [_sandwich(bread, sum_by_group(scores_obs, c)) for c in (codes1, codes2, inter)]
    cov, n_negative = _psd_clip(parts[0] + parts[1] - parts[2])
    g_min = int(min(codes1.max() + 1, codes2.max() + 1))
    return cov, n_negative, g_min


def default_lags(n_periods: int) -> int:
    """Newey-West bandwidth floor(4 (T/100)^(2/9))."""
    return int(np.floor(4 * (n_periods / 100) ** (2 / 9)))


def driscoll_kraay_meat(scores_obs: np.ndarray, time_codes: np.ndarray, lags: int) -> np.ndarray:
    r"""Bartlett-weighted long-run covariance of the cross-sectional sums of scores.

    Notes
    -----
    With :math:`h_t = \sum_i x_{it} u_{it}` over the periods t = 1..T (time codes in order),

    .. math:: S = \Gamma_0 + \sum_{l=1}^{L} \Bigl(1 - \frac{l}{L+1}\Bigr)(\Gamma_l + \Gamma_l'),
              \qquad \Gamma_l = \sum_{t=l+1}^{T} h_t h_{t-l}'.
    """
    h = sum_by_group(scores_obs, time_codes)
    meat = h.T @ h
    for lag in range(1, lags + 1):
        gamma = h[lag:].T @ h[:-lag]
        meat += (1 - lag / (lags + 1)) * (gamma + gamma.T)
    return meat


# --- least squares ----------------------------------------------------------------------------
def _linear_bread(design: LinearDesign) -> np.ndarray:
    gram = design.gram if design.gram is not None else design.X.T @ design.X
    return _bread(gram, "cross-product matrix X'X of the regressors")


def linear_unadjusted(design: LinearDesign, spec: InferenceSpec) -> Inference:
    """Homoskedastic covariance :math:`s^2 (X'X)^{-1}`, t(N - k - k_absorbed)."""
    X, u = design.X, design.resid
    n, k = X.shape
    df_resid = n - k - design.k_absorbed
    sigma2 = float(u @ u) / df_resid
    return Inference(spec, "conventional (homoskedastic)", _frame(sigma2 * _linear_bread(design), design.names), df_resid)


def linear_robust(design: LinearDesign, spec: InferenceSpec) -> Inference:
    """HC1: :math:`\\frac{N}{N-k-k_{abs}} M X'\\mathrm{diag}(u^2) X M`."""
    X, u = design.X, design.resid
    n, k = X.shape
    bread = _linear_bread(design)
    df_resid = n - k - design.k_absorbed
    meat = (X * u[:, None] ** 2).T @ X
    cov = bread @ meat @ bread * n / df_resid
    return Inference(spec, "heteroskedasticity-robust (HC1)", _frame(cov, design.names), df_resid)


@dataclass(frozen=True, eq=False)
class ClusterCovariance:
    """A one-way cluster sandwich before any warning: what CRV1 and the bootstraps share."""

    name: str
    codes: np.ndarray
    cov: pd.DataFrame
    df: int
    scale: float
    n_groups: int
    sizes: tuple[int, float, int]


def linear_crv1(design: LinearDesign, spec: InferenceSpec) -> ClusterCovariance:
    """CRV1 of a least-squares fit with the spec's preset (no warning; see :func:`linear_cluster`)."""
    X, u = design.X, design.resid
    n, k = X.shape
    name, codes = cluster_codes(design, spec)
    cached = cached_score_sums(design, name)
    scores, sizes = cached if cached is not None else (score_sums_by_group(X, u, codes), None)
    groups = scores.shape[0]
    nested = design.absorbed_nested.get(name, 0)
    scale = crv1_scale(spec.preset, n, k, groups, design.k_absorbed, nested)
    cov = _frame(scale * _sandwich(_linear_bread(design), scores), design.names)
    df = crv1_df(spec.preset, n, k, groups, design.k_absorbed)
    return ClusterCovariance(name, codes, cov, df, scale, groups, cluster_size_summary(codes, sizes))


def linear_cluster(design: LinearDesign, spec: InferenceSpec) -> Inference:
    """CRV1 (``kind="cluster"``), warning below :data:`FEW_CLUSTERS` clusters."""
    crv = linear_crv1(design, spec)
    warn_few_clusters(crv.n_groups, spec.kind, crv.name)
    return Inference(
        spec,
        f"cluster-robust CRV1 by {crv.name} ({spec.preset} preset), t({crv.df})",
        crv.cov,
        crv.df,
        n_clusters=crv.n_groups,
        cluster_sizes=crv.sizes,
        details={"scale": crv.scale},
    )


def linear_twoway(design: LinearDesign, spec: InferenceSpec) -> Inference:
    """Two-way cluster-robust covariance (:func:`twoway_cluster_cov`) with the spec's preset."""
    X, u = design.X, design.resid
    n, k = X.shape
    (first, second), (codes1, codes2) = twoway_codes(design, spec)
    cov_arr, n_negative, g_min = twoway_cluster_cov(_linear_bread(design), X * u[:, None], codes1, codes2)
    scale = crv1_scale(
        spec.preset, n, k, g_min, design.k_absorbed, 0, nested_by_variable=(
            design.absorbed_nested.get(first, 0), design.absorbed_nested.get(second, 0)
        )
    )
    df = crv1_df(spec.preset, n, k, g_min, design.k_absorbed)
    warn_few_clusters(g_min, spec.kind, f"{first} and {second}")
    smaller = codes1 if codes1.max() <= codes2.max() else codes2
    return Inference(
        spec,
        f"two-way cluster-robust by {first} and {second} ({spec.preset} preset), t({df})",
        _frame(scale * cov_arr, design.names),
        df,
        n_clusters=g_min,
        cluster_sizes=cluster_size_summary(smaller),
        details={"n_negative_eigenvalues": n_negative, "scale": scale},
    )


def crossed_columns(design: LinearDesign, name: str) -> tuple[np.ndarray | None, dict[str, object]]:
    r"""Dummy columns that turn the absorbed design into the dummy-variable regression for CR2/CR3.

    Parameters
    ----------
    design : LinearDesign
    name : str
        The clustering variable.

    Returns
    -------
    columns : ndarray or None
        :math:`M_N C` with redundant columns removed (n x m), or None when every absorbed effect
        is nested in ``name``, the design cannot say, or there are too many columns.
    details : dict
        ``crossed_effects``, ``crossed_columns`` (m) and ``dummy_regression`` (whether the
        CR2/CR3 computed with these columns is the one of the dummy-variable regression).

    Notes
    -----
    Let the absorbed dummies be D = [N, C] with N the effects nested in the clusters and C the
    crossed ones, and :math:`\tilde X = M_D X` the design of the fit.  The dummy-variable
    regression of y on [X, D] and the regression of :math:`M_N y` on
    :math:`Z = [\tilde X, M_N C]` have the same residuals and the same coefficients on X,
    because :math:`M_N X = \tilde X + M_N C\,\Gamma` (a reparametrization that leaves the X
    coefficients alone).  CR2 and CR3 depend on the design only through its column space and
    are equivariant under such reparametrizations, and absorbing the nested N leaves them
    unchanged (Pustejovsky and Tipton 2018, JBES 36(4), Theorem 2).  Hence the X block of the
    CR2 (CR3) of Z, and the Satterthwaite degrees of freedom of its X coefficients, are those of
    the dummy-variable regression (clubSandwich ``vcovCR(lm(y ~ x + factor(firm) +
    factor(year)), cluster, type = "CR2")``).  A pivoted Cholesky factorization of
    :math:`C'M_N C` drops one level
    per crossed effect (more when levels are collinear after removing N).

    With more than ``MAX_CROSSED_COLUMNS`` (2,000) crossed levels, or an array above
    ``MAX_CROSSED_CELLS`` entries, the columns are not built and a :class:`InexactCovarianceWarning`
    says that the transformed-design CR2/CR3 is used instead.
    """
    crossed = design.crossed(name) if design.crossed is not None else None
    if crossed is None:
        return None, {"crossed_effects": (), "crossed_columns": 0, "dummy_regression": True}
    details: dict[str, object] = {"crossed_effects": crossed.effects}
    if crossed.n_columns > MAX_CROSSED_COLUMNS or crossed.n_columns * design.nobs > MAX_CROSSED_CELLS:
        warnings.warn(
            f"CR2/CR3 by {name!r}: the absorbed effects {list(crossed.effects)} are not nested in "
            f"{name!r} and have {crossed.n_columns} levels (more than {MAX_CROSSED_COLUMNS}, or "
            f"over {MAX_CROSSED_CELLS} array entries with {design.nobs} rows), so they are not "
            "carried as dummies: the covariance is computed on the fully absorbed design and is "
            "not the CR2/CR3 of the dummy-variable regression. Cluster on a variable those effects "
            "are nested in, or use inference='wild'.",
            InexactCovarianceWarning,
            stacklevel=user_stacklevel(),
        )
        return None, {**details, "crossed_columns": 0, "dummy_regression": False}
    from scipy.linalg.lapack import dpstrf

    columns = crossed.build()
    gram = columns.T @ columns
    # pivoted Cholesky of the Gram matrix: n m^2 work, where a pivoted QR of the n x m array
    # (LAPACK geqp3, BLAS level 2) took most of a second for 500 x 60 on a busy 2-core machine
    scale = float(np.max(np.diag(gram))) if gram.size else 0.0
    _, pivots, rank, _ = dpstrf(gram, lower=0, tol=CROSSED_RANK_TOL**2 * scale)
    rank = int(rank) if scale > 0 else 0
    keep = np.sort(pivots[:rank] - 1)  # LAPACK pivots count from one
    return columns[:, keep], {**details, "crossed_columns": rank, "dummy_regression": True}


def _augmented(design: LinearDesign, name: str) -> tuple[np.ndarray, np.ndarray, dict[str, object]]:
    """The design CR2/CR3 work on (with crossed dummies when needed), its bread and details."""
    extra, details = crossed_columns(design, name)
    if extra is not None and extra.shape[1]:
        Z = np.hstack([design.X, extra])
        return Z, _bread(Z.T @ Z, "cross-product matrix of the regressors and crossed dummies"), details
    # the exact paths form X'X themselves, as bias_reduced_cov's callers do (same bits)
    return design.X, _bread(design.X.T @ design.X, "cross-product matrix X'X of the regressors"), details


def linear_bias_reduced(design: LinearDesign, spec: InferenceSpec) -> Inference:
    """CR2 or CR3 (see :mod:`gvcpanel.inference.biasreduced` and :func:`crossed_columns`)."""
    name, codes = cluster_codes(design, spec)
    k = design.X.shape[1]
    Z, bread, details = _augmented(design, name)
    report = k if Z is not design.X else None
    if design.weights is not None and spec.kind == "cr2":
        # probability weights: clubSandwich's working model for weighted lm (see biasreduced)
        cov_arr, df_terms = weighted_bias_reduced_cov(Z, design.resid, design.weights, codes, bread,
                                                      n_report=report)
    else:
        cov_arr, df_terms = bias_reduced_cov(Z, design.resid, codes, bread, spec.kind, n_report=report)
    groups = int(codes.max()) + 1
    warn_few_clusters(groups, spec.kind, name)
    effects = ", ".join(details["crossed_effects"])
    if not effects:
        how = ""
    elif details["dummy_regression"]:
        how = f", {effects} effects as dummies"
    else:
        how = f", {effects} effects absorbed (too many levels for dummies; not the dummy-regression value)"
    if design.weights is not None:
        how += ", weighted"
    label = (
        f"bias-reduced CR2 by {name}{how}, Satterthwaite t"
        if spec.kind == "cr2"
        else f"jackknife CR3 by {name}{how}, t({groups - 1})"
    )
    return Inference(
        spec,
        label,
        _frame(cov_arr, design.names),
        groups - 1,
        df_by_term=None if df_terms is None else pd.Series(df_terms, index=list(design.names)),
        n_clusters=groups,
        cluster_sizes=cluster_size_summary(codes),
        details=details,
    )


def linear_cr2_contrast_df(design: LinearDesign, spec: InferenceSpec) -> Callable[[np.ndarray], np.ndarray]:
    """Satterthwaite degrees of freedom of contrasts (rows over ``design.names``) under CR2.

    The same design as :func:`linear_bias_reduced` (crossed effects as dummies), so that unit
    contrasts give its ``df_by_term``; see
    :class:`~gvcpanel.inference.biasreduced.SatterthwaiteContrasts`.
    """
    name, codes = cluster_codes(design, spec)
    with warnings.catch_warnings():
        # crossed_columns already said so when the covariance itself was computed
        warnings.simplefilter("ignore", InexactCovarianceWarning)
        Z, bread, _ = _augmented(design, name)
    if design.weights is not None:
        return weighted_satterthwaite_contrasts(Z, design.weights, codes, bread, n_report=design.X.shape[1])
    return satterthwaite_contrasts(Z, codes, bread, n_report=design.X.shape[1])


def linear_driscoll_kraay(design: LinearDesign, spec: InferenceSpec) -> Inference:
    r"""Driscoll-Kraay covariance.

    Notes
    -----
    :math:`V = c\, M S M` with S from :func:`driscoll_kraay_meat`.  Presets ``stata`` and
    ``fixest`` use fixest's ``vcov="DK"`` convention (pyfixest 0.60): c = T/(T-1) (N-1)/(N-K),
    K = k + k_absorbed, t(T-1).  Stata's ``xtscc`` is not matched.  ``linearmodels``
    (``cov_type="kernel"``, Bartlett): c = N/(N-k-k_absorbed), t(N-k-k_absorbed).  Its
    asymptotics are in the number of periods T: fewer than :data:`FEW_CLUSTERS` periods warn,
    a single period is refused.
    """
    if design.time is None or design.time not in design.groups:
        raise SpecificationError(
            "inference='driscoll_kraay' needs the period of each row; the design has no time "
            f"variable (time={design.time!r}, groups={sorted(design.groups)})."
        )
    X, u = design.X, design.resid
    n, k = X.shape
    time_codes = np.asarray(design.groups[design.time])
    n_periods = int(time_codes.max()) + 1
    if n_periods < 2:
        raise SpecificationError(
            f"inference='driscoll_kraay' needs at least two periods of {design.time!r}; the "
            "estimation sample has one. Choose inference='cluster' or 'robust'."
        )
    lags = default_lags(n_periods) if spec.lags is None else int(spec.lags)
    if not 0 <= lags < n_periods:
        raise SpecificationError(f"lags={lags} must lie in 0..{n_periods - 1} (T={n_periods} periods).")
    if n_periods < FEW_CLUSTERS:
        warnings.warn(
            f"inference='driscoll_kraay' with only {n_periods} periods of {design.time!r} (fewer than "
            f"{FEW_CLUSTERS}): its asymptotics are in the number of periods and its t-tests "
            "over-reject with short panels. Prefer clustering by firm or the wild cluster bootstrap.",
            FewClustersWarning,
            stacklevel=user_stacklevel(),
        )
    meat = driscoll_kraay_meat(X * u[:, None], time_codes, lags)
    if spec.preset == "linearmodels":
        scale = n / (n - k - design.k_absorbed)
        df = n - k - design.k_absorbed
    else:
        scale = n_periods / (n_periods - 1) * (n - 1) / (n - k - design.k_absorbed)
        df = n_periods - 1
    bread = _linear_bread(design)
    return Inference(
        spec,
        f"Driscoll-Kraay ({lags} lags, Bartlett; {spec.preset} preset), t({df})",
        _frame(scale * bread @ meat @ bread, design.names),
        df,
        details={"lags": lags, "n_periods": n_periods, "scale": scale},
    )


# --- likelihood -------------------------------------------------------------------------------
def _likelihood_bread(design: LikelihoodDesign) -> np.ndarray:
    return _bread(design.information, "information matrix")


def likelihood_unadjusted(design: LikelihoodDesign, spec: InferenceSpec) -> Inference:
    """Model-based covariance: the inverse information, normal reference distribution."""
    return Inference(spec, "model-based (inverse information)", _frame(_likelihood_bread(design), design.names), None)


def likelihood_crv(design: LikelihoodDesign, spec: InferenceSpec) -> ClusterCovariance:
    """Cluster sandwich of a likelihood fit with G/(G-1)(N-1)/(N-K) (no warning)."""
    n, k = design.scores.shape
    name, codes = cluster_codes(design, spec)
    scores = sum_by_group(design.scores, codes)
    groups = scores.shape[0]
    # statsmodels' default correction for cluster-robust GLM covariances
    scale = groups / (groups - 1) * (n - 1) / (n - k)
    cov = _frame(scale * _sandwich(_likelihood_bread(design), scores), design.names)
    return ClusterCovariance(name, codes, cov, groups - 1, scale, groups, cluster_size_summary(codes))


def likelihood_cluster(design: LikelihoodDesign, spec: InferenceSpec) -> Inference:
    """Cluster-robust sandwich of a likelihood fit, t(G - 1)."""
    crv = likelihood_crv(design, spec)
    warn_few_clusters(crv.n_groups, spec.kind, crv.name)
    return Inference(
        spec,
        f"cluster-robust sandwich by {crv.name}, G/(G-1)(N-1)/(N-K), t({crv.n_groups - 1})",
        crv.cov,
        crv.n_groups - 1,
        n_clusters=crv.n_groups,
        cluster_sizes=crv.sizes,
    )


def likelihood_twoway(design: LikelihoodDesign, spec: InferenceSpec) -> Inference:
    """Two-way cluster sandwich of a likelihood fit, t(G_min - 1)."""
    n, k = design.scores.shape
    (first, second), (codes1, codes2) = twoway_codes(design, spec)
    cov_arr, n_negative, g_min = twoway_cluster_cov(_likelihood_bread(design), design.scores, codes1, codes2)
    scale = g_min / (g_min - 1) * (n - 1) / (n - k)
    warn_few_clusters(g_min, spec.kind, f"{first} and {second}")
    smaller = codes1 if codes1.max() <= codes2.max() else codes2
    return Inference(
        spec,
        f"two-way cluster-robust sandwich by {first} and {second}, t({g_min - 1})",
        _frame(scale * cov_arr, design.names),
        g_min - 1,
        n_clusters=g_min,
        cluster_sizes=cluster_size_summary(smaller),
        details={"n_negative_eigenvalues": n_negative},
    )
