r"""Design-based (Taylor linearisation) covariances for stratified cluster samples.

``inference={"kind": "survey", "strata": "stratum", "cluster": "psu"}`` gives the covariance R's
``survey::svyglm`` reports for ``svydesign(ids = ~psu, strata = ~stratum, weights = ~w,
nest = TRUE)``: the first-stage, with-replacement approximation (no finite-population
correction).  With :math:`z_{hi}` the sum of the weighted scores over primary sampling unit
(PSU) i of stratum h, :math:`n_h` the PSUs of stratum h and :math:`B` the bread (the inverse of
:math:`X'WX` for least squares, the inverse weighted information for likelihood models),

.. math::

    V = B\Bigl[\sum_h \frac{n_h}{n_h - 1}\sum_{i=1}^{n_h}(z_{hi} - \bar z_h)(z_{hi} - \bar z_h)'\Bigr]B,

with t reference distribution on :math:`\sum_h n_h - H` degrees of freedom (the design degrees of
freedom of Stata's ``svy`` and of ``survey::degf``).  PSUs are numbered within strata (R's
``nest = TRUE``): a PSU label that occurs in two strata is two PSUs.  A stratum with one PSU
has no within-stratum variance.  Risk sets and other subsamples of a survey leave many such
strata, so by default (``lonely_psu="adjust"``) its PSU total is centred at the grand mean, zero
for scores at the estimate (R's ``options(survey.lonely.psu = "adjust")``), contributing
:math:`z z'`; ``lonely_psu="fail"`` refuses it (R's default).  The design is that of the
estimation sample: PSUs without a row in it are not counted (no domain estimation in the sense
of Stata's ``svy, subpop()``).

Defaults: the PSU is ``cluster`` of the spec, else ``firm_id`` (Enterprise Surveys sample
establishments: the establishment is the PSU); the strata are ``strata`` of the spec, else the
column ``stratum`` when the estimation sample kept it, else one stratum.  Likelihood designs
use their own bread: the observed information (Stata's convention for ``svy: cloglog``), where
``svyglm`` uses the expected information of its IRLS fit; the two coincide for the logit link
and the meat is the same (the tests compare both).
"""

from __future__ import annotations

import numpy as np

from gvcpanel.errors import SpecificationError
from gvcpanel.inference.clusters import cluster_size_summary, intersection_codes, sum_by_group
from gvcpanel.inference.designs import LikelihoodDesign, LinearDesign
from gvcpanel.inference.spec import Inference, InferenceSpec

__all__ = ["design_meat", "linear_survey", "likelihood_survey"]

DEFAULT_PSU = "firm_id"
DEFAULT_STRATA = "stratum"


def design_meat(scores: np.ndarray, strata: np.ndarray, psu: np.ndarray,
                lonely: str = "fail") -> tuple[np.ndarray, int, int]:
    """Between-PSU, within-stratum variance of the PSU score totals.

    Parameters
    ----------
    scores : ndarray
        Per-row weighted scores (n x k).
    strata, psu : ndarray
        Integer codes per row; PSUs are taken within strata.
    lonely : {"fail", "adjust"}
        Strata with a single PSU: raise ``ValueError`` (their codes in ``args[0]``), or centre
        their total at zero (the grand mean of scores at the estimate).

    Returns
    -------
    meat : ndarray (k x k)
    n_psu, n_strata : int
    """
    unit = intersection_codes(strata, psu)
    totals = sum_by_group(scores, unit)
    stratum_of_unit = np.zeros(totals.shape[0], dtype=np.int64)
    stratum_of_unit[unit] = strata
    per_stratum = np.bincount(stratum_of_unit)
    single = per_stratum == 1
    if single.any() and lonely == "fail":
        raise ValueError(np.flatnonzero(single))
    means = sum_by_group(totals, stratum_of_unit) / per_stratum[:, None]
    means[single] = 0.0
    centred = totals - means[stratum_of_unit]
    factor = np.where(single, 1.0, per_stratum / np.maximum(per_stratum - 1.0, 1.0))[stratum_of_unit]
    meat = (centred * factor[:, None]).T @ centred
    return meat, int(totals.shape[0]), int(per_stratum.size)


