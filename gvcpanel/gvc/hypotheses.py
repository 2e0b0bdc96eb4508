"""The hypothesis registry: pre-specified tests of the governance-upgrading propositions.

Each :class:`Hypothesis` names an outcome, an estimator, a term and the sign the theory expects.
:func:`test_hypotheses` estimates every model the chosen hypotheses need (once each, shared
between hypotheses) and returns a :class:`HypothesisReport` with one row per hypothesis.

The default family (Humphrey & Schmitz 2002 for H1-H3 and H5; the 2023 strategic-networks paper
for H4), with governance dummies against ``market`` and controls log(employees), firm_age,
foreign_owned and export_share, standard errors clustered by ``cluster_id``:

- H1 process: ``quasi_hierarchy`` > 0 in the process hazard (time to first ISO certification);
  companion: two-way fixed effects regression of ``labour_productivity``.
- H2 product: ``quasi_hierarchy`` > 0 in the product hazard (time to first new product);
  companion: two-way fixed effects regression of log(``unit_value``).
- H3 functional: ``quasi_hierarchy`` < 0 in the functional hazard (each step up the function
  ladder).  The main specification contains centred network strength and its interaction with
  quasi-hierarchy, so the coefficient is the effect at average network strength; the
  specification without the interaction is reported as a robustness row.
- H4 moderation: ``quasi_hierarchy:network_strength_c`` > 0 in the functional hazard.
- H5 networks: ``network`` > 0 in the process, product and functional hazards.

In the fixed-effects companions ``firm_age`` is left out: with firm and year effects it is
collinear (age = year - founding year).

Partial indicators.  A survey has some indicators, not all: a hypothesis whose model reads a
column the panel does not have (or has only missing values in) is reported "not estimable:
missing <columns>" and the others are estimated; so is a model the data cannot identify (no
events, every regressor absorbed), with the reason.

Family-wide inference.  One ``inference=`` gives each model its valid procedure
(:data:`FAMILY_INFERENCE`): ``"wild"``, ``"score"`` or ``"bootstrap"`` run the restricted wild
cluster bootstrap on the least-squares companions and the score bootstrap on the hazards;
``"cr2"`` or ``"cr2_score"`` give CR2 with Satterthwaite degrees of freedom to the least-squares
models and the score bootstrap to the hazards (CR2 is a least-squares covariance).  Other kinds
go to every model as they are.  ``adjust="romano_wolf"`` bootstraps the whole family with shared
cluster weights.

The dynamics family (:data:`DYNAMICS_HYPOTHESES`, issue 11; run with ``hypotheses="dynamics"``
or by id) needs a supplier-capability score and a diversification event the default family does
not, so it is not part of the default:

- H6 (P7) capability moves firms out of quasi-hierarchy: the ``capability_score`` coefficients
  of the moves quasi_hierarchy -> network and quasi_hierarchy -> market (log odds against staying)
  > 0 in the governance transition model (:func:`gvcpanel.gvc.transitions.governance_transition_model`,
  covariates capability, centred network strength, main-buyer share).
- H7 (P8) lock-in slows diversification and functional upgrading: ``locked_in`` (main-buyer share
  at or above one half in each of the last three years, :func:`gvcpanel.gvc.lockin.buyer_dependence`)
  < 0 in the hazard of the first new buyer or market (``upgrade="diversification"``), and so is
  ``main_buyer_share``; ``locked_in`` < 0 in the functional hazard (H3's main model plus the share
  and lock-in).
- H8 (P10) domestic and regional chains favour functional upgrading: ``global_buyer`` < 0 in the
  functional hazard (H3's main model plus ``global_buyer``), i.e. given governance, serving a
  global rather than a domestic or regional main buyer slows the steps up the function ladder.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import partial
from typing import Any

import numpy as np
import pandas as pd

from gvcpanel.errors import ConvergenceError, IdentificationError, InferenceUnavailableError, PanelStructureError, SpecificationError
from gvcpanel.gvc.columns import CONTROLS, DOMAIN_COLUMNS, GOVERNANCE_DUMMIES
from gvcpanel.inference import family
from gvcpanel.inference.family import FamilyBootstrap
from gvcpanel.inference.spec import Inference, InferenceSpec, parse_inference
from gvcpanel.options import check_alpha
from gvcpanel.results import EstimationResult, ResultBase, Summary, rerun_wald

GOVERNANCE = GOVERNANCE_DUMMIES
FE_CONTROLS = ("log(employees)", "foreign_owned", "export_share")
#: family presets of ``inference=``: the kind for least-squares models and for likelihood models
FAMILY_INFERENCE = {
    "bootstrap": ("wild", "score"),
    "wild": ("wild", "score"),
    "score": ("wild", "score"),
    "cr2": ("cr2", "score"),
    "cr2_score": ("cr2", "score"),
}
NOT_ESTIMABLE = "not estimable"
MODERATOR = "network_strength_c"
INTERACTION = f"quasi_hierarchy:{MODERATOR}"
ESTIMATORS = ("hazard", "fe", "transition")
TRANSITION_COVARIATES = ("capability_score", "network_strength_c", "main_buyer_share")


@dataclass(frozen=True)
class Hypothesis:
    """One pre-specified test.

    Parameters
    ----------
    id : str
        Short name, e.g. ``"H1"``.
    statement : str
        The proposition in words.
    estimator : str
        ``"hazard"`` (discrete-time hazard of ``outcome`` in process / product / functional /
        intersectoral / diversification), ``"fe"`` (two-way fixed-effects regression of the
        ``outcome`` term) or ``"transition"`` (the governance transition model).
    outcome : str
        Upgrading type for hazards; the dependent term (e.g. ``"log(unit_value)"``) for ``"fe"``;
        the move ``"<origin>-><destination>"`` for ``"transition"``.
    term : str
        The coefficient tested.
    sign : str
        Expected sign, ``">"`` or ``"<"``.
    covariates : tuple of str
        Right-hand side terms (governance, controls, moderators).
    specification : str
        Label that distinguishes several tests of one hypothesis (``"main"``, ``"companion"``).
    """

    id: str
    statement: str
    estimator: str
    outcome: str
    term: str
    sign: str
    covariates: tuple[str, ...] = GOVERNANCE + CONTROLS
    specification: str = "main"

    def __post_init__(self) -> None:
        if self.estimator not in ESTIMATORS:
            raise SpecificationError(f"Hypothesis {self.id}: estimator {self.estimator!r}; use one of {ESTIMATORS}.")
        if self.sign not in (">", "<"):
            raise SpecificationError(f"Hypothesis {self.id}: sign must be '>' or '<', not {self.sign!r}.")
        if self.term not in self.covariates:
            raise SpecificationError(
                f"Hypothesis {self.id}: the tested term {self.term!r} is not among its covariates {self.covariates}."
            )

    @property
    def coefficient(self) -> str:
        """The estimated parameter tested: ``term``, or ``"<move>:<term>"`` for a transition model."""
        return f"{self.outcome}:{self.term}" if self.estimator == "transition" else self.term

    @property
    def model_key(self) -> tuple[str, str, tuple[str, ...]]:
        """Hypotheses with the same key share one estimated model."""
        # every move of the transition model comes from the same fit
        outcome = "" if self.estimator == "transition" else self.outcome
        return (self.estimator, outcome, self.covariates)

    @property
    def formula(self) -> str:
        """The model's formula: ``"<outcome> ~ <covariates>"`` (``"governance ~ ..."`` for transitions)."""
        outcome = "governance" if self.estimator == "transition" else self.outcome
        return f"{outcome} ~ {' + '.join(self.covariates)}"

    @property
    def model_label(self) -> str:
        if self.estimator == "transition":
            return f"governance transitions [{', '.join(self.covariates)}]"
        kind = f"{self.outcome} hazard" if self.estimator == "hazard" else f"FE {self.outcome}"
        return f"{kind} [{', '.join(self.covariates)}]"

    def with_governance_measure(self, measure: str) -> "Hypothesis":
        """The same test with ``quasi_hierarchy`` replaced by another power-asymmetry measure."""
        swap = lambda t: t.replace("quasi_hierarchy", measure)  # noqa: E731 - used on each term
        return replace(
            self,
            term=swap(self.term),
            covariates=tuple(swap(c) for c in self.covariates),
            statement=f"{self.statement} (governance measure: {measure})",
        )


