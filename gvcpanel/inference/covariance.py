"""Covariance estimators for linear (least-squares) and likelihood models.

Linear estimators hand over a :class:`LinearDesign`: the regressors and outcome *after* the
fixed-effects, first-difference or quasi-demeaning transformation, so that every covariance is the
OLS sandwich on the transformed data (Frisch-Waugh-Lovell); CR2 and CR3, whose hat matrix is not
invariant to absorbing effects that cut across the clusters, add those effects back as dummy
columns (:func:`crossed_columns`).  Likelihood estimators hand over a
:class:`LikelihoodDesign`: per-observation scores and the information matrix.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from gvcpanel.errors import FewClustersWarning, InexactCovarianceWarning, SpecificationError
from gvcpanel.inference.spec import Inference, InferenceSpec

#: below this many clusters analytic cluster-robust inference warns and names the bootstrap
FEW_CLUSTERS = 30
#: CR2/CR3 carry absorbed effects that cut across the clusters as explicit dummy columns up to
#: this many columns; beyond it (or beyond MAX_CROSSED_CELLS array entries, 400 MB) they fall
#: back to the fully absorbed design, whose hat matrix omits those effects
MAX_CROSSED_COLUMNS = 2_000
MAX_CROSSED_CELLS = 50_000_000
#: a crossed dummy column whose residual on the columns chosen before it (pivoted Cholesky of
#: the Gram matrix, which resolves norms to about 1e-8) is below this fraction of the largest
#: column norm is redundant (its levels sum to something in the nested effects' span)
CROSSED_RANK_TOL = 1e-6


@dataclass(frozen=True, eq=False)
class CrossedDummies:
    """Absorbed effects that are not nested in a clustering variable, as dummy columns.

    Attributes
    ----------
    effects : tuple of str
        The crossed effects (year effects when clustering by industrial cluster).
    nested : tuple of str
        The absorbed effects nested in the clustering variable.
    n_columns : int
        Dummy columns :meth:`build` returns: every level of every crossed effect.
    build : callable
        ``build()`` returns :math:`M_N C` (n x ``n_columns``, a new array): the dummies C of
        every level of the crossed effects, residualized on the nested effects N.  Redundant
        columns are left in; :func:`crossed_columns` removes them.
    """

    effects: tuple[str, ...]
    nested: tuple[str, ...]
    n_columns: int
    build: Callable[[], np.ndarray]


@dataclass(frozen=True, eq=False)
class LinearDesign:
    """Transformed least-squares problem y = X b + u.

    Attributes
    ----------
    X, y : ndarray
        Transformed regressors (n x k) and outcome (n).
    params, resid : ndarray
        OLS estimates and residuals on the transformed data.
    names : tuple of str
        Term names, one per column of X.
    groups : Mapping[str, ndarray]
        Integer codes (0..G-1, every code present) per row for each variable one may cluster on
        (``cluster_id``, ``firm_id``, ``year`` and any other the estimator kept).
    group_labels : Mapping[str, ndarray]
        The label of each code (``group_labels[name][code]``), so that bootstrap weights drawn per
        cluster label can be shared across models estimated on different samples.
    k_absorbed : int
        Parameters absorbed by the transformation (fixed effects, less redundant ones).
    absorbed_nested : Mapping[str, int]
        For each clustering variable, how many of the absorbed parameters belong to effects
        nested within it, counting every level of a nested effect (60 firm effects inside 12
        clusters count 60); Stata and fixest drop them from K but keep one for the intercept
        (see :func:`crv1_scale`).  Example: firm and year effects with firms nested in
        ``cluster_id`` give ``k_absorbed = n_firms + n_years - 1`` and
        ``absorbed_nested = {"cluster_id": n_firms, "firm_id": n_firms}``.
    default_cluster : tuple of str, optional
        The estimator's ``cluster=`` argument.
    time : str, optional
        Name of the entry of ``groups`` that orders periods (for Driscoll-Kraay).
    absorb : callable, optional
        The annihilator of the absorbed fixed effects, :math:`M_D`: takes an n x m float array
        and returns ``M_D`` applied to each column as a new array (the input is left alone).
        The wild bootstrap needs it when an absorbed effect cuts across the bootstrap clusters
        (year effects with industrial clusters), because its bootstrap residuals must then be
        absorbed again (see :mod:`gvcpanel.inference.bootstrap`).  None when nothing was
        absorbed, or when the caller cannot provide it (the bootstrap then treats the effects as
        partialled out once).
    absorbed_effects : tuple of str
        Names of the absorbed effects (for labels and reports).
    crossed : callable, optional
        ``crossed(cluster_name)`` gives the absorbed effects that are not nested in that
        clustering variable as :class:`CrossedDummies`, or None when every absorbed effect is
        nested in it.  CR2 and CR3 use it to compute the covariance of the dummy-variable
        regression (see :func:`crossed_columns`).  None when nothing was absorbed or the
        estimator cannot tell; CR2/CR3 then use the transformed design alone.
    """

    X: np.ndarray
    y: np.ndarray
    params: np.ndarray
    resid: np.ndarray
    names: tuple[str, ...]
    groups: Mapping[str, np.ndarray]
    group_labels: Mapping[str, np.ndarray] = field(default_factory=dict)
    k_absorbed: int = 0
    absorbed_nested: Mapping[str, int] = field(default_factory=dict)
    default_cluster: tuple[str, ...] | None = None
    time: str | None = "year"
    absorb: Callable[[np.ndarray], np.ndarray] | None = None
    absorbed_effects: tuple[str, ...] = ()
    crossed: Callable[[str], CrossedDummies | None] | None = None

    @property
    def nobs(self) -> int:
        return int(self.X.shape[0])

    def inference(self, spec: InferenceSpec) -> Inference:
        return linear_inference(self, spec)


@dataclass(frozen=True, eq=False)
class LikelihoodDesign:
    """A fitted likelihood model: per-observation scores and the information matrix.

    ``extra`` carries what the score bootstrap (``inference="score"``) needs without this module
    knowing the model family:

    - ``"X"``: n x k design (the same columns as ``params``), ``"y"``: 0/1 outcome (n),
      ``"link"``: ``"logit"`` or ``"cloglog"`` (binomial family);
    - ``"fit_restricted"`` (optional): callable ``(R, r) -> params`` refitting under the linear
      restriction R b = r (R a 1 x k or q x k array).  Without it the bootstrap refits itself
      from ``X``, ``y`` and ``link`` by Newton's method;
    - ``"score_fn"`` and ``"information_fn"`` (optional): callables ``params -> n x k scores`` and
      ``params -> k x k information`` for other likelihoods; without them they are computed from
      ``X``, ``y`` and ``link``;
    - ``"offset"`` (optional): n-vector added to the linear index.
    """

    scores: np.ndarray
    information: np.ndarray
    params: np.ndarray
    names: tuple[str, ...]
    groups: Mapping[str, np.ndarray]
    group_labels: Mapping[str, np.ndarray] = field(default_factory=dict)
    default_cluster: tuple[str, ...] | None = None
    extra: Mapping[str, object] = field(default_factory=dict)

    @property
    def nobs(self) -> int:
        return int(self.scores.shape[0])

    def inference(self, spec: InferenceSpec) -> Inference:
        return likelihood_inference(self, spec)


# ---------------------------------------------------------------------------------------------
def cluster_codes(design: LinearDesign | LikelihoodDesign, spec: InferenceSpec) -> tuple[str, np.ndarray]:
    """The clustering variable asked for (spec first, then the estimator's) as integer codes."""
    names = spec.cluster if spec.cluster is not None else design.default_cluster
    if not names:
        raise SpecificationError(
            f"inference={spec.kind!r} needs a clustering variable; pass cluster='cluster_id' to the "
            "estimator or inference={'kind': ..., 'cluster': 'cluster_id'}."
        )
    if len(names) != 1 and spec.kind != "twoway":
        raise SpecificationError(
            f"inference={spec.kind!r} clusters on one variable; for {names} use kind='twoway'."
        )
    missing = [n for n in names if n not in design.groups]
    if missing:
        raise SpecificationError(
            f"cannot cluster on {missing}: the estimation sample keeps {sorted(design.groups)}."
        )
    return names[0], np.asarray(design.groups[names[0]])


def cluster_size_summary(codes: np.ndarray) -> tuple[int, float, int]:
    sizes = np.bincount(codes)
    sizes = sizes[sizes > 0]
    return int(sizes.min()), float(np.median(sizes)), int(sizes.max())


def _frame(cov: np.ndarray, names: tuple[str, ...]) -> pd.DataFrame:
    return pd.DataFrame(cov, index=list(names), columns=list(names))


def _sum_by_group(a: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """Sum the rows of ``a`` (n x k) within each group: a G x k array."""
    n_groups = int(codes.max()) + 1  # codes are contiguous 0..G-1 by the designs' contract
    # one bincount per column: about ten times faster than np.add.at on millions of rows
    return np.column_stack([np.bincount(codes, weights=a[:, j], minlength=n_groups) for j in range(a.shape[1])])


def crv1_scale(
    preset: str,
    n: int,
    k: int,
    n_groups: int,
    k_absorbed: int,
    nested: int,
    nested_by_variable: tuple[int, ...] | None = None,
) -> float:
    r"""Small-sample factor that multiplies the CRV0 sandwich under each preset.

    Parameters
    ----------
    preset : {"stata", "fixest", "linearmodels"}
    n, k : int
        Observations and regressors of the transformed design.
    n_groups : int
        Number of clusters G (the smallest one for two-way clustering).
    k_absorbed : int
        Parameters absorbed by the transformation (all fixed-effect levels less the redundant
        ones, so that ``n - k - k_absorbed`` is the residual degrees of freedom).
    nested : int
        Absorbed parameters that belong to effects nested in the clusters, counting every level
        of such an effect (60 firm effects in 12 clusters count 60).

    Returns
    -------
    float

    Notes
    -----
    ``stata`` and ``fixest`` (``xtreg, fe vce(cluster)``, ``reghdfe``; fixest's default
    ``ssc(adj=TRUE, fixef.K="nested", cluster.adj=TRUE)``, pyfixest 0.60 ``k_fixef="nonnested"``):

    .. math:: c = \frac{G}{G-1}\,\frac{N-1}{N-K},\qquad
              K = k + k_{abs} - k_{nested} + \mathbb{1}[k_{nested} > 0]

    The nested effects drop out of K but the intercept they absorbed stays (Stata reports a
    ``_cons``; fixest adds one back per fully nested effect, which is the same thing with one
    nested effect).  With firm and year effects and firms nested in clusters, K = k + T.

    ``linearmodels`` (``PanelOLS(...).fit(cov_type="clustered", clusters=...)`` with version 7.1
    defaults ``debiased=True, group_debias=False, auto_df=True``): no G/(G-1) factor,

    .. math:: c = \frac{N}{N - k - d}

    with d = ``k_absorbed``, except d = 0 when every absorbed parameter is nested in the clusters
    (linearmodels' "single effect nested in the clusters" rule).

    Two-way clustering passes ``nested_by_variable`` (nested parameters for each clustering
    variable) and G = the smaller number of clusters (fixest's ``G_df="min"``).  fixest removes
    every effect nested in any clustering variable and adds one back per such effect; as the
    design does not say which effect is nested where, the counts of the two variables are added
    (firm effects in ``cluster_id`` plus year effects in ``year``) unless that exceeds the
    absorbed parameters, in which case both variables hold the same effect and the larger count
    is used.  linearmodels counts effects unless they are nested in both variables.
    """
    n_nested_effects = 1 if nested > 0 else 0
    if nested_by_variable is not None:
        counts = [c for c in nested_by_variable if c > 0]
        if preset == "linearmodels":
            nested = min(nested_by_variable)
        elif not counts:
            nested, n_nested_effects = 0, 0
        elif sum(counts) <= k_absorbed + len(counts) - 1:
            nested, n_nested_effects = sum(counts), len(counts)
        else:
            nested, n_nested_effects = max(counts), 1
    if preset == "linearmodels":
        d = 0 if (nested > 0 and nested >= k_absorbed) else k_absorbed
        return n / (n - k - d)
    g = n_groups / (n_groups - 1)
    k_total = k + k_absorbed - nested + n_nested_effects
    return g * (n - 1) / (n - k_total)


def crv1_df(preset: str, n: int, k: int, n_groups: int, k_absorbed: int) -> int:
    """Degrees of freedom of the reference t distribution of CRV1 under each preset.

    ``stata`` and ``fixest``: G - 1.  ``linearmodels``: the residual degrees of freedom
    N - k - k_absorbed (linearmodels 7.1 uses t(df_resid) when ``debiased=True``).
    """
    if preset == "linearmodels":
        return n - k - k_absorbed
    return n_groups - 1


def warn_few_clusters(n_groups: int, kind: str, name: str) -> None:
    """Warn that analytic cluster-robust inference is unreliable with few clusters."""
    if n_groups < FEW_CLUSTERS:
        warnings.warn(
            f"inference={kind!r} clusters on {name!r} with only {n_groups} clusters (fewer than "
            f"{FEW_CLUSTERS}): t-tests over-reject. Use the wild cluster bootstrap "
            "(inference='wild') or CR2 (inference='cr2'); for likelihood models inference='score'.",
            FewClustersWarning,
            stacklevel=4,
        )


def _sandwich(bread: np.ndarray, scores: np.ndarray) -> np.ndarray:
    return bread @ (scores.T @ scores) @ bread


def _psd_clip(cov: np.ndarray) -> tuple[np.ndarray, int]:
    """Set negative eigenvalues to zero (Cameron, Gelbach and Miller 2011, section 2.3)."""
    vals, vecs = np.linalg.eigh((cov + cov.T) / 2)
    n_negative = int(np.sum(vals < 0))
    if n_negative == 0:
        return cov, 0
    return (vecs * np.clip(vals, 0, None)) @ vecs.T, n_negative


def _intersection_codes(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.unique(a.astype(np.int64) * (int(b.max()) + 1) + b, return_inverse=True)[1].ravel()


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
    inter = _intersection_codes(codes1, codes2)
    parts = [_sandwich(bread, _sum_by_group(scores_obs, c)) for c in (codes1, codes2, inter)]
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
    h = _sum_by_group(scores_obs, time_codes)
    meat = h.T @ h
    for lag in range(1, lags + 1):
        gamma = h[lag:].T @ h[:-lag]
        meat += (1 - lag / (lags + 1)) * (gamma + gamma.T)
    return meat


def _cluster_names(design: LinearDesign | LikelihoodDesign, spec: InferenceSpec) -> tuple[str, ...]:
    names = spec.cluster if spec.cluster is not None else design.default_cluster
    if not names or len(names) != 2:
        raise SpecificationError(
            f"inference='twoway' needs two clustering variables, found {names}; pass "
            "inference={'kind': 'twoway', 'cluster': ('firm_id', 'cluster_year')}."
        )
    missing = [n for n in names if n not in design.groups]
    if missing:
        raise SpecificationError(
            f"cannot cluster on {missing}: the estimation sample keeps {sorted(design.groups)}."
        )
    return tuple(names)


def linear_inference(design: LinearDesign, spec: InferenceSpec) -> Inference:
    """Covariance (or bootstrap) of a least-squares fit; see :class:`InferenceSpec` for kinds.

    Notes
    -----
    Every kind is a sandwich :math:`M\\,\\hat\\Omega\\,M` with :math:`M = (X'X)^{-1}` on the
    transformed design; see :func:`crv1_scale` for CRV1 presets,
    :mod:`gvcpanel.inference.biasreduced` for CR2/CR3, :func:`twoway_cluster_cov`,
    :func:`driscoll_kraay_meat`, and :mod:`gvcpanel.inference.bootstrap` for ``"wild"``.
    """
    X, u = design.X, design.resid
    n, k = X.shape
    bread = np.linalg.inv(X.T @ X)
    df_resid = n - k - design.k_absorbed
    names = design.names
    if spec.kind == "unadjusted":
        sigma2 = float(u @ u) / df_resid
        return Inference(spec, "conventional (homoskedastic)", _frame(sigma2 * bread, names), df_resid)
    if spec.kind == "robust":
        meat = (X * u[:, None] ** 2).T @ X
        cov = bread @ meat @ bread * n / df_resid
        return Inference(spec, "heteroskedasticity-robust (HC1)", _frame(cov, names), df_resid)
    if spec.kind in ("cluster", "wild"):
        name, codes = cluster_codes(design, spec)
        scores = _sum_by_group(X * u[:, None], codes)
        n_groups = scores.shape[0]
        nested = design.absorbed_nested.get(name, 0)
        scale = crv1_scale(spec.preset, n, k, n_groups, design.k_absorbed, nested)
        cov = _frame(scale * _sandwich(bread, scores), names)
        df = crv1_df(spec.preset, n, k, n_groups, design.k_absorbed)
        sizes = cluster_size_summary(codes)
        if spec.kind == "wild":
            from gvcpanel.inference.bootstrap import wild_inference  # bootstrap imports this module

            return wild_inference(design, spec, cov, name, sizes)
        warn_few_clusters(n_groups, spec.kind, name)
        dist = f"t({df})"
        return Inference(
            spec,
            f"cluster-robust CRV1 by {name} ({spec.preset} preset), {dist}",
            cov,
            df,
            n_clusters=n_groups,
            cluster_sizes=sizes,
            details={"scale": scale},
        )
    if spec.kind in ("cr2", "cr3"):
        return _bias_reduced(design, spec, bread)
    if spec.kind == "twoway":
        first, second = _cluster_names(design, spec)
        codes1, codes2 = np.asarray(design.groups[first]), np.asarray(design.groups[second])
        cov_arr, n_negative, g_min = twoway_cluster_cov(bread, X * u[:, None], codes1, codes2)
        scale = crv1_scale(
            spec.preset, n, k, g_min, design.k_absorbed, 0, nested_by_variable=(
                design.absorbed_nested.get(first, 0), design.absorbed_nested.get(second, 0)
            )
        )
        df = crv1_df(spec.preset, n, k, g_min, design.k_absorbed)
        warn_few_clusters(g_min, spec.kind, f"{first} and {second}")
        smaller = first if codes1.max() <= codes2.max() else second
        return Inference(
            spec,
            f"two-way cluster-robust by {first} and {second} ({spec.preset} preset), t({df})",
            _frame(scale * cov_arr, names),
            df,
            n_clusters=g_min,
            cluster_sizes=cluster_size_summary(np.asarray(design.groups[smaller])),
            details={"n_negative_eigenvalues": n_negative, "scale": scale},
        )
    if spec.kind == "driscoll_kraay":
        return _driscoll_kraay(design, spec, bread)
    raise SpecificationError(f"inference={spec.kind!r} is not available for linear models.")


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
            stacklevel=5,
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


def _bias_reduced(design: LinearDesign, spec: InferenceSpec, bread: np.ndarray) -> Inference:
    """CR2 or CR3 (see :mod:`gvcpanel.inference.biasreduced` and :func:`crossed_columns`)."""
    from gvcpanel.inference.biasreduced import bias_reduced_cov

    name, codes = cluster_codes(design, spec)
    X, u, names = design.X, design.resid, design.names
    k = X.shape[1]
    extra, details = crossed_columns(design, name)
    if extra is not None and extra.shape[1]:
        Z = np.hstack([X, extra])
        cov_arr, df_terms = bias_reduced_cov(Z, u, codes, np.linalg.inv(Z.T @ Z), spec.kind, n_report=k)
    else:
        cov_arr, df_terms = bias_reduced_cov(X, u, codes, bread, spec.kind)
    n_groups = int(codes.max()) + 1
    warn_few_clusters(n_groups, spec.kind, name)
    effects = ", ".join(details["crossed_effects"])
    if not effects:
        how = ""
    elif details["dummy_regression"]:
        how = f", {effects} effects as dummies"
    else:
        how = f", {effects} effects absorbed (too many levels for dummies; not the dummy-regression value)"
    label = (
        f"bias-reduced CR2 by {name}{how}, Satterthwaite t"
        if spec.kind == "cr2"
        else f"jackknife CR3 by {name}{how}, t({n_groups - 1})"
    )
    return Inference(
        spec,
        label,
        _frame(cov_arr, names),
        n_groups - 1,
        df_by_term=None if df_terms is None else pd.Series(df_terms, index=list(names)),
        n_clusters=n_groups,
        cluster_sizes=cluster_size_summary(codes),
        details=details,
    )


def _driscoll_kraay(design: LinearDesign, spec: InferenceSpec, bread: np.ndarray) -> Inference:
    r"""Driscoll-Kraay covariance.

    Notes
    -----
    :math:`V = c\, M S M` with S from :func:`driscoll_kraay_meat`.  Presets ``stata`` and
    ``fixest`` use fixest's ``vcov="DK"`` convention (pyfixest 0.60): c = T/(T-1) (N-1)/(N-K),
    K = k + k_absorbed, t(T-1).  Stata's ``xtscc`` is not matched.  ``linearmodels``
    (``cov_type="kernel"``, Bartlett): c = N/(N-k-k_absorbed), t(N-k-k_absorbed).
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
    lags = default_lags(n_periods) if spec.lags is None else int(spec.lags)
    if not 0 <= lags < n_periods:
        raise SpecificationError(f"lags={lags} must lie in 0..{n_periods - 1} (T={n_periods} periods).")
    meat = driscoll_kraay_meat(X * u[:, None], time_codes, lags)
    if spec.preset == "linearmodels":
        scale = n / (n - k - design.k_absorbed)
        df = n - k - design.k_absorbed
    else:
        scale = n_periods / (n_periods - 1) * (n - 1) / (n - k - design.k_absorbed)
        df = n_periods - 1
    return Inference(
        spec,
        f"Driscoll-Kraay ({lags} lags, Bartlett; {spec.preset} preset), t({df})",
        _frame(scale * bread @ meat @ bread, design.names),
        df,
        details={"lags": lags, "n_periods": n_periods, "scale": scale},
    )


def likelihood_inference(design: LikelihoodDesign, spec: InferenceSpec) -> Inference:
    """Model-based, cluster sandwich, two-way cluster sandwich or score bootstrap."""
    bread = np.linalg.inv(design.information)
    n, k = design.scores.shape
    if spec.kind == "unadjusted":
        return Inference(spec, "model-based (inverse information)", _frame(bread, design.names), None)
    if spec.kind in ("cluster", "score"):
        name, codes = cluster_codes(design, spec)
        scores = _sum_by_group(design.scores, codes)
        n_groups = scores.shape[0]
        # statsmodels' default correction for cluster-robust GLM covariances
        scale = n_groups / (n_groups - 1) * (n - 1) / (n - k)
        cov = _frame(scale * _sandwich(bread, scores), design.names)
        sizes = cluster_size_summary(codes)
        if spec.kind == "score":
            from gvcpanel.inference.score import score_inference

            return score_inference(design, spec, cov, name, sizes)
        warn_few_clusters(n_groups, spec.kind, name)
        return Inference(
            spec,
            f"cluster-robust sandwich by {name}, G/(G-1)(N-1)/(N-K), t({n_groups - 1})",
            cov,
            n_groups - 1,
            n_clusters=n_groups,
            cluster_sizes=sizes,
        )
    if spec.kind == "twoway":
        first, second = _cluster_names(design, spec)
        codes1, codes2 = np.asarray(design.groups[first]), np.asarray(design.groups[second])
        cov_arr, n_negative, g_min = twoway_cluster_cov(bread, design.scores, codes1, codes2)
        scale = g_min / (g_min - 1) * (n - 1) / (n - k)
        warn_few_clusters(g_min, spec.kind, f"{first} and {second}")
        smaller = first if codes1.max() <= codes2.max() else second
        return Inference(
            spec,
            f"two-way cluster-robust sandwich by {first} and {second}, t({g_min - 1})",
            _frame(scale * cov_arr, design.names),
            g_min - 1,
            n_clusters=g_min,
            cluster_sizes=cluster_size_summary(np.asarray(design.groups[smaller])),
            details={"n_negative_eigenvalues": n_negative},
        )
    raise SpecificationError(
        f"inference={spec.kind!r} is not available for likelihood models; use 'unadjusted', "
        "'cluster', 'twoway' or 'score'."
    )
