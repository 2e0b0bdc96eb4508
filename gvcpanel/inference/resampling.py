r"""What the wild and score bootstraps share: cluster weights, restrictions and p-values.

Weights.  One weight per cluster and draw: Rademacher (:math:`\pm 1`) or Webb's six points
(:math:`\pm\sqrt{1/2}, \pm 1, \pm\sqrt{3/2}`).  With G clusters there are only :math:`2^G`
Rademacher and :math:`6^G` Webb vectors; when that is not more than the draws asked for, every
vector is used once (enumeration), which makes the bootstrap distribution exact.

p-values and ties.  A weight vector proportional to :math:`(1, \dots, 1)` reproduces the data:
the restricted bootstrap sample is then the original sample (or its mirror image), and its
statistic equals :math:`\pm t` exactly.  Such draws are *as extreme as* the data and are counted
as exceeding it, as an exact randomization test counts the observed arrangement (Lehmann and
Romano, *Testing Statistical Hypotheses*, chapter on permutation and randomization tests).  The symmetric p-value is therefore

.. math:: p = \frac1B \sum_b 1\bigl[|t^*_b| \ge |t|\bigr]

(ties within a relative 1e-10), which is never below the share of such draws: with all
:math:`2^G` Rademacher vectors it is at least :math:`2^{1-G}` (0.5 with two clusters, where
counting only strict exceedances reported p = 0).  With many clusters these draws are too rare to
matter (:math:`2/2^{30}` of the draws with 30 clusters), so the rule then agrees with ``boottest``
and ``wildboottest``, which count strict exceedances.  The equal-tailed p-value is
:math:`2\min(P(t^* \le t), P(t^* \ge t))`, capped at 1.
"""

from __future__ import annotations

from collections.abc import Mapping
from itertools import product

import numpy as np
import pandas as pd

from gvcpanel.errors import SpecificationError
from gvcpanel.inference.clusters import cluster_codes, n_groups
from gvcpanel.inference.spec import InferenceSpec

WEBB_BELOW = 12  # Webb's six-point weights by default with fewer clusters (Webb 2023)
WEBB_POINTS = np.sqrt(np.array([3.0, 2.0, 1.0, 1.0, 2.0, 3.0]) / 2) * np.array([-1, -1, -1, 1, 1, 1])
SUPPORT = {"rademacher": 2, "webb": 6}
#: relative margin under which |t*| and |t| count as tied
TIE = 1e-10


def draw_weights(n_clusters: int, draws: int, kind: str = "rademacher", seed: int = 12345) -> np.ndarray:
    """Bootstrap weights, one row per draw and one column per cluster (B x G).

    Parameters
    ----------
    n_clusters : int
    draws : int
    kind : {"rademacher", "webb"}
        Rademacher: +-1 with probability 1/2.  Webb: +-sqrt(1/2), +-1, +-sqrt(3/2), each with
        probability 1/6 (mean 0, variance 1, six points, so useful with few clusters).
    seed : int
        Seed of :func:`numpy.random.default_rng`.
    """
    rng = np.random.default_rng(seed)
    if kind == "rademacher":
        return rng.integers(0, 2, size=(draws, n_clusters)).astype(float) * 2 - 1
    if kind == "webb":
        return WEBB_POINTS[rng.integers(0, 6, size=(draws, n_clusters))]
    raise SpecificationError(f"weights kind {kind!r} is not known; use 'rademacher' or 'webb'.")


def enumerate_rademacher(n_clusters: int) -> np.ndarray:
    """All 2^G sign vectors (2^G x G), the all-ones vector first."""
    return np.array(list(product([1.0, -1.0], repeat=n_clusters)))


def enumerate_webb(n_clusters: int) -> np.ndarray:
    """All 6^G Webb weight vectors (6^G x G)."""
    return np.array(list(product(WEBB_POINTS, repeat=n_clusters)))


def choose_weights(n_clusters: int, spec: InferenceSpec) -> tuple[np.ndarray, str, bool]:
    """Weights for a spec: Webb below 12 clusters unless asked otherwise; every vector is
    enumerated when there are not more of them (2^G or 6^G) than the draws asked for.

    Returns ``(weights, kind, enumerated)``.
    """
    kind = spec.weights or ("webb" if n_clusters < WEBB_BELOW else "rademacher")
    if SUPPORT[kind] ** n_clusters <= spec.draws:
        whole = enumerate_rademacher(n_clusters) if kind == "rademacher" else enumerate_webb(n_clusters)
        return whole, kind, True
    return draw_weights(n_clusters, spec.draws, kind, spec.seed), kind, False