_FUNCTIONAL_MAIN = GOVERNANCE + (MODERATOR, INTERACTION) + CONTROLS
_FUNCTIONAL_PLAIN = GOVERNANCE + (MODERATOR,) + CONTROLS

DEFAULT_HYPOTHESES: tuple[Hypothesis, ...] = (
    Hypothesis("H1", "Quasi-hierarchy speeds process upgrading (first ISO certification)",
               "hazard", "process", "quasi_hierarchy", ">"),
    Hypothesis("H1", "Quasi-hierarchy raises labour productivity within firms",
               "fe", "labour_productivity", "quasi_hierarchy", ">", GOVERNANCE + FE_CONTROLS, "companion"),
    Hypothesis("H2", "Quasi-hierarchy speeds product upgrading (first new product)",
               "hazard", "product", "quasi_hierarchy", ">"),
    Hypothesis("H2", "Quasi-hierarchy raises unit values within firms",
               "fe", "log(unit_value)", "quasi_hierarchy", ">", GOVERNANCE + FE_CONTROLS, "companion"),
    Hypothesis("H3", "Quasi-hierarchy slows functional upgrading (at average network strength)",
               "hazard", "functional", "quasi_hierarchy", "<", _FUNCTIONAL_MAIN),
    Hypothesis("H3", "Quasi-hierarchy slows functional upgrading (no moderation term)",
               "hazard", "functional", "quasi_hierarchy", "<", _FUNCTIONAL_PLAIN, "no interaction"),
    Hypothesis("H4", "Strategic networks soften the functional-upgrading penalty of quasi-hierarchy",
               "hazard", "functional", INTERACTION, ">", _FUNCTIONAL_MAIN),
    Hypothesis("H5", "Network governance speeds process upgrading", "hazard", "process", "network", ">",
               specification="process"),
    Hypothesis("H5", "Network governance speeds product upgrading", "hazard", "product", "network", ">",
               specification="product"),
    Hypothesis("H5", "Network governance speeds functional upgrading", "hazard", "functional", "network", ">",
               _FUNCTIONAL_MAIN, "functional"),
)


