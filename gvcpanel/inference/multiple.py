r"""Family-wise error control across a family of hypotheses: Romano-Wolf stepdown and Holm.

Romano and Wolf (2005, *Econometrica*; 2016, *Statistics & Probability Letters*) use the joint
bootstrap distribution of the test statistics, so they gain power over Holm when the statistics
are correlated (several hypotheses estimated on the same firms).  The bootstrap statistics must
share draws (the same cluster weights for every hypothesis) and be centred under the null, as the
restricted wild bootstrap's are.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from gvcpanel.errors import SpecificationError

#: same tie rule as the bootstrap p-values (:mod:`gvcpanel.inference.resampling`: a draw tied with
#: the statistic counts as exceeding it), so a family of one gives the same p
_TIE = 1e-10


def _oriented(t: np.ndarray, alternative: str | Sequence[str]) -> np.ndarray:
    """Statistics turned so that large values speak against the null (|t|, t or -t)."""
    sides = [alternative] * t.shape[-1] if isinstance(alternative, str) else list(alternative)
    if len(sides) != t.shape[-1]:
        raise SpecificationError(f"alternative has {len(sides)} entries for {t.shape[-1]} hypotheses.")
    out = np.empty_like(t, dtype=float)
    for j, side in enumerate(sides):
        if side == "two-sided":
            out[..., j] = np.abs(t[..., j])
        elif side in (">", "greater"):
            out[..., j] = t[..., j]
        elif side in ("<", "less"):
            out[..., j] = -t[..., j]
        else:
            raise SpecificationError(f"alternative {side!r}; use 'two-sided', '>' or '<'.")
    return out


def romano_wolf(
    t_obs: np.ndarray, t_boot: np.ndarray, alternative: str | Sequence[str] = "two-sided"
) -> np.ndarray:
    r"""Romano-Wolf stepdown adjusted p-values.

    Parameters
    ----------
    t_obs : ndarray (m)
        Observed statistics.
    t_boot : ndarray (B x m)
        Bootstrap statistics under the null, sharing draws across columns.
    alternative : str or sequence of str
        ``"two-sided"``, ``">"`` or ``"<"``, for all hypotheses or one per hypothesis.

    Returns
    -------
    ndarray (m)
        Adjusted p-values in the order of ``t_obs``.

    Notes
    -----
    Orient the statistics (:math:`|t|`, :math:`t` or :math:`-t`) and order them so that
    :math:`t_{(1)} \ge \dots \ge t_{(m)}`.  At step s,

    .. math:: p^{raw}_{(s)} = \frac1B \sum_b 1\Bigl[\max_{j \ge s} t^*_{b,(j)} \ge t_{(s)}\Bigr],
              \qquad p^{adj}_{(s)} = \max(p^{adj}_{(s-1)}, p^{raw}_{(s)}),

    the maximum enforcing monotonicity (Romano and Wolf 2016, algorithm 4.1).
    """
    t_obs = np.asarray(t_obs, dtype=float)
    t_boot = np.asarray(t_boot, dtype=float)
    if t_boot.ndim != 2 or t_boot.shape[1] != t_obs.shape[0]:
        raise SpecificationError(
            f"t_boot must be draws x hypotheses ({t_obs.shape[0]} columns), found shape {t_boot.shape}."
        )
    obs = _oriented(t_obs, alternative)
    boot = _oriented(t_boot, alternative)
    order = np.argsort(-obs, kind="stable")
    # running max over the hypotheses still in the set: from the least significant upwards
    tail_max = np.maximum.accumulate(boot[:, order[::-1]], axis=1)[:, ::-1]
    adjusted = np.empty(obs.shape[0])
    previous = 0.0
    for step, j in enumerate(order):
        raw = float(np.mean(tail_max[:, step] >= obs[j] - _TIE * abs(obs[j])))
        previous = max(previous, raw)
        adjusted[j] = previous
    return adjusted


def holm(pvalues: np.ndarray) -> np.ndarray:
    r"""Holm (1979) step-down adjusted p-values.

    Notes
    -----
    With :math:`p_{(1)} \le \dots \le p_{(m)}`,
    :math:`p^{adj}_{(i)} = \max_{j \le i} \min(1, (m - j + 1) p_{(j)})`.
    """
    p = np.asarray(pvalues, dtype=float)
    m = p.shape[0]
    order = np.argsort(p, kind="stable")
    stepped = np.minimum(1.0, (m - np.arange(m)) * p[order])
    adjusted = np.empty(m)
    adjusted[order] = np.maximum.accumulate(stepped)
    return adjusted
