"""What the user asks for with ``inference=``, and what the inference layer gives back.

Every estimator accepts ``inference=`` as a string (``"cluster"``), a mapping
(``{"kind": "cluster", "preset": "stata"}``) or an :class:`InferenceSpec`; all three are turned
into an :class:`InferenceSpec` by :func:`parse_inference`.  The fitted model then produces an
:class:`Inference`: covariance, degrees of freedom and, for the bootstraps, p-values and intervals
that replace the analytic ones.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any

import pandas as pd

from gvcpanel.errors import SpecificationError

KINDS = (
    "unadjusted",  # homoskedastic, the textbook formula
    "robust",  # heteroskedasticity-robust (HC1)
    "cluster",  # CRV1 with a small-sample preset
    "cr2",  # Bell-McCaffrey bias-reduced CRV with Satterthwaite degrees of freedom
    "cr3",  # jackknife CRV
    "twoway",  # Cameron-Gelbach-Miller two-way clustering
    "driscoll_kraay",  # cross-section and serial correlation robust (time-series HAC of sums)
    "wild",  # wild cluster bootstrap
    "score",  # score (Kline-Santos) wild bootstrap for likelihood models
)
PRESETS = ("stata", "fixest", "linearmodels")


@dataclass(frozen=True)
class InferenceSpec:
    """A covariance or bootstrap choice.

    Parameters
    ----------
    kind : str
        One of :data:`KINDS`.
    preset : str
        Small-sample convention for ``"cluster"``: ``"stata"`` (default), ``"fixest"`` or
        ``"linearmodels"``.
    cluster : tuple of str, optional
        Clustering variables; ``None`` keeps the estimator's ``cluster=`` argument.
    draws : int
        Bootstrap draws (``"wild"``, ``"score"``).
    weights : str, optional
        Bootstrap weights, ``"rademacher"`` or ``"webb"``; ``None`` picks Webb below 12 clusters.
    bootstrap : str
        ``"restricted"`` (null imposed, the default) or ``"unrestricted"``.
    seed : int
        Seed of the bootstrap draws.
    lags : int, optional
        Bandwidth of Driscoll-Kraay; ``None`` uses floor(4 (T/100)^(2/9)).
    level : float
        Confidence level of bootstrap intervals.
    """

    kind: str = "cluster"
    preset: str = "stata"
    cluster: tuple[str, ...] | None = None
    draws: int = 9999
    weights: str | None = None
    bootstrap: str = "restricted"
    seed: int = 12345
    lags: int | None = None
    level: float = 0.95

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise SpecificationError(
                f"inference kind {self.kind!r} is not known; choose one of {', '.join(KINDS)}."
            )
        if self.preset not in PRESETS:
            raise SpecificationError(
                f"inference preset {self.preset!r} is not known; choose one of {', '.join(PRESETS)}."
            )
        if self.bootstrap not in ("restricted", "unrestricted"):
            raise SpecificationError(
                f"bootstrap={self.bootstrap!r}; use 'restricted' (null imposed) or 'unrestricted'."
            )
        if self.weights not in (None, "rademacher", "webb"):
            raise SpecificationError(f"weights={self.weights!r}; use 'rademacher' or 'webb'.")
        if isinstance(self.cluster, str):
            object.__setattr__(self, "cluster", (self.cluster,))


def parse_inference(value: str | Mapping[str, Any] | InferenceSpec | None) -> InferenceSpec:
    """Turn the user's ``inference=`` argument into an :class:`InferenceSpec`."""
    if value is None:
        return InferenceSpec()
    if isinstance(value, InferenceSpec):
        return value
    if isinstance(value, str):
        if value in PRESETS:  # inference="fixest" reads naturally as CRV1 with that preset
            return InferenceSpec(kind="cluster", preset=value)
        return InferenceSpec(kind=value)
    if isinstance(value, Mapping):
        known = {f.name for f in fields(InferenceSpec)}
        unknown = set(value) - known
        if unknown:
            raise SpecificationError(
                f"inference options {sorted(unknown)} are not known; valid: {sorted(known)}."
            )
        return InferenceSpec(**dict(value))
    raise SpecificationError(
        f"inference must be a string, a mapping or an InferenceSpec, not {type(value).__name__}."
    )


@dataclass(frozen=True)
class Inference:
    """The result of an inference choice for one fitted model.

    ``pvalues`` and ``ci`` are set by bootstraps; analytic choices leave them ``None`` and the
    result derives both from ``cov`` and ``df`` (t with ``df`` degrees of freedom, normal when
    ``df`` is None; ``df_by_term`` overrides ``df`` per coefficient, as CR2's Satterthwaite does).
    """

    spec: InferenceSpec
    label: str
    cov: pd.DataFrame
    df: float | None
    df_by_term: pd.Series | None = None
    pvalues: pd.Series | None = None
    ci: pd.DataFrame | None = None
    n_clusters: int | None = None
    cluster_sizes: tuple[int, float, int] | None = None  # smallest, median, largest
    details: Mapping[str, Any] = field(default_factory=dict)