_DIVERSIFICATION = GOVERNANCE + ("main_buyer_share", "locked_in") + CONTROLS
_FUNCTIONAL_LOCK_IN = GOVERNANCE + (MODERATOR, INTERACTION, "main_buyer_share", "locked_in") + CONTROLS
_FUNCTIONAL_DESTINATION = GOVERNANCE + (MODERATOR, INTERACTION, "global_buyer") + CONTROLS

DYNAMICS_HYPOTHESES: tuple[Hypothesis, ...] = (
    Hypothesis("H6", "Capability moves quasi-hierarchical suppliers into network relations",
               "transition", "quasi_hierarchy->network", "capability_score", ">", TRANSITION_COVARIATES,
               "to network"),
    Hypothesis("H6", "Capability moves quasi-hierarchical suppliers into market relations",
               "transition", "quasi_hierarchy->market", "capability_score", ">", TRANSITION_COVARIATES,
               "to market"),
    Hypothesis("H7", "Lock-in to the main buyer slows diversification (first new buyer or market)",
               "hazard", "diversification", "locked_in", "<", _DIVERSIFICATION, "diversification"),
    Hypothesis("H7", "Dependence on the main buyer slows diversification",
               "hazard", "diversification", "main_buyer_share", "<", _DIVERSIFICATION, "diversification: share"),
    Hypothesis("H7", "Lock-in to the main buyer slows functional upgrading",
               "hazard", "functional", "locked_in", "<", _FUNCTIONAL_LOCK_IN, "functional"),
    Hypothesis("H8", "A global (not a domestic or regional) main buyer slows functional upgrading",
               "hazard", "functional", "global_buyer", "<", _FUNCTIONAL_DESTINATION),
)
REGISTRY: tuple[Hypothesis, ...] = DEFAULT_HYPOTHESES + DYNAMICS_HYPOTHESES
#: names accepted by test_hypotheses(hypotheses=...) for whole families
FAMILIES = {"all": DEFAULT_HYPOTHESES, "default": DEFAULT_HYPOTHESES, "dynamics": DYNAMICS_HYPOTHESES,
            "registry": REGISTRY}


