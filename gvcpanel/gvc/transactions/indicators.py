r"""Firm-year indicators from transaction records: the definitions, once, as portable SQL.

The same statements run on DuckDB and on Spark SQL (GROUP BY, equi-joins, ``TRY_CAST``,
``GROUPING SETS`` in the checks); the dialect differences are shims in :mod:`.engines`: the
regular expression test of the checks, and an engine's exact median aggregate where it has one
(DuckDB), used instead of the portable ranking window only when it gives the same bits (tested).
There is no second implementation that could drift.

Plan (why it scales). The records are read twice, each time collapsed at once to the grain
its indicators need: seller-year-buyer-country (``buyer_flows``) and seller-year-product-unit
(``product_flows``). Every later step works on those tables or smaller ones, with GROUP BY and
equi-joins only: a first year is a minimum, "also in :math:`t-1`" a join on ``year - 1``, the
largest buyer or sector a maximum joined back (ties to the smaller id); no window function or
sort runs over the records. Each intermediate table is dropped after its last reader. A
Parquet folder partitioned by year is scanned one batch of whole years at a time (the same
two statements on each batch, the parts stacked: :data:`SCAN_STEPS`), so a scan's hash tables
never hold more than one batch's groups.

Notation: seller :math:`i` (the panel's firm), year :math:`t`, buyer :math:`b`, product code
:math:`p`, destination country :math:`c`; :math:`v_{itb}` the value sold by :math:`i` to
:math:`b` in :math:`t` (summed over records), :math:`V_{it} = \sum_b v_{itb}`. "Earlier" means
any earlier year in the data; the seller's first year in the data is :math:`t_i^0`. Flow
indicators that compare with the seller's past (new product, new sector, new market) are
missing in :math:`t_i^0`, because the records cannot tell what the seller sold before the data
begin (left censoring); they are never set to 0 there.

Indicators (column, definition, source):

``export_value``
    :math:`V_{it}`, total value (currency units of the records).
``n_buyers`` (canonical)
    Number of buyers with positive value in the year. Number of buyers per exporter:
    Bernard, A. B., Moxnes, A. and Ulltveit-Moe, K. H. (2018), Two-sided heterogeneity and
    trade, Review of Economics and Statistics 100(3).
``main_buyer_share`` (canonical)
    :math:`\max_b v_{itb} / V_{it}`. Dependence on the main buyer (Humphrey, J. and Schmitz, H.
    (2002), How does insertion in global value chains affect upgrading in industrial clusters?,
    Regional Studies 36(9): the main buyer took over 80% of the big Sinos Valley exporters'
    output). The main buyer is the buyer with the largest value; ties go to the smaller
    buyer_id.
``buyer_hhi``
    :math:`\sum_b (v_{itb}/V_{it})^2`, Herfindahl-Hirschman concentration of sales over buyers
    (Hirschman, A. O. (1964), The paternity of an index, American Economic Review 54(5)).
``main_buyer_id``, ``main_buyer_tenure``
    The main buyer, and :math:`t - ` (first year in the data in which :math:`i` sold to it)
    :math:`+ 1`: age of the relationship in years, 1 when it is new; censored at the first year
    of the data.
``main_buyer_previous``, ``main_buyer_continues``
    1 if this year's main buyer also bought from the seller in :math:`t-1` (resp. buys again in
    :math:`t+1`), 0 if not; missing when the seller itself has no records in :math:`t-1`
    (resp. :math:`t+1`), so seller exit and the end of the data are not read as broken
    relationships.
``global_buyer`` (canonical; needs a buyer table)
    1 if the main buyer is a lead firm (``lead_firm`` = 1 in the buyer table): insertion in a
    chain led by a global buyer (Gereffi, G. (1999), International trade and industrial upgrading
    in the apparel commodity chain, Journal of International Economics 48(1); Humphrey and
    Schmitz 2002).
``lead_firm_share``, ``high_income_share`` (need a buyer table)
    Share of :math:`V_{it}` sold to lead firms, and to buyers in high-income countries (World
    Bank income group ``high``); missing when a buyer of the year has the flag missing. Export
    destinations' income and quality upgrading: Verhoogen, E. A. (2008), Trade, quality
    upgrading, and wage inequality in the Mexican manufacturing sector, Quarterly Journal of
    Economics 123(2).
``n_products``
    Number of product codes with positive value.
``new_product`` (canonical; product upgrading)
    1 if the seller sells a product code it never sold in an earlier year, within a sector it
    already sold in an earlier year; 0 otherwise; missing in :math:`t_i^0`. Product adding and
    dropping in firm-product data: Bernard, A. B., Redding, S. J. and Schott, P. K. (2010),
    Multiple-product firms and product switching, American Economic Review 100(1). Codes in a
    sector new to the seller count as inter-sectoral upgrading instead (``new_sector_entry``),
    so the two events do not double count one move.
``sector`` (canonical)
    The sector with the largest value in the year (ties: the smaller sector label). Sectors
    come from the product table; without one, the HS chapter (first two digits of the code).
``new_sector_entry`` (canonical; inter-sectoral upgrading)
    1 if the seller sells in a sector it never sold in in an earlier year; missing in
    :math:`t_i^0` (Humphrey and Schmitz 2002: using competence from one chain to move into
    another).
``n_markets``, ``new_market``
    Number of destination countries with positive value; 1 if the seller sells to a country it
    never sold to in an earlier year (missing in :math:`t_i^0`; missing throughout without
    ``buyer_country``). Entry into new destinations, the extensive margin of exporting.
``unit_value`` (canonical; product upgrading, quality ladder)
    Relative unit value: with :math:`u_{ipt}` = value / quantity of seller :math:`i`'s records
    of product :math:`p` in unit :math:`k` and year :math:`t` (records with a positive
    quantity only) and :math:`m_{pkt}` the median of :math:`u` over the sellers of
    :math:`(p, k, t)`,

    .. math:: \text{unit\_value}_{it} = \sum_{p,k} w_{ipkt}\, u_{ipkt} / m_{pkt}, \qquad
              w_{ipkt} = \frac{v^q_{ipkt}}{\sum_{p,k} v^q_{ipkt}},

    a value-weighted mean of unit values relative to the product-year median, unit-free
    (1 = the median seller). Unit values within a product as a quality signal: Schott, P. K.
    (2004), Across-product versus within-product specialization in international trade,
    Quarterly Journal of Economics 119(2); quality ladders: Khandelwal, A. (2010), The long and
    short (of) quality ladders, Review of Economic Studies 77(4). It replaces the survey's unit
    value (currency per unit of the main product), whose level cannot be compared across
    products: within-firm changes of its logarithm are what the fixed-effects models use.
``quasi_hierarchy_proxy`` (a proxy, not the survey classification)
    1 if :math:`\text{main\_buyer\_share} \ge s^*` (default 0.5, the threshold of the
    Humphrey-Schmitz rules of :func:`gvcpanel.classify_governance`) and the main buyer already
    bought in :math:`t-1` (a dominant and lasting relationship); 0 if the share is below
    :math:`s^*` or the main buyer is new although the seller sold in :math:`t-1`; missing when
    the share is at least :math:`s^*` and the seller has no records in :math:`t-1`. Records
    show dependence and stability, not who sets the design or monitors the process, nor
    ownership: the proxy does not separate quasi-hierarchy from hierarchy (an owned supplier
    selling to its parent looks the same), and cannot see networks. It is labelled a proxy
    everywhere and never written into ``governance``.

Arithmetic. Values and quantities are summed as whole numbers of :math:`10^{-4}` units
(``CAST(ROUND(x * 1e4) AS BIGINT)``), shares are one division of two exact sums, and the two
sums over real numbers (``buyer_hhi``, ``unit_value``) add terms rounded to :math:`10^{-15}`
and :math:`10^{-12}`; medians average the two middle values. Nothing depends on the order in
which an engine adds partial sums, so DuckDB and Spark give bit-identical results, and a
rerun gives the same bits on any number of threads.
"""

