"""Classify value-chain governance per firm-year from survey indicators, by cited rules.

Two schemes are available:

``"humphrey_schmitz_2002"`` (default)
    The four relationship types of Humphrey & Schmitz (2002, section "Value chain relationships
    and upgrading in clusters"; also Humphrey & Schmitz 2001, section 3): market, network,
    quasi_hierarchy, hierarchy. Written to the ``governance`` column.
``"gereffi_humphrey_sturgeon_2005"``
    The five types of Gereffi, Humphrey & Sturgeon (2005, Table 1): market, modular, relational,
    captive, hierarchy, from ``transaction_complexity``, ``codifiability`` and
    ``supplier_capability``. Written to the ``governance_ghs`` column.

Each scheme is a tuple of :class:`Rule` objects. A rule names the governance type it assigns,
states its condition in words, cites where the condition comes from and carries a vectorised
predicate. Rules are evaluated in the tuple's order (the precedence order); the first rule that
holds assigns the type. Indicators are read with three-valued logic: a rule whose truth depends on
a missing indicator is *undecided*, and a firm-year whose first non-false rule is undecided stays
missing, with the reason ``"missing <columns> (rule <name>)"``. It is never given a lower-precedence
type, because the missing indicator might have made the earlier rule hold. Firm-years for which
every rule is false stay missing with the reason ``"no rule matched"``; rules whose ``governance``
is ``None`` mark combinations the source itself excludes, and leave the firm-year missing with
that rule's name as the reason.

References
----------
Gereffi, G., Humphrey, J. & Sturgeon, T. (2005). The governance of global value chains.
    Review of International Political Economy, 12(1), 78-104.
Humphrey, J. & Schmitz, H. (2001). Governance in global value chains. IDS Bulletin, 32(3), 19-29.
Humphrey, J. & Schmitz, H. (2002). How does insertion in global value chains affect upgrading in
    industrial clusters? Regional Studies, 36(9), 1017-1027.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import numpy as np
import pandas as pd

from gvcpanel.errors import SpecificationError
from gvcpanel.gvc.columns import GOVERNANCE_TYPES

__all__ = [
    "GHS_RULES",
    "HS_RULES",
    "SCHEMES",
    "GovernanceReport",
    "Rule",
    "Scheme",
    "classify_frame",
    "classify_governance",
]

Predicate = Callable[[pd.DataFrame, Mapping[str, float]], pd.Series]

_HS2002 = "Humphrey & Schmitz (2002), Regional Studies 36(9), section 'Value chain relationships and upgrading in clusters'"
_HS2002_GOV = "Humphrey & Schmitz (2002), Regional Studies 36(9), section 'Value chain governance'"
_HS2002_SINOS = "Humphrey & Schmitz (2002), Regional Studies 36(9), section 'Upgrading in the Sinos Valley footwear cluster'"
_HS2001 = "Humphrey & Schmitz (2001), IDS Bulletin 32(3), section 3"
_GHS2005 = "Gereffi, Humphrey & Sturgeon (2005), Review of International Political Economy 12(1), Table 1 and section 'A theory of global value chain governance'"


@dataclass(frozen=True)
class Rule:
    """One row of a classification table.

    Attributes
    ----------
    name : str
        Identifier used in reports and reasons.
    governance : str or None
        Type assigned when the predicate holds; ``None`` for combinations the source excludes
        (the firm-year then stays missing, with ``name`` as the reason).
    condition : str
        The condition in words, with threshold names in braces.
    source : str
        Where the condition comes from (paper and section or table).
    needs : tuple of str
        Columns the predicate reads.
    predicate : callable
        ``predicate(indicators, thresholds)`` returns a nullable boolean Series; ``<NA>`` where
        the outcome depends on a missing indicator (Kleene logic of pandas' ``boolean`` dtype).
    """

    name: str
    governance: str | None
    condition: str
    source: str
    needs: tuple[str, ...]
    predicate: Predicate


@dataclass(frozen=True)
class Scheme:
    """A classification scheme: ordered rules, the output column and its default thresholds."""

    name: str
    column: str
    types: tuple[str, ...]
    rules: tuple[Rule, ...]
    default_thresholds: Mapping[str, float]
    threshold_notes: Mapping[str, str]


def _flag(frame: pd.DataFrame, column: str) -> pd.Series:
    """A 0/1 indicator (numbers, booleans or 'high'/'low' text) as nullable boolean."""
    values = frame[column]
    if values.dtype == "boolean" or values.dtype == bool:
        return values.astype("boolean")
    if not pd.api.types.is_numeric_dtype(values):
        text = values.astype("string").str.strip().str.lower()
        mapped = text.map({"high": 1.0, "low": 0.0, "1": 1.0, "0": 0.0, "true": 1.0, "false": 0.0})
        unknown = text.notna() & mapped.isna()
        if unknown.any():
            raise SpecificationError(
                f"column {column!r}: expected 0/1 or 'high'/'low', found "
                f"{sorted(text[unknown].unique().tolist())[:5]}; recode these values first."
            )
        values = mapped
    numeric = pd.to_numeric(values).astype("Float64")
    return numeric == 1.0


def _number(frame: pd.DataFrame, column: str) -> pd.Series:
    return pd.to_numeric(frame[column]).astype("Float64")


# --- Humphrey & Schmitz (2002): four types ------------------------------------------------------


def _hierarchy(f: pd.DataFrame, t: Mapping[str, float]) -> pd.Series:
    return _flag(f, "buyer_owned")


def _quasi_hierarchy(f: pd.DataFrame, t: Mapping[str, float]) -> pd.Series:
    control = _flag(f, "buyer_sets_design") | _flag(f, "buyer_monitors_process")
    return control & (_number(f, "main_buyer_share") >= t["dominant_buyer_share"])


def _network(f: pd.DataFrame, t: Mapping[str, float]) -> pd.Series:
    return _flag(f, "joint_development") & (
        _number(f, "main_buyer_share") < t["dominant_buyer_share"]
    )


def _market(f: pd.DataFrame, t: Mapping[str, float]) -> pd.Series:
    no_specs = ~_flag(f, "buyer_sets_design") & ~_flag(f, "buyer_monitors_process")
    return (
        no_specs
        & ~_flag(f, "joint_development")
        & (_number(f, "n_buyers") >= t["market_min_buyers"])
    )


HS_RULES: tuple[Rule, ...] = (
    Rule(
        name="hierarchy_buyer_owned",
        governance="hierarchy",
        condition="buyer_owned == 1",
        source=f"{_HS2002}, type 4: the lead firm takes direct ownership of operations; {_HS2001}",
        needs=("buyer_owned",),
        predicate=_hierarchy,
    ),
    Rule(
        name="quasi_hierarchy_buyer_control",
        governance="quasi_hierarchy",
        condition="(buyer_sets_design == 1 or buyer_monitors_process == 1) and "
        "main_buyer_share >= {dominant_buyer_share}",
        source=f"{_HS2002}, type 3: one firm specifies the product and sometimes the process and "
        f"its control; {_HS2002_GOV}: supplier depends on one or a few customers for the bulk of "
        f"sales (high switching costs); {_HS2002_SINOS}: main buyer took over 80% of output",
        needs=("buyer_sets_design", "buyer_monitors_process", "main_buyer_share"),
        predicate=_quasi_hierarchy,
    ),
    Rule(
        name="network_joint_development",
        governance="network",
        condition="joint_development == 1 and main_buyer_share < {dominant_buyer_share}",
        source=f"{_HS2002}, type 2: information-intensive co-operation dividing competences, "
        f"reciprocal dependence; {_HS2002_GOV}: low transactional dependence",
        needs=("joint_development", "main_buyer_share"),
        predicate=_network,
    ),
    Rule(
        name="market_arms_length",
        governance="market",
        condition="buyer_sets_design == 0 and buyer_monitors_process == 0 and "
        "joint_development == 0 and n_buyers >= {market_min_buyers}",
        source=f"{_HS2002}, type 1: no close relationship, requirements could be met by a range "
        f"of firms, process requirements met by independent certification; {_HS2001}",
        needs=("buyer_sets_design", "buyer_monitors_process", "joint_development", "n_buyers"),
        predicate=_market,
    ),
)

# --- Gereffi, Humphrey & Sturgeon (2005): five types --------------------------------------------


def _high(frame: pd.DataFrame, column: str, cut: float) -> pd.Series:
    """A 0-1 index (or 'high'/'low' text) as nullable boolean 'high'."""
    values = frame[column]
    if not (pd.api.types.is_numeric_dtype(values) or values.dtype == "boolean"):
        return _flag(frame, column)
    return pd.to_numeric(values).astype("Float64") >= cut


def _ghs(complexity: bool, codifiable: bool, capable: bool | None) -> Predicate:
    def predicate(f: pd.DataFrame, t: Mapping[str, float]) -> pd.Series:
        c = _high(f, "transaction_complexity", t["high_at"])
        k = _high(f, "codifiability", t["high_at"])
        out = (c if complexity else ~c) & (k if codifiable else ~k)
        if capable is not None:
            s = _high(f, "supplier_capability", t["high_at"])
            out = out & (s if capable else ~s)
        return out

    return predicate


_GHS_NEEDS = ("transaction_complexity", "codifiability", "supplier_capability")

GHS_RULES: tuple[Rule, ...] = (
    Rule("ghs_market", "market", "complexity low, codifiability high, capability high",
         f"{_GHS2005}: market row", _GHS_NEEDS, _ghs(False, True, True)),
    Rule("ghs_modular", "modular", "complexity high, codifiability high, capability high",
         f"{_GHS2005}: modular row", _GHS_NEEDS, _ghs(True, True, True)),
    Rule("ghs_relational", "relational", "complexity high, codifiability low, capability high",
         f"{_GHS2005}: relational row", _GHS_NEEDS, _ghs(True, False, True)),
    Rule("ghs_captive", "captive", "complexity high, codifiability high, capability low",
         f"{_GHS2005}: captive row", _GHS_NEEDS, _ghs(True, True, False)),
    Rule("ghs_hierarchy", "hierarchy", "complexity high, codifiability low, capability low",
         f"{_GHS2005}: hierarchy row", _GHS_NEEDS, _ghs(True, False, False)),
    Rule("ghs_excluded_low_complexity_low_codifiability", None,
         "complexity low and codifiability low (either capability)",
         f"{_GHS2005}: the combination is unlikely to occur, so it defines no type",
         ("transaction_complexity", "codifiability"), _ghs(False, False, None)),
    Rule("ghs_excluded_supplier_lacks_capability", None,
         "complexity low, codifiability high, capability low",
         f"{_GHS2005}: such suppliers are excluded from the chain rather than governed",
         _GHS_NEEDS, _ghs(False, True, False)),
)

SCHEMES: Mapping[str, Scheme] = MappingProxyType({
    "humphrey_schmitz_2002": Scheme(
        name="humphrey_schmitz_2002",
        column="governance",
        types=GOVERNANCE_TYPES,
        rules=HS_RULES,
        default_thresholds=MappingProxyType(
            {"dominant_buyer_share": 0.5, "market_min_buyers": 3.0}
        ),
        threshold_notes=MappingProxyType({
            "dominant_buyer_share": "share of sales to the main buyer at or above which that buyer "
            "dominates: the supplier depends on it (quasi-hierarchy) and the relation cannot be "
            "the reciprocal dependence of a network. 0.5 = the bulk of sales; the Sinos Valley "
            "exporters (over 0.8) are the extreme case cited by Humphrey & Schmitz (2002).",
            "market_min_buyers": "fewest buyers for an arm's-length market relation (buyers "
            "could be replaced: the product is not tied to one customer).",
        }),
    ),
    "gereffi_humphrey_sturgeon_2005": Scheme(
        name="gereffi_humphrey_sturgeon_2005",
        column="governance_ghs",
        types=("market", "modular", "relational", "captive", "hierarchy"),
        rules=GHS_RULES,
        default_thresholds=MappingProxyType({"high_at": 0.5}),
        threshold_notes=MappingProxyType({
            "high_at": "transaction_complexity, codifiability and supplier_capability are 0-1 "
            "indices (schema); a value at or above this cut counts as 'high'. With 0/1 coding "
            "any cut in (0, 1] gives the same result.",
        }),
    ),
})


@dataclass(frozen=True)
class GovernanceReport:
    """What :func:`classify_governance` did.

    Attributes
    ----------
    scheme : str
    column : str
        Column the rule result belongs to (``governance`` or ``governance_ghs``).
    thresholds : Mapping[str, float]
        Thresholds used (defaults updated with the caller's).
    rule_counts : pandas.DataFrame
        One row per rule in precedence order: ``rule``, ``governance``, ``condition``,
        ``source``, ``n_firm_years`` the rule decided (classified, or for a rule without a
        type, left missing as excluded by the source).
    unclassified : pandas.DataFrame
        ``reason``, ``n_firm_years`` for firm-years left missing.
    result : pandas.Series
        Rule result per firm-year (missing where unclassified), same index as the panel.
    reasons : pandas.Series
        Reason per unclassified firm-year (index: the unclassified firm-years).
    kept_input : bool
        True when the input already had values in ``column``; they were kept unchanged.
    crosstab : pandas.DataFrame or None
        Input (rows) against rule result (columns), ``<NA>`` counted as its own category;
        ``None`` when the input had no ``column``.
    agreement_rate : float or None
        Share of firm-years where input and rule result are both present and equal, among
        those where both are present.
    n_compared : int
        Firm-years entering ``agreement_rate``.
    missing_inputs : pandas.DataFrame
        Every input of every rule that is absent from the data or missing in some firm-years,
        all at once: ``rule``, ``column``, ``absent`` (the column is not in the data at all),
        ``n_missing`` (firm-years where it is missing).  Empty when every input is complete.
    """

    scheme: str
    column: str
    thresholds: Mapping[str, float]
    rule_counts: pd.DataFrame
    unclassified: pd.DataFrame
    result: pd.Series
    reasons: pd.Series
    kept_input: bool
    crosstab: pd.DataFrame | None
    agreement_rate: float | None
    n_compared: int
    missing_inputs: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(
        columns=["rule", "column", "absent", "n_missing"]))

    @property
    def n_classified(self) -> int:
        return int(self.result.notna().sum())

    @property
    def n_unclassified(self) -> int:
        return int(self.result.isna().sum())

    def missing_inputs_text(self) -> str:
        """Every rule with the inputs it lacks, in one line per rule (empty when none lacks any)."""
        parts = []
        for rule, rows in self.missing_inputs.groupby("rule", sort=False):
            items = [f"{c} (absent)" if a else f"{c} (missing in {n} firm-years)"
                     for c, a, n in zip(rows["column"], rows["absent"], rows["n_missing"])]
            parts.append(f"rule {rule} needs {', '.join(items)}")
        return "; ".join(parts)


def _resolve(scheme: str, thresholds: Mapping[str, float] | None) -> tuple[Scheme, dict[str, float]]:
    if scheme not in SCHEMES:
        raise SpecificationError(
            f"unknown governance scheme {scheme!r}; expected one of {sorted(SCHEMES)}."
        )
    spec = SCHEMES[scheme]
    merged = dict(spec.default_thresholds)
    for key, value in (thresholds or {}).items():
        if key not in merged:
            raise SpecificationError(
                f"unknown threshold {key!r} for scheme {scheme!r}; valid thresholds: "
                f"{sorted(merged) or 'none (this scheme has no thresholds)'}."
            )
        try:
            merged[key] = float(value)
        except (TypeError, ValueError) as err:
            raise SpecificationError(
                f"threshold {key!r} must be a number, found {value!r}."
            ) from err
    return spec, merged


def classify_frame(
    frame: pd.DataFrame,
    scheme: str = "humphrey_schmitz_2002",
    thresholds: Mapping[str, float] | None = None,
) -> GovernanceReport:
    """Apply a scheme's rules to a frame and return the report (the frame is not changed).

    Parameters
    ----------
    frame : pandas.DataFrame
        Firm-years with the indicator columns the scheme needs (absent columns count as missing).
    scheme : str
        ``"humphrey_schmitz_2002"`` or ``"gereffi_humphrey_sturgeon_2005"``.
    thresholds : Mapping[str, float], optional
        Overrides of the scheme's thresholds (see ``SCHEMES[scheme].threshold_notes``).

    Returns
    -------
    GovernanceReport

    Notes
    -----
    With rules :math:`r_1, \\dots, r_K` in precedence order and three-valued predicates
    :math:`p_k(i,t) \\in \\{T, F, U\\}`, the firm-year gets the type of :math:`r_k` where
    :math:`k = \\min\\{j : p_j(i,t) \\neq F\\}` if :math:`p_k(i,t) = T`; it stays missing with
    reason "missing <columns> (rule r_k)" if :math:`p_k(i,t) = U`, and with "no rule matched"
    if no such :math:`k` exists.
    """
    spec, used = _resolve(scheme, thresholds)
    needed = sorted({c for rule in spec.rules for c in rule.needs})
    indicators = pd.DataFrame(index=frame.index)
    for column in needed:
        # absent columns behave like columns of missing values: every rule reading them is undecided
        indicators[column] = frame[column] if column in frame.columns else pd.Series(
            pd.NA, index=frame.index, dtype="Float64"
        )
    n = len(frame)
    result = np.full(n, None, dtype=object)
    reasons = np.full(n, None, dtype=object)
    open_ = np.ones(n, dtype=bool)
    counts: list[int] = []
    for rule in spec.rules:
        value = rule.predicate(indicators, used)
        holds = value.fillna(False).to_numpy(dtype=bool) & open_
        undecided = value.isna().to_numpy() & open_
        if rule.governance is None:
            reasons[holds] = f"excluded by source ({rule.name})"
        else:
            result[holds] = rule.governance
        counts.append(int(holds.sum()))
        if undecided.any():
            missing = indicators.loc[undecided, list(rule.needs)].isna().to_numpy()
            names = np.array(rule.needs)
            reasons[undecided] = [
                f"missing {', '.join(names[row])} (rule {rule.name})" for row in missing
            ]
        open_ &= ~(holds | undecided)
    reasons[open_] = "no rule matched"
    result_series = pd.Series(result, index=frame.index, name=spec.column).astype("string")
    reason_series = pd.Series(reasons, index=frame.index, name="reason").dropna().astype("string")
    rule_counts = pd.DataFrame({
        "rule": [r.name for r in spec.rules],
        "governance": [r.governance for r in spec.rules],
        "condition": [r.condition.format(**used) for r in spec.rules],
        "source": [r.source for r in spec.rules],
        "n_firm_years": counts,
    })
    unclassified = (
        reason_series.value_counts().rename_axis("reason").rename("n_firm_years").reset_index()
        .sort_values(["n_firm_years", "reason"], ascending=[False, True], ignore_index=True)
    )
    missing_rows = []
    for rule in spec.rules:
        for column in rule.needs:
            absent = column not in frame.columns
            n_missing = n if absent else int(frame[column].isna().sum())
            if n_missing:
                missing_rows.append((rule.name, column, absent, n_missing))
    missing_inputs = pd.DataFrame(missing_rows, columns=["rule", "column", "absent", "n_missing"])
    crosstab = None
    agreement = None
    n_compared = 0
    kept = spec.column in frame.columns and bool(frame[spec.column].notna().any())
    if spec.column in frame.columns:
        given = frame[spec.column].astype("string")
        crosstab = pd.crosstab(
            given.fillna("<NA>").rename(f"input {spec.column}"),
            result_series.fillna("<NA>").rename(f"rule {spec.column}"),
        )
        both = given.notna() & result_series.notna()
        n_compared = int(both.sum())
        if n_compared:
            agreement = float((given[both] == result_series[both]).mean())
    return GovernanceReport(
        scheme=spec.name,
        column=spec.column,
        thresholds=MappingProxyType(used),
        rule_counts=rule_counts,
        unclassified=unclassified,
        result=result_series,
        reasons=reason_series,
        kept_input=kept,
        crosstab=crosstab,
        agreement_rate=agreement,
        n_compared=n_compared,
        missing_inputs=missing_inputs,
    )


def classify_governance(
    panel: Any,
    scheme: str = "humphrey_schmitz_2002",
    thresholds: Mapping[str, float] | None = None,
) -> Any:
    """Classify chain governance per firm-year by the rules of a published scheme.

    Parameters
    ----------
    panel : FirmPanel or pandas.DataFrame
        A DataFrame is first loaded with :func:`gvcpanel.data.io.load_panel`.
    scheme : {"humphrey_schmitz_2002", "gereffi_humphrey_sturgeon_2005"}
        Four-type scheme (writes ``governance``) or five-type scheme (writes ``governance_ghs``).
    thresholds : Mapping[str, float], optional
        Overrides. Humphrey & Schmitz: ``dominant_buyer_share`` (default 0.5) and
        ``market_min_buyers`` (default 3). Five types: ``high_at`` (default 0.5), the cut at
        or above which a 0-1 index counts as high.

    Returns
    -------
    FirmPanel
        A new panel (``panel.derive(..., step="classify_governance:<scheme>")``) whose
        ``governance_report`` is a :class:`GovernanceReport`. If the input already has values in
        the scheme's column they are kept unchanged and the report cross-tabulates them against
        the rules; otherwise the column is written from the rules (missing where unclassified).

    Raises
    ------
    SpecificationError
        Unknown scheme or threshold key (the message lists the valid ones).

    Notes
    -----
    Humphrey & Schmitz (2002) rules, in precedence order (thresholds in braces):

    1. hierarchy: :math:`\\text{buyer\\_owned} = 1`.
    2. quasi_hierarchy: :math:`(\\text{design} = 1 \\lor \\text{monitors} = 1) \\land
       s \\ge \\{\\text{dominant\\_buyer\\_share}\\}`, with :math:`s` the main-buyer share.
    3. network: :math:`\\text{joint\\_development} = 1 \\land s < \\{\\text{dominant\\_buyer\\_share}\\}`.
    4. market: :math:`\\text{design} = 0 \\land \\text{monitors} = 0 \\land
       \\text{joint\\_development} = 0 \\land n_{\\text{buyers}} \\ge \\{\\text{market\\_min\\_buyers}\\}`.

    Raising ``dominant_buyer_share`` from 0.5 to 0.8 moves firm-years with buyer control and a
    main-buyer share in [0.5, 0.8) out of quasi_hierarchy: into network if they develop jointly,
    otherwise to "no rule matched"; it also lets joint developers with shares in [0.5, 0.8)
    become network. ``market_min_buyers`` moves firms with fewer buyers out of market.

    Gereffi, Humphrey & Sturgeon (2005, Table 1), with C = complexity of transactions, K = ability
    to codify, S = supplier capability (1 = high): market (C0, K1, S1), modular (1, 1, 1),
    relational (1, 0, 1), captive (1, 1, 0), hierarchy (1, 0, 0). The other three combinations
    are excluded by the source and stay missing with that reason. The schema stores the three
    inputs as 0-1 indices; "high" means ``value >= high_at`` (0/1 codes work unchanged); booleans
    and the text "high"/"low" are accepted too.
    """
    spec, _ = _resolve(scheme, thresholds)
    if isinstance(panel, pd.DataFrame):
        from gvcpanel.data.io import load_panel

        panel = load_panel(panel)
    frame = panel.data
    report = classify_frame(frame, scheme=scheme, thresholds=thresholds)
    if not report.kept_input:
        frame = frame.copy()
        frame[spec.column] = report.result
    return panel.derive(frame, step=f"classify_governance:{spec.name}", governance_report=report)
