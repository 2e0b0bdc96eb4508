"""Tables 7-9: governance transitions (H6), lock-in (H7) and chain destination (H8), and figure 2,
the event study of first entry into a quasi-hierarchical chain.

Each table function takes the estimated models and returns a :class:`~gvcpanel.report.tables.Table`;
:func:`write_dynamics` estimates what the tables need once (``gp.test_hypotheses(panel,
"dynamics")`` plus the transition counts) and writes them.  A table whose inputs the panel lacks
(a survey without ``capability_score`` or ``new_buyer_or_market``) is reported in the run log
as not estimable and left out; the others are written.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

import gvcpanel as gp
from gvcpanel.errors import GvcPanelError
from gvcpanel.gvc.columns import GOVERNANCE_TYPES
from gvcpanel.gvc.hypotheses import DYNAMICS_HYPOTHESES, Hypothesis
from gvcpanel.report.tables import Table, fmt, fmt_p, regression_table, stars
from replication.tables import LABELS as TABLE_LABELS

LABELS = {
    **TABLE_LABELS,
    "locked_in": "Locked in (share >= 0.5 for 3 years)",
    "global_buyer": "Global main buyer",
    "capability_score": "Capability score",
    "Intercept": "Intercept",
}
CAPABILITY_POINTS = (0.25, 0.5, 0.75)


def table7a_transition_counts(table: Any) -> Table:
    """Governance(t) -> governance(t+1): counts with row shares in parentheses (xttrans, freq)."""
    states = list(table.states)
    body = pd.DataFrame(index=pd.Index([*states, "total"], name="from \\ to"), columns=[*states, "total"])
    for origin in [*states, "total"]:
        for destination in states:
            n = int(table.counts.loc[origin, destination])
            share = table.shares.loc[origin, destination]
            body.loc[origin, destination] = f"{n:,} ({fmt(share)})" if np.isfinite(share) else f"{n:,}"
        body.loc[origin, "total"] = f"{int(table.counts.loc[origin, 'total']):,}"
    excluded = "; ".join(f"{r}: {n:,}" for r, n in zip(table.exclusions["reason"], table.exclusions["n_rows"]))
    notes = (f"Pairs of consecutive years of the same firm ({table.n_pairs:,} pairs, {table.n_units:,} firms); "
             f"row shares in parentheses. Firm-years that start no pair: {excluded}.")
    return Table(body=body, title="Table 7a. Governance transitions between consecutive years", notes=notes)


def table7b_transition_model(result: Any) -> Table:
    """Coefficients of every move (log odds against staying), one column per move."""
    moves = list(dict.fromkeys(name.split(":", 1)[0] for name in result.params.index))
    terms = ["Intercept", *result.covariates]
    rows, labels = [], []
    for term in terms:
        est, se = [], []
        for move in moves:
            name = f"{move}:{term}"
            if name in result.params.index:
                est.append(fmt(result.params[name]) + stars(float(result.pvalues[name])))
                se.append(f"({fmt(result.std_errors[name])})")
            else:
                est.append("")
                se.append("")
        rows += [est, se]
        labels += [LABELS.get(term, term), ""]
    n_coef = len(rows)
    counts = result.table.counts
    rows.append([f"{int(counts.loc[m.split('->')[0], m.split('->')[1]]):,}" for m in moves])
    labels.append("Moves observed")
    rows.append([f"{int(counts.loc[m.split('->')[0], 'total']):,}" for m in moves])
    labels.append("Pairs from the origin")
    header = [m.replace("->", " -> ").replace("quasi_hierarchy", "QH") for m in moves]
    body = pd.DataFrame(rows, index=pd.Index(labels, name=""), columns=header)
    never = "; ".join(f"{o} -> {', '.join(d)}" for o, d in result.fit_stats["never_observed"].items() if d)
    notes = (f"Multinomial logit of next year's governance by origin; coefficients are log odds of the move "
             f"against staying, per unit of the covariate measured in the origin year. {result.nobs:,} firm-year "
             f"pairs, {result.n_firms:,} firms; {result.inference.label}. *** p<0.01, ** p<0.05, * p<0.10."
             + (f" Never observed (probability 0, no parameters): {never}." if never else ""))
    return Table(body=body, title="Table 7b. Governance transition model (P7, H6)", notes=notes,
                 midrules=(n_coef,))


def table7c_transition_probabilities(result: Any) -> Table:
    """Yearly probabilities of leaving quasi-hierarchy at quartiles of capability."""
    capability = result.covariate_quantiles("capability_score", CAPABILITY_POINTS)
    probs = result.probabilities({"capability_score": capability}, origins=["quasi_hierarchy"])
    body_rows = []
    for q, value in zip(CAPABILITY_POINTS, capability):
        at = probs[probs["capability_score"] == value].set_index("destination")
        row = {"capability score": fmt(value)}
        for destination in GOVERNANCE_TYPES:
            p = at.loc[destination]
            row[destination] = f"{fmt(p['probability'])} [{fmt(p['ci_low'])}, {fmt(p['ci_high'])}]"
        body_rows.append((f"p{int(q * 100)}", row))
    body = pd.DataFrame([r for _, r in body_rows], index=pd.Index([k for k, _ in body_rows], name="capability"))
    notes = ("Probability that a quasi-hierarchical supplier is in each governance form next year, at the "
             "quartiles of capability among the pairs used (other covariates at their means); 95% delta-method "
             "intervals on the logit scale.")
    return Table(body=body, title="Table 7c. Leaving quasi-hierarchy as capability rises (P7)", notes=notes)


def table8_lock_in(report: Any) -> Table:
    results = {"(1)": _result(report, "H7", "diversification"), "(2)": _result(report, "H7", "functional")}
    return regression_table(
        results, labels=LABELS,
        title="Table 8. Lock-in (P8, H7): (1) diversification hazard (first new buyer or market), "
        "(2) functional upgrading hazard",
    )


def table9_destination(report: Any, plain: Any) -> Table:
    results = {"(1)": plain, "(2)": _result(report, "H8", "main")}
    notes = ("Functional upgrading hazard (each step up the function ladder). (1) Without governance dummies: "
             "the whole association of a global main buyer with functional upgrading, which also carries "
             "governance (global buyers are mostly quasi-hierarchical). (2) Given governance (H8): the "
             "difference between global and domestic or regional buyers within a governance form. Standard "
             "errors in parentheses. *** p<0.01, ** p<0.05, * p<0.10. Coefficients are log hazard ratios.")
    return regression_table(results, labels=LABELS, notes=notes,
                            title="Table 9. Chain destination (P10, H8): global vs domestic or regional main buyer")


def table_dynamics_hypotheses(rows: pd.DataFrame) -> Table:
    """H6-H8 summary from the rows of ``HypothesisReport.table()`` (one or several reports)."""
    t = rows.reset_index(drop=True)
    body = pd.DataFrame(
        {
            "specification": t["specification"],
            "term": t["term"],
            "expected": t["expected_sign"] + " 0",
            "estimate": [fmt(v) for v in t["estimate"]],
            "std. error": [fmt(v) for v in t["std_error"]],
            "p (one-sided)": [fmt_p(v) for v in t["p_one_sided"]],
            "95% CI": [f"[{fmt(a)}, {fmt(b)}]" for a, b in zip(t["ci_low"], t["ci_high"])],
            "N": [f"{v:,}" for v in t["n_obs"]],
            "verdict": t["verdict"],
        }
    )
    body.index = pd.Index(t["id"], name="")
    return Table(body=body, title="Table 9b. Dynamics hypotheses H6-H8",
                 notes="One-sided p-values test H0: coefficient = 0 against the expected sign, CRV1 by cluster.")


# (hypothesis id, specification) -> truth keys of TrueParameters and their labels
_TRUTH = (
    (("H6", "to network"), "transition_qh_network_capability"),
    (("H6", "to market"), "transition_qh_market_capability"),
    (("H7", "diversification"), "diversification_locked_in"),
    (("H7", "diversification: share"), "diversification_main_buyer_share"),
    (("H7", "functional"), "functional_locked_in"),
    (("H8", "main"), "functional_global_buyer"),
)


def table_truth_dynamics(rows: pd.DataFrame, truth: Any) -> Table:
    """H6-H8 estimates on the simulated example panel against the simulation's true values."""
    rows = rows.set_index(["id", "specification"])
    values = truth.as_dict()
    body_rows = []
    for key, truth_key in _TRUTH:
        if key not in rows.index:
            continue
        r = rows.loc[key]
        true = float(values[truth_key])
        body_rows.append({
            "hypothesis": f"{key[0]} ({key[1]})",
            "term": r["term"],
            "true value": fmt(true),
            "estimate": fmt(r["estimate"]),
            "std. error": fmt(r["std_error"]),
            "difference / s.e.": fmt((r["estimate"] - true) / r["std_error"], 2),
            "95% CI covers": "yes" if r["ci_low"] <= true <= r["ci_high"] else "no",
        })
    body = pd.DataFrame(body_rows).set_index("hypothesis")
    notes = ("Simulated example panel. H6: the example's governance moves are competing yearly logits "
             "(SimulationOptions.transition_form='competing'), which a multinomial logit approximates; its "
             "estimand lies slightly above the structural coefficients shown (0.83 and 0.42 on "
             "40,000-firm panels). H7 functional and H8 are zero in the example's DGP: their coefficients "
             "are set with simulate_panel(params={'functional_locked_in': ..., 'functional_global_buyer': ...}).")
    return Table(body=body, title="Dynamics hypotheses on the simulated example panel against the true values",
                 notes=notes)