@dataclass(frozen=True, repr=False)
class HypothesisReport(ResultBase):
    """Outcome of :func:`test_hypotheses`.

    It follows the result contract (:class:`gvcpanel.results.ResultBase`): ``params`` are the
    tested coefficients, one per row (index ``"H1 main"``, ``"H1 companion"``, ...), with their
    standard errors, two-sided p-values and intervals from each model's own inference;
    ``to_frame()`` is the full table (``table()`` is the same); ``with_inference(...)`` reruns
    every row (and the adjustment) under another inference; ``wald_test`` combines rows of one
    model (rows of different models have no joint covariance).

    Attributes
    ----------
    hypotheses : tuple of Hypothesis
    results : Mapping[str, EstimationResult]
        Each estimated model, keyed by ``Hypothesis.model_label``.
    moderation : object or None
        Conditional effects of quasi-hierarchy across network strength (H4), when H4 was run.
    alpha : float
        Significance level of the one-sided tests behind the verdicts.
    adjust : str or None
        Multiple-testing adjustment applied (``"holm"`` or ``"romano_wolf"``).
    """

    hypotheses: tuple[Hypothesis, ...]
    results: Mapping[str, EstimationResult]
    rows: pd.DataFrame
    alpha: float
    adjust: str | None = None
    moderation: Any = None
    details: Mapping[str, Any] = field(default_factory=dict)

    _title = "Hypothesis tests"

    def table(self) -> pd.DataFrame:
        """One row per hypothesis and specification (a copy); the same as :meth:`to_frame`."""
        return self.rows.copy()

    def result_for(self, hypothesis: Hypothesis) -> EstimationResult:
        label = hypothesis.model_label
        if label not in self.results:
            reason = self.details.get("not_estimable", {}).get(label, "not estimated")
            raise SpecificationError(f"{hypothesis.id} ({hypothesis.specification}): the model is {NOT_ESTIMABLE} "
                                     f"({reason}); its row in table() says so.")
        return self.results[label]

    @property
    def not_estimable(self) -> dict[str, str]:
        """Models that could not be estimated, with the reason (``"missing function_level"``)."""
        return dict(self.details.get("not_estimable", {}))

    # --- the result contract ---------------------------------------------------------------
    @property
    def row_labels(self) -> list[str]:
        """``"<id> <specification>"`` for each row, made unique."""
        labels: list[str] = []
        for hyp in self.hypotheses:
            label = f"{hyp.id} {hyp.specification}"
            while label in labels:
                label += "'"
            labels.append(label)
        return labels

    def _models(self) -> list[tuple[str, EstimationResult | None, str]]:
        """(model label, result, term) of each row; the result is None when not estimable."""
        return [(h.model_label, self.results.get(h.model_label), h.term) for h in self.hypotheses]

    @property
    def params(self) -> pd.Series:  # type: ignore[override]
        return pd.Series(self.rows["estimate"].to_numpy(dtype=float), index=self.row_labels, name="estimate")

    @property
    def is_bootstrap(self) -> bool:
        return any(res.is_bootstrap for _, res, _ in self._models() if res is not None)

    @property
    def inference(self) -> Inference:  # type: ignore[override]
        labels = self.row_labels
        models = self._models()
        k = len(labels)
        cov = np.full((k, k), np.nan)
        for i, (mi, ri, ti) in enumerate(models):
            for j, (mj, _, tj) in enumerate(models):
                if mi == mj and ri is not None:  # rows of one model share its covariance
                    cov[i, j] = float(ri.cov.loc[ti, tj])
        df = pd.Series([float(res.df_resid[t]) if res is not None else np.nan for _, res, t in models],
                       index=labels)
        fitted = [res for _, res, _ in models if res is not None]
        first = fitted[0].inference if fitted else None
        names = {res.inference.label for res in fitted}
        label = names.pop() if len(names) == 1 else "each row with its model's inference"
        p = pd.Series(self.rows["p_two_sided"].to_numpy(dtype=float), index=labels, name="p")
        return Inference(
            first.spec if first is not None else InferenceSpec(),
            label,
            pd.DataFrame(cov, index=labels, columns=labels),
            None,
            df_by_term=df,
            pvalues=p if self.is_bootstrap else None,
            n_clusters=first.n_clusters if first is not None else None,
            cluster_sizes=first.cluster_sizes if first is not None else None,
        )

    def _intervals(self, level: float) -> pd.DataFrame:
        rows = [res.conf_int(level).loc[term] if res is not None else pd.Series({"lower": np.nan, "upper": np.nan})
                for _, res, term in self._models()]
        return pd.DataFrame(rows, index=self.row_labels, columns=["lower", "upper"]).astype(float)

    def to_frame(self, level: float = 0.95) -> pd.DataFrame:
        """The table of :meth:`table`, with intervals at ``level`` (0.95 as computed)."""
        frame = self.rows.copy()
        if abs(level - 0.95) > 1e-12:
            ci = self._intervals_or_none(level)
            frame["ci_low"] = np.nan if ci is None else ci["lower"].to_numpy()
            frame["ci_high"] = np.nan if ci is None else ci["upper"].to_numpy()
        return frame

    def _wald(self, R: np.ndarray, r: np.ndarray, labels: tuple[str, ...], restrictions: Any, value: Any) -> Any:
        models = self._models()
        used = sorted({models[j][0] for j in np.flatnonzero(np.any(R != 0, axis=0))})
        if len(used) > 1:
            raise InferenceUnavailableError(
                f"these restrictions combine rows of different models ({used}); their estimates have no joint "
                "covariance here. Test rows of one model together, or each row on its own."
            )
        if used[0] not in self.results:
            raise InferenceUnavailableError(f"the model of these rows is {NOT_ESTIMABLE} "
                                            f"({self.not_estimable.get(used[0], '')}).")
        result = self.results[used[0]]
        mapped = [{models[j][2]: float(w) for j, w in enumerate(row) if w != 0} for row in R]
        test = result.wald_test(mapped, list(r)).relabel(labels)
        return replace(test, recompute=partial(rerun_wald, self, restrictions, value))

    def _refit(self, spec: InferenceSpec) -> "HypothesisReport":
        return _report_with_inference(self, spec)

    def _summary_header(self) -> tuple[tuple[str, str], ...]:
        rows = [("Hypotheses", str(len(self.hypotheses))), ("Models", str(len(self.results))),
                ("alpha (one-sided)", f"{self.alpha:g}")]
        if self.adjust:
            rows.append(("Adjustment", self.adjust))
        return tuple(rows)

    def summary(self, level: float = 0.95) -> Summary:
        base = super().summary(level)
        table = base.table.copy()
        table.insert(0, "term", list(self.rows["term"]))
        table.index.name = "hypothesis"
        table["p (one-sided)"] = [f"{v:.4f}" for v in self.rows["p_one_sided"]]
        table["verdict"] = list(self.rows["verdict"])
        return replace(base, table=table)

    def _stats(self) -> dict[str, Any]:
        return {"inference": self.inference.label}


