"""What the user asks for with ``inference=``, and what the inference layer gives back.

Every estimator accepts ``inference=`` as a string (``"cluster"``), a mapping
(``{"kind": "cluster", "preset": "stata"}``) or an :class:`InferenceSpec`; all three are turned
into an :class:`InferenceSpec` by :func:`parse_inference`, which checks every option on entry.
The fitted model then produces an :class:`Inference`: covariance, degrees of freedom and, for
the bootstraps, p-values and intervals that replace the analytic ones.

This module is the bottom of the inference layer: it imports nothing else from it (the generic
option checks are in :mod:`gvcpanel.options`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any

import pandas as pd

from gvcpanel.errors import SpecificationError
from gvcpanel.options import (
    check_choice,
    check_cluster,
    check_level,
    is_integer,
)

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
    "survey",  # design-based (linearisation) with strata and primary sampling units
)
PRESETS = ("stata", "fixest", "linearmodels")
WEIGHTS = ("rademacher", "webb")
BOOTSTRAPS = ("restricted", "unrestricted")
#: fewest bootstrap draws accepted; see :class:`InferenceSpec` (``draws``) for why
MIN_DRAWS = 99


def check_draws(draws: Any, name: str = "draws") -> int:
    """Bootstrap draws: an integer of at least :data:`MIN_DRAWS`."""
    if not is_integer(draws) or draws < MIN_DRAWS:
        raise SpecificationError(
            f"{name}={draws!r}: bootstrap draws must be an integer of at least {MIN_DRAWS} (a p-value "
            f"from B draws moves in steps of 1/B; 999 or more is advised, the default is 9999)."
        )
    return int(draws)


def check_seed(seed: Any, name: str = "seed") -> int:
    """A seed for :func:`numpy.random.default_rng`: a non-negative integer."""
    if not is_integer(seed) or seed < 0:
        raise SpecificationError(f"{name}={seed!r}: the seed must be a non-negative integer, e.g. {name}=12345.")
    return int(seed)


@dataclass(frozen=True)
class InferenceSpec:
    """A covariance or bootstrap choice, checked when it is made.

    Parameters
    ----------
    kind : str
        One of :data:`KINDS`.
    preset : str
        Small-sample convention for ``"cluster"``: ``"stata"`` (default), ``"fixest"`` or
        ``"linearmodels"``.
    cluster : str or tuple of str, optional
        Clustering variables; ``None`` keeps the estimator's ``cluster=`` argument.
    draws : int
        Bootstrap draws (``"wild"``, ``"score"``), at least :data:`MIN_DRAWS` (99).  A bootstrap
        p-value is the share of B draws at least as extreme as the data: it moves in steps of
        1/B, so ``draws=1`` can only say 0 or 1 (every term got p = 0) and ``draws=0`` gives
        0/0 (NaN and a zero-width interval).  99 is the smallest B for which
        :math:`\\alpha(B+1)` is an integer at both 0.05 and 0.01, which makes the test exact at
        those levels (Davidson and MacKinnon 2000, *Econometric Reviews* 19(1)); use 999 or more
        for reported p-values.  When the weights have fewer distinct vectors than ``draws``
        (:math:`2^G` Rademacher or :math:`6^G` Webb vectors for G clusters) all of them are
        enumerated instead, so ``draws`` is then an upper bound.
    weights : str, optional
        Bootstrap weights, ``"rademacher"`` or ``"webb"``; ``None`` picks Webb below 12 clusters.
    bootstrap : str
        ``"restricted"`` (null imposed, the default) or ``"unrestricted"``.
    seed : int
        Seed of the bootstrap draws, a non-negative integer.
    lags : int, optional
        Bandwidth of Driscoll-Kraay, a non-negative integer; ``None`` uses floor(4 (T/100)^(2/9)).
    level : float
        Confidence level of bootstrap intervals, strictly between 0 and 1.
    strata : str, optional
        Stratum variable of ``kind="survey"`` (design-based covariance,
        :mod:`gvcpanel.inference.survey`); ``cluster`` is then the primary sampling unit.
    lonely_psu : {"adjust", "fail"}
        ``kind="survey"``: a stratum with one primary sampling unit in the estimation sample is
        centred at the grand mean (``"adjust"``, R's ``survey.lonely.psu = "adjust"``) or refused
        (``"fail"``, R's default).
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
    strata: str | None = None
    lonely_psu: str = "adjust"

    def __post_init__(self) -> None:
        check_choice(self.kind, KINDS, "inference kind")
        check_choice(self.preset, PRESETS, "inference preset")
        check_choice(self.bootstrap, BOOTSTRAPS, "bootstrap")
        check_choice(self.weights, (None, *WEIGHTS), "weights")
        check_choice(self.lonely_psu, ("adjust", "fail"), "lonely_psu")
        object.__setattr__(self, "cluster", check_cluster(self.cluster, "inference cluster"))
        object.__setattr__(self, "draws", check_draws(self.draws))
        object.__setattr__(self, "seed", check_seed(self.seed))
        object.__setattr__(self, "level", check_level(self.level, "inference level"))
        if self.strata is not None:
            (strata,) = check_cluster(self.strata, "strata") if isinstance(self.strata, str) else (None,)
            if strata is None:
                raise SpecificationError(f"strata={self.strata!r}: name the stratum variable as one column name.")
            object.__setattr__(self, "strata", strata)
        if self.lags is not None:
            if not is_integer(self.lags) or self.lags < 0:
                raise SpecificationError(
                    f"lags={self.lags!r}: the Driscoll-Kraay bandwidth must be a non-negative integer "
                    "or None (automatic)."
                )
            object.__setattr__(self, "lags", int(self.lags))


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
        unknown = sorted(map(str, set(value) - known))
        if unknown:
            raise SpecificationError(
                f"inference options {unknown} are not known; valid: {sorted(known)}."
            )
        return InferenceSpec(**dict(value))
    raise SpecificationError(
        f"inference={value!r}: give a string ('cluster', 'cr2', 'wild', ...), a mapping "
        f"({{'kind': 'wild', 'draws': 9999}}) or an InferenceSpec, not {type(value).__name__}."
    )


@dataclass(frozen=True)
class Inference:
    """The result of an inference choice for one fitted model.

    ``pvalues`` and ``ci`` are set by bootstraps; analytic choices leave them ``None`` and the
    result derives both from ``cov`` and ``df`` (t with ``df`` degrees of freedom, normal when
    ``df`` is None; ``df_by_term`` overrides ``df`` per coefficient, as CR2's Satterthwaite does;
    for other contrasts of a CR2 fit see :func:`gvcpanel.inference.dispatch.contrast_df`).
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