def _codes(design, spec: InferenceSpec) -> tuple[str, np.ndarray, str | None, np.ndarray]:
    if spec.cluster is not None and len(spec.cluster) != 1:
        raise SpecificationError(
            f"inference='survey' takes one primary-sampling-unit variable as cluster=, found {spec.cluster}.")
    psu = spec.cluster[0] if spec.cluster is not None else DEFAULT_PSU
    strata = spec.strata if spec.strata is not None else (
        DEFAULT_STRATA if DEFAULT_STRATA in design.groups else None)
    for name, what in ((psu, "primary sampling unit (cluster=)"), (strata, "strata (strata=)")):
        if name is not None and name not in design.groups:
            raise SpecificationError(
                f"inference='survey': the {what} {name!r} is not kept by the estimation sample "
                f"(it keeps {sorted(design.groups)}); name it in the estimator's inference= so "
                "that it is kept, e.g. inference={'kind': 'survey', 'strata': 'stratum', "
                "'cluster': 'firm_id'}.")
    psu_codes = np.asarray(design.groups[psu])
    strata_codes = (np.zeros_like(psu_codes) if strata is None else np.asarray(design.groups[strata]))
    return psu, psu_codes, strata, strata_codes


def _survey_inference(design, spec: InferenceSpec, scores: np.ndarray, bread: np.ndarray) -> Inference:
    import pandas as pd

    psu, psu_codes, strata, strata_codes = _codes(design, spec)
    try:
        meat, n_psu, n_strata = design_meat(scores, strata_codes, psu_codes, spec.lonely_psu)
    except ValueError as exc:
        labels = design.group_labels.get(strata) if strata is not None else None
        lonely = [labels[i] if labels is not None else i for i in exc.args[0][:5]]
        raise SpecificationError(
            f"inference='survey': stratum {', '.join(map(str, lonely))} of {strata!r} has a single "
            f"primary sampling unit ({psu!r}) in the estimation sample, so its variance cannot be "
            "estimated (lonely_psu='fail'). Merge it with a neighbouring stratum, drop strata= (one "
            "stratum), or centre it at the grand mean with lonely_psu='adjust' (the default).") from None
    df = n_psu - n_strata
    if df < 1:
        raise SpecificationError(
            f"inference='survey' has {n_psu} primary sampling units in {n_strata} strata: no design "
            "degrees of freedom are left (PSUs minus strata); use fewer strata.")
    cov = bread @ meat @ bread
    names = list(design.names)
    how = f"strata {strata}" if strata is not None else "no strata"
    unit = intersection_codes(strata_codes, psu_codes)
    stratum_of_unit = np.zeros(int(unit.max()) + 1, dtype=np.int64)
    stratum_of_unit[unit] = strata_codes
    n_lonely = int(np.sum(np.bincount(stratum_of_unit) == 1))
    if n_lonely:
        how += f", {n_lonely} single-PSU strata centred at the grand mean"
    weighted = "weighted, " if getattr(design, "weights", None) is not None else ""
    return Inference(
        spec,
        f"design-based (linearisation; {weighted}PSU {psu}, {how}), t({df})",
        pd.DataFrame(cov, index=names, columns=names),
        df,
        n_clusters=n_psu,
        cluster_sizes=cluster_size_summary(intersection_codes(strata_codes, psu_codes)),
        details={"n_psu": n_psu, "n_strata": n_strata, "psu": psu, "strata": strata,
                 "lonely_strata": n_lonely},
    )


def linear_survey(design: LinearDesign, spec: InferenceSpec) -> Inference:
    """Design-based covariance of a (weighted) least-squares fit (module Notes)."""
    X, u = design.X, design.resid
    bread = np.linalg.inv(X.T @ X)
    return _survey_inference(design, spec, X * u[:, None], bread)


def likelihood_survey(design: LikelihoodDesign, spec: InferenceSpec) -> Inference:
    """Design-based covariance of a (weighted) likelihood fit (module Notes)."""
    bread = np.linalg.inv(design.information)
    return _survey_inference(design, spec, design.scores, bread)