def verdict(p_expected: float, p_opposite: float, alpha: float) -> str:
    """supported: one-sided test in the expected direction rejects at ``alpha``;
    contradicted: the one-sided test in the opposite direction rejects; otherwise not supported."""
    if p_expected < alpha:
        return "supported"
    if p_opposite < alpha:
        return "contradicted"
    return "not supported"


def _select(hypotheses: str | Iterable[str | Hypothesis]) -> tuple[Hypothesis, ...]:
    if isinstance(hypotheses, str):
        hypotheses = FAMILIES.get(hypotheses, [hypotheses])
    chosen: list[Hypothesis] = []
    for item in hypotheses:
        if isinstance(item, Hypothesis):
            chosen.append(item)
            continue
        matches = [h for h in REGISTRY if h.id == item]
        if not matches:
            ids = sorted({h.id for h in REGISTRY})
            raise SpecificationError(
                f"hypothesis {item!r} is not registered; known: {ids}, the families {sorted(FAMILIES)}, "
                "or pass a Hypothesis."
            )
        chosen.extend(matches)
    return tuple(chosen)


@dataclass(frozen=True)
class FamilyInference:
    """The inference of each model kind in a family of tests (see the module docstring)."""

    name: str
    linear: InferenceSpec
    likelihood: InferenceSpec

    def for_estimator(self, estimator: str) -> InferenceSpec:
        return self.likelihood if estimator in ("hazard", "transition") else self.linear


def family_inference(inference: str | Mapping[str, Any] | InferenceSpec | FamilyInference) -> FamilyInference:
    """``inference=`` of :func:`test_hypotheses` as one spec per model kind.

    A family preset (:data:`FAMILY_INFERENCE`) as a string or as the ``kind`` of a mapping (the
    mapping's other options, such as ``draws`` and ``seed``, go to both); anything else is one
    :class:`InferenceSpec` for every model.
    """
    if isinstance(inference, FamilyInference):
        return inference
    if isinstance(inference, InferenceSpec):
        if inference.kind in FAMILY_INFERENCE:  # at the family level these kinds are presets too
            linear, likelihood = FAMILY_INFERENCE[inference.kind]
            return FamilyInference(inference.kind, replace(inference, kind=linear), replace(inference, kind=likelihood))
        return FamilyInference(inference.kind, inference, inference)
    kind = inference if isinstance(inference, str) else (
        inference.get("kind", "cluster") if isinstance(inference, Mapping) else None)
    if kind in FAMILY_INFERENCE:
        options = {k: v for k, v in inference.items() if k != "kind"} if isinstance(inference, Mapping) else {}
        linear, likelihood = FAMILY_INFERENCE[kind]
        return FamilyInference(kind, parse_inference({**options, "kind": linear}),
                               parse_inference({**options, "kind": likelihood}))
    spec = parse_inference(inference)
    return FamilyInference(spec.kind, spec, spec)


def required_columns(hypothesis: Hypothesis, cluster: str, weights: str | None = None) -> list[str]:
    """Data columns the model of a hypothesis reads (outcome, covariates, cluster, weights)."""
    from gvcpanel.formula.design import model_columns
    from gvcpanel.gvc.upgrading import OUTCOME_COLUMN

    extra = (cluster,) + ((weights,) if weights else ())
    if hypothesis.estimator == "hazard":
        outcome = OUTCOME_COLUMN.get(hypothesis.outcome, hypothesis.outcome)
        return [outcome, *(c for c in model_columns(list(hypothesis.covariates), extra=extra, derived=DOMAIN_COLUMNS)
                           if c != outcome)]
    return model_columns(hypothesis.formula, extra=extra, derived=DOMAIN_COLUMNS)


