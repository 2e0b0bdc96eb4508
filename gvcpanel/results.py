"""Immutable estimation results shared by every estimator.

A result never changes after it is built: :meth:`EstimationResult.with_inference` returns a new
result with another covariance or bootstrap, computed from the fitted model kept inside.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

import numpy as np
import pandas as pd
from scipy import stats

from gvcpanel.errors import SpecificationError
from gvcpanel.inference.spec import Inference, InferenceSpec, parse_inference
from gvcpanel.options import check_level


@dataclass(frozen=True)
class ModelSpec:
    """What was asked: enough to say in a table how a column was estimated."""

    estimator: str  # "fe_regression" or "upgrading_hazard"
    method: str  # fe / fd / re / between / pooled, or cloglog / logit
    dependent: str
    regressors: tuple[str, ...]
    effects: tuple[str, ...] = ()
    cluster: tuple[str, ...] | None = None
    formula: str | None = None
    options: tuple[tuple[str, Any], ...] = ()

    def option(self, name: str, default: Any = None) -> Any:
        return dict(self.options).get(name, default)


class FittedModel(Protocol):
    """What an estimator keeps so that inference can be recomputed without refitting."""

    def inference(self, spec: InferenceSpec) -> Inference: ...


@dataclass(frozen=True)
class EstimationResult:
    """Coefficients with their inference.

    Attributes
    ----------
    params : pandas.Series
        Estimates, indexed by term.
    nobs : int
        Firm-years (or firm-periods at risk, for hazards) used in estimation.
    n_firms : int
        Firms contributing at least one observation.
    dep_mean : float
        Mean of the dependent variable on the estimation sample (before any transformation).
    exclusions : pandas.DataFrame
        Rows excluded before estimation, one row per reason (``reason``, ``n_rows``).
    fit_stats : Mapping
        Model-specific statistics (R-squared, log-likelihood, ...).
    """

    spec: ModelSpec
    params: pd.Series
    inference: Inference
    nobs: int
    n_firms: int
    dep_mean: float
    exclusions: pd.DataFrame
    fit_stats: Mapping[str, Any] = field(default_factory=dict)
    provenance: Mapping[str, str] = field(default_factory=dict)
    model: FittedModel | None = field(default=None, repr=False, compare=False)

    # --- accessors -----------------------------------------------------------------------
    @property
    def cov(self) -> pd.DataFrame:
        return self.inference.cov

    @property
    def std_errors(self) -> pd.Series:
        return pd.Series(np.sqrt(np.diag(self.cov.to_numpy())), index=self.params.index, name="std_error")

    @property
    def tvalues(self) -> pd.Series:
        return (self.params / self.std_errors).rename("t")

    @property
    def df_resid(self) -> pd.Series:
        """Degrees of freedom of each term's reference t distribution (inf for normal)."""
        inf = self.inference
        if inf.df_by_term is not None:
            return inf.df_by_term.reindex(self.params.index).astype(float)
        df = np.inf if inf.df is None else float(inf.df)
        return pd.Series(df, index=self.params.index)

    @property
    def pvalues(self) -> pd.Series:
        if self.inference.pvalues is not None:
            return self.inference.pvalues.reindex(self.params.index).rename("p")
        t = self.tvalues.to_numpy()
        df = self.df_resid.to_numpy()
        return pd.Series(2 * stats.t.sf(np.abs(t), df), index=self.params.index, name="p")

    def pvalue_one_sided(self, term: str, sign: str) -> float:
        """p-value of H0: coefficient = 0 against the alternative ``sign`` (``">"`` or ``"<"``).

        Bootstraps give symmetric two-sided p-values; the one-sided value is then half the
        two-sided one when the estimate has the expected sign and one minus half otherwise.
        """
        if sign not in (">", "<"):
            raise SpecificationError(f"sign must be '>' or '<', not {sign!r}.")
        self._check_term(term)
        est = float(self.params[term])
        if self.inference.pvalues is not None:
            p2 = float(self.inference.pvalues[term])
            right = est > 0 if sign == ">" else est < 0
            return p2 / 2 if right else 1 - p2 / 2
        t = float(self.tvalues[term])
        df = float(self.df_resid[term])
        return float(stats.t.sf(t, df) if sign == ">" else stats.t.cdf(t, df))

    @property
    def n_clusters(self) -> int | None:
        return self.inference.n_clusters

    @property
    def cluster_sizes(self) -> tuple[int, float, int] | None:
        return self.inference.cluster_sizes

    def conf_int(self, level: float = 0.95) -> pd.DataFrame:
        """Confidence intervals; bootstraps give test-inversion intervals at their own level."""
        level = check_level(level)
        inf = self.inference
        if inf.ci is not None and abs(inf.spec.level - level) < 1e-12:
            return inf.ci.reindex(self.params.index)
        q = stats.t.ppf(0.5 + level / 2, self.df_resid.to_numpy())
        se = self.std_errors.to_numpy()
        est = self.params.to_numpy()
        return pd.DataFrame({"lower": est - q * se, "upper": est + q * se}, index=self.params.index)

    def to_frame(self, level: float = 0.95) -> pd.DataFrame:
        """Tidy table: one row per term."""
        ci = self.conf_int(level)
        out = pd.DataFrame(
            {
                "estimate": self.params,
                "std_error": self.std_errors,
                "statistic": self.tvalues,
                "p_value": self.pvalues,
                "ci_low": ci["lower"],
                "ci_high": ci["upper"],
            }
        )
        out.index.name = "term"
        return out

    def with_inference(self, inference: str | Mapping[str, Any] | InferenceSpec) -> "EstimationResult":
        """A new result with another covariance or bootstrap; this one is unchanged."""
        if self.model is None:
            raise SpecificationError("this result keeps no fitted model; re-estimate with inference=...")
        return replace(self, inference=self.model.inference(parse_inference(inference)))

    def _check_term(self, term: str) -> None:
        if term not in self.params.index:
            raise SpecificationError(
                f"term {term!r} is not in this model; its terms are {list(self.params.index)}."
            )

    def __str__(self) -> str:  # a compact summary; nothing is printed by the library itself
        head = (
            f"{self.spec.estimator} ({self.spec.method}) of {self.spec.dependent}: "
            f"{self.nobs} obs, {self.n_firms} firms"
        )
        if self.n_clusters is not None:
            head += f", {self.n_clusters} clusters"
        return f"{head}\ninference: {self.inference.label}\n{self.to_frame().round(4).to_string()}"


def exclusion_table(counts: Mapping[str, int]) -> pd.DataFrame:
    """Build the ``exclusions`` table from {reason: rows}, keeping reasons with zero rows out."""
    rows = [(reason, int(n)) for reason, n in counts.items() if int(n) > 0]
    return pd.DataFrame(rows, columns=["reason", "n_rows"])
