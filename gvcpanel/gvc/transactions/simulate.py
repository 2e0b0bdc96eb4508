r"""Transaction records consistent with a simulated firm panel.

:func:`simulate_transactions` takes the panel of :func:`gvcpanel.simulate_panel` (or draws one)
and writes the customs-style records that firm-years of that panel would leave: which buyers the
firm sold to, how much, which product codes, to which countries, at which unit values. Built
back with :func:`~gvcpanel.gvc.transactions.panel_from_transactions`, they give the panel's
columns again:

=====================  ======================================================================
column                 reproduced
=====================  ======================================================================
``main_buyer_share``   at the panel's 3 decimals: buyer values are whole multiples of 1/1000 of
                       the total (exactly the stored share), except where the stored share was
                       rounded below 1/n_buyers or to 1.000 with several buyers (then the
                       nearest feasible split, equal after rounding to 3 decimals)
``n_buyers``           exactly
``global_buyer``       exactly: the main buyer is a lead firm iff the panel says so
``sector``             exactly: the main sector holds at least 80% of the value
``new_product``        exactly from the firm's second year on; missing in its first year
                       (the records cannot tell what it sold before)
``new_sector_entry``   from the second year on, exactly where the panel's sector move goes to a
                       sector the firm never sold in; a move back to an earlier sector is not a
                       *new* sector in the records (0 there, 1 in the panel)
``unit_value``         up to the division by the product-year median: the firm's price of every
                       code is ``unit_value`` times a fixed base price of the code, so the
                       transaction measure is the panel's unit value over the median of the
                       other sellers of the code
=====================  ======================================================================

Where the panel has an item missing (its simulated nonresponse: ``main_buyer_share``,
``n_buyers``, ``global_buyer``, ``unit_value``), the records still need a value: the generator
draws it from the same state-dependent distribution as :mod:`gvcpanel.gvc.simulate` (unit value:
the firm's geometric mean over its observed years); those firm-years are excluded from the
comparison (:func:`reproduction_table`).

Relationships. The main buyer of a quasi-hierarchy or hierarchy spell stays the same from year
to year with probability 0.95 (a lead firm when ``global_buyer`` = 1); in market and network
chains it is kept with probability 0.5; a change of governance state brings a new main buyer.
Each other buyer of last year stays with probability 0.7. Buyer countries: lead firms in
high-income countries; other buyers spread over the four World Bank income groups. So the
relationship indicators (tenure, continuation) and the quasi-hierarchy proxy carry the
governance state the way the theory says records should, without being a copy of it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from gvcpanel.errors import SpecificationError

SECTOR_CHAPTER = {"apparel": "61", "footwear": "64", "electronics": "85", "auto_parts": "87",
                  "furniture": "94"}
SECTOR_UNIT = {"apparel": "u", "footwear": "pairs", "electronics": "u", "auto_parts": "kg",
               "furniture": "u"}
CODES_PER_SECTOR = 60
COUNTRIES = {
    "high": ("USA", "DEU", "GBR", "JPN", "FRA", "ITA", "NLD", "CAN"),
    "upper_middle": ("CHN", "BRA", "MEX", "ZAF", "TUR"),
    "lower_middle": ("IND", "VNM", "EGY", "PHL"),
    "low": ("ETH", "UGA", "MOZ"),
}
# columns the records provide (they replace the firm table's)
FROM_RECORDS = ("main_buyer_share", "n_buyers", "global_buyer", "sector", "new_sector_entry",
                "new_product", "unit_value")
_STATES = ("market", "network", "quasi_hierarchy", "hierarchy")


@dataclass(frozen=True)
class SimulatedTransactions:
    """Records, lookup tables and the panel they were drawn from.

    Attributes
    ----------
    records : DataFrame
        seller_id, buyer_id, buyer_country, product_code, date, value, quantity, unit.
    products : DataFrame
        product_code, sector.
    buyers : DataFrame
        buyer_id, lead_firm, income_group.
    firms : DataFrame
        The panel without the columns the records provide (``FROM_RECORDS``): cluster, survey
        governance, upgrading, network and controls, per firm-year.
    simulated : SimulatedPanel
        The panel (``simulated.frame``) and its true parameters (``simulated.truth``).
    drawn : DataFrame
        firm_id, year and the values the generator used for the panel's missing items
        (``filled_*`` = 1 where drawn).
    """

    records: pd.DataFrame
    products: pd.DataFrame
    buyers: pd.DataFrame
    firms: pd.DataFrame
    simulated: Any
    drawn: pd.DataFrame

    @property
    def truth(self) -> Any:
        return self.simulated.truth

    def write(self, folder: Any, *, partition_by_year: bool = True) -> Any:
        """Write the folder layout read by ``panel_from_transactions(folder)``:
        ``transactions/`` (Parquet, one folder per ``year=``), ``products.csv``, ``buyers.csv``,
        ``firms.csv``."""
        from pathlib import Path

        import pyarrow as pa
        import pyarrow.parquet as pq

        root = Path(folder)
        root.mkdir(parents=True, exist_ok=True)
        records = self.records.assign(year=pd.DatetimeIndex(self.records["date"]).year)
        table = pa.Table.from_pandas(records, preserve_index=False)
        if partition_by_year:
            pq.write_to_dataset(table, root / "transactions", partition_cols=["year"],
                                existing_data_behavior="delete_matching")
        else:
            pq.write_table(table, root / "transactions.parquet")
        self.products.to_csv(root / "products.csv", index=False)
        self.buyers.to_csv(root / "buyers.csv", index=False)
        self.firms.to_csv(root / "firms.csv", index=False)
        return root


def _split(total: int, parts: int, cap: int, rng: np.random.Generator) -> np.ndarray:
    """``parts`` positive integers summing to ``total``, each at most ``cap`` (random shares)."""
    if parts * cap < total or total < parts:
        raise ValueError(f"cannot split {total} into {parts} parts of 1..{cap}")
    weights = rng.gamma(1.0, 1.0, parts) + 1e-9
    out = np.ones(parts, dtype=np.int64) + np.floor((total - parts) * weights / weights.sum()).astype(np.int64)
    out = np.minimum(out, cap)
    rest = total - int(out.sum())
    k = 0
    while rest > 0:  # hand out what rounding and the cap left, to parts with room
        room = cap - out[k % parts]
        give = min(room, rest)
        out[k % parts] += give
        rest -= give
        k += 1
    return out


def _transport(rows: np.ndarray, cols: np.ndarray) -> list[tuple[int, int, int]]:
    """A non-negative integer matrix with the given margins (north-west corner rule)."""
    rows, cols = rows.copy(), cols.copy()
    i = j = 0
    cells = []
    while i < rows.size and j < cols.size:
        amount = int(min(rows[i], cols[j]))
        if amount > 0:
            cells.append((i, j, amount))
        rows[i] -= amount
        cols[j] -= amount
        if rows[i] == 0:
            i += 1
        else:
            j += 1
    return cells


def _fill_share(state: int, rng: np.random.Generator) -> float:
    beta = rng.beta(2.0, 2.0)
    value = (rng.uniform(0.05, 0.4), rng.uniform(0.15, 0.45), 0.55 + 0.4 * beta, 0.6 + 0.4 * beta)[state]
    return round(float(value), 3)


def simulate_transactions(simulated: Any = None, *, seed: int = 20130, max_shipments: int = 3,
                          **panel_options: Any) -> SimulatedTransactions:
    """Records consistent with a simulated firm panel.

    Parameters
    ----------
    simulated : SimulatedPanel, optional
        From :func:`gvcpanel.simulate_panel`; drawn with ``panel_options`` (and ``seed``) when
        not given.
    seed : int
        Seed of the records' own draws (buyers, products, shipments, dates).
    max_shipments : int
        Each buyer-product cell of a year is split into 1..max_shipments records.
    **panel_options
        Passed to :func:`gvcpanel.simulate_panel` when ``simulated`` is None (e.g. n_firms).

    Returns
    -------
    SimulatedTransactions
    """
    from gvcpanel.gvc.simulate import simulate_panel

    if simulated is None:
        panel_options.setdefault("seed", seed)
        simulated = simulate_panel(**panel_options)
    if max_shipments < 1:
        raise SpecificationError(f"max_shipments={max_shipments}; use 1 or more.")
    frame = simulated.frame.sort_values(["firm_id", "year"]).reset_index(drop=True)
    rng = np.random.default_rng([seed, 13])
    n_firms = frame["firm_id"].nunique()

    # buyers: lead firms 100001.., others 200001..; six digits, so numeric and text order agree
    n_lead, n_other = max(20, n_firms // 10), max(200, 5 * n_firms)
    lead_ids = 100_001 + np.arange(n_lead)
    other_ids = 200_001 + np.arange(n_other)
    groups = np.array(list(COUNTRIES))
    other_group = rng.choice(groups, n_other, p=[0.45, 0.3, 0.18, 0.07])
    buyer_country = {int(b): str(rng.choice(COUNTRIES["high"])) for b in lead_ids}
    for b, g in zip(other_ids, other_group):
        buyer_country[int(b)] = str(rng.choice(COUNTRIES[g]))
    buyers = pd.DataFrame({
        "buyer_id": np.r_[lead_ids, other_ids],
        "lead_firm": np.r_[np.ones(n_lead, dtype=np.int64), np.zeros(n_other, dtype=np.int64)],
        "income_group": np.r_[np.full(n_lead, "high"), other_group].astype(object)})
    is_lead = {int(b): True for b in lead_ids}

    # products: per sector CODES_PER_SECTOR codes in its HS chapter, a base price each
    codes = {s: [f"{ch}{k:04d}" for k in range(1, CODES_PER_SECTOR + 1)] for s, ch in SECTOR_CHAPTER.items()}
    # popular codes are sold by many firms, so product-year medians compare several sellers
    popularity = 1.0 / (np.arange(CODES_PER_SECTOR) + 5.0)

    def pick(pool: list[str], k: int) -> list[str]:
        weights = popularity[[int(c[2:]) - 1 for c in pool]]
        return [str(c) for c in rng.choice(pool, k, replace=False, p=weights / weights.sum())]

    products = pd.DataFrame([(c, s) for s, cs in codes.items() for c in cs],
                            columns=["product_code", "sector"])
    base_price = dict(zip(products["product_code"], np.round(10 * np.exp(rng.normal(0, 0.5, len(products))), 4)))

    # the panel's items, with missing ones drawn
    state = pd.Categorical(frame["governance"], categories=_STATES).codes.astype(int)
    share = frame["main_buyer_share"].astype("Float64").to_numpy(dtype=float, na_value=np.nan)
    n_buy = frame["n_buyers"].astype("Float64").to_numpy(dtype=float, na_value=np.nan)
    glob = frame["global_buyer"].astype("Float64").to_numpy(dtype=float, na_value=np.nan)
    uv = frame["unit_value"].astype("Float64").to_numpy(dtype=float, na_value=np.nan)
    filled = {name: np.zeros(len(frame), dtype=np.int8) for name in ("share", "n_buyers", "global", "unit_value")}
    firm_mean_log_uv = pd.Series(np.log(uv)).groupby(frame["firm_id"].to_numpy()).transform("mean").to_numpy()
    for r in range(len(frame)):
        st = state[r]
        if np.isnan(share[r]):
            share[r] = _fill_share(st, rng)
            if not np.isnan(n_buy[r]) and n_buy[r] * share[r] < 1:
                share[r] = np.ceil(1000 / n_buy[r]) / 1000
            filled["share"][r] = 1
        if np.isnan(n_buy[r]):
            floor, extra = ((3, 3.0), (2, 2.0), (2, 1.0), (1, 0.5))[st]
            n_buy[r] = max(int(np.ceil(1 / share[r] - 1e-9)), floor) + rng.poisson(extra)
            filled["n_buyers"][r] = 1
        if np.isnan(glob[r]):
            glob[r] = float(rng.random() < (0.2, 0.3, 0.9, 0.95)[st])
            filled["global"][r] = 1
        if np.isnan(uv[r]):
            uv[r] = float(np.exp(firm_mean_log_uv[r])) if not np.isnan(firm_mean_log_uv[r]) else 10.0
            filled["unit_value"][r] = 1

    firm_ids = frame["firm_id"].to_numpy()
    years = frame["year"].to_numpy()
    sectors = frame["sector"].astype(str).to_numpy()
    new_product = frame["new_product"].to_numpy()
    employees = frame["employees"].astype("Float64").to_numpy(dtype=float, na_value=np.nan)
    cell_seller, cell_buyer, cell_code, cell_year, cell_amount, cell_price = [], [], [], [], [], []
    prev_firm = None
    for r in range(len(frame)):
        firm, year, sec = firm_ids[r], int(years[r]), sectors[r]
        first = firm != prev_firm or years[r] != years[r - 1] + 1
        if firm != prev_firm:
            served: dict[str, list[str]] = {}
            main_buyer, others, portfolio, prev_sector, prev_state = None, [], [], None, None
        prev_firm = firm
        st, g, n = state[r], bool(glob[r]), int(n_buy[r])
        s1000 = int(round(share[r] * 1000))

        # -- buyers and their values
        keep_main = (main_buyer is not None and not first and is_lead.get(main_buyer, False) == g
                     and prev_state == st and rng.random() < (0.5, 0.5, 0.95, 0.95)[st])
        if not keep_main:
            pool = lead_ids if g else other_ids
            main_buyer = int(rng.choice(pool))
        k_scale = max(n, int(round((employees[r] if not np.isnan(employees[r]) else 20) * 50)))
        main_value = s1000 * k_scale
        rest = (1000 - s1000) * k_scale
        m = n - 1
        tie = m > 0 and n * s1000 == 1000
        if tie and int((other_ids > main_buyer).sum()) < 4 * m:
            # ties go to the smaller buyer_id: the main buyer must be below the others
            main_buyer = int(rng.choice((lead_ids if g else other_ids)[: max(1, len(other_ids) // 4)]))
        kept = [b for b in others if b != main_buyer and rng.random() < 0.7 and (not tie or b > main_buyer)]
        kept = kept[:m]
        while len(kept) < m:
            cand = int(rng.choice(other_ids)) if (tie or rng.random() > 0.1) else int(rng.choice(lead_ids))
            if cand != main_buyer and cand not in kept and (not tie or cand > main_buyer):
                kept.append(cand)
        others = kept
        if m == 0:
            buyer_values = np.array([1000 * k_scale], dtype=np.int64)
        elif n * s1000 < 1000:
            # the share was rounded below 1/n_buyers: the main buyer takes just over 1/n (which
            # rounds to the same 3 decimals) and every other buyer one unit less
            total = 1000 * k_scale + (1 - 1000 * k_scale) % n
            main_value = (total + n - 1) // n
            buyer_values = np.r_[main_value, np.full(m, main_value - 1, dtype=np.int64)]
        elif rest == 0:  # share 1.000 with several buyers: impossible exactly, see module notes
            buyer_values = np.r_[main_value - m, np.ones(m, dtype=np.int64)]
        elif tie:
            buyer_values = np.full(n, main_value, dtype=np.int64)
        else:
            buyer_values = np.r_[main_value, _split(rest, m, main_value - 1, rng)]
        buyer_list = [main_buyer] + others

        # -- products
        chapter_codes = codes[sec]
        moved = not first and sec != prev_sector
        if first:
            portfolio = pick(chapter_codes, min(4, 1 + rng.poisson(1.0)))
            side = []
        else:
            if moved:
                if sec in served:
                    old = served[sec]
                    portfolio = list(rng.choice(old, min(len(old), 3), replace=False))
                else:
                    portfolio = pick(chapter_codes, 1 + int(rng.random() < 0.5))
            elif len(portfolio) > 1 and rng.random() < 0.1:
                portfolio = portfolio[:-1]
            side = []
            if new_product[r] == 1:
                target = prev_sector
                fresh = [c for c in codes[target] if c not in served.get(target, [])]
                code = pick(fresh, 1)[0]
                if moved:
                    side = [code]
                else:
                    portfolio = portfolio + [code]
        total = int(buyer_values.sum())
        side_value = int(total * rng.uniform(0.02, 0.15)) if side else 0
        side_value = max(side_value, 1) if side else 0
        main_part = _split(total - side_value, len(portfolio), total, rng)
        product_values = np.r_[main_part, [side_value] if side else []].astype(np.int64)
        year_codes = portfolio + side
        for code in year_codes:
            code_sector = sec if code in portfolio else prev_sector
            lst = served.setdefault(code_sector, [])
            if code not in lst:
                lst.append(code)
        prev_sector, prev_state = sec, st

        # -- buyer x product cells; split into shipments below, all at once
        for i, j, amount in _transport(buyer_values, product_values):
            cell_seller.append(firm)
            cell_buyer.append(buyer_list[i])
            cell_code.append(year_codes[j])
            cell_year.append(year)
            cell_amount.append(amount)
            cell_price.append(uv[r] * base_price[year_codes[j]])

    # each cell becomes 1..max_shipments records with positive whole values summing to it
    amount = np.asarray(cell_amount, dtype=np.int64)
    k = np.minimum(amount, rng.integers(1, max_shipments + 1, amount.size))
    cell = np.repeat(np.arange(amount.size), k)
    starts = np.r_[0, np.cumsum(k)[:-1]]
    weight = rng.gamma(1.0, 1.0, cell.size) + 1e-9
    share_of_cell = weight / np.add.reduceat(weight, starts)[cell]
    pieces = 1 + np.floor((amount - k)[cell] * share_of_cell).astype(np.int64)
    pieces[starts] += amount - np.add.reduceat(pieces, starts)
    day = rng.integers(0, 365, cell.size)
    first_day = pd.to_datetime(pd.Series(np.asarray(cell_year)[cell]).astype(str) + "-01-01")
    out_seller = np.asarray(cell_seller, dtype=np.int64)[cell]
    out_buyer = np.asarray(cell_buyer, dtype=np.int64)[cell]
    out_code = np.asarray(cell_code, dtype=object)[cell]
    out_date = (first_day + pd.to_timedelta(day, unit="D")).dt.date
    out_value = pieces.astype(float)
    out_qty = np.round(out_value / np.asarray(cell_price)[cell], 4)

    code_sector = dict(zip(products["product_code"], products["sector"]))
    records = pd.DataFrame({
        "seller_id": out_seller,
        "buyer_id": out_buyer,
        "buyer_country": pd.Series(out_buyer).map(buyer_country).to_numpy(dtype=object),
        "product_code": out_code,
        "date": out_date.to_numpy(),
        "value": out_value,
        "quantity": out_qty,
        "unit": pd.Series(out_code).map(code_sector).map(SECTOR_UNIT).to_numpy(dtype=object),
    })
    firms = simulated.frame.drop(columns=[c for c in FROM_RECORDS if c in simulated.frame.columns])
    drawn = pd.DataFrame({"firm_id": frame["firm_id"], "year": frame["year"],
                          "main_buyer_share": share, "n_buyers": n_buy, "global_buyer": glob,
                          "unit_value": uv,
                          **{f"filled_{k}": v for k, v in filled.items()}})
    return SimulatedTransactions(records, products, buyers, firms, simulated, drawn)


def reproduction_table(panel: Any, sim: SimulatedTransactions) -> pd.DataFrame:
    """How the panel built from the records matches the simulated panel, column by column.

    Returns
    -------
    DataFrame
        column, compared (firm-years where both sides are observed and the definition allows an
        exact match), equal, differing, note.
    """
    built = panel.data.reset_index() if hasattr(panel, "data") else panel
    truth = sim.simulated.frame
    both = built.merge(truth, on=["firm_id", "year"], suffixes=("_tx", "_panel"))
    first = both.groupby("firm_id")["year"].transform("min") == both["year"]
    rows = []

    def add(column: str, mask: pd.Series, equal: pd.Series, note: str) -> None:
        rows.append({"column": column, "compared": int(mask.sum()), "equal": int((equal & mask).sum()),
                     "differing": int((~equal & mask).sum()), "note": note})

    share_tx = both["main_buyer_share_tx"].round(3)
    obs = both["main_buyer_share_panel"].notna()
    add("main_buyer_share", obs, share_tx == both["main_buyer_share_panel"], "exact at 3 decimals")
    obs = both["n_buyers_panel"].notna()
    add("n_buyers", obs, both["n_buyers_tx"] == both["n_buyers_panel"], "exact")
    obs = both["global_buyer_panel"].notna()
    add("global_buyer", obs, both["global_buyer_tx"] == both["global_buyer_panel"], "exact")
    add("sector", pd.Series(True, index=both.index),
        both["sector_tx"].astype(str) == both["sector_panel"].astype(str), "exact")
    later = ~first
    add("new_product", later, both["new_product_tx"] == both["new_product_panel"],
        "exact after the firm's first year (missing there in the records)")
    add("new_sector_entry", later, both["new_sector_entry_tx"] == both["new_sector_entry_panel"],
        "differs only where a move returns to a sector served before")
    obs = both["unit_value_panel"].notna() & both["unit_value_tx"].notna()
    log_tx, log_panel = np.log(both["unit_value_tx"]), np.log(both["unit_value_panel"].astype(float))
    demean = lambda x: x - x[obs].groupby(both.loc[obs, "firm_id"]).transform("mean")  # noqa: E731
    corr = float(np.corrcoef(demean(log_tx)[obs], demean(log_panel)[obs])[0, 1]) if obs.sum() > 2 else np.nan
    rows.append({"column": "unit_value", "compared": int(obs.sum()), "equal": np.nan, "differing": np.nan,
                 "note": f"relative to the product-year median; within-firm correlation of logs {corr:.3f}"})
    return pd.DataFrame(rows)





def example_transactions() -> SimulatedTransactions:
    """Records of the embedded example panel (:func:`gvcpanel.example_panel`: 3,000 firms, 30
    clusters, 6 countries, 2005-2019, its seed), drawn with this module's default seed."""
    from gvcpanel.gvc.simulate import EXAMPLE_SEED, simulate_panel

    simulated = simulate_panel(n_firms=3000, n_clusters=30, n_countries=6, years=(2005, 2019),
                               seed=EXAMPLE_SEED)
    return simulate_transactions(simulated)

__all__ = ["FROM_RECORDS", "SimulatedTransactions", "example_transactions", "reproduction_table",
           "simulate_transactions"]