def missing_inputs(panel: Any, hypothesis: Hypothesis, cluster: str, weights: str | None = None) -> list[str]:
    """Columns the hypothesis's model needs that the panel lacks or holds only missing values in."""
    data = panel if isinstance(panel, pd.DataFrame) else panel.data
    return [c for c in required_columns(hypothesis, cluster, weights)
            if c not in data.columns and c not in (data.index.names or ())
            or (c in data.columns and not data[c].notna().any())]


def fit_model(panel: Any, hypothesis: Hypothesis, inference: InferenceSpec | FamilyInference, cluster: str,
              weights: str | None = None) -> EstimationResult:
    """Estimate the model a hypothesis needs (the inference of its kind, with ``weights``)."""
    spec = family_inference(inference).for_estimator(hypothesis.estimator)
    if hypothesis.estimator == "transition":
        from gvcpanel.gvc.transitions import governance_transition_model

        if weights is not None:
            raise SpecificationError(f"{hypothesis.id}: the governance transition model takes no weights= yet.")
        return governance_transition_model(panel, hypothesis.formula, cluster=cluster, inference=spec)
    if hypothesis.estimator == "hazard":
        from gvcpanel.gvc.hazard import upgrading_hazard

        return upgrading_hazard(panel, hypothesis.formula, cluster=cluster, inference=spec, weights=weights)
    from gvcpanel.models.linear import fe_regression

    return fe_regression(panel, hypothesis.formula, effects=("firm", "year"), cluster=cluster, method="fe",
                         inference=spec, derived=DOMAIN_COLUMNS, weights=weights)


def test_hypotheses(
    panel: Any,
    hypotheses: str | Iterable[str | Hypothesis] = "all",
    alpha: float = 0.05,
    inference: str | Mapping[str, Any] | InferenceSpec = "cluster",
    cluster: str = "cluster_id",
    governance_measure: str = "quasi_hierarchy",
    adjust: str | None = None,
    *,
    weights: str | None = None,
    level: Any = None,
) -> HypothesisReport:
    """Run the pre-specified tests.

    Parameters
    ----------
    panel : FirmPanel
        A panel with ``governance`` (see :func:`gvcpanel.classify_governance`).
    hypotheses : a family name, an id, or an iterable of ids and :class:`Hypothesis` objects
        Which tests to run: ``"all"`` or ``"default"`` (H1-H5, the family of the replication's
        tables 2-6; ``"all"`` is kept for compatibility), ``"dynamics"`` (H6-H8) or
        ``"registry"`` (H1-H8); user-defined hypotheses take the same form as the registry's.
    alpha : float
        Significance level of the one-sided tests behind the verdicts, above 0 and below 0.5.
    inference : str, mapping or InferenceSpec
        ``"cluster"`` (CRV1, the default), a family preset that gives each model its valid
        procedure (:data:`FAMILY_INFERENCE`: ``"wild"``/``"score"``/``"bootstrap"`` = wild
        bootstrap for least squares and score bootstrap for hazards; ``"cr2"``/``"cr2_score"`` =
        CR2 for least squares and the score bootstrap for hazards), or any other inference kind
        for every model (``"survey"``, ``"twoway"``, a mapping with options).
    cluster : str
        Clustering variable.
    governance_measure : str
        Replace the ``quasi_hierarchy`` dummy by another measure of power asymmetry, e.g.
        ``"main_buyer_share"``.
    adjust : {None, "holm", "romano_wolf"}
        Family-wise adjustment of the one-sided p-values over the chosen rows (Romano-Wolf
        bootstraps every estimable model with shared cluster weights).
    weights : str, optional
        Column of probability weights for every model (e.g. ``"weight"``, the Enterprise
        Surveys' wmedian in the ``wbes`` mapping); see :mod:`gvcpanel.models.weights`.
    level
        Not accepted: the significance level is ``alpha`` (``level`` is a confidence level
        everywhere else in gvcpanel); passing it raises a :class:`SpecificationError`.

    Returns
    -------
    HypothesisReport
        One row per hypothesis; rows whose model is not estimable carry the verdict
        ``"not estimable"`` and the reason in ``note`` (``"missing function_level"``).

    Notes
    -----
    The one-sided p-value tests H0: coefficient = 0 against the expected sign; the verdict is
    "supported" when it is below ``alpha``, "contradicted" when the one-sided p-value in the
    opposite direction is below ``alpha`` and "not supported" otherwise.
    """
    if level is not None:
        numeric = isinstance(level, float) and 0 < level < 1
        suggestion = (1 - level if level > 0.5 else level) if numeric else 0.05
        raise SpecificationError(
            f"test_hypotheses takes the significance level as alpha=, not level={level!r} (renamed: in "
            "gvcpanel `level` is a confidence level such as 0.95 and `alpha` a significance level such "
            f"as 0.05); write alpha={suggestion:.4g}."
        )
    alpha = check_alpha(alpha)
    if adjust not in (None, "holm", "romano_wolf"):
        raise SpecificationError(f"adjust={adjust!r}; use None, 'holm' or 'romano_wolf'.")
    if not isinstance(cluster, str) or not cluster:
        raise SpecificationError(f"cluster={cluster!r}; name one clustering column, e.g. cluster='cluster_id'.")
    if not isinstance(governance_measure, str) or not governance_measure:
        raise SpecificationError(
            f"governance_measure={governance_measure!r}; name a column, e.g. 'main_buyer_share'."
        )
    family_spec = family_inference(inference)
    if weights is not None and not isinstance(weights, str):
        raise SpecificationError(f"weights={weights!r}; name the weight column, e.g. weights='weight'.")
    chosen = _select(hypotheses)
    if governance_measure != "quasi_hierarchy":
        chosen = tuple(h.with_governance_measure(governance_measure) for h in chosen)
    results: dict[str, EstimationResult] = {}
    not_estimable: dict[str, str] = {}
    for hyp in chosen:
        label = hyp.model_label
        if label in results or label in not_estimable:
            continue
        absent = missing_inputs(panel, hyp, cluster, weights)
        if absent:
            not_estimable[label] = f"missing {', '.join(absent)}"
            continue
        try:
            results[label] = fit_model(panel, hyp, family_spec, cluster, weights)
        except (IdentificationError, PanelStructureError, ConvergenceError) as exc:
            # the data cannot support this model (a hazard whose outcome a regressor separates has
            # no maximum); the others are still estimated
            not_estimable[label] = str(exc).split(". ")[0]
    rows = [_row(hyp, results[hyp.model_label], alpha) if hyp.model_label in results
            else _not_estimable_row(hyp, not_estimable[hyp.model_label]) for hyp in chosen]
    table = pd.DataFrame(rows)
    details: dict[str, Any] = {"not_estimable": dict(not_estimable)} if not_estimable else {}
    if adjust is not None:
        table, adjusted = _adjust(table, chosen, results, adjust, family_spec.linear, alpha)
        details.update(adjusted)
    moderation = None
    interaction = next((h for h in chosen if ":" in h.term and h.model_label in results), None)
    if interaction is not None:
        from gvcpanel.models.moderation import moderation as conditional_effects

        focal, moderator = interaction.term.split(":")
        moderation = conditional_effects(results[interaction.model_label], focal=focal, moderator=moderator)
    return HypothesisReport(chosen, results, table, alpha, adjust, moderation, details)