from __future__ import annotations

from dataclasses import dataclass

DEFINITIONS_VERSION = "1.0.0"
SCALE = "CAST(10000 AS DOUBLE)"


@dataclass(frozen=True)
class Indicator:
    """One firm-year indicator: output column, construct, canonical (firm-panel schema) or not."""

    column: str
    construct: str
    canonical: bool
    definition: str


INDICATORS: tuple[Indicator, ...] = (
    Indicator("export_value", "control", False, "total value of the seller's records in the year"),
    Indicator("n_records", "control", False, "number of records"),
    Indicator("n_buyers", "governance", True, "buyers with positive value"),
    Indicator("main_buyer_share", "governance", True, "largest buyer's share of value"),
    Indicator("buyer_hhi", "governance", False, "Herfindahl index of buyer shares"),
    Indicator("main_buyer_id", "governance", False, "the main buyer (ties: smaller buyer_id)"),
    Indicator("main_buyer_tenure", "governance", False,
              "years since the first sale to the main buyer, + 1 (censored at the data's start)"),
    Indicator("main_buyer_previous", "governance", False, "main buyer also bought in t-1"),
    Indicator("main_buyer_continues", "governance", False, "main buyer buys again in t+1"),
    Indicator("global_buyer", "governance", True, "main buyer is a lead firm (buyer table)"),
    Indicator("lead_firm_share", "governance", False, "share of value sold to lead firms"),
    Indicator("high_income_share", "governance", False,
              "share of value sold to buyers in high-income countries"),
    Indicator("n_products", "upgrading-product", False, "product codes with positive value"),
    Indicator("new_product", "upgrading-product", True,
              "a code never sold before, in a sector already served (missing in the first year)"),
    Indicator("sector", "upgrading-intersectoral", True, "sector with the largest value"),
    Indicator("new_sector_entry", "upgrading-intersectoral", True,
              "sells in a sector never served before (missing in the first year)"),
    Indicator("n_markets", "market", False, "destination countries with positive value"),
    Indicator("new_market", "market", False,
              "sells to a country never served before (missing in the first year)"),
    Indicator("unit_value", "upgrading-product", True,
              "value-weighted mean of unit values relative to the product-unit-year median"),
    Indicator("quasi_hierarchy_proxy", "governance", False,
              "PROXY: main-buyer share >= threshold and the main buyer also bought in t-1"),
)
CANONICAL = tuple(i.column for i in INDICATORS if i.canonical)


