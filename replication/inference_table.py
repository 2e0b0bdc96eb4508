"""Table 6: every hypothesis under CRV1, CR2, the cluster bootstrap and with family-wise adjustment."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from gvcpanel.errors import SpecificationError
from gvcpanel.inference import multiple
from gvcpanel.inference.family import family_bootstrap
from gvcpanel.inference.spec import InferenceSpec
from gvcpanel.report.tables import Table, fmt, fmt_p


def inference_frame(report: Any, draws: int = 9999, seed: int = 20240) -> tuple[pd.DataFrame, dict[str, Any]]:
    """One-sided p-values of every hypothesis under each inference choice."""
    # the hypotheses whose model was estimated (the others are in table 5 as not estimable)
    hyps = tuple(h for h in report.hypotheses if h.model_label in report.results)
    results = [report.result_for(h) for h in hyps]
    terms = [h.term for h in hyps]
    signs = [h.sign for h in hyps]
    crv1 = np.array([r.pvalue_one_sided(t, s) for r, t, s in zip(results, terms, signs)])
    cr2 = []
    for res, term, sign in zip(results, terms, signs):
        try:
            cr2.append(res.with_inference("cr2").pvalue_one_sided(term, sign))
        except SpecificationError:  # CR2 is defined for least squares, not for the hazards
            cr2.append(np.nan)
    fam = family_bootstrap([r.model for r in results], terms, signs, InferenceSpec(kind="wild", draws=draws, seed=seed))
    rw = multiple.romano_wolf(fam.t_obs, fam.t_boot, signs)
    frame = pd.DataFrame({
        "id": [h.id for h in hyps],
        "specification": [h.specification for h in hyps],
        "term": terms,
        "estimate": [float(r.params[t]) for r, t in zip(results, terms)],
        "p_crv1": crv1,
        "p_cr2": cr2,
        "bootstrap": fam.methods,
        "p_bootstrap": fam.p_values,
        "p_holm": multiple.holm(crv1),
        "p_romano_wolf": rw,
    })
    return frame, dict(fam.details)


def table6_inference(panel: Any, report: Any, log: Any) -> Table:
    frame, details = inference_frame(report)
    log.line(f"table 6 bootstrap: {details}")
    body = pd.DataFrame({
        "specification": frame["specification"],
        "term": frame["term"],
        "estimate": [fmt(v) for v in frame["estimate"]],
        "CRV1": [fmt_p(v) for v in frame["p_crv1"]],
        "CR2": [fmt_p(v) if np.isfinite(v) else "n/a" for v in frame["p_cr2"]],
        "bootstrap": [fmt_p(v) for v in frame["p_bootstrap"]],
        "bootstrap type": frame["bootstrap"],
        "Holm (CRV1)": [fmt_p(v) for v in frame["p_holm"]],
        "Romano-Wolf": [fmt_p(v) for v in frame["p_romano_wolf"]],
    })
    body.index = pd.Index(frame["id"], name="")
    weights = details["weights"] + (" (all sign vectors)" if details["enumerated"] else "")
    notes = (f"One-sided p-values against the expected sign, clusters = cluster_id ({details['clusters']}). "
             "CRV1: Stata small-sample factor, t(G-1). CR2: Bell-McCaffrey with Satterthwaite degrees of freedom "
             "(least squares only). Bootstrap: restricted wild cluster bootstrap (least squares) or score bootstrap "
             f"(hazards), {details['draws']:,} draws of {weights} weights shared by all tests, seed {details['seed']}. "
             "Romano-Wolf: step-down adjustment over the {len(frame)} tests from the same draws.")
    return Table(body=body, title="Table 6. Inference with few clusters: every hypothesis under four choices", notes=notes)