def _report_with_inference(report: HypothesisReport, spec: InferenceSpec | FamilyInference) -> HypothesisReport:
    """The report rerun under another inference: every model, row, adjustment and moderation."""
    family_spec = family_inference(spec)
    estimator = {h.model_label: h.estimator for h in report.hypotheses}
    results = {label: res.with_inference(family_spec.for_estimator(estimator[label]))
               for label, res in report.results.items()}
    alpha = report.alpha
    reasons = dict(report.details.get("not_estimable", {}))
    table = pd.DataFrame([_row(h, results[h.model_label], alpha) if h.model_label in results
                          else _not_estimable_row(h, reasons[h.model_label]) for h in report.hypotheses])
    details: dict[str, Any] = {"not_estimable": reasons} if reasons else {}
    if report.adjust is not None:
        table, adjusted = _adjust(table, report.hypotheses, results, report.adjust, family_spec.linear, alpha)
        details.update(adjusted)
    moderation = report.moderation
    if moderation is not None:
        interaction = next(h for h in report.hypotheses if ":" in h.term)
        moderation = moderation._again(results[interaction.model_label], moderation.level)
    return replace(report, results=results, rows=table, moderation=moderation, details=details)


def _not_estimable_row(hyp: Hypothesis, reason: str) -> dict[str, Any]:
    """The row of a hypothesis whose model could not be estimated, with the reason."""
    nan = float("nan")
    return {
        "id": hyp.id, "statement": hyp.statement, "specification": hyp.specification,
        "outcome": hyp.outcome,
        "estimator": _estimator_label(hyp),
        "term": hyp.term, "estimate": nan, "std_error": nan, "p_one_sided": nan, "p_two_sided": nan,
        "ci_low": nan, "ci_high": nan, "expected_sign": hyp.sign, "n_obs": 0, "n_firms": 0,
        "n_clusters": None, "inference": "", "verdict": NOT_ESTIMABLE,
        "note": f"{NOT_ESTIMABLE}: {reason}",
    }


