r"""Inference from influence functions: cluster covariance, multiplier bootstrap, sup-t bands.

Every event-study estimator is asymptotically linear: with :math:`\psi_i` the influence of unit
:math:`i` (scaled so that :math:`\hat\theta - \theta \approx \sum_i \psi_i`), the cluster sums
:math:`s_c = \sum_{i \in c} \psi_i` carry all that inference needs.

Notes
-----
Covariance: :math:`\hat V = a \sum_c s_c s_c'` with the small-sample factor :math:`a`.

Multiplier (wild) bootstrap: :math:`\hat\theta^*_b - \hat\theta = \sqrt{a} \sum_c w_{cb} s_c`
with independent cluster weights :math:`w_{cb}` of mean 0 and variance 1 (Rademacher or Webb,
from :func:`gvcpanel.inference.bootstrap.draw_weights`).  For a least-squares estimator :math:`s_c = (\tilde X'\tilde X)^{-1} \tilde X_c'\hat u_c`,
so this is exactly the unrestricted wild cluster bootstrap of the coefficients (re-estimating on
:math:`y^* = \tilde X\hat\beta + w \hat u` changes nothing else, because :math:`\tilde X` is
already residualized on the fixed effects).

Uniform (sup-t) band at level :math:`1-\alpha`: :math:`\hat\theta_k \pm c_{1-\alpha} \hat\sigma_k`
with :math:`c_{1-\alpha}` the :math:`1-\alpha` quantile over draws of
:math:`\max_k |\hat\theta^*_{kb} - \hat\theta_k| / \hat\sigma_k` (Montiel Olea and
Plagborg-Moller 2019; Callaway and Sant'Anna 2021, section 4.1); bootstrap p-values and
intervals are symmetric bootstrap-t ones (:func:`bootstrap_t`).
"""

from __future__ import annotations

import numpy as np

from gvcpanel.errors import SpecificationError
from gvcpanel.inference.bootstrap import WEBB_BELOW, draw_weights


def cluster_sums(psi: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """Sum the rows of ``psi`` (n x k) within clusters ``codes`` (0..G-1): G x k."""
    n_groups = int(codes.max()) + 1 if codes.size else 0
    out = np.empty((n_groups, psi.shape[1]))
    for j in range(psi.shape[1]):
        out[:, j] = np.bincount(codes, psi[:, j], n_groups)
    return out


def cluster_cov(sums: np.ndarray, factor: float = 1.0) -> np.ndarray:
    """:math:`a \\sum_c s_c s_c'` from cluster sums."""
    return factor * (sums.T @ sums)


def multiplier_draws(sums: np.ndarray, factor: float, draws: int, kind: str | None, seed: int) -> np.ndarray:
    """Bootstrap deviations :math:`\\hat\\theta^* - \\hat\\theta` (draws x k).

    ``kind`` None picks Webb weights below 12 clusters (where Rademacher has too few distinct
    draws) and Rademacher otherwise, as the package's wild bootstrap does.
    """
    if draws < 99:
        raise SpecificationError(f"draws={draws}; a bootstrap band needs at least 99 draws (999 or more is usual).")
    kind = kind or ("webb" if sums.shape[0] < WEBB_BELOW else "rademacher")
    weights = draw_weights(sums.shape[0], draws, kind, seed)
    return np.sqrt(factor) * (weights @ sums)


def sup_t_critical(deviations: np.ndarray, se: np.ndarray, level: float) -> float:
    """Quantile ``level`` of the largest studentized deviation over the terms with se > 0."""
    ok = np.isfinite(se) & (se > 0)
    if not ok.any():
        return float("nan")
    t_max = np.max(np.abs(deviations[:, ok]) / se[ok], axis=1)
    return float(np.quantile(t_max, level))


def bootstrap_t(estimates: np.ndarray, se: np.ndarray, deviations: np.ndarray,
                level: float) -> tuple[np.ndarray, np.ndarray]:
    r"""Symmetric bootstrap-t p-values (H0: zero) and intervals at ``level``, term by term.

    :math:`p_k = \#\{b: |\hat\theta^*_{kb} - \hat\theta_k| \ge |\hat\theta_k|\}/B` and
    :math:`\hat\theta_k \pm q_k \hat\sigma_k` with :math:`q_k` the ``level`` quantile of
    :math:`|\hat\theta^*_{kb} - \hat\theta_k| / \hat\sigma_k`.
    """
    with np.errstate(invalid="ignore", divide="ignore"):
        studentized = np.abs(deviations) / se
        t = np.abs(estimates) / se
    pvalues = np.mean(studentized >= t, axis=0)
    q = np.quantile(studentized, level, axis=0)
    return pvalues, np.column_stack([estimates - q * se, estimates + q * se])
