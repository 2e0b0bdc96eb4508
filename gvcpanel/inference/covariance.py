"""Covariance estimators for linear (least-squares) and likelihood models.

Linear estimators hand over a :class:`LinearDesign`: the regressors and outcome *after* the
fixed-effects, first-difference or quasi-demeaning transformation, so that every covariance is the
OLS sandwich on the transformed data (Frisch-Waugh-Lovell).  Likelihood estimators hand over a
:class:`LikelihoodDesign`: per-observation scores and the information matrix.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from gvcpanel.errors import SpecificationError
from gvcpanel.inference.spec import Inference, InferenceSpec


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
        nested within it (firm effects inside cluster_id); Stata and fixest drop them from K.
    default_cluster : tuple of str, optional
        The estimator's ``cluster=`` argument.
    time : str, optional
        Name of the entry of ``groups`` that orders periods (for Driscoll-Kraay).
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

    @property
    def nobs(self) -> int:
        return int(self.X.shape[0])

    def inference(self, spec: InferenceSpec) -> Inference:
        return linear_inference(self, spec)


@dataclass(frozen=True, eq=False)
class LikelihoodDesign:
    """A fitted likelihood model: per-observation scores and the information matrix.

    ``extra`` carries what a score bootstrap needs without this module knowing the model family:
    ``"X"`` (n x k design), ``"y"``, ``"link"`` and ``"fit_restricted"``, a callable
    ``(R, r) -> params`` that refits under the linear restriction R b = r.
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
    out = np.zeros((n_groups, a.shape[1]))
    np.add.at(out, codes, a)
    return out


def crv1_scale(preset: str, n: int, k: int, n_groups: int, k_absorbed: int, nested: int) -> float:
    """Small-sample factor of CRV1 under each preset.

    - ``stata`` (``xtreg, fe vce(cluster)``, ``reghdfe``): G/(G-1) * (N-1)/(N-K) with
      K = k + absorbed parameters not nested in the clusters.
    - ``fixest`` (``ssc(adj=TRUE, fixef.K="nested", cluster.adj=TRUE)``): the same formula.
    - ``linearmodels`` (``PanelOLS.fit(cov_type="clustered")``, default options): G/(G-1) only.
    """
    g = n_groups / (n_groups - 1)
    if preset == "linearmodels":
        return g
    k_total = k + k_absorbed - nested
    return g * (n - 1) / (n - k_total)


def linear_inference(design: LinearDesign, spec: InferenceSpec) -> Inference:
    X, u = design.X, design.resid
    n, k = X.shape
    bread = np.linalg.inv(X.T @ X)
    df_resid = n - k - design.k_absorbed
    if spec.kind == "unadjusted":
        sigma2 = float(u @ u) / df_resid
        return Inference(spec, "conventional (homoskedastic)", _frame(sigma2 * bread, design.names), df_resid)
    if spec.kind == "robust":
        meat = (X * u[:, None] ** 2).T @ X
        cov = bread @ meat @ bread * n / df_resid
        return Inference(spec, "heteroskedasticity-robust (HC1)", _frame(cov, design.names), df_resid)
    if spec.kind == "cluster":
        name, codes = cluster_codes(design, spec)
        scores = _sum_by_group(X * u[:, None], codes)
        n_groups = scores.shape[0]
        scale = crv1_scale(spec.preset, n, k, n_groups, design.k_absorbed, design.absorbed_nested.get(name, 0))
        cov = scale * bread @ (scores.T @ scores) @ bread
        return Inference(
            spec,
            f"cluster-robust CRV1 by {name} ({spec.preset} preset), t({n_groups - 1})",
            _frame(cov, design.names),
            n_groups - 1,
            n_clusters=n_groups,
            cluster_sizes=cluster_size_summary(codes),
        )
    raise SpecificationError(f"inference={spec.kind!r} is not available for linear models yet.")


def likelihood_inference(design: LikelihoodDesign, spec: InferenceSpec) -> Inference:
    bread = np.linalg.inv(design.information)
    if spec.kind == "unadjusted":
        return Inference(spec, "model-based (inverse information)", _frame(bread, design.names), None)
    if spec.kind == "cluster":
        name, codes = cluster_codes(design, spec)
        scores = _sum_by_group(design.scores, codes)
        n_groups = scores.shape[0]
        n, k = design.scores.shape
        # statsmodels' default correction for cluster-robust GLM covariances
        scale = n_groups / (n_groups - 1) * (n - 1) / (n - k)
        cov = scale * bread @ (scores.T @ scores) @ bread
        return Inference(
            spec,
            f"cluster-robust sandwich by {name}, G/(G-1)(N-1)/(N-K), t({n_groups - 1})",
            _frame(cov, design.names),
            n_groups - 1,
            n_clusters=n_groups,
            cluster_sizes=cluster_size_summary(codes),
        )
    raise SpecificationError(f"inference={spec.kind!r} is not available for likelihood models yet.")