EVENT_WINDOW = (-5, 8)
ESTIMATOR_LABELS = {"twfe": "two-way FE", "cs": "Callaway-Sant'Anna", "sa": "Sun-Abraham",
                    "imputation": "imputation (BJS)"}


def figure2_event_study(panel: Any, out: Path, chain_entry: Any = None) -> list[Path]:
    """Effect of first entering a quasi-hierarchical chain on log export sales, by event time.

    The four estimators of :func:`gvcpanel.event_study` overlaid (two-way fixed effects for
    contrast, Callaway-Sant'Anna against never-entrants, Sun-Abraham, imputation), cohorts from
    :func:`gvcpanel.chain_cohorts`, CRV1 by cluster; on the simulated example panel the true
    average effect by event time (firm-year weights) is drawn as a line.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cohorts = gp.chain_cohorts(panel)
    studies = gp.event_study(cohorts, "log(export_sales) ~ 1", cohort="qh_entry_year", window=EVENT_WINDOW)
    fig = gp.event_study_plot(
        {ESTIMATOR_LABELS.get(name, name): result for name, result in studies.items()}, ylabel="effect on log(export_sales)", xlabel="years since first entry into quasi-hierarchy",
        title="Entering a quasi-hierarchical chain: staggered entry, four estimators")
    if chain_entry is not None:
        truth = chain_entry.att_by_event_time("firm_years")
        truth = truth[(truth.index >= 0) & (truth.index <= EVENT_WINDOW[1])]
        ax = fig.axes[0]
        ax.plot([EVENT_WINDOW[0], -1, *truth.index], [0.0, 0.0, *truth.to_numpy()], color="black",
                linewidth=1.0, label="true effect")
        ax.legend(frameon=False, loc="upper left")
    paths = [out / "figure2_event_study.png", out / "figure2_event_study.pdf"]
    # no software, creator or date in the files: two runs write the same bytes
    fig.savefig(paths[0], dpi=150, metadata={"Software": None})
    fig.savefig(paths[1], metadata={"CreationDate": None, "Producer": None, "Creator": None})
    plt.close(fig)
    return paths


def _result(report: Any, hid: str, spec: str) -> Any:
    hyp = next(h for h in report.hypotheses if h.id == hid and h.specification == spec)
    return report.result_for(hyp)


def write_dynamics(panel: Any, truth: Any, out: Path, log: Any, chain_entry: Any = None,
                   weights: str | None = None) -> list[Path]:
    """Tables 7-9 and figure 2 (and the truth table on the example panel); not estimable ones are logged.

    H6, H7 and H8 are estimated separately, so that a survey without a capability score still
    gets the lock-in and destination tables (and the other way round).  ``truth`` is given for
    the example panel only; the true entry effects drawn in figure 2 are then the example's
    unless ``chain_entry`` (a :class:`gvcpanel.gvc.simulate.ChainEntry`) is passed.
    """
    written: list[Path] = []
    written += table7a_transition_counts(gp.governance_transitions(panel)).write(out / "table7a_transition_counts")
    reports = {}
    for hid, tables in (("H6", "tables 7b-7c"), ("H7", "table 8"), ("H8", "table 9")):
        try:
            report = gp.test_hypotheses(panel, hid, weights=weights)
        except GvcPanelError as e:
            log.line(f"{tables} ({hid}) not estimable on these data: {e}")
            continue
        for label, reason in report.not_estimable.items():
            log.line(f"not estimable: {label}: {reason}")
        if report.not_estimable and len(report.not_estimable) == len({h.model_label for h in report.hypotheses}):
            log.line(f"not written: {tables} ({hid}: none of its models is estimable)")
            continue
        reports[hid] = report

    def build(name: str, tables: str, make: Any) -> None:
        nonlocal written
        try:
            written += make().write(out / name)
        except GvcPanelError as e:
            log.line(f"not written: {name} ({tables}: {e})")

    if "H6" in reports:
        def transition() -> Any:
            return _result(reports["H6"], "H6", "to network")

        build("table7b_transition_model", "H6", lambda: table7b_transition_model(transition()))
        build("table7c_transition_probabilities", "H6", lambda: table7c_transition_probabilities(transition()))
    if "H7" in reports:
        build("table8_lock_in", "H7", lambda: table8_lock_in(reports["H7"]))
    if "H8" in reports:
        covariates = _without_governance(next(h for h in DYNAMICS_HYPOTHESES if h.id == "H8"))
        build("table9_destination", "H8", lambda: table9_destination(
            reports["H8"], gp.upgrading_hazard(panel, f"functional ~ {' + '.join(covariates)}", weights=weights)))
    if reports:
        rows = pd.concat([r.table() for r in reports.values()], ignore_index=True)
        written += table_dynamics_hypotheses(rows).write(out / "table9b_dynamics_hypotheses")
        if truth is not None:
            written += table_truth_dynamics(rows, truth).write(out / "table_truth_dynamics")
    try:
        if chain_entry is None and truth is not None:
            from gvcpanel.gvc.simulate import example_chain_entry

            chain_entry = example_chain_entry()
        written += figure2_event_study(panel, out, chain_entry)
    except GvcPanelError as e:
        log.line(f"figure 2 (event study of chain entry) not estimable on these data: {e}")
    return written


def _without_governance(hypothesis: Hypothesis) -> list[str]:
    return [c for c in hypothesis.covariates if not any(g in c.split(":") for g in GOVERNANCE_TYPES)]
