"""A pandas reference for the transaction indicators, written from the definitions in
``gvcpanel/gvc/transactions/indicators.py`` (the docstring), not from the SQL.

It loops over sellers and years and says each definition in plain pandas, so that a reader can
check it against the text line by line. It sums floats as they come (no fixed point), so it
agrees with the engines to rounding (the tests use ``rtol=1e-12``). The benchmark also uses it as
"the pandas implementation".
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def _sector_of(codes: pd.Series, products: pd.DataFrame | None) -> pd.Series:
    if products is None:
        return codes.str[:2]
    table = dict(zip(products["product_code"].astype(str), products["sector"]))
    return codes.map(lambda c: table.get(c, table.get(c[:6])))


def reference_indicators(tx: pd.DataFrame, products: pd.DataFrame | None = None,
                         buyers: pd.DataFrame | None = None, proxy_share: float = 0.5) -> pd.DataFrame:
    """Firm-year indicators of ``tx`` (one row per seller-year), computed in pandas."""
    tx = tx.copy()
    if "year" not in tx:
        tx["year"] = pd.to_datetime(tx["date"]).dt.year
    tx["product_code"] = tx["product_code"].astype(str).str.strip()
    tx["unit"] = tx["unit"].fillna("").astype(str).str.strip() if "unit" in tx else ""
    has_country = "buyer_country" in tx
    if has_country:
        tx["buyer_country"] = tx["buyer_country"].where(tx["buyer_country"].isna(),
                                                        tx["buyer_country"].astype(str).str.strip().str.upper())
    tx["sector"] = _sector_of(tx["product_code"], products)
    quantity = tx["quantity"] if "quantity" in tx else pd.Series(np.nan, index=tx.index)
    tx["has_q"] = quantity.fillna(0) > 0
    tx["q"] = quantity.where(tx["has_q"], 0.0)
    lead = income = None
    if buyers is not None:
        lead = dict(zip(buyers["buyer_id"], buyers["lead_firm"]))
        income = dict(zip(buyers["buyer_id"], buyers["income_group"]))

    # unit values of every seller-product-unit-year, and the medians over sellers
    uv_rows = (tx[tx["has_q"]].groupby(["seller_id", "year", "product_code", "unit"])
               .agg(vq=("value", "sum"), q=("q", "sum")).reset_index())
    uv_rows = uv_rows[(uv_rows["q"] > 0) & (uv_rows["vq"] > 0)].copy()
    uv_rows["uv"] = uv_rows["vq"] / uv_rows["q"]
    medians = uv_rows.groupby(["product_code", "unit", "year"])["uv"].median().rename("median")
    uv_rows = uv_rows.join(medians, on=["product_code", "unit", "year"])

    out = []
    for seller, g in tx.groupby("seller_id", sort=True):
        years = sorted(g["year"].unique())
        first = years[0]

        def positive_years(column: str) -> dict:
            """For each value of ``column``: the years in which the seller sold it for a positive value."""
            yearly = g.groupby([column, "year"])["value"].sum()
            yearly = yearly[yearly > 0]
            found: dict = {}
            for (key, year) in yearly.index:
                found.setdefault(key, set()).add(year)
            return found

        buyer_years = positive_years("buyer_id")
        code_years = positive_years("product_code")
        sector_years = positive_years("sector")
        country_years = positive_years("buyer_country") if has_country else {}
        code_sector = dict(zip(g["product_code"], g["sector"]))
        for t in years:
            cur = g[g["year"] == t]
            row = {"firm_id": seller, "year": int(t), "export_value": cur["value"].sum(),
                   "n_records": float(len(cur))}
            by_buyer = cur.groupby("buyer_id")["value"].sum()
            by_buyer = by_buyer[by_buyer > 0]
            total = by_buyer.sum()
            row["n_buyers"] = float(len(by_buyer))
            if len(by_buyer):
                ranked = sorted(by_buyer.items(), key=lambda kv: (-kv[1], kv[0]))
                main, main_value = ranked[0]
                shares = by_buyer / total
                pair = buyer_years[main]
                row.update(main_buyer_share=main_value / total, buyer_hhi=float((shares ** 2).sum()),
                           main_buyer_id=main, main_buyer_tenure=float(t - min(pair) + 1),
                           main_buyer_previous=float(t - 1 in pair) if t - 1 in years else np.nan,
                           main_buyer_continues=float(t + 1 in pair) if t + 1 in years else np.nan)
                if lead is not None:
                    flags = [lead.get(b) for b in by_buyer.index]
                    known = all(pd.notna(f) for f in flags)
                    row["global_buyer"] = float(lead[main]) if pd.notna(lead.get(main)) else np.nan
                    row["lead_firm_share"] = (sum(v for b, v in by_buyer.items() if lead[b] == 1) / total
                                              if known else np.nan)
                    groups = [income.get(b) for b in by_buyer.index]
                    row["high_income_share"] = (sum(v for b, v in by_buyer.items() if income[b] == "high")
                                                / total if all(pd.notna(x) for x in groups) else np.nan)
            # products and sectors sold this year (positive value), first years of each
            sold = [c for c, ys in code_years.items() if t in ys]
            row["n_products"] = float(len(sold))
            if t > first:
                new_codes = [c for c in sold if min(code_years[c]) == t
                             and min(sector_years[code_sector[c]]) < t]
                row["new_product"] = float(len(new_codes) > 0)
                row["new_sector_entry"] = float(any(min(ys) == t for ys in sector_years.values() if t in ys))
            by_sector = cur.groupby("sector")["value"].sum()
            by_sector = by_sector[[s for s, ys in sector_years.items() if t in ys]]
            if len(by_sector):
                row["sector"] = sorted(by_sector.items(), key=lambda kv: (-kv[1], kv[0]))[0][0]
            markets = [c for c, ys in country_years.items() if t in ys and pd.notna(c)]
            if markets:
                row["n_markets"] = float(len(markets))
                if t > first:
                    row["new_market"] = float(any(min(country_years[c]) == t for c in markets))
            mine = uv_rows[(uv_rows["seller_id"] == seller) & (uv_rows["year"] == t)]
            if len(mine):
                weights = mine["vq"] / mine["vq"].sum()
                row["unit_value"] = float((weights * mine["uv"] / mine["median"]).sum())
            share = row.get("main_buyer_share", np.nan)
            if np.isnan(share):
                row["quasi_hierarchy_proxy"] = np.nan
            elif share < proxy_share:
                row["quasi_hierarchy_proxy"] = 0.0
            else:
                row["quasi_hierarchy_proxy"] = row["main_buyer_previous"]
            out.append(row)
    frame = pd.DataFrame(out)
    columns = ["firm_id", "year", "export_value", "n_records", "n_buyers", "main_buyer_share",
               "buyer_hhi", "main_buyer_id", "main_buyer_tenure", "main_buyer_previous",
               "main_buyer_continues", "global_buyer", "lead_firm_share", "high_income_share",
               "n_products", "new_product", "sector", "new_sector_entry", "n_markets", "new_market",
               "unit_value", "quasi_hierarchy_proxy"]
    for c in columns:
        if c not in frame:
            frame[c] = np.nan
    return frame[columns]