def _row(hyp: Hypothesis, res: EstimationResult, alpha: float) -> dict[str, Any]:
    term = hyp.coefficient
    if term not in res.params.index:
        raise SpecificationError(
            f"{hyp.id} ({hyp.specification}): term {term!r} was not estimated (absorbed or dropped); "
            f"the model has {list(res.params.index)}."
        )
    opposite = "<" if hyp.sign == ">" else ">"
    p_one = res.pvalue_one_sided(term, hyp.sign)
    p_opp = res.pvalue_one_sided(term, opposite)
    intervals = res._intervals_or_none(0.95)  # None where the inference has no intervals
    ci = {"lower": np.nan, "upper": np.nan} if intervals is None else intervals.loc[term]
    return {
        "id": hyp.id,
        "statement": hyp.statement,
        "specification": hyp.specification,
        "outcome": hyp.outcome,
        "estimator": _estimator_label(hyp, res),
        "term": term,
        "estimate": float(res.params[term]),
        "std_error": float(res.std_errors[term]),
        "p_one_sided": p_one,
        "p_two_sided": float(res.pvalues[term]),
        "ci_low": float(ci["lower"]),
        "ci_high": float(ci["upper"]),
        "expected_sign": hyp.sign,
        "n_obs": int(res.nobs),
        "n_firms": int(res.n_firms),
        "n_clusters": res.n_clusters,
        "inference": res.inference.label,
        "verdict": verdict(p_one, p_opp, alpha),
        "note": "",
    }


def _estimator_label(hyp: Hypothesis, res: EstimationResult | None = None) -> str:
    """The estimator column of a row (a hazard names its link once fitted; cloglog by default)."""
    if hyp.estimator == "hazard":
        return f"{res.spec.method if res is not None else 'cloglog'} hazard"
    return "multinomial logit transitions" if hyp.estimator == "transition" else "two-way FE"


def _adjust(
    table: pd.DataFrame,
    chosen: Sequence[Hypothesis],
    results: Mapping[str, EstimationResult],
    method: str,
    spec: InferenceSpec,
    alpha: float,
) -> tuple[pd.DataFrame, dict[str, Any]]:
    from gvcpanel.inference import multiple

    table = table.copy()
    # the family is the estimable rows; the others keep NaN and their verdict
    estimable = [j for j, h in enumerate(chosen) if h.model_label in results]
    family_rows = [chosen[j] for j in estimable]
    adjusted = np.full(len(chosen), np.nan)
    details: dict[str, Any] = {}
    if family_rows:
        if method == "holm":
            adjusted[estimable] = multiple.holm(table["p_one_sided"].to_numpy()[estimable])
            details = {"method": "Holm (1979) step-down on one-sided p-values"}
        else:
            adjusted[estimable], details = romano_wolf_family(
                [results[h.model_label] for h in family_rows], [h.coefficient for h in family_rows],
                [h.sign for h in family_rows], spec)
    table["p_adjusted"] = adjusted
    opposite_p = np.full(len(chosen), np.nan)
    for j in estimable:
        h = chosen[j]
        opposite_p[j] = results[h.model_label].pvalue_one_sided(h.coefficient, "<" if h.sign == ">" else ">")
    table["verdict_adjusted"] = [
        NOT_ESTIMABLE if j not in estimable else
        ("supported" if p < alpha else ("contradicted" if q < alpha else "not supported"))
        for j, (p, q) in enumerate(zip(adjusted, opposite_p))
    ]
    return table, details


def family_bootstrap(
    results: Sequence[EstimationResult],
    terms: Sequence[str],
    signs: Sequence[str],
    spec: InferenceSpec,
) -> FamilyBootstrap:
    """Bootstrap every test of a family of estimated models with shared cluster weights.

    The hypotheses' view of :func:`gvcpanel.inference.family.family_bootstrap`: each result's
    fitted model, its tested term and the expected sign (``">"`` or ``"<"``).
    """
    return family.family_bootstrap([_fitted(res) for res in results], list(terms), list(signs), spec)


def romano_wolf_family(
    results: Sequence[EstimationResult],
    terms: Sequence[str],
    signs: Sequence[str],
    spec: InferenceSpec,
) -> tuple[np.ndarray, dict[str, Any]]:
    """Romano-Wolf adjusted one-sided p-values over a family (:func:`gvcpanel.inference.family.romano_wolf_family`)."""
    return family.romano_wolf_family([_fitted(res) for res in results], list(terms), list(signs), spec)


def _fitted(res: EstimationResult) -> Any:
    if res.model is None:
        raise SpecificationError("a bootstrap family needs results that keep their fitted model; re-estimate them.")
    return res.model
