r"""Probability (sampling) weights and per-row offsets for the estimators.

Every estimator takes ``weights="column"``: probability weights, the number of population units
a row stands for (Stata's ``[pweight=...]``, R's ``lm(weights=)``/``glm(weights=)`` read as
sampling weights).  The conventions, written down once:

- estimates: weighted least squares :math:`\min \sum_i w_i u_i^2`, weighted log-likelihood
  :math:`\max \sum_i w_i \ell_i` (fixed effects are absorbed with weighted means);
- cluster-robust covariance (CRV1): :math:`c\,M\bigl(\sum_g s_g s_g'\bigr)M` with
  :math:`s_g = \sum_{i\in g} w_i x_i u_i` (likelihood: :math:`\sum_{i \in g} w_i
  \partial\ell_i/\partial b`), :math:`M = (X'WX)^{-1}` (the inverse weighted information), and the
  same small-sample factor c as without weights, N being the number of rows (not the sum of the
  weights): ``sandwich::vcovCL(type = "HC1")`` and Stata's ``vce(cluster)`` with pweights;
- CR2: clubSandwich's working model for weighted ``lm`` fits (weights are not inverse variances,
  :mod:`gvcpanel.inference.biasreduced`), with every absorbed effect carried as dummies;
- design-based covariance with strata and primary sampling units:
  ``inference={"kind": "survey", ...}`` as ``survey::svyglm`` (:mod:`gvcpanel.inference.survey`);
- wild and score bootstraps: the weighted scores and residuals are resampled by cluster, and the
  restricted refits are weighted;
- the scale of the weights does not matter (multiplying every weight by a constant changes
  neither estimates nor covariances).

Rows whose weight is missing are left out and counted; weights must be finite and not negative,
and rows with weight 0 are left out and counted too (they carry no information, as in R).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from gvcpanel.errors import SchemaError, SpecificationError

__all__ = ["row_weights", "row_offset", "inference_columns"]


def row_weights(frame: pd.DataFrame, weights: str | None,
                rows: np.ndarray | None) -> tuple[np.ndarray | None, dict[str, int], np.ndarray | None]:
    """The weight of every row of ``frame``, the rows it leaves out, and the rows left.

    Returns
    -------
    weights : ndarray or None
        Per row of ``frame`` (NaN where missing); None without ``weights``.
    exclusions : dict
        ``{"missing weight <col>": n, "weight 0 (<col>)": n}`` among ``rows``.
    rows : ndarray of bool or None
        ``rows`` (all rows when None) without those.
    """
    if weights is None:
        return None, {}, rows
    if not isinstance(weights, str):
        raise SpecificationError(f"weights={weights!r}: name the weight column, e.g. weights='weight'.")
    if weights not in frame.columns:
        raise SpecificationError(
            f"weights={weights!r} is not a column of the data; the columns are "
            f"{', '.join(map(str, list(frame.columns)[:12]))}{', ...' if frame.shape[1] > 12 else ''}.")
    try:
        values = pd.to_numeric(frame[weights], errors="raise").to_numpy(dtype=float, na_value=np.nan)
    except (TypeError, ValueError) as exc:
        raise SchemaError(f"weights={weights!r}: the column is not numeric ({frame[weights].dtype}); "
                          "sampling weights are numbers.") from exc
    active = np.ones(len(frame), bool) if rows is None else np.asarray(rows, bool)
    bad = active & (np.isinf(values) | (values < 0))
    if bad.any():
        where = frame.index[bad][:5].tolist()
        raise SchemaError(
            f"weights={weights!r}: {int(bad.sum())} weight(s) are negative or infinite, e.g. at "
            f"(firm_id, year) {where}; probability weights are finite and not negative.")
    missing = active & np.isnan(values)
    zero = active & (values == 0)
    exclusions = {}
    if missing.any():
        exclusions[f"missing weight {weights}"] = int(missing.sum())
    if zero.any():
        exclusions[f"weight 0 ({weights})"] = int(zero.sum())
    return values, exclusions, active & ~missing & ~zero


def row_offset(frame: pd.DataFrame, offset: Any) -> np.ndarray | None:
    """A per-row offset (array, Series aligned on the frame, or column name) as floats."""
    if offset is None:
        return None
    if isinstance(offset, str):
        if offset not in frame.columns:
            raise SpecificationError(f"offset={offset!r} is not a column of the data.")
        offset = frame[offset]
    if isinstance(offset, pd.Series) and not offset.index.equals(frame.index):
        offset = offset.reindex(frame.index)
    values = np.asarray(offset, dtype=float)
    if values.shape != (len(frame),):
        raise SpecificationError(
            f"offset must give one number per row of the data ({len(frame)} rows); found shape {values.shape}.")
    return values


def inference_columns(spec: Any, frame: pd.DataFrame, keep: Sequence[str]) -> list[str]:
    """Columns an inference choice reads that the estimation must keep (besides ``keep``):
    its own clustering variables and, for ``kind="survey"``, the strata (``stratum`` by default
    when the data have it)."""
    names = list(spec.cluster or ())
    if spec.kind == "survey":
        strata = spec.strata if spec.strata is not None else ("stratum" if "stratum" in frame.columns else None)
        if strata is not None:
            names.append(strata)
    return [c for c in dict.fromkeys(names) if c not in keep and c not in frame.index.names]