def _fixed(expr: str) -> str:
    """Exact fixed-point integer of a non-negative real (1e-4 units)."""
    return f"CAST(ROUND(TRY_CAST({expr} AS DOUBLE) * {SCALE}) AS BIGINT)"


def _dbl(expr: str) -> str:
    return f"CAST({expr} AS DOUBLE)"


def _exact_sum(expr: str) -> str:
    # DuckDB sums BIGINT into HUGEINT, Spark into BIGINT: one type on both
    return f"CAST(SUM({expr}) AS BIGINT)"


def normalised_view(columns: set[str], where: str | None = None) -> str:
    """``tx``: one row per record with typed, fixed-point columns (after the checks passed).

    ``where`` (a condition on the raw records ``r``, e.g. a range of the year partitions)
    keeps a part of the records: the scans then run on one batch of years at a time.
    """
    if "year" in columns and "date" in columns:
        year = ("CAST(COALESCE(TRY_CAST(r.year AS DOUBLE), YEAR(TRY_CAST(r.date AS DATE))) "
                "AS INT)")
    elif "year" in columns:
        year = "CAST(TRY_CAST(r.year AS DOUBLE) AS INT)"
    else:
        year = "CAST(YEAR(TRY_CAST(r.date AS DATE)) AS INT)"
    country = ("UPPER(TRIM(CAST(r.buyer_country AS STRING)))" if "buyer_country" in columns
               else "CAST(NULL AS STRING)")
    quantity = _fixed("r.quantity") if "quantity" in columns else "CAST(NULL AS BIGINT)"
    unit = ("COALESCE(TRIM(CAST(r.unit AS STRING)), '')" if "unit" in columns
            else "CAST('' AS STRING)")
    return (f"SELECT r.seller_id AS seller_id, r.buyer_id AS buyer_id, {country} AS buyer_country, "
            f"TRIM(CAST(r.product_code AS STRING)) AS product_code, {year} AS year, "
            f"{_fixed('r.value')} AS value_fx, {quantity} AS quantity_fx, {unit} AS unit FROM tx_raw r"
            + (f" WHERE {where}" if where else ""))