def align_weights(weights: np.ndarray | pd.DataFrame, design: object, name: str, groups: int) -> np.ndarray:
    """User weights as B x G aligned with the design's cluster codes.

    A DataFrame is matched by cluster label (columns), so that one set of draws can be shared by
    models estimated on different samples (Romano-Wolf across a family of hypotheses).
    """
    if isinstance(weights, pd.DataFrame):
        labels = getattr(design, "group_labels", {}).get(name)
        if labels is None:
            raise SpecificationError(
                f"weights given by cluster label need design.group_labels[{name!r}], which is missing."
            )
        missing = [lab for lab in labels if lab not in weights.columns]
        if missing:
            raise SpecificationError(f"bootstrap weights lack clusters {missing[:5]} of {name!r}.")
        return weights.loc[:, list(labels)].to_numpy(float)
    arr = np.asarray(weights, dtype=float)
    if arr.ndim != 2 or arr.shape[1] != groups:
        raise SpecificationError(
            f"bootstrap weights must be draws x clusters ({groups} columns), found shape {arr.shape}."
        )
    return arr


def cluster_weights(
    design: object, spec: InferenceSpec, weights: np.ndarray | pd.DataFrame | None
) -> tuple[str, np.ndarray, np.ndarray, str, bool]:
    """Clustering variable, its codes and the B x G weights of a bootstrap test.

    Returns ``(name, codes, weights, kind, enumerated)``: the spec's own draws when ``weights``
    is None, otherwise the caller's (matched by cluster label for a DataFrame), kind ``"user"``.
    """
    name, codes = cluster_codes(design, spec)
    groups = n_groups(codes)
    if weights is None:
        return (name, codes, *choose_weights(groups, spec))
    return name, codes, align_weights(weights, design, name, groups), "user", False


def restriction_vector(design: object, R: np.ndarray | Mapping[str, float] | str) -> np.ndarray:
    """Turn a term name, {term: weight} or a length-k (or 1 x k) array into the vector a."""
    names = tuple(design.names)  # type: ignore[attr-defined]
    k = len(names)
    if isinstance(R, str):
        R = {R: 1.0}
    if isinstance(R, Mapping):
        unknown = [t for t in R if t not in names]
        if unknown:
            raise SpecificationError(f"terms {unknown} are not in the model; its terms are {list(names)}.")
        a = np.zeros(k)
        for term, w in R.items():
            a[names.index(term)] = float(w)
        return a
    a = np.asarray(R, dtype=float)
    if a.ndim == 2 and a.shape[0] == 1:
        a = a[0]
    if a.shape != (k,):
        raise SpecificationError(
            f"R must describe one restriction on the {k} coefficients (shape ({k},) or (1, {k})), "
            f"found shape {np.shape(R)}; joint tests of several restrictions are not implemented."
        )
    if not np.any(a):
        raise SpecificationError("R is all zeros: it restricts nothing.")
    return a


def bootstrap_pvalues(t: float, t_boot: np.ndarray) -> tuple[float, float]:
    """Symmetric and equal-tailed p-values of ``t`` against ``t_boot`` (ties count; module notes)."""
    margin = TIE * abs(t)
    symmetric = float(np.mean(np.abs(t_boot) >= abs(t) - margin))
    lower = np.mean(t_boot <= t + margin)
    upper = np.mean(t_boot >= t - margin)
    return symmetric, float(min(1.0, 2 * min(lower, upper)))


def data_draw_share(weights: np.ndarray) -> float:
    """Share of weight vectors proportional to (1, ..., 1): draws that reproduce the data.

    Under the restricted bootstrap their statistic is exactly :math:`\\pm t`, so every p-value
    is at least this share (module notes), whatever the null value tested.
    """
    return float(np.mean(np.all(weights == weights[:, :1], axis=1))) if weights.size else 0.0


def smallest_pvalue_note(weights: np.ndarray, kind: str, enumerated: bool, groups: int, restricted: bool = True) -> str:
    """A sentence on the smallest p-value these weights can give, for the few-clusters warning.

    Only the restricted bootstrap has the floor of :func:`data_draw_share` (the unrestricted
    one's statistic is 0 at those draws).
    """
    floor = data_draw_share(weights)
    if enumerated:
        text = f"With {groups} clusters there are only {weights.shape[0]} distinct {kind} weight vectors (all used)"
        if restricted:
            text += f", so the smallest p-value it can give is {floor:.3g}"
        return text + "."
    if restricted and floor > 0:
        return f"{floor:.3g} of the draws reproduce the data, so no p-value falls below that share."
    return ""
