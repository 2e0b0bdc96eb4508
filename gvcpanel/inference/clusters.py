"""Cluster utilities shared by every cluster-based covariance and bootstrap.

Codes of the clustering variable (one cluster refused), cluster sums, the size summary, the
few-clusters warning and the CRV1 small-sample factors.  A base module of the inference layer:
it imports only :mod:`gvcpanel.inference.spec` (designs are read by their attributes).
"""

from __future__ import annotations

import sys
import warnings
from typing import Any

import numpy as np

from gvcpanel import kernels
from gvcpanel.errors import FewClustersWarning, SpecificationError
from gvcpanel.inference.spec import InferenceSpec

#: below this many clusters analytic cluster-robust inference (CRV1, CR2, CR3, two-way, the
#: likelihood sandwich) warns: t-tests over-reject, the more so the fewer and the more unequal
#: the clusters (Cameron and Miller 2015, *Journal of Human Resources* 50(2), section VI), and it
#: names the bootstrap; Driscoll-Kraay warns below this many periods
FEW_CLUSTERS = 30
#: below this many clusters the bootstraps warn too: the wild cluster bootstrap can then
#: under- or over-reject badly, above all with clusters of unequal size (MacKinnon and Webb
#: 2017, *Journal of Applied Econometrics* 32(2)), and Rademacher weights have only 2^G distinct
#: vectors (the reason Webb's six-point weights are the default below this number)
FEW_CLUSTERS_BOOTSTRAP = 12
BOOTSTRAP_KINDS = ("wild", "score")


def user_stacklevel() -> int:
    """``stacklevel`` for :func:`warnings.warn` that points at the first caller outside gvcpanel.

    Call it from the function that calls :func:`warnings.warn`.
    """
    frame = sys._getframe(1)
    level = 1
    while frame is not None and str(frame.f_globals.get("__name__", "")).startswith("gvcpanel"):
        frame = frame.f_back
        level += 1
    return level


def n_groups(codes: np.ndarray) -> int:
    """Number of groups of contiguous codes 0..G-1."""
    return int(codes.max()) + 1 if codes.size else 0


def _refuse_single(design: Any, name: str, codes: np.ndarray, kind: str) -> None:
    if n_groups(codes) >= 2:
        return
    labels = getattr(design, "group_labels", {}).get(name)
    which = f" ({labels[0]!r})" if labels is not None and len(labels) else ""
    raise SpecificationError(
        f"inference={kind!r} clusters on {name!r}, which has a single cluster{which} in the "
        "estimation sample: a cluster-robust covariance needs at least two clusters (with one, "
        "the sum of the scores is zero and the covariance degenerates). Cluster on a variable with "
        "several clusters (cluster='firm_id') or choose inference='robust' or 'unadjusted'."
    )


def cluster_names(design: Any, spec: InferenceSpec) -> tuple[str, ...]:
    """The clustering variables asked for (the spec's, else the estimator's), checked to exist."""
    names = spec.cluster if spec.cluster is not None else design.default_cluster
    if not names:
        raise SpecificationError(
            f"inference={spec.kind!r} needs a clustering variable; pass cluster='cluster_id' to the "
            "estimator or inference={'kind': ..., 'cluster': 'cluster_id'}."
        )
    missing = [n for n in names if n not in design.groups]
    if missing:
        raise SpecificationError(
            f"cannot cluster on {missing}: the estimation sample keeps {sorted(design.groups)}; "
            "pass the variable as the estimator's cluster= so that it is kept."
        )
    return tuple(names)


def cluster_codes(design: Any, spec: InferenceSpec) -> tuple[str, np.ndarray]:
    """The one clustering variable asked for, as integer codes; a single cluster is refused."""
    names = cluster_names(design, spec)
    if len(names) != 1:
        raise SpecificationError(
            f"inference={spec.kind!r} clusters on one variable; for {names} use kind='twoway'."
        )
    codes = np.asarray(design.groups[names[0]])
    _refuse_single(design, names[0], codes, spec.kind)
    return names[0], codes


