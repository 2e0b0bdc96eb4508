"""Estimates on the simulated example panel against the simulation's true values."""

from __future__ import annotations

from typing import Any

import pandas as pd

from gvcpanel.report.tables import Table, fmt

# (hypothesis id, specification) of the model whose estimates are compared, and the prefix of
# the truth keys (TrueParameters.to_frame()["key"]) that belong to it
MODELS = (
    (("H1", "main"), "process", "process hazard"),
    (("H2", "main"), "product", "product hazard"),
    (("H3", "main"), "functional", "functional hazard"),
    (("H1", "companion"), "productivity", "FE labour productivity"),
    (("H2", "companion"), "unit_value", "FE log unit value"),
)


def truth_frame(report: Any, truth: Any) -> pd.DataFrame:
    """One row per (model, term) with estimate, standard error, truth and interval coverage."""
    frame = truth.to_frame()
    rows = []
    for (hid, spec), prefix, label in MODELS:
        hyp = next((h for h in report.hypotheses if h.id == hid and h.specification == spec), None)
        if hyp is None or hyp.model_label not in report.results:
            continue
        res = report.result_for(hyp)
        ci = res.conf_int(0.95)
        mine = frame[frame["key"].str.startswith(prefix + "_")]
        for _, t in mine.iterrows():
            if t["term"] not in res.params.index:
                continue
            est = float(res.params[t["term"]])
            rows.append({
                "model": label,
                "term": t["term"],
                "true value": float(t["value"]),
                "estimate": est,
                "std. error": float(res.std_errors[t["term"]]),
                "difference": est - float(t["value"]),
                "95% CI covers": bool(ci.loc[t["term"], "lower"] <= t["value"] <= ci.loc[t["term"], "upper"]),
            })
    return pd.DataFrame(rows)


def truth_table(report: Any, truth: Any) -> Table:
    df = truth_frame(report, truth)
    body = pd.DataFrame({
        "term": df["term"],
        "true value": [fmt(v) for v in df["true value"]],
        "estimate": [fmt(v) for v in df["estimate"]],
        "std. error": [fmt(v) for v in df["std. error"]],
        "difference": [fmt(v) for v in df["difference"]],
        "95% CI covers": ["yes" if v else "no" for v in df["95% CI covers"]],
    })
    body.index = pd.Index(df["model"], name="")
    notes = ("Simulated example panel (gp.example_panel(), seed fixed): estimates are log hazard ratios for the "
             "hazards and log points for the fixed-effects models; one draw, so about 1 in 20 intervals is "
             "expected to miss. `make montecarlo` checks bias and coverage over many draws.")
    return Table(body=body, title="Estimates on the simulated example panel against the true values", notes=notes)