def statements(*, products: bool, buyers: bool, proxy_share: float = 0.5,
               median: str | None = None, records: str = "tx") -> list[tuple[str, str]]:
    """The ordered (table name, SELECT) steps; the last one, ``indicators``, is the output.

    Parameters
    ----------
    products, buyers : bool
        Whether ``products_lookup`` (product_code, sector) and ``buyers_lookup`` (buyer_id,
        lead_firm, income_group) are registered.
    proxy_share : float
        Main-buyer share at or above which the quasi-hierarchy proxy can be 1.
    median : str, optional
        An engine's exact median aggregate with ``{x}`` for its argument, giving the mean of
        the one or two middle values in the same floating-point operations as the portable
        ranking (``(lower + upper) / 2``); by default the ranking window.
    records : str
        The view of normalised records the scans (:data:`SCAN_STEPS`) read.
    """
    if not 0 < proxy_share <= 1:
        from gvcpanel.errors import SpecificationError

        raise SpecificationError(f"proxy_share={proxy_share}; use a share in (0, 1], e.g. 0.5.")
    steps: list[tuple[str, str]] = []
    # Two scans of the records, each collapsing them at once to the grain its indicators need:
    # seller-year-buyer(-country) and seller-year-product-unit. Everything after works on those
    # (and smaller) tables with GROUP BY and equi-joins only: no window over the records, and
    # "first year", "also in t-1" and "largest" are minima, joins on year - 1 and maxima.
    # Counts are COUNT(CASE ...), not SUM(CASE ...): a 64-bit counter instead of DuckDB's
    # 128-bit sum state, about 15% of this scan.
    steps.append(("buyer_flows", f"""
SELECT seller_id, year, buyer_id, buyer_country,
       {_exact_sum('value_fx')} AS v,
       COUNT(*) AS n_records,
       COUNT(CASE WHEN quantity_fx > 0 THEN NULL ELSE 1 END) AS n_without_quantity,
       COUNT(CASE WHEN value_fx = 0 THEN 1 END) AS n_zero_value
FROM {records}
GROUP BY seller_id, year, buyer_id, buyer_country"""))
    steps.append(("product_flows", f"""
SELECT seller_id, year, product_code, unit,
       {_exact_sum('value_fx')} AS v,
       {_exact_sum('CASE WHEN quantity_fx > 0 THEN value_fx ELSE 0 END')} AS v_q,
       {_exact_sum('CASE WHEN quantity_fx > 0 THEN quantity_fx ELSE 0 END')} AS q
FROM {records}
GROUP BY seller_id, year, product_code, unit"""))
    steps.append(("seller_years", f"""
SELECT seller_id, year, {_exact_sum('v')} AS total_v, SUM(n_records) AS n_records
FROM buyer_flows
GROUP BY seller_id, year"""))
    steps.append(("seller_spans", """
SELECT s.seller_id, s.year, f.first_year,
       CASE WHEN p.year IS NOT NULL THEN 1 ELSE 0 END AS has_prev,
       CASE WHEN n.year IS NOT NULL THEN 1 ELSE 0 END AS has_next
FROM seller_years s
JOIN (SELECT seller_id, MIN(year) AS first_year FROM seller_years GROUP BY seller_id) f
  ON s.seller_id = f.seller_id
LEFT JOIN seller_years p ON s.seller_id = p.seller_id AND p.year = s.year - 1
LEFT JOIN seller_years n ON s.seller_id = n.seller_id AND n.year = s.year + 1"""))
    steps.append(("buyer_years", f"""
SELECT seller_id, year, buyer_id, {_exact_sum('v')} AS buyer_value
FROM buyer_flows
GROUP BY seller_id, year, buyer_id
HAVING SUM(v) > 0"""))
    steps.append(("buyer_totals", f"""
SELECT seller_id, year, {_exact_sum('buyer_value')} AS total_v, MAX(buyer_value) AS max_v
FROM buyer_years
GROUP BY seller_id, year"""))
    if buyers:
        lead, income, join = "bl.lead_firm", "bl.income_group", \
            "LEFT JOIN buyers_lookup bl ON y.buyer_id = bl.buyer_id"
        main_lead = "ml.lead_firm"
        main_join = "LEFT JOIN buyers_lookup ml ON b.main_buyer_id = ml.buyer_id"
    else:
        lead, income, join = "CAST(NULL AS INT)", "CAST(NULL AS STRING)", ""
        main_lead, main_join = "CAST(NULL AS INT)", ""
    share = f"{_dbl('y.buyer_value')} / {_dbl('t.total_v')}"
    # the main buyer: the largest value, ties to the smaller buyer_id (MIN over the tied ones)
    steps.append(("buyer_shares", f"""
SELECT y.seller_id, y.year, COUNT(*) AS n_buyers,
       {_dbl('MAX(t.max_v)')} / {_dbl('MAX(t.total_v)')} AS main_buyer_share,
       {_dbl(_exact_sum(f'CAST(ROUND(({share}) * ({share}) * 1e15) AS BIGINT)'))} / 1e15 AS buyer_hhi,
       MIN(CASE WHEN y.buyer_value = t.max_v THEN y.buyer_id END) AS main_buyer_id,
       CASE WHEN COUNT({lead}) = COUNT(*) THEN
           {_dbl(_exact_sum(f'CASE WHEN {lead} = 1 THEN y.buyer_value ELSE 0 END'))} / {_dbl('MAX(t.total_v)')}
       END AS lead_firm_share,
       CASE WHEN COUNT({income}) = COUNT(*) THEN
           {_dbl(_exact_sum(f"CASE WHEN {income} = 'high' THEN y.buyer_value ELSE 0 END"))} / {_dbl('MAX(t.total_v)')}
       END AS high_income_share
FROM buyer_years y
JOIN buyer_totals t ON y.seller_id = t.seller_id AND y.year = t.year
{join}
GROUP BY y.seller_id, y.year"""))
    # the main buyer's relationship: every year the pair traded (value > 0), joined once
    steps.append(("main_relations", """
SELECT b.seller_id, b.year, b.year - MIN(p.year) + 1 AS main_buyer_tenure,
       MAX(CASE WHEN p.year = b.year - 1 THEN 1 ELSE 0 END) AS main_prev,
       MAX(CASE WHEN p.year = b.year + 1 THEN 1 ELSE 0 END) AS main_next
FROM buyer_shares b
JOIN buyer_years p ON b.seller_id = p.seller_id AND b.main_buyer_id = p.buyer_id
GROUP BY b.seller_id, b.year"""))
    steps.append(("buyer_metrics", f"""
SELECT b.seller_id, b.year, b.n_buyers, b.main_buyer_share, b.buyer_hhi, b.main_buyer_id,
       b.lead_firm_share, b.high_income_share, {main_lead} AS global_buyer,
       r.main_buyer_tenure, r.main_prev, r.main_next
FROM buyer_shares b
JOIN main_relations r ON b.seller_id = r.seller_id AND b.year = r.year
{main_join}"""))
    if products:
        sector = "COALESCE(pf.sector, ps.sector)"
        pjoin = ("LEFT JOIN products_lookup pf ON c.product_code = pf.product_code "
                 "LEFT JOIN products_lookup ps ON SUBSTR(c.product_code, 1, 6) = ps.product_code")
    else:
        sector, pjoin = "SUBSTR(c.product_code, 1, 2)", ""
    # the sector of each code, looked up once per distinct code
    steps.append(("code_sectors", f"""
SELECT c.product_code, {sector} AS sector
FROM (SELECT DISTINCT product_code FROM product_flows) c {pjoin}"""))
    steps.append(("product_years", f"""
SELECT f.seller_id, f.year, f.product_code, c.sector, {_exact_sum('f.v')} AS product_value
FROM product_flows f
JOIN code_sectors c ON f.product_code = c.product_code
GROUP BY f.seller_id, f.year, f.product_code, c.sector
HAVING SUM(f.v) > 0"""))
    steps.append(("sector_years", f"""
SELECT seller_id, year, sector, {_exact_sum('product_value')} AS sector_value
FROM product_years
GROUP BY seller_id, year, sector"""))
    steps.append(("sector_first", """
SELECT seller_id, sector, MIN(year) AS first_year
FROM sector_years
GROUP BY seller_id, sector"""))
    # a code new to the seller counts as a new product when its sector was served before
    steps.append(("product_metrics", """
SELECT p.seller_id, p.year, p.n_products,
       COALESCE(nc.new_code, 0) AS new_code, COALESCE(ns.new_sector, 0) AS new_sector
FROM (SELECT seller_id, year, COUNT(*) AS n_products FROM product_years GROUP BY seller_id, year) p
LEFT JOIN (SELECT c.seller_id, c.first_year AS year,
                  MAX(CASE WHEN s.first_year < c.first_year THEN 1 ELSE 0 END) AS new_code
           FROM (SELECT seller_id, product_code, sector, MIN(year) AS first_year
                 FROM product_years GROUP BY seller_id, product_code, sector) c
           JOIN sector_first s ON c.seller_id = s.seller_id AND c.sector = s.sector
           GROUP BY c.seller_id, c.first_year) nc
  ON p.seller_id = nc.seller_id AND p.year = nc.year
LEFT JOIN (SELECT seller_id, first_year AS year, 1 AS new_sector
           FROM sector_first GROUP BY seller_id, first_year) ns
  ON p.seller_id = ns.seller_id AND p.year = ns.year"""))
    steps.append(("main_sector", """
SELECT y.seller_id, y.year, MIN(y.sector) AS sector
FROM sector_years y
JOIN (SELECT seller_id, year, MAX(sector_value) AS top FROM sector_years GROUP BY seller_id, year) m
  ON y.seller_id = m.seller_id AND y.year = m.year AND y.sector_value = m.top
GROUP BY y.seller_id, y.year"""))
    steps.append(("market_years", """
SELECT seller_id, year, buyer_country
FROM buyer_flows
WHERE buyer_country IS NOT NULL
GROUP BY seller_id, year, buyer_country
HAVING SUM(v) > 0"""))
    steps.append(("market_metrics", """
SELECT m.seller_id, m.year, m.n_markets, COALESCE(n.new_country, 0) AS new_country
FROM (SELECT seller_id, year, COUNT(*) AS n_markets FROM market_years GROUP BY seller_id, year) m
LEFT JOIN (SELECT seller_id, first_year AS year, 1 AS new_country
           FROM (SELECT seller_id, buyer_country, MIN(year) AS first_year
                 FROM market_years GROUP BY seller_id, buyer_country) f
           GROUP BY seller_id, first_year) n
  ON m.seller_id = n.seller_id AND m.year = n.year"""))
    steps.append(("unit_values", f"""
SELECT seller_id, year, product_code, unit, v_q AS vq,
       {_dbl('v_q')} / {_dbl('q')} AS uv
FROM product_flows
WHERE q > 0 AND v_q > 0"""))
    if median is not None:
        # the engine's exact median: the same mean of the one or two middle values, as one
        # aggregate instead of a ranking window (tests check it against the ranks on the engine)
        steps.append(("medians", f"""
SELECT product_code, unit, year, {median.format(x="uv")} AS median_uv, COUNT(*) AS n_sellers
FROM unit_values
GROUP BY product_code, unit, year"""))
    else:
        # the median averages the one or two middle values: 2 * rank in {n, n + 1, n + 2}
        steps.append(("medians", """
SELECT product_code, unit, year,
       (MIN(CASE WHEN 2 * uv_rank IN (n_sellers, n_sellers + 1, n_sellers + 2) THEN uv END)
        + MAX(CASE WHEN 2 * uv_rank IN (n_sellers, n_sellers + 1, n_sellers + 2) THEN uv END))
       / CAST(2 AS DOUBLE) AS median_uv,
       MAX(n_sellers) AS n_sellers
FROM (SELECT product_code, unit, year, uv,
             ROW_NUMBER() OVER (PARTITION BY product_code, unit, year ORDER BY uv) AS uv_rank,
             COUNT(*) OVER (PARTITION BY product_code, unit, year) AS n_sellers
      FROM unit_values) ranked
GROUP BY product_code, unit, year"""))
    weight = f"{_dbl('u.vq')} / {_dbl('t.vq_total')}"
    steps.append(("unit_value_metrics", f"""
SELECT u.seller_id, u.year,
       {_dbl(_exact_sum(f'CAST(ROUND(({weight}) * (u.uv / m.median_uv) * 1e12) AS BIGINT)'))} / 1e12
           AS unit_value
FROM unit_values u
JOIN (SELECT seller_id, year, {_exact_sum('vq')} AS vq_total FROM unit_values
      GROUP BY seller_id, year) t
  ON u.seller_id = t.seller_id AND u.year = t.year
JOIN medians m ON u.product_code = m.product_code AND u.unit = m.unit AND u.year = m.year
GROUP BY u.seller_id, u.year"""))
    later = "sp.year > sp.first_year"
    steps.append(("indicators", f"""
SELECT s.seller_id AS firm_id, s.year AS year,
       {_dbl('s.total_v')} / {SCALE} AS export_value,
       s.n_records AS n_records,
       COALESCE(b.n_buyers, 0) AS n_buyers,
       b.main_buyer_share AS main_buyer_share,
       b.buyer_hhi AS buyer_hhi,
       b.main_buyer_id AS main_buyer_id,
       b.main_buyer_tenure AS main_buyer_tenure,
       CASE WHEN sp.has_prev = 1 THEN b.main_prev END AS main_buyer_previous,
       CASE WHEN sp.has_next = 1 THEN b.main_next END AS main_buyer_continues,
       b.global_buyer AS global_buyer,
       b.lead_firm_share AS lead_firm_share,
       b.high_income_share AS high_income_share,
       COALESCE(pm.n_products, 0) AS n_products,
       CASE WHEN {later} THEN COALESCE(pm.new_code, 0) END AS new_product,
       ms.sector AS sector,
       CASE WHEN {later} THEN COALESCE(pm.new_sector, 0) END AS new_sector_entry,
       mk.n_markets AS n_markets,
       CASE WHEN {later} AND mk.n_markets IS NOT NULL THEN mk.new_country END AS new_market,
       uvm.unit_value AS unit_value,
       CASE WHEN b.main_buyer_share IS NULL THEN NULL
            WHEN b.main_buyer_share < {float(proxy_share)!r} THEN 0
            WHEN sp.has_prev = 1 THEN b.main_prev
       END AS quasi_hierarchy_proxy
FROM seller_years s
JOIN seller_spans sp ON s.seller_id = sp.seller_id AND s.year = sp.year
LEFT JOIN buyer_metrics b ON s.seller_id = b.seller_id AND s.year = b.year
LEFT JOIN product_metrics pm ON s.seller_id = pm.seller_id AND s.year = pm.year
LEFT JOIN main_sector ms ON s.seller_id = ms.seller_id AND s.year = ms.year
LEFT JOIN market_metrics mk ON s.seller_id = mk.seller_id AND s.year = mk.year
LEFT JOIN unit_value_metrics uvm ON s.seller_id = uvm.seller_id AND s.year = uvm.year
ORDER BY firm_id, year"""))
    return steps


# the steps that read the records; each groups by year, so a batch of years at a time gives
# the same rows (the batches' results are stacked)
SCAN_STEPS = ("buyer_flows", "product_flows")

# counts of the report, from the first aggregate (no second pass over the records)
SUMMARY_TABLE = "buyer_flows"
SUMMARY_SQL = """
SELECT SUM(n_records) AS n_records, SUM(n_zero_value) AS n_zero_value,
       SUM(n_without_quantity) AS n_without_quantity
FROM buyer_flows"""


def indicator_table() -> str:
    """The indicators as a Markdown table (column, canonical, construct, definition)."""
    lines = ["| column | firm-panel field | construct | definition |", "|---|---|---|---|"]
    for ind in INDICATORS:
        lines.append(f"| `{ind.column}` | {'yes' if ind.canonical else ''} | {ind.construct} | "
                     f"{ind.definition} |")
    return "\n".join(lines)


__all__ = ["CANONICAL", "DEFINITIONS_VERSION", "INDICATORS", "Indicator", "SCAN_STEPS",
           "indicator_table", "normalised_view", "statements"]