def twoway_codes(design: Any, spec: InferenceSpec) -> tuple[tuple[str, str], tuple[np.ndarray, np.ndarray]]:
    """The two clustering variables of ``kind="twoway"`` and their codes."""
    names = spec.cluster if spec.cluster is not None else design.default_cluster
    if not names or len(names) != 2:
        raise SpecificationError(
            f"inference='twoway' needs two clustering variables, found {names}; pass "
            "inference={'kind': 'twoway', 'cluster': ('firm_id', 'cluster_year')}."
        )
    first, second = cluster_names(design, spec)
    codes = (np.asarray(design.groups[first]), np.asarray(design.groups[second]))
    for name, c in zip((first, second), codes):
        _refuse_single(design, name, c, spec.kind)
    return (first, second), codes


def cluster_size_summary(codes: np.ndarray, sizes: np.ndarray | None = None) -> tuple[int, float, int]:
    """Smallest, median and largest cluster size (from the ``sizes`` of the clusters when known)."""
    sizes = np.bincount(codes) if sizes is None else np.asarray(sizes)
    sizes = sizes[sizes > 0]
    # sizes are small integers: the median from their counts, not from a sort of G values
    tally = np.bincount(sizes)
    cumulative = np.cumsum(tally)
    lower = int(np.searchsorted(cumulative, (sizes.size + 1) // 2))  # the ceil(G/2)-th smallest
    upper = int(np.searchsorted(cumulative, sizes.size // 2 + 1))  # the (G/2 + 1)-th smallest
    median = float(lower) if sizes.size % 2 else (lower + upper) / 2
    return int(sizes.min()), median, int(sizes.max())


def sum_by_group(a: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """Sum the rows of ``a`` (n x k) within each group: a G x k array."""
    groups = n_groups(codes)  # codes are contiguous 0..G-1 by the designs' contract
    if hasattr(a, "group_sums"):  # scores kept as factors (models.binary.BinaryScores)
        return a.group_sums(codes, groups)
    a = np.asarray(a, dtype=np.float64)
    if a.ndim != 2:
        a = a.reshape(a.shape[0], -1)
    # one compiled pass per column, columns on all cores (np.bincount allocates per column)
    return kernels.group_sums(a, kernels.as_codes(codes), groups, kernels.NO_WEIGHTS)


def cached_score_sums(design: Any, name: str) -> tuple[np.ndarray, np.ndarray] | None:
    """The estimator's own cluster sums of the scores by ``name`` and the cluster sizes, when they
    belong to the design's current ``X`` and ``resid`` (a design rebuilt with other arrays does
    not use them)."""
    cache = getattr(design, "score_cache", None)
    if cache is None:
        return None
    cached_name, X, resid, sums, sizes = cache
    return (sums, sizes) if cached_name == name and X is design.X and resid is design.resid else None


def score_sums_by_group(X: np.ndarray, u: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """:math:`\\sum_{i \\in g} x_i u_i` per group (G x k) without forming the n x k scores."""
    return kernels.score_sums(np.asarray(X, dtype=np.float64), np.ascontiguousarray(u, dtype=np.float64),
                              kernels.as_codes(codes), n_groups(codes))


def intersection_codes(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Codes 0..H-1 of the pairs (a, b) that occur."""
    return np.unique(a.astype(np.int64) * (int(b.max()) + 1) + b, return_inverse=True)[1].ravel()


def warn_few_clusters(groups: int, kind: str, name: str, note: str = "") -> None:
    """Warn (:class:`FewClustersWarning`) when ``groups`` is below the threshold for ``kind``.

    Analytic kinds warn below :data:`FEW_CLUSTERS` and name the bootstrap; the bootstraps warn
    below :data:`FEW_CLUSTERS_BOOTSTRAP`.  ``note`` adds a sentence (the smallest attainable
    bootstrap p-value, for instance).
    """
    bootstrap = kind in BOOTSTRAP_KINDS
    threshold = FEW_CLUSTERS_BOOTSTRAP if bootstrap else FEW_CLUSTERS
    if groups >= threshold:
        return
    if bootstrap:
        advice = (
            "even the bootstrap is unreliable with so few clusters, above all when they differ in "
            "size; report its p-values with that caveat or cluster on a variable with more clusters."
        )
    else:
        advice = (
            "t-tests over-reject. Use the wild cluster bootstrap (inference='wild') or CR2 "
            "(inference='cr2'); for likelihood models inference='score'."
        )
    message = (
        f"inference={kind!r} clusters on {name!r} with only {groups} clusters (fewer than "
        f"{threshold}): {advice}"
    )
    warnings.warn(message + (" " + note if note else ""), FewClustersWarning, stacklevel=user_stacklevel())


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
